# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""A connection's grant: Xero's sign-in (OAuth2 authorization code) or a client-credentials
grant, the organisation it binds, the token pair's rotation, and the revocation at disconnect.

Token rotation commits on its own (``xero.connection._xero_detached``): several workers share
one token pair, and a refresh token is spent the moment Xero answers, whatever the caller's
transaction does.
"""

import logging
import secrets
import time

from casemgr_xero_core import oauth
from casemgr_xero_core.errors import ReconnectRequired, XeroError

from odoo import models
from odoo.exceptions import UserError

_logger = logging.getLogger(__name__)


class XeroOAuth(models.AbstractModel):
    _name = "xero.oauth"
    _description = "Xero sign-in, tokens and revocation of a connection"

    # ------------------------------------------------------------------
    # Tokens
    # ------------------------------------------------------------------
    def _xero_save_token(self, conn, token):
        """Write a token pair on ``conn`` (an env whose transaction the caller commits)."""
        reconnected = conn.tenant_id and conn.state != "connected"
        conn.sudo().write(
            {
                "access_token": token["access_token"],
                "refresh_token": token.get("refresh_token") or False,
                "token_expires_at": token.get("expires_at") or time.time() + 1800,
                "state": "connected" if conn.tenant_id else conn.state,
                "last_error": False,
            }
        )
        if reconnected:
            conn.env["xero.failure"]._xero_auth_restored(conn)

    def _xero_refresh(self, connection, stale_token=None):
        """Return a valid token, exchanging the refresh token at most once across workers.

        Lock the row in a fresh transaction, re-read the tokens (another worker may already
        have rotated them), refresh only if still stale, store the new pair and commit before
        anyone else can use the old refresh token again.
        """
        connection.ensure_one()
        with connection._xero_detached() as conn:
            conn.invalidate_recordset()
            current = conn._xero_token_from_row(
                {f: conn[f] for f in ("access_token", "refresh_token", "token_expires_at")}
            )
            if oauth.still_valid(current, stale_token):
                return current
            client_id, client_secret = conn._xero_credentials()
            try:
                new = oauth.renew(
                    conn._xero_endpoints(),
                    client_id,
                    client_secret,
                    current,
                    custom=conn.auth_type == "custom",
                )
            except ReconnectRequired as exc:
                conn.write({"state": "needs_reconnect", "last_error": exc.message})
                try:
                    with conn.env.cr.savepoint():
                        conn.env["xero.failure"]._xero_auth_lost(conn)
                except Exception:  # noqa: BLE001 - never lose the state change above
                    _logger.exception("Xero connection %s: needs-reconnect hook failed", conn.id)
                conn.env.cr.commit()
                raise
            self._xero_save_token(conn, new)
        return new

    # ------------------------------------------------------------------
    # OAuth2 authorization-code flow, client credentials
    # ------------------------------------------------------------------
    def _xero_connect(self, conn):
        conn.ensure_one()
        client_id, _secret = conn._xero_credentials()
        if conn.auth_type == "custom":
            return self._xero_connect_custom(conn)
        nonce = secrets.token_urlsafe(32)
        conn.sudo().oauth_state = nonce
        url = oauth.authorization_url(conn._xero_endpoints(), client_id, conn.redirect_uri, nonce)
        return {"type": "ir.actions.act_url", "url": url, "target": "self"}

    def _xero_connect_custom(self, conn):
        client_id, client_secret = conn._xero_credentials()
        try:
            token = oauth.client_credentials_token(conn._xero_endpoints(), client_id, client_secret)
            tenants = oauth.list_connections(conn._xero_endpoints(), token["access_token"])
        except XeroError as exc:
            raise UserError(
                self.env._("Xero connection %(name)s: %(msg)s", name=conn.display_name, msg=exc)
            ) from exc
        self._xero_save_token(conn, token)
        return self._xero_bind_tenants(conn, tenants)

    def _xero_complete(self, conn, code):
        """Callback: exchange the code, store the pair, list and bind the organisation."""
        conn.ensure_one()
        client_id, client_secret = conn._xero_credentials()
        endpoints = conn._xero_endpoints()
        token = oauth.exchange_code(endpoints, client_id, client_secret, code, conn.redirect_uri)
        conn.sudo().oauth_state = False
        self._xero_save_token(conn, token)
        tenants = oauth.list_connections(endpoints, token["access_token"])
        return self._xero_bind_tenants(conn, tenants)

    def _xero_bind_tenants(self, conn, tenants):
        orgs = [
            {"id": t["tenantId"], "name": t.get("tenantName") or t["tenantId"]}
            for t in tenants
            if t.get("tenantType", "ORGANISATION") == "ORGANISATION"
        ]
        if not orgs:
            conn.write(
                {
                    "state": "draft",
                    "last_error": self.env._("The grant gives no Xero organisation."),
                }
            )
            return False
        current = [o for o in orgs if o["id"] == conn.tenant_id]
        if current or len(orgs) == 1:
            org = (current or orgs)[0]
            conn.write(
                {
                    "tenant_id": org["id"],
                    "tenant_name": org["name"],
                    "available_tenant_ids": False,
                    "state": "connected",
                    "last_error": False,
                }
            )
            conn.env["xero.failure"]._xero_auth_restored(conn)
            return True
        conn.write({"available_tenant_ids": orgs, "state": "choose_tenant"})
        return conn.action_xero_choose_tenant()

    # ------------------------------------------------------------------
    # Disconnect
    # ------------------------------------------------------------------
    def _xero_disconnect(self, connections):
        """Revoke the grant at Xero, then forget the tokens. Xero not confirming the revocation
        never keeps a connection connected: the tokens go all the same, and the user is told
        (a sticky warning, and a note in the connection's chatter) to remove the app in Xero."""
        # every call to Xero first, then the writes (no call to Xero under a row lock)
        unrevoked = {conn: self._xero_revoke_grant(conn) for conn in connections.sudo()}
        for conn in connections.sudo():
            conn.write(
                {
                    "access_token": False,
                    "refresh_token": False,
                    "token_expires_at": 0.0,
                    "state": "draft",
                }
            )
        notes = []
        for conn, error in unrevoked.items():
            if error is None:
                continue
            note = self.env._(
                "Disconnected from Xero, but Xero did not confirm that it revoked the grant "
                "(%(error)s). The organisation may still list this app under its connected "
                "apps in Xero: disconnect it there.",
                error=error,
            )
            conn.message_post(body=note, message_type="comment", subtype_xmlid="mail.mt_note")
            notes.append(self.env._("%(name)s: %(note)s", name=conn.display_name, note=note))
        if not notes:
            return True
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Disconnect"),
                "message": "\n".join(notes),
                "type": "warning",
                "sticky": True,
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def _xero_revoke_grant(self, connection):
        """Revoke this connection's grant at Xero (its refresh token: Xero ends every
        organisation's access through it and refuses that token from then on). Returns None
        when revoked or when there is nothing to revoke (a custom connection, no refresh token),
        else why it was not (an ``XeroError`` or ``UserError``)."""
        connection.ensure_one()
        conn = connection.sudo()
        if conn.auth_type == "custom" or not conn.refresh_token:
            return None
        try:
            client_id, client_secret = conn._xero_credentials()
            oauth.revoke_token(conn._xero_endpoints(), client_id, client_secret, conn.refresh_token)
        except (XeroError, UserError) as exc:
            _logger.warning("Xero connection %s: the grant was not revoked: %s", conn.id, exc)
            return exc
        return None
