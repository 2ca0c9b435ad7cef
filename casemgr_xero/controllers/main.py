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

from ..tools import commit_batch

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
    # Xero webhooks
    # ------------------------------------------------------------------
    @http.route(
        "/xero/webhook/<int:connection_id>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def xero_webhook(self, connection_id, **kwargs):
        """Xero's signed event delivery (and its intent-to-receive check).

        Raw body -> size check -> HMAC-SHA256 with the connection's key (constant time) ->
        401 (empty) when wrong, or store the events (duplicates are no-ops) -> trigger the
        payments cron -> 200 (empty). No Xero call here: Xero wants an answer within 5 s.
        Events of another tenant than the connection's are dropped (logged, not stored) but
        do not fail the delivery: Xero sends one app's events for all its organisations and
        would disable a webhook that keeps failing.
        """
        httprequest = request.httprequest
        if (httprequest.content_length or 0) > MAX_BODY_BYTES:
            return self._xero_empty(400)
        body = httprequest.get_data(cache=True)
        if len(body) > MAX_BODY_BYTES:
            return self._xero_empty(400)
        cr = request.env.cr
        cr.execute(
            """
            SELECT id, company_id, tenant_id, webhook_key
              FROM xero_connection
             WHERE id = %s AND active AND payments_enabled
            """,
            [connection_id],
        )
        row = cr.fetchone()
        signature = httprequest.headers.get("x-xero-signature")
        if not row or not row[3] or not verify_signature(body, signature, row[3]):
            return self._xero_empty(401)
        _conn_id, company_id, tenant_id, _key = row
        try:
            events = parse_events(body, MAX_BODY_BYTES)
        except WebhookPayloadError as exc:
            _logger.info("Xero webhook %s: malformed payload (%s)", connection_id, exc)
            return self._xero_empty(400)
        ours = [ev for ev in events if tenant_id and ev.tenant_id == tenant_id]
        if len(ours) != len(events):
            _logger.info(
                "Xero webhook %s: %d event(s) of another organisation dropped",
                connection_id,
                len(events) - len(ours),
            )
        if ours:
            # A READ COMMITTED transaction for the insert: its foreign-key check on the
            # connection row must not fail when a cron updated that row since this request
            # began (REPEATABLE READ would raise a serialization error and replay the request).
            commit_batch(request.env)
            env = request.env(su=True)
            if env["xero.webhook.event"]._xero_store_events(connection_id, company_id, ours):
                env.ref("casemgr_xero.ir_cron_xero_payments")._trigger()
        return self._xero_empty(200)

    @staticmethod
    def _xero_empty(status):
        return request.make_response(b"", status=status)
