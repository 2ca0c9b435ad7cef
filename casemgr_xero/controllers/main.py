# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import logging

from casemgr_xero_core.errors import XeroError
from casemgr_xero_core.webhooks import MAX_BODY_BYTES
from werkzeug.exceptions import Forbidden

from odoo import http
from odoo.http import request

from ..const import OAUTH_CALLBACK_ROUTE, WEBHOOK_APP_ROUTE, WEBHOOK_CONNECTION_ROUTE

_logger = logging.getLogger(__name__)


class XeroController(http.Controller):
    @http.route(OAUTH_CALLBACK_ROUTE, type="http", auth="user", methods=["GET"])
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
            request.env["xero.oauth"]._xero_complete(conn, code)
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
        WEBHOOK_APP_ROUTE,
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def xero_webhook_app(self, app_id, **kwargs):
        """Xero's signed event delivery for every organisation of one Xero app: the raw body
        and its signature go to ``xero.webhook.event._xero_receive`` (verification, routing,
        storage); the answer is its status with an empty body, as Xero wants, within 5 s."""
        return self._xero_webhook_answer(app_id=app_id)

    @http.route(
        WEBHOOK_CONNECTION_ROUTE,
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def xero_webhook(self, connection_id, **kwargs):
        """The URL of one connection (registered before apps existed): the same as its app's."""
        return self._xero_webhook_answer(connection_id=connection_id)

    def _xero_webhook_answer(self, **target):
        httprequest = request.httprequest
        if (httprequest.content_length or 0) > MAX_BODY_BYTES:
            return request.make_response(b"", status=400)  # not read at all
        receipt = (
            request.env["xero.webhook.event"]
            .sudo()
            ._xero_receive(
                httprequest.get_data(cache=True),
                httprequest.headers.get("x-xero-signature"),
                **target,
            )
        )
        return request.make_response(b"", status=receipt.status)
