# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json
from decimal import Decimal

from odoo.tests import tagged

from .common import API
from .common_export import INVOICES, XeroExportCommon


@tagged("post_install", "-at_install")
class TestXeroExportData(XeroExportCommon):
    """What is sent: amounts, tracking, tax mappings, contacts."""

    def test_payload_amounts_are_decimal_exact(self):
        moves = self._invoices(1)
        moves.action_xero_send()
        self._run_cron()
        req = next(r for r in self.proxy.requests if r.method == "PUT")
        line = json.loads(req.body)["Invoices"][0]["LineItems"][2]
        self.assertEqual(Decimal(str(line["UnitAmount"])), Decimal("99.99"))
        self.assertEqual(Decimal(str(line["DiscountRate"])), Decimal("10"))
        self.assertEqual(Decimal(str(line["LineAmount"])), Decimal("89.99"))

    def test_tracking_from_analytic_distribution(self):
        plan = self.env["account.analytic.plan"].create({"name": "Matters"})
        matter = self.env["account.analytic.account"].create(
            {"name": "Smith v Jones", "plan_id": plan.id}
        )
        self.env["xero.tracking.mapping"].create(
            {"connection_id": self.connection.id, "plan_id": plan.id, "xero_category": "Matter"}
        )
        move = self._invoices(1, post=False)
        move.invoice_line_ids.filtered(lambda line: line.display_type == "product")[0].write(
            {"analytic_distribution": {str(matter.id): 100}}
        )
        move.action_post()
        move.action_xero_send()
        self._run_cron()
        self.assertEqual(move.xero_state, "sent")
        req = next(r for r in self.proxy.requests if r.method == "PUT")
        lines = json.loads(req.body)["Invoices"][0]["LineItems"]
        self.assertEqual(lines[1]["Tracking"], [{"Name": "Matter", "Option": "Smith v Jones"}])
        self.assertNotIn("Tracking", lines[2])

    def test_unmapped_tax_fails_with_a_clear_message_and_sends_the_rest(self):
        self.env["xero.tax.mapping"].search([("tax_id", "=", self.tax_sale_b.id)]).unlink()
        moves = self._invoices(3)
        moves.action_xero_send()
        self._run_cron()
        self.assertEqual(set(moves.mapped("xero_state")), {"failed"})
        self.assertIn("has no Xero tax type", moves[0].xero_error)
        self.assertIn(moves[0].name, moves[0].xero_error)
        self.assertEqual(self.proxy.count("PUT", INVOICES), 0, "nothing half-sent")

    def test_check_mappings_against_the_organisation(self):
        self.env["xero.account.mapping"].create(
            {
                "connection_id": self.connection.id,
                "account_id": self.company_data["default_account_revenue"].id,
                "xero_account_code": "999",
            }
        )
        # xero-local has no /Accounts or /TaxRates: the check says what it could not check.
        action = self.connection.action_xero_check_mappings()
        self.assertIn("not checked", action["params"]["message"])
        # A peer that lists them: the missing account code is named.
        self.proxy.respond(
            200,
            json.dumps({"Accounts": [{"Code": "200", "Status": "ACTIVE"}]}),
            {"Content-Type": "application/json"},
            method="GET",
            path_prefix=API + "/Accounts",
        )
        self.proxy.respond(
            200,
            json.dumps(
                {
                    "TaxRates": [
                        {"TaxType": "OUTPUT", "Status": "ACTIVE"},
                        {"TaxType": "OUTPUT2", "Status": "ACTIVE"},
                    ]
                }
            ),
            {"Content-Type": "application/json"},
            method="GET",
            path_prefix=API + "/TaxRates",
        )
        action = self.connection.action_xero_check_mappings()
        message = action["params"]["message"]
        self.assertIn("'999'", message)
        self.assertNotIn("OUTPUT", message)
        self.assertEqual(action["params"]["type"], "warning")

    def test_contacts_matched_by_number_email_then_name_never_shared(self):
        client = self.connection._xero_client()
        existing = client.create_contacts(
            [
                {"Name": "Old Name Pty", "EmailAddress": "client1@example.com"},
                {"Name": "Client 002"},
            ]
        )
        self.assertTrue(all(r.ok for r in existing))
        moves = self._invoices(3)  # customers Client 000, 001, 002
        moves.action_xero_send()
        self._run_cron()
        binding = {
            b.partner_id: b.xero_contact_id
            for b in self.env["xero.contact"].search(
                [("connection_id", "=", self.connection.id), ("partner_id", "!=", False)]
            )
        }
        # Client 001 shares the e-mail of an existing Xero contact: bound to it, not duplicated.
        self.assertEqual(binding[self.customers[1]], existing[0].xero_id)
        # Client 002 has the same name as an existing contact: bound to it.
        self.assertEqual(binding[self.customers[2]], existing[1].xero_id)
        # Client 000 is new: created once.
        contacts = self.xero_local.state()["contacts"]
        self.assertEqual(len(contacts), 3)
        self.assertEqual(len(set(binding.values())), 3)
        # A second partner with the very same name gets its own contact, not a shared one.
        twin = self.env["res.partner"].create({"name": "Client 002"})
        move = self._invoices(1, post=False)
        move.partner_id = twin
        move.action_post()
        move.action_xero_send()
        self._run_cron()
        twin_binding = self.env["xero.contact"].search([("partner_id", "=", twin.id)])
        self.assertTrue(twin_binding)
        self.assertNotEqual(twin_binding.xero_contact_id, existing[1].xero_id)
