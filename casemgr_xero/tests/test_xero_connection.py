# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import time
import urllib.request
from urllib.parse import parse_qs, urlsplit

from casemgr_xero_core import oauth
from casemgr_xero_core.errors import ReconnectRequired
from psycopg2 import IntegrityError

from odoo.exceptions import AccessError, UserError
from odoo.modules.neutralize import get_neutralization_queries
from odoo.tests import HttpCase, new_test_user, tagged

from .common import XeroOneTransaction, XeroPeerMixin, XeroTestCommon


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@tagged("post_install", "-at_install")
class TestXeroConnection(XeroTestCommon):
    def test_authorization_url_carries_state(self):
        action = self.connection.action_xero_connect()
        query = parse_qs(urlsplit(action["url"]).query)
        self.assertEqual(query["client_id"], ["CLIENT-ID"])
        self.assertEqual(query["state"], [self.connection.sudo().oauth_state])
        self.assertIn("accounting.invoices", query["scope"][0])
        self.assertIn("offline_access", query["scope"][0])
        self.assertTrue(query["redirect_uri"][0].endswith("/xero/oauth/callback"))

    def test_refresh_rotates_refresh_token(self):
        self._xero_expire_token(self.connection)
        old_refresh = self.connection.sudo().refresh_token
        org = self.connection._xero_client().get_organisation()
        self.assertEqual(org["Name"], "Test Organisation")
        self.connection.invalidate_recordset()
        conn = self.connection.sudo()
        self.assertNotEqual(conn.refresh_token, old_refresh)
        self.assertTrue(conn.refresh_token.startswith("xero-local-refresh-"))
        self.assertGreater(conn.token_expires_at, time.time() + 600)
        self.assertEqual(self.proxy.count("POST", "/connect/token"), 1)

    def test_invalid_grant_needs_reconnect(self):
        self._xero_expire_token(self.connection)
        self.proxy.respond(
            400,
            b'{"error":"invalid_grant"}',
            {"Content-Type": "application/json"},
            method="POST",
            path_prefix="/connect/token",
        )
        # Not assertRaises: Odoo's rolls back to a savepoint, and the state change is meant to
        # survive the failed call (it is committed in its own transaction).
        try:
            self.connection._xero_client().get_organisation()
            self.fail("ReconnectRequired expected")
        except ReconnectRequired as exc:
            self.assertTrue(exc.message, "the reason is kept for the user")
        self.connection.invalidate_recordset()
        self.assertEqual(self.connection.state, "needs_reconnect")
        with self.assertRaises(UserError):
            self.connection._xero_client()

    def test_disconnect_revokes_the_grant(self):
        self.assertEqual(self.connection.action_xero_disconnect(), True)
        (call,) = [r for r in self.proxy.requests if r.path == "/connect/revocation"]
        self.assertEqual(parse_qs(call.body.decode()), {"token": ["REFRESH-TOKEN-VALUE"]})
        self.assertTrue(call.headers["Authorization"].startswith("Basic "))
        conn = self.connection.sudo()
        self.assertEqual(
            (conn.state, conn.refresh_token, conn.access_token), ("draft", False, False)
        )
        # Xero refuses the revoked refresh token from now on
        with self.assertRaises(ReconnectRequired):
            oauth.refresh_token(conn._xero_endpoints(), "CLIENT-ID", "x", "REFRESH-TOKEN-VALUE")

    def test_disconnect_when_xero_does_not_revoke(self):
        self.proxy.respond(503, method="POST", path_prefix="/connect/revocation")
        action = self.connection.action_xero_disconnect()
        conn = self.connection.sudo()
        self.assertEqual(
            (conn.state, conn.refresh_token, conn.access_token), ("draft", False, False)
        )
        self.assertEqual(action["params"]["type"], "warning")
        self.assertIn("did not confirm that it revoked the grant", action["params"]["message"])
        self.assertIn("revoked the grant", conn.message_ids[0].body)
        self.assertEqual(self.proxy.revoked_tokens, set())

    def test_test_connection_shows_organisation(self):
        action = self.connection.action_xero_test_connection()
        self.assertEqual(action["tag"], "display_notification")
        self.assertIn("Test Organisation", action["params"]["message"])
        self.assertEqual(self.connection.state, "connected")

    def test_custom_connection_client_credentials(self):
        self.connection.write({"auth_type": "custom", "tenant_id": False, "state": "draft"})
        self.connection.action_xero_connect()
        self.assertEqual(self.connection.state, "connected")
        self.assertEqual(self.connection.tenant_id, self.xero_local.tenant_id())
        self.assertEqual(self.proxy.count("POST", "/connect/token"), 1)

    def test_secrets_only_for_system(self):
        accountant = new_test_user(
            self.env,
            login="xero_accountant",
            groups="account.group_account_manager,base.group_user",
            company_id=self.env.company.id,
        )
        conn = self.connection.with_user(accountant)
        self.assertEqual(conn.read(["tenant_name"])[0]["tenant_name"], "Test Organisation")
        for field in ("client_secret", "access_token", "refresh_token", "webhook_key"):
            with self.assertRaises(AccessError, msg=field):
                conn.read([field])

    def test_one_active_connection_per_company(self):
        with self.assertRaises(IntegrityError), self.cr.savepoint():
            self.env["xero.connection"].create(self._xero_connection_vals(self.env.company))

    def test_neutralize_disables_sync(self):
        self.env.flush_all()
        for query in get_neutralization_queries(["casemgr_xero"]):
            self.env.cr.execute(query)
        self.connection.invalidate_recordset()
        conn = self.connection.sudo()
        self.assertFalse(conn.active)
        self.assertFalse(conn.access_token)
        self.assertFalse(conn.refresh_token)
        self.assertEqual(conn.state, "draft")
        conn.app_id.invalidate_recordset()
        self.assertFalse(conn.app_id.client_secret)
        self.assertFalse(conn.app_id.webhook_key)


@tagged("post_install", "-at_install")
class TestXeroOAuthCallback(XeroOneTransaction, XeroPeerMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._xero_one_transaction()
        cls._xero_start_peer()

    def setUp(self):
        super().setUp()
        self._xero_reset_peer()

    def test_callback_stores_tokens_and_binds_tenant(self):
        conn = self.env["xero.connection"].create(self._xero_connection_vals(self.env.company))
        action = conn.action_xero_connect()
        # Let xero-local's consent page answer: it redirects to our callback with code+state.
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            opener.open(action["url"], timeout=10)
            self.fail("xero-local should redirect")
        except urllib.error.HTTPError as exc:
            self.assertEqual(exc.code, 302)
            location = exc.headers["Location"]
        callback = urlsplit(location)
        self.assertEqual(callback.path, "/xero/oauth/callback")
        self.authenticate("admin", "admin")
        response = self.url_open(f"{callback.path}?{callback.query}", allow_redirects=False)
        self.assertIn(response.status_code, (302, 303))
        conn.invalidate_recordset()
        self.assertEqual(conn.state, "connected")
        self.assertEqual(conn.tenant_id, self.xero_local.tenant_id())
        self.assertEqual(conn.tenant_name, "Test Organisation")
        self.assertTrue(conn.sudo().access_token.startswith("xero-local-token-"))
        self.assertTrue(conn.sudo().refresh_token.startswith("xero-local-refresh-"))
        self.assertFalse(conn.sudo().oauth_state, "the state nonce is single use")
        self.assertEqual(self.proxy.count("POST", "/connect/token"), 1)

    def test_callback_rejects_unknown_state(self):
        self.env["xero.connection"].create(self._xero_connection_vals(self.env.company))
        self.authenticate("admin", "admin")
        response = self.url_open(
            "/xero/oauth/callback?code=abc&state=forged", allow_redirects=False
        )
        self.assertEqual(response.status_code, 403)
        self.assertEqual(self.proxy.count("POST", "/connect/token"), 0)
