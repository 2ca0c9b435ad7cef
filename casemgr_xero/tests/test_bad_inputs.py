# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Bad input: a clear message on that invoice and on the dashboard; nothing else lost."""

import json

from odoo import Command
from odoo.tests import tagged

from .common import API, XeroTestCommon

INVOICES = API + "/Invoices"


@tagged("post_install", "-at_install")
class TestXeroBadInputs(XeroTestCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._xero_map_tax()

    def _invoice(self, partner=None, **line):
        return self._xero_invoice_vals(partner=partner, **line)

    def _export(self, vals_list):
        moves = self.env["account.move"].create(vals_list)
        moves.action_post()
        moves.action_xero_send()
        self.env["xero.export"]._cron_xero_export()
        self.env.invalidate_all()
        return moves

    def _assert_failed_alone(self, moves, bad, expected_words):
        self.assertEqual(bad.xero_state, "failed")
        for word in expected_words:
            self.assertIn(word, bad.xero_error)
        failure = self.env["xero.failure"].search(
            [("res_model", "=", "account.move"), ("res_id", "=", bad.id)]
        )
        self.assertEqual(failure.state, "open")
        self.assertEqual(failure.message, bad.xero_error)
        good = moves - bad
        self.assertEqual(set(good.mapped("xero_state")), {"sent"})
        in_xero = {i["InvoiceNumber"] for i in self.xero_local.invoices()}
        self.assertEqual(in_xero, set(good.mapped("name")))

    def test_zero_total(self):
        moves = self._export([self._invoice(), self._invoice(price_unit=0.0), self._invoice()])
        self._assert_failed_alone(moves, moves[1], [moves[1].name, "total is zero"])

    def test_more_than_four_decimals(self):
        self.env.ref("product.decimal_price").digits = 6
        moves = self._export([self._invoice(), self._invoice(price_unit=10.123456)])
        self._assert_failed_alone(moves, moves[1], [moves[1].name, "decimal"])

    def test_description_over_4000_characters(self):
        moves = self._export([self._invoice(name="x" * 4001), self._invoice()])
        self._assert_failed_alone(moves, moves[0], [moves[0].name, "4000"])

    def test_unmapped_tax(self):
        moves = self._export(
            [self._invoice(), self._invoice(tax_ids=[Command.set(self.tax_sale_b.ids)])]
        )
        bad = moves[1]
        self.assertEqual(bad.xero_state, "failed")
        self.assertIn(bad.name, bad.xero_error)
        self.assertIn(self.tax_sale_b.name, bad.xero_error)
        # The cause has the card (listing the invoice), not the invoice.
        failure = self.env["xero.failure"].search([("move_ids", "in", bad.ids)])
        self.assertEqual((failure.kind, failure.res_id), ("mapping", self.tax_sale_b.id))
        self.assertEqual(moves[0].xero_state, "sent")
        self.assertEqual({i["InvoiceNumber"] for i in self.xero_local.invoices()}, {moves[0].name})

    def test_non_ascii_names_are_sent_intact(self):
        partner = self.env["res.partner"].create({"name": "Zoë Ñúñez 株式会社"})
        moves = self._export([self._invoice(partner=partner, name="Conseil juridique — 5 €")])
        self.assertEqual(moves.xero_state, "sent")
        contacts = {c["Name"] for c in self.xero_local.state()["contacts"]}
        self.assertIn("Zoë Ñúñez 株式会社", contacts)
        [xinv] = self.xero_local.invoices()
        self.assertEqual(xinv["LineItems"][0]["Description"], "Conseil juridique — 5 €")

    def test_currency_the_organisation_lacks(self):
        moves = self.env["account.move"].create([self._invoice() for _i in range(3)])
        moves.action_post()
        bad = moves[1]
        element = {
            "InvoiceNumber": bad.name,
            "HasErrors": True,
            "ValidationErrors": [
                {"Message": "The currency XYZ is not set up in this organisation."}
            ],
        }
        self.proxy.respond(
            400,
            json.dumps(
                {
                    "ErrorNumber": 10,
                    "Type": "ValidationException",
                    "Message": "A validation exception occurred",
                    "Elements": [element],
                }
            ),
            {"Content-Type": "application/json"},
            method="PUT",
            path_prefix=INVOICES,
        )
        moves.action_xero_send()
        self.env["xero.export"]._cron_xero_export()
        self.env.invalidate_all()
        self._assert_failed_alone(moves, bad, ["currency XYZ is not set up"])

    def test_number_already_used_in_xero_by_someone_else(self):
        self.connection.check_numbers = True
        moves = self.env["account.move"].create([self._invoice() for _i in range(3)])
        moves.action_post()
        taken = moves[2]
        client = self.connection._xero_client()
        [other] = client.create_contacts([{"Name": "Another Firm's Client"}])
        client.put_invoices(
            [
                {
                    "Type": "ACCREC",
                    "InvoiceNumber": taken.name,
                    "Contact": {"ContactID": other.xero_id},
                    "Date": "2019-01-01",
                    "DueDate": "2019-01-31",
                    "LineItems": [{"Description": "Theirs", "LineAmount": 5.0}],
                }
            ],
            "someone-else",
        )
        moves.action_xero_send()
        self.env["xero.export"]._cron_xero_export()
        self.env.invalidate_all()
        self.assertEqual(taken.xero_state, "failed")
        self.assertIn("already used in Xero", taken.xero_error)
        self.assertFalse(taken.xero_invoice_id, "never bound to someone else's invoice")
        self.assertEqual(set((moves - taken).mapped("xero_state")), {"sent"})
        numbers = [i["InvoiceNumber"] for i in self.xero_local.invoices()]
        self.assertEqual(numbers.count(taken.name), 1)
