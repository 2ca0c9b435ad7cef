# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json

from odoo import SUPERUSER_ID, Command, api
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .. import compat
from .common import API, XeroTestCommon

INVOICES = API + "/Invoices"
# xero-local creates a tenant it does not know on the fly.
TENANT_B = "b2b2b2b2-0000-4000-8000-00000000000b"


@tagged("post_install", "-at_install")
class TestXeroMultiCompany(XeroTestCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.env.company
        cls.company_data_2 = cls.setup_other_company(name="Company B")
        cls.company_b = cls.company_data_2["company"]
        cls.connection_b = cls.env["xero.connection"].create(
            cls._xero_connection_vals(cls.company_b)
        )
        cls.tax_b = cls.company_data_2["default_tax_sale"]
        cls.both = cls.company_a | cls.company_b
        # Same chart, same sequences: give B its own invoice numbers to tell the tenants apart.
        cls.company_data_2["default_journal_sale"].code = "INVB"
        cls.env["xero.tax.mapping"].create(
            [
                {
                    "connection_id": cls.connection.id,
                    "tax_id": cls.tax_sale_a.id,
                    "xero_tax_type": "OUTPUT",
                },
                {
                    "connection_id": cls.connection_b.id,
                    "tax_id": cls.tax_b.id,
                    "xero_tax_type": "OUTPUT",
                },
            ]
        )
        cls.env["xero.account.mapping"].create(
            [
                {
                    "connection_id": cls.connection.id,
                    "account_id": cls.company_data["default_account_revenue"].id,
                    "xero_account_code": "200",
                },
                {
                    "connection_id": cls.connection_b.id,
                    "account_id": cls.company_data_2["default_account_revenue"].id,
                    "xero_account_code": "201",
                },
            ]
        )
        # One customer shared by both companies: each organisation gets its own contact.
        cls.customer = cls.env["res.partner"].create({"name": "Shared Client Ltd"})
        cls.user_a = new_test_user(
            cls.env,
            login="xero_user_company_a",
            groups="base.group_user,account.group_account_manager",
            company_id=cls.company_a.id,
            company_ids=[Command.set(cls.company_a.ids)],
        )

    def setUp(self):
        super().setUp()
        self._xero_bind(self.connection_b, tenant_id=TENANT_B)
        # The test user works with both companies active (company switcher).
        self.env = self.env(context=dict(self.env.context, allowed_company_ids=self.both.ids))

    def _invoices(self, company_data, tax, count):
        moves = (
            self.env["account.move"]
            .with_company(company_data["company"])
            .create(
                [
                    {
                        "move_type": "out_invoice",
                        "partner_id": self.customer.id,
                        "invoice_date": "2019-01-01",
                        "journal_id": company_data["default_journal_sale"].id,
                        "invoice_line_ids": [
                            Command.create(
                                {
                                    "name": f"Fees {company_data['company'].name} {i}",
                                    "quantity": 1,
                                    "price_unit": 100.0 + i,
                                    "account_id": company_data["default_account_revenue"].id,
                                    "tax_ids": [Command.set(tax.ids)],
                                }
                            )
                        ],
                    }
                    for i in range(count)
                ]
            )
        )
        moves.action_post()
        return moves

    def _send_and_export(self, moves):
        moves.action_xero_send()
        self._run_cron()

    def _run_cron(self):
        # The cron runs as the superuser, across companies.
        self.env["xero.export"].sudo()._cron_xero_export()
        self.env.invalidate_all()

    def _tenant_numbers(self, conn, numbers):
        return set(conn._xero_client().find_invoices_by_number(numbers))

    def test_cron_in_a_fresh_environment_sends_each_company_codes(self):
        """The cron runs as OdooBot in its own company, in a transaction that did not create
        the invoices: B's invoices must still carry B's account codes (company-dependent in
        Odoo 18) and reach B's organisation."""
        revenue_b = self.company_data_2["default_account_revenue"]
        revenue_b.with_company(self.company_b).code = "419900"
        self.env["xero.account.mapping"].search(
            [("connection_id", "=", self.connection_b.id)]
        ).unlink()  # no mapping: the account's own code is sent
        moves_b = self._invoices(self.company_data_2, self.tax_b, 2)
        moves_a = self._invoices(self.company_data, self.tax_sale_a, 1)
        (moves_a | moves_b).action_xero_send()
        self.env.flush_all()
        # What ir.cron gives the job: a new environment, the cron user's company, no cache.
        cron_env = api.Environment(self.cr, SUPERUSER_ID, {})
        cron_env.invalidate_all()
        self.assertNotEqual(cron_env.company, self.company_b)
        cron_env["xero.export"]._cron_xero_export()
        self.env.invalidate_all()
        self.assertEqual(
            set(moves_b.mapped("xero_state")),
            {"sent"},
            [(m.xero_state, m.xero_error) for m in moves_b],
        )
        self.assertEqual(set(moves_a.mapped("xero_state")), {"sent"})
        found = self.connection_b._xero_client().find_invoices_by_number(moves_b.mapped("name"))
        self.assertEqual(set(found), set(moves_b.mapped("name")))
        codes = {line.get("AccountCode") for inv in found.values() for line in inv["LineItems"]}
        self.assertEqual(codes, {"419900"})

    def test_each_company_exports_to_its_own_tenant(self):
        self.assertNotEqual(self.connection.tenant_id, self.connection_b.tenant_id)
        moves_a = self._invoices(self.company_data, self.tax_sale_a, 3)
        moves_b = self._invoices(self.company_data_2, self.tax_b, 2)
        self.assertFalse(set(moves_a.mapped("name")) & set(moves_b.mapped("name")))
        # With only A active, B's connection is out of reach: B's invoices stay put.
        only_a = {"allowed_company_ids": self.company_a.ids}
        action = (moves_a | moves_b).with_context(**only_a).action_xero_send()
        self.assertIn("company Company B has no Xero connection", action["params"]["message"])
        self.assertEqual(set(moves_b.mapped("xero_state")), {"not_sent"})
        # With both companies active (the company switcher), each goes to its own connection.
        moves_b.action_xero_send()
        self.assertEqual(set(moves_a.mapped("xero_connection_id")), {self.connection})
        self.assertEqual(set(moves_b.mapped("xero_connection_id")), {self.connection_b})
        self._run_cron()
        self.assertEqual(set((moves_a | moves_b).mapped("xero_state")), {"sent"})

        numbers = (moves_a | moves_b).mapped("name")
        self.assertEqual(
            self._tenant_numbers(self.connection, numbers), set(moves_a.mapped("name"))
        )
        self.assertEqual(
            self._tenant_numbers(self.connection_b, numbers), set(moves_b.mapped("name"))
        )
        # Each PUT went to the right organisation with the right company's codes.
        puts = [r for r in self.proxy.requests if r.method == "PUT" and r.path.startswith(INVOICES)]
        self.assertEqual(len(puts), 2, "one batch per connection")
        for req in puts:
            tenant = {k.lower(): v for k, v in req.headers.items()}["xero-tenant-id"]
            sent = {inv["InvoiceNumber"]: inv for inv in json.loads(req.body)["Invoices"]}
            expected = moves_a if tenant == self.connection.tenant_id else moves_b
            self.assertIn(tenant, (self.connection.tenant_id, TENANT_B))
            self.assertEqual(set(sent), set(expected.mapped("name")))
            code = "200" if expected == moves_a else "201"
            self.assertEqual(
                {li["AccountCode"] for inv in sent.values() for li in inv["LineItems"]}, {code}
            )
        # The shared customer is bound once per connection, to a contact of each organisation.
        bindings = self.env["xero.contact"].search([("partner_id", "=", self.customer.id)])
        self.assertEqual(bindings.connection_id, self.connection | self.connection_b)
        self.assertEqual(len(set(bindings.mapped("xero_contact_id"))), 2)
        for binding in bindings:
            found = binding.connection_id._xero_client().find_contacts(names=[self.customer.name])
            self.assertEqual([c["ContactID"] for c in found], [binding.xero_contact_id])

    def test_failures_belong_to_the_company_of_the_connection(self):
        moves_b = self._invoices(self.company_data_2, self.tax_b, 1)
        self.env["xero.tax.mapping"].search([("connection_id", "=", self.connection_b.id)]).unlink()
        self._send_and_export(moves_b)
        # One card for the cause (B's unmapped tax), listing the invoice.
        failure = self.env["xero.failure"].search([("move_ids", "in", moves_b.ids)])
        self.assertEqual(failure.company_id, self.company_b)
        self.assertEqual(failure.connection_id, self.connection_b)
        self.assertEqual(self.connection_b.xero_failure_count, 1)
        self.assertEqual(self.connection.xero_failure_count, 0)

    def test_user_of_company_a_sees_nothing_of_company_b(self):
        moves_a = self._invoices(self.company_data, self.tax_sale_a, 1)
        moves_b = self._invoices(self.company_data_2, self.tax_b, 1)
        self._send_and_export(moves_a | moves_b)
        Failure = self.env["xero.failure"]
        fail_a = Failure._xero_report("contact", self.customer, "A refused", self.connection)
        fail_b = Failure._xero_report("contact", self.customer, "B refused", self.connection_b)
        # The same (shared) partner failing in both organisations: one card per company.
        self.assertNotEqual(fail_a, fail_b)
        self.assertEqual((fail_a | fail_b).company_id, self.both)
        self.assertEqual(self.env["xero.contact"].search_count([]), 2)

        env_a = self.env(user=self.user_a, context={"allowed_company_ids": self.company_a.ids})
        expectations = {
            "xero.connection": self.connection,
            "xero.failure": fail_a,
            "xero.contact": self.env["xero.contact"].search(
                [("connection_id", "=", self.connection.id)]
            ),
            "xero.tax.mapping": self.env["xero.tax.mapping"].search(
                [("connection_id", "=", self.connection.id)]
            ),
            "xero.account.mapping": self.env["xero.account.mapping"].search(
                [("connection_id", "=", self.connection.id)]
            ),
        }
        for model, mine in expectations.items():
            self.assertTrue(mine, model)
            seen = env_a[model].search([])
            self.assertEqual(seen, mine.with_env(env_a), f"{model}: only company A's records")
            self.assertEqual(set(seen.mapped("company_id")), {self.company_a}, model)
        with self.assertRaises(AccessError):
            env_a["xero.connection"].browse(self.connection_b.id).read(["name"])
        with self.assertRaises(AccessError):
            env_a["xero.failure"].browse(fail_b.id).read(["message"])
        # The dashboard's columns count company A's failures only.
        columns = compat.web_read_group_counts(env_a["xero.failure"], [], "state")
        self.assertEqual(sum(count for _state, count in columns), 1)
        # The user of A can still work their own card.
        env_a["xero.failure"].browse(fail_a.id).action_xero_ignore()
        self.assertEqual(fail_a.state, "ignored")

    def test_webhook_of_tenant_b_never_touches_company_a(self):
        from casemgr_xero_core.webhooks import parse_events
        from casemgr_xero_testing.webhook import build_event

        moves_a = self._invoices(self.company_data, self.tax_sale_a, 1)
        moves_b = self._invoices(self.company_data_2, self.tax_b, 1)
        self._send_and_export(moves_a | moves_b)
        self.assertEqual(set((moves_a | moves_b).mapped("xero_state")), {"sent"})
        for conn, bank in (
            (self.connection, self.company_data["default_journal_bank"]),
            (self.connection_b, self.company_data_2["default_journal_bank"]),
        ):
            self.env["xero.payment.journal"].create(
                {"connection_id": conn.id, "xero_account": "090", "journal_id": bank.id}
            )
            conn.sudo().write(
                {
                    "payments_enabled": True,
                    "webhook_key": f"key-{conn.id}",
                    "last_payment_poll": "2100-01-01 00:00:00",
                }
            )
        self.connection_b._xero_client().create_payment(
            {
                "Invoice": {"InvoiceID": moves_b.xero_invoice_id},
                "Account": {"Code": "090"},
                "Date": "2019-01-05",
                "Amount": float(moves_b.amount_total),
            }
        )
        event = build_event(moves_b.xero_invoice_id, tenant_id=TENANT_B)
        Event = self.env["xero.webhook.event"].sudo()
        body = json.dumps({"events": [event]}).encode()
        # (Delivered to A's endpoint, B's tenant is refused by the controller: see
        # test_webhook.test_foreign_tenant_events_are_not_stored.)
        # Delivered to B's endpoint: B's invoice is paid, A's stays untouched.
        Event._xero_store_events(self.connection_b.id, self.company_b.id, parse_events(body))
        self.env.flush_all()
        self.env["xero.payment.import"].sudo()._cron_xero_payments()
        self.env.invalidate_all()
        self.assertIn(moves_b.payment_state, ("paid", "in_payment"))
        self.assertEqual(moves_a.payment_state, "not_paid")
        payments = self.env["account.payment"].sudo().search([("xero_payment_id", "!=", False)])
        self.assertEqual(payments.company_id, self.company_b)
        self.assertFalse(
            Event.search([("connection_id", "=", self.connection.id)]),
            "nothing stored or processed for company A",
        )
