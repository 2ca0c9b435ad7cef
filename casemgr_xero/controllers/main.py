# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import logging

from casemgr_xero_core.errors import XeroError
from casemgr_xero_core.webhooks import (
    MAX_BODY_BYTES,
    WebhookPayloadError,
    parse_events,
    verify_signature,
)
from werkzeug.exceptions import Forbidden

from odoo import http
from odoo.http import request

from ..transaction import switch_to_read_committed

_logger = logging.getLogger(__name__)


class XeroController(http.Controller):
    @http.route("/xero/oauth/callback", type="http", auth="user", methods=["GET"])
    def xero_oauth_callback(self, code=None, state=None, error=None, **kwargs):
        """Xero redirects here after consent. ``state`` is the one-time CSRF nonce we issued."""
        if not state:
            raise Forbidden()
        Connection = request.env["xero.connection"]
        conn = Connection.sudo().search([("oauth_state", "=", state)], limit=1)
        if not conn:
            raise Forbidden()
        # The user who comes back must be allowed to manage this connection.
        conn = conn.with_env(request.env)
        conn.check_access("write")
        if error or not code:
            conn.sudo().write({"oauth_state": False, "last_error": error or "No code returned"})
            return request.redirect(self._xero_form_url(conn))
        try:
            conn._xero_oauth_complete(code)
        except XeroError as exc:
            _logger.warning("Xero connection %s: authorization failed (%s)", conn.id, exc.status)
            conn.sudo().write({"oauth_state": False, "last_error": str(exc)})
        return request.redirect(self._xero_form_url(conn))

    @staticmethod
    def _xero_form_url(conn):
        return f"/odoo/action-casemgr_xero.xero_connection_action/{conn.id}"

    # ------------------------------------------------------------------
    # Xero webhooks: one URL and one key per Xero app
    # ------------------------------------------------------------------
    @http.route(
        "/xero/webhook/app/<int:app_id>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def xero_webhook_app(self, app_id, **kwargs):
        """Xero's signed event delivery for every organisation of one Xero app.

        Raw body -> size check -> HMAC-SHA256 with the app's key (constant time) -> 401
        (empty) when wrong; else each event goes to the connection bound to its ``tenantId``
        among the app's connections (stored; duplicates are no-ops) -> trigger the payments
        cron -> 200 (empty). An event of an organisation no connection of the app imports
        payments for is dropped (logged, not stored) but does not fail the delivery: Xero
        would disable a webhook that keeps failing. No Xero call here: Xero wants an answer
        within 5 s.
        """
        return self._xero_webhook_deliver(app_id, f"app {app_id}")

    @http.route(
        "/xero/webhook/<int:connection_id>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def xero_webhook(self, connection_id, **kwargs):
        """The URL of one connection (registered before apps existed): same as the app's URL
        of that connection, routed by tenant among all the connections of its app."""
        request.env.cr.execute(
            "SELECT app_id FROM xero_connection WHERE id = %s AND active AND payments_enabled",
            [connection_id],
        )
        row = request.env.cr.fetchone()
        if not row or not row[0]:
            return self._xero_empty(401)
        return self._xero_webhook_deliver(row[0], f"connection {connection_id}")

    def _xero_webhook_deliver(self, app_id, label):
        httprequest = request.httprequest
        if (httprequest.content_length or 0) > MAX_BODY_BYTES:
            return self._xero_empty(400)
        body = httprequest.get_data(cache=True)
        if len(body) > MAX_BODY_BYTES:
            return self._xero_empty(400)
        cr = request.env.cr
        cr.execute("SELECT webhook_key FROM xero_app WHERE id = %s AND active", [app_id])
        row = cr.fetchone()
        signature = httprequest.headers.get("x-xero-signature")
        if not row or not row[0] or not verify_signature(body, signature, row[0]):
            return self._xero_empty(401)
        try:
            events = parse_events(body, MAX_BODY_BYTES)
        except WebhookPayloadError as exc:
            _logger.info("Xero webhook (%s): malformed payload (%s)", label, exc)
            return self._xero_empty(400)
        if not events:
            return self._xero_empty(200)  # Xero's intent-to-receive check
        cr.execute(
            """
            SELECT tenant_id, id, company_id
              FROM xero_connection
             WHERE app_id = %s AND active AND payments_enabled AND tenant_id IN %s
            """,
            [app_id, tuple({ev.tenant_id or "" for ev in events})],
        )
        by_tenant = {r[0]: (r[1], r[2]) for r in cr.fetchall()}
        routed = {}
        for ev in events:
            target = by_tenant.get(ev.tenant_id)
            if target:
                routed.setdefault(target, []).append(ev)
        dropped = len(events) - sum(len(evs) for evs in routed.values())
        if dropped:
            _logger.info(
                "Xero webhook (%s): %d event(s) of an organisation no connection imports "
                "payments for dropped",
                label,
                dropped,
            )
        if routed:
            # A READ COMMITTED transaction for the insert: its foreign-key check on the
            # connection row must not fail when a cron updated that row since this request
            # began (REPEATABLE READ would raise a serialization error and replay the request).
            switch_to_read_committed(request.env)
            env = request.env(su=True)
            new = 0
            for (connection_id, company_id), evs in routed.items():
                new += env["xero.webhook.event"]._xero_store_events(connection_id, company_id, evs)
            if new:
                env.ref("casemgr_xero.ir_cron_xero_payments")._trigger()
        return self._xero_empty(200)

    @staticmethod
    def _xero_empty(status):
        return request.make_response(b"", status=status)
