# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import logging

from odoo import Command, http
from odoo.modules.neutralize import get_neutralization_queries
from odoo.tests import tagged

from .common import API, XeroTestCommon

# Odoo's own SQL debug logger prints every query with its parameters when an operator turns
# it on (--log-sql): that is Odoo's switch, not ours, and is left out of the capture.
_EXCLUDED_LOGGERS = ("odoo.sql_db",)


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        if record.name.startswith(_EXCLUDED_LOGGERS):
            return
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001
            text = str(record.msg)
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.name}: {text}")


@tagged("post_install", "-at_install")
class TestXeroSecurity(XeroTestCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._xero_map_tax()

    def _queued_invoices(self, count):
        moves = self.env["account.move"].create(
            [
                {
                    "move_type": "out_invoice",
                    "partner_id": self.partner_a.id,
                    "invoice_date": "2019-01-01",
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "product_id": self.product_a.id,
                                "quantity": 1,
                                "price_unit": 50.0,
                                "tax_ids": [Command.set(self.tax_sale_a.ids)],
                            }
                        )
                    ],
                }
                for _i in range(count)
            ]
        )
        moves.action_post()
        moves.action_xero_send()
        return moves

    def test_no_secret_in_logs_through_refresh_export_and_failures(self):
        self.connection.action_xero_generate_webhook_key()
        conn = self.connection.sudo()
        moves = self._queued_invoices(3)
        self._xero_expire_token(self.connection)
        secrets_before = [
            conn.client_secret,
            conn.access_token,
            conn.refresh_token,
            conn.webhook_key,
        ]
        capture = _Capture()
        root = logging.getLogger()
        root.addHandler(capture)
        # Odoo's log config may silence whole trees: open them all for the capture.
        names = [
            "",
            "odoo",
            "odoo.addons.casemgr_xero",
            "casemgr_xero_core",
            "xero_python",
            "urllib3",
        ]
        old_levels = {name: logging.getLogger(name).level for name in names}
        for name in names:
            logging.getLogger(name).setLevel(logging.DEBUG)
        try:
            # A refresh, a dropped connection (warning path) and a full export.
            self.proxy.drop_after_forward("PUT", API + "/Invoices")
            self.env["xero.export"]._cron_xero_export()
            self.env["xero.export"]._cron_xero_export()
            # An authentication failure (error path).
            self._xero_expire_token(self.connection)
            self.proxy.respond(
                401, b'{"error":"invalid_client"}', method="POST", path_prefix="/connect/token"
            )
            try:
                self.connection._xero_client().get_organisation()
            except Exception:  # noqa: BLE001
                logging.getLogger(__name__).exception("expected failure")
        finally:
            root.removeHandler(capture)
            for name, level in old_levels.items():
                logging.getLogger(name).setLevel(level)
        self.env.invalidate_all()
        self.assertEqual(set(moves.mapped("xero_state")), {"sent"})
        secrets = secrets_before + [conn.access_token, conn.refresh_token]
        self.assertTrue(all(secrets))
        log_text = "\n".join(capture.lines)
        self.assertTrue(
            any("casemgr_xero" in line for line in capture.lines), "the capture saw our logs"
        )
        for secret in secrets:
            self.assertNotIn(secret, log_text)

    def test_csrf_stays_on_except_the_signed_webhook(self):
        """Every route the addon serves, with what protects it. A new route fails this test
        until it is listed: a state-changing one keeps Odoo's CSRF check unless, like Xero's
        webhooks, it is authenticated by a signature of its own."""
        rules = http._generate_routing_rules(["casemgr_xero"], nodb_only=False)
        seen = {}
        for url, endpoint in rules:
            routing = endpoint.routing
            methods = tuple(sorted(routing.get("methods") or ["ANY"]))
            changes_state = set(methods) - {"GET", "HEAD"}
            csrf = routing.get("csrf", True) if changes_state else "n/a (read-only)"
            seen[url] = (routing["type"], routing["auth"], methods, csrf)
        self.assertEqual(
            seen,
            {
                # state checked against the one-time nonce the connection issued
                "/xero/oauth/callback": ("http", "user", ("GET",), "n/a (read-only)"),
                # HMAC-SHA256 of the raw body with the app's (connection's) webhook key
                "/xero/webhook/app/<int:app_id>": ("http", "public", ("POST",), False),
                "/xero/webhook/<int:connection_id>": ("http", "public", ("POST",), False),
            },
        )

    def test_neutralized_database_sends_nothing(self):
        moves = self._queued_invoices(2)
        self.env.flush_all()
        for query in get_neutralization_queries(["casemgr_xero"]):
            self.env.cr.execute(query)
        self.env.invalidate_all()
        self.env["xero.export"]._cron_xero_export()
        self.assertEqual(self.proxy.count(), 0)
        self.assertEqual(set(moves.mapped("xero_state")), {"queued"})
