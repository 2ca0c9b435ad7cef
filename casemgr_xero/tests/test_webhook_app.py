# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""One webhook URL and key per Xero app, events routed by tenant (through Odoo's HTTP server)."""

from decimal import Decimal

from casemgr_xero_testing.webhook import build_payload, signed_post

from odoo import SUPERUSER_ID, api
from odoo.tests import tagged

from .common import XeroHttpTestCommon, XeroPaymentsMixin

TENANT_B = "b2b2b2b2-0000-4000-8000-0000000000bb"
UNKNOWN = "99999999-0000-4000-8000-000000000099"


@tagged("post_install", "-at_install")
class TestXeroWebhookApp(XeroPaymentsMixin, XeroHttpTestCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._xero_payments_setup()
        cls.company_data_2 = cls.setup_other_company(name="Company B")
        cls.company_b = cls.company_data_2["company"]
        cls.company_data_2["default_journal_sale"].code = "INVB"
        cls.bank_b = cls.company_data_2["default_journal_bank"]
        # Same Client ID as connection A: the same Xero app. No key given: it shares A's.
        cls.connection_b = cls.env["xero.connection"].create(
            {**cls._xero_connection_vals(cls.company_b), "payments_enabled": True}
        )
        cls.env["xero.payment.journal"].create(
            {
                "connection_id": cls.connection_b.id,
                "xero_account": "090",
                "journal_id": cls.bank_b.id,
            }
        )

    def setUp(self):
        super().setUp()
        self._xero_bind(self.connection_b, tenant_id=TENANT_B)
        self._xero_payments_reset()
        self.connection_b.last_payment_poll = self.connection.last_payment_poll
        self.env.flush_all()

    def _app_url(self):
        return self.connection.app_id.webhook_url.replace(
            self.connection.app_id.get_base_url(), self.base_url()
        )

    def _post(self, url, events, key=None):
        status, body = signed_post(url, build_payload(events), key or self.WEBHOOK_KEY, timeout=30)
        self.env.invalidate_all()
        return status, body

    def _export_to(self, conn, amount, company):
        """A posted invoice of ``company`` created in ``conn``'s organisation and bound."""
        move = self._export(amount, company=company, conn=conn)
        total = Decimal(str(move.amount_total))
        conn._xero_client().create_payment(
            {
                "Invoice": {"InvoiceID": move.xero_invoice_id},
                "Account": {"Code": "090"},
                "Date": "2019-01-05",
                "Amount": float(total),
            }
        )
        return move

    def _all_events(self):
        return self.env["xero.webhook.event"].search(
            [("connection_id", "in", (self.connection | self.connection_b).ids)]
        )

    def _run_fresh(self):
        """The payments cron in a fresh environment (empty cache, the superuser, the main
        company as env.company), as ir.cron runs it."""
        self.env.flush_all()
        self.env.invalidate_all()
        env = api.Environment(self.env.cr, SUPERUSER_ID, {})
        env["xero.payment.import"]._cron_xero_payments()
        env.flush_all()
        self.env.invalidate_all()

    def test_one_url_and_key_per_app(self):
        app = self.connection.app_id
        self.assertTrue(app)
        self.assertEqual(self.connection_b.app_id, app)
        self.assertTrue(app.webhook_url.endswith(f"/xero/webhook/app/{app.id}"))
        self.assertEqual(self.connection.webhook_url, app.webhook_url)
        self.assertEqual(self.connection_b.webhook_url, app.webhook_url)
        self.assertEqual(self.connection_b.sudo().webhook_key, self.WEBHOOK_KEY)
        # the key is set once, for both
        self.connection_b.action_xero_generate_webhook_key()
        self.assertEqual(self.connection.sudo().webhook_key, app.sudo().webhook_key)
        self.assertNotEqual(app.sudo().webhook_key, self.WEBHOOK_KEY)
        # another Client ID is another app with its own URL
        self.connection_b.client_id = "OTHER-CLIENT-ID"
        self.assertNotEqual(self.connection_b.app_id, app)
        self.assertNotEqual(self.connection_b.webhook_url, self.connection.webhook_url)
        self.assertEqual(app.client_id, "CLIENT-ID")

    def test_migration_gives_connections_the_app_of_their_client_id(self):
        """A database from before apps: the connection kept client id, secret and key in its
        own columns (recreated here, rolled back with the test)."""
        cr = self.env.cr
        self.env.flush_all()
        cr.execute(
            "ALTER TABLE xero_connection ADD COLUMN client_id varchar, "
            "ADD COLUMN client_secret varchar, ADD COLUMN webhook_key varchar"
        )
        cr.execute(
            "UPDATE xero_connection SET app_id = NULL, client_id = 'OLD-APP', "
            "client_secret = 'old-secret', webhook_key = 'old-key' WHERE id IN %s",
            [(self.connection.id, self.connection_b.id)],
        )
        self.assertEqual(self.env["xero.app"]._xero_migrate_connections(), 2)
        self.env.invalidate_all()
        app = self.connection.app_id
        self.assertEqual(self.connection_b.app_id, app)
        self.assertEqual(
            (app.client_id, app.sudo().client_secret, app.sudo().webhook_key),
            ("OLD-APP", "old-secret", "old-key"),
        )
        cr.execute("SELECT count(*) FROM xero_connection WHERE client_secret IS NOT NULL")
        self.assertEqual(cr.fetchone()[0], 0, "the secrets live on the app only")

    def test_bad_signature_is_401_and_nothing_stored(self):
        move = self._export_to(self.connection_b, 300.0, self.company_b)
        event = self._event(move, tenant_id=TENANT_B)
        self.assertEqual(self._post(self._app_url(), [event], key="wrong-key"), (401, b""))
        status, _b = signed_post(self._app_url(), build_payload([event]), None, timeout=30)
        self.assertEqual(status, 401)
        self.assertEqual(self._post(self.base_url() + "/xero/webhook/app/999999", [event])[0], 401)
        self.assertFalse(self._all_events())
        self.assertEqual(self._post(self._app_url(), []), (200, b""))  # intent to receive

    def test_one_payload_two_organisations_two_companies(self):
        move_a = self._export_to(self.connection, 1000.0, self.env.company)
        move_b = self._export_to(self.connection_b, 400.0, self.company_b)
        foreign = self._event(move_b.xero_invoice_id, tenant_id=UNKNOWN)
        events = [
            self._event(move_a),
            self._event(move_b, tenant_id=TENANT_B),
            foreign,
        ]
        self.assertEqual(self._post(self._app_url(), events), (200, b""))
        stored = self._all_events()
        self.assertEqual(len(stored), 2, "the unknown organisation's event is not stored")
        self.assertEqual(
            {(e.connection_id, e.company_id, e.tenant_id) for e in stored},
            {
                (self.connection, self.env.company, self.connection.tenant_id),
                (self.connection_b, self.company_b, TENANT_B),
            },
        )
        self.proxy.reset()
        self._run_fresh()
        pay_a, pay_b = self._payments(move_a), self._payments(move_b)
        self.assertEqual((len(pay_a), len(pay_b)), (1, 1))
        self.assertEqual(pay_a.company_id, self.env.company)
        self.assertEqual(pay_a.journal_id, self.bank_journal)
        self.assertEqual(pay_b.company_id, self.company_b)
        self.assertEqual(pay_b.journal_id, self.bank_b)
        self.assertIn(move_b.payment_state, ("paid", "in_payment"))
        self.assertEqual(set(stored.mapped("state")), {"done"})

    def test_legacy_connection_url_routes_by_tenant(self):
        move_b = self._export_to(self.connection_b, 250.0, self.company_b)
        legacy_a = self.base_url() + "/xero/webhook/%d" % self.connection.id
        self.assertEqual(self._post(legacy_a, [self._event(move_b, tenant_id=TENANT_B)])[0], 200)
        stored = self._all_events()
        self.assertEqual(stored.connection_id, self.connection_b)
        self.assertEqual(stored.company_id, self.company_b)
        self._run_fresh()
        self.assertEqual(self._payments(move_b).company_id, self.company_b)

    def test_unknown_organisation_changes_nothing(self):
        move_b = self._export_to(self.connection_b, 250.0, self.company_b)
        triggers = self.env["ir.cron.trigger"].search_count(
            [("cron_id", "=", self.payment_cron.id)]
        )
        event = self._event(move_b.xero_invoice_id, tenant_id=UNKNOWN)
        self.assertEqual(self._post(self._app_url(), [event]), (200, b""))
        self.assertFalse(self._all_events())
        self.assertEqual(
            self.env["ir.cron.trigger"].search_count([("cron_id", "=", self.payment_cron.id)]),
            triggers,
        )
        self.assertFalse(self._payments(move_b))
        # a connection that does not import payments is an unknown organisation too
        self.connection_b.payments_enabled = False
        self.env.flush_all()
        self.assertEqual(
            self._post(self._app_url(), [self._event(move_b, tenant_id=TENANT_B)])[0], 200
        )
        self.assertFalse(self._all_events())
