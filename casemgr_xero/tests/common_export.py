# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The export tests' invoices and their checks against xero-local."""

from odoo import Command

from .common import API, XeroTestCommon

INVOICES = API + "/Invoices"


class XeroExportCommon(XeroTestCommon):
    """Invoices to export and the checks against xero-local shared by the export tests."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.eur = cls.setup_other_currency("EUR", rates=[("2019-01-01", 1.5)])
        cls._xero_map_tax()
        cls._xero_map_tax(cls.tax_sale_b, "OUTPUT2")
        cls.customers = cls.env["res.partner"].create(
            [{"name": f"Client {i:03d}", "email": f"client{i}@example.com"} for i in range(10)]
        )
        cls.cron = cls.env.ref("casemgr_xero.ir_cron_xero_export")

    # ------------------------------------------------------------------ helpers
    def _invoices(self, count, post=True, bad_discount_at=None, **extra):
        vals_list = []
        for i in range(count):
            lines = [
                Command.create({"display_type": "line_section", "name": "Professional fees"}),
                Command.create(
                    {
                        "product_id": self.product_a.id,
                        "name": f"Attendance on client, matter {i}",
                        "quantity": 2.5,
                        "price_unit": 180.0,
                        "tax_ids": [Command.set(self.tax_sale_a.ids)],
                    }
                ),
                Command.create(
                    {
                        "product_id": self.product_b.id,
                        "name": "Disbursement: court filing fee",
                        "quantity": 1,
                        "price_unit": 99.99,
                        "discount": 10.0,
                        "tax_ids": [Command.set(self.tax_sale_b.ids)],
                    }
                ),
                Command.create({"display_type": "line_note", "name": "Thank you."}),
            ]
            if bad_discount_at == i:
                # Odoo rounds 0.075 half-up to 0.08; Xero's own line maths gives 0.07.
                lines.append(
                    Command.create(
                        {
                            "product_id": self.product_a.id,
                            "name": "Rounding edge",
                            "quantity": 1,
                            "price_unit": 0.15,
                            "discount": 50.0,
                            "tax_ids": [Command.set(self.tax_sale_a.ids)],
                        }
                    )
                )
            vals_list.append(
                {
                    "move_type": "out_invoice",
                    "partner_id": self.customers[i % len(self.customers)].id,
                    "invoice_date": "2019-01-01",
                    "currency_id": (self.eur if i % 4 == 3 else self.env.company.currency_id).id,
                    "invoice_line_ids": lines,
                    **extra,
                }
            )
        moves = self.env["account.move"].create(vals_list)
        if post:
            moves.action_post()
        return moves

    def _run_cron(self):
        self.env["xero.export"]._cron_xero_export()
        self.env.invalidate_all()

    def _xero_invoices(self):
        return self.xero_local.invoices()

    def _assert_matches_xero(self, moves):
        contacts = {c["ContactID"]: c for c in self.xero_local.state()["contacts"]}
        by_number = {}
        for inv in self._xero_invoices():
            by_number.setdefault(inv["InvoiceNumber"], []).append(inv)
        for move in moves:
            found = by_number.get(move.name, [])
            self.assertEqual(len(found), 1, f"{move.name} must be in Xero exactly once")
            xinv = found[0]
            self.assertEqual(xinv["InvoiceID"], move.xero_invoice_id)
            self.assertEqual(xinv["CurrencyCode"], move.currency_id.name)
            self.assertEqual(xinv["Status"], "AUTHORISED")
            contact = move.partner_id.commercial_partner_id
            self.assertEqual(contacts[xinv["Contact"]["ContactID"]]["Name"], contact.name)
            product_lines = move.invoice_line_ids.filtered(
                lambda line: line.display_type == "product"
            )
            xlines = [li for li in xinv["LineItems"] if li.get("AccountCode")]
            self.assertEqual(len(xlines), len(product_lines))
            self.assertEqual(len(xinv["LineItems"]), len(move.invoice_line_ids))
            for line, xline in zip(product_lines.sorted("sequence"), xlines, strict=True):
                self.assertEqual(xline["Description"], line.name)
                self.assertAlmostEqual(xline["Quantity"], line.quantity)
                self.assertAlmostEqual(xline["UnitAmount"], line.price_unit)
                self.assertAlmostEqual(xline["LineAmount"], line.price_subtotal)
                self.assertEqual(xline["AccountCode"], line.account_id.code)
                self.assertEqual(
                    xline["TaxType"], "OUTPUT" if line.tax_ids == self.tax_sale_a else "OUTPUT2"
                )
            subtotal = sum(li["LineAmount"] for li in xinv["LineItems"])
            self.assertAlmostEqual(subtotal, move.amount_untaxed, places=2)
            if move.currency_id == self.eur:
                self.assertAlmostEqual(xinv["CurrencyRate"], move.invoice_currency_rate)
                self.assertNotEqual(xinv["CurrencyRate"], 1.0)
