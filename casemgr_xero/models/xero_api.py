# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The way to Xero for one connection: a client bound to its organisation and to the token
every worker shares, and the pacing ("no call before") every worker shares too."""

from datetime import datetime

from casemgr_xero_core.client import XeroClient
from casemgr_xero_core.errors import XeroError
from casemgr_xero_core.pacing import call_window

from odoo import models
from odoo.exceptions import UserError

from ..transaction import short_transaction


class XeroApi(models.AbstractModel):
    _name = "xero.api"
    _description = "Xero API access (client, pacing)"

    def _xero_pause_until(self, conn, when):
        """Share a 'do not call Xero before' time with every worker (429 / exhausted budget)."""
        conn.ensure_one()
        with conn._xero_detached() as dconn:
            if not dconn.not_before or dconn.not_before < when:
                dconn.not_before = when

    def _xero_paused(self, conn):
        """Seconds to wait before the next call (0 when calls may go)."""
        conn.ensure_one()
        conn.flush_recordset(["not_before"])
        # Read committed, not the caller's snapshot: another worker (or this run's own last
        # call) may have paused the connection since this transaction began.
        with short_transaction(self.env.registry) as cr:
            cr.execute("SELECT not_before FROM xero_connection WHERE id = %s", [conn.id])
            row = cr.fetchone()
        if not row or not row[0]:
            return 0
        return max(0.0, (row[0] - datetime.utcnow()).total_seconds())

    def _xero_client(self, conn):
        """A pure-layer client bound to this connection's tenant and shared token state."""
        conn.ensure_one()
        if not conn.tenant_id:
            raise UserError(
                self.env._(
                    "Xero connection %(name)s has no organisation yet: connect it first.",
                    name=conn.display_name,
                )
            )
        if conn.state == "needs_reconnect":
            raise UserError(
                self.env._(
                    "Xero connection %(name)s needs to be reconnected (Connect to Xero).",
                    name=conn.display_name,
                )
            )
        holder = {}
        conn_id = conn.id
        env = self.env

        def get_token():
            if "token" not in holder:
                env["xero.connection"].flush_model()
                env.cr.execute(
                    "SELECT access_token, refresh_token, token_expires_at "
                    "FROM xero_connection WHERE id = %s",
                    [conn_id],
                )
                holder["token"] = conn._xero_token_from_row(env.cr.dictfetchone())
            return holder["token"]

        def refresh(stale):
            holder["token"] = env["xero.oauth"]._xero_refresh(conn, stale)
            return holder["token"]

        # This process's memory of the organisation's last answers: a spent minute budget
        # pauses until the oldest of them leaves Xero's window, not a whole minute from now.
        window = call_window((env.cr.dbname, conn_id))

        def on_rate_info(info):
            now = datetime.utcnow()
            when = window.not_before(now, info)
            if when and when > now:
                self._xero_pause_until(conn, when)

        return XeroClient(
            conn._xero_endpoints(),
            conn.tenant_id,
            get_token=get_token,
            refresh=refresh,
            on_rate_info=on_rate_info,
            timeout=(5, conn.request_timeout or 60),
        )

    def _xero_test_connection(self, conn):
        """Ask Xero for the organisation; a notification, or UserError with Xero's answer."""
        conn.ensure_one()
        try:
            org = conn._xero_client().get_organisation()
        except XeroError as exc:
            conn.last_error = str(exc)
            raise UserError(
                self.env._(
                    "Xero connection %(name)s failed: %(msg)s", name=conn.display_name, msg=exc
                )
            ) from exc
        name = org.get("Name") or conn.tenant_name
        conn.write({"tenant_name": name, "state": "connected", "last_error": False})
        self.env["xero.failure"]._xero_auth_restored(conn)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Connected to Xero"),
                "message": self.env._("Organisation: %s", name),
                "type": "success",
                "sticky": False,
            },
        }
