# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import logging

from werkzeug.exceptions import Forbidden

from casemgr_xero_core.errors import XeroError

from odoo import http
from odoo.http import request

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
