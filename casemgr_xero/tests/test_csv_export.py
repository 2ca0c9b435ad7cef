# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import logging
import time
from decimal import Decimal

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from .common import API
from .common_csv import EXCLUSIVE, GST, GST_INCLUDED, INCLUSIVE, XeroCsvCommon

_logger = logging.getLogger(__name__)


@tagged("post_install", "-at_install")
class TestXeroCsvExport(XeroCsvCommon):
    def test_1201_invoices_make_three_files_in_a_zip(self):
        start = time.monotonic()
        moves = self._invoices(1201)
        created = time.monotonic() - start
        start = time.monotonic()
        attachment = self._export()
        exported = time.monotonic() - start
        _logger.info(
            "CSV test: 1,201 invoices created+posted in %.1fs, exported in %.1fs", created, exported
        )
        self.assertEqual(attachment.mimetype, "application/zip")
        self.assertEqual(attachment.name, "xero-invoices.zip")
        files = self._files(attachment)
        self.assertEqual(sorted(files), [EXCLUSIVE % 1, EXCLUSIVE % 2, EXCLUSIVE % 3])
        per_file = [len({r["*InvoiceNumber"] for r in files[n]}) for n in sorted(files)]
        self.assertEqual(per_file, [500, 500, 201])

        rows = self._by_number(files)
        self.assertEqual(set(rows), set(moves.mapped("name")))
        grand_total = Decimal(0)
        for move in moves:
            lines = rows[move.name]
            self.assertEqual(len(lines), len(move.invoice_line_ids))
            row, line, partner = lines[0], move.invoice_line_ids, move.partner_id
            self.assertEqual(row["*ContactName"], partner.name)
            self.assertEqual(row["EmailAddress"], partner.email)
            self.assertEqual(
                [row[c] for c in ("POAddressLine1", "POAddressLine2", "POCity", "POPostalCode")],
                [partner.street, "Level 2", "Auckland", "1010"],
            )
            self.assertEqual(row["POCountry"], "New Zealand")
            self.assertEqual(row["*InvoiceDate"], "01/01/2019")
            self.assertEqual(row["*DueDate"], move.invoice_date_due.strftime("%d/%m/%Y"))
            self.assertEqual(row["*Description"], line.name)
            self.assertEqual(row["*AccountCode"], line.account_id.code)
            self.assertEqual(row["*TaxType"], GST, "the rate's name, not the code OUTPUT")
            self.assertEqual(row["Currency"], move.currency_id.name)
            self._assert_amounts(move, lines)
            grand_total += Decimal(row["Total"])
        self.assertAlmostEqual(float(grand_total), sum(moves.mapped("amount_total")), places=2)
        self.assertEqual(set(moves.mapped("xero_state")), {"csv"})
        last = next(
            n for n in sorted(files) if moves[-1].name in {r["*InvoiceNumber"] for r in files[n]}
        )
        self.assertIn(last, moves[-1].message_ids[0].body, "the chatter names the file")
        _logger.info("CSV test: total %.1fs", time.monotonic() - start + created)

    def test_mixed_selection_gives_exclusive_and_inclusive_files(self):
        exclusive = self._invoices(3)
        inclusive = self._invoices(2, tax=self.tax_included, partner=self.customers[3])
        attachment = self._export()
        files = self._files(attachment)
        self.assertEqual(sorted(files), [EXCLUSIVE % 1, INCLUSIVE % 1])
        self.assertEqual(
            {r["*InvoiceNumber"] for r in files[EXCLUSIVE % 1]}, set(exclusive.mapped("name"))
        )
        self.assertEqual(
            {r["*InvoiceNumber"] for r in files[INCLUSIVE % 1]}, set(inclusive.mapped("name"))
        )
        self.assertEqual({r["*TaxType"] for r in files[EXCLUSIVE % 1]}, {GST})
        self.assertEqual({r["*TaxType"] for r in files[INCLUSIVE % 1]}, {GST_INCLUDED})
        rows = self._by_number(files)
        for move in exclusive | inclusive:
            self._assert_amounts(move, rows[move.name])
        # Inclusive unit prices are Odoo's tax-included prices.
        line = inclusive[0].invoice_line_ids
        self.assertEqual(Decimal(rows[inclusive[0].name][0]["*UnitAmount"]), Decimal("100"))
        self.assertAlmostEqual(line.price_total, 100.0)

    def test_company_without_connection(self):
        company = self.setup_other_company(name="File-only Firm")["company"]
        self.assertFalse(self.env["xero.connection"].search([("company_id", "=", company.id)]))
        tax = self.env["account.tax"].create(
            {"name": "VAT 20%", "amount": 20.0, "type_tax_use": "sale", "company_id": company.id}
        )
        self.env["xero.tax.mapping"].with_company(company).create(
            {"tax_id": tax.id, "xero_tax_name": "20% (VAT on Income)"}
        )
        mapping = self.env["xero.tax.mapping"].search([("connection_id", "=", False)])
        self.assertEqual(mapping.tax_id, tax, "the one mapping of a company without connection")
        self.assertFalse(mapping.connection_id)
        env = self.env(context=dict(self.env.context, allowed_company_ids=company.ids))
        self.env = env
        moves = self._invoices(2, tax=tax, company=company)
        attachment = self._export(company=company)
        (name,) = self._files(attachment)
        rows = self._files(attachment)[name]
        self.assertEqual(name, EXCLUSIVE % 1)
        self.assertEqual({r["*TaxType"] for r in rows}, {"20% (VAT on Income)"})
        by_number = self._by_number({name: rows})
        for move in moves:
            self._assert_amounts(move, by_number[move.name])
        self.assertEqual(set(moves.mapped("xero_state")), {"csv"})

        # Later the firm connects: nothing exported by file is sent again.
        connection = self.env["xero.connection"].create(self._xero_connection_vals(company))
        self._xero_bind(connection, tenant_id="c5c5c5c5-0000-4000-8000-00000000000c")
        action = moves.action_xero_send()
        self.assertIn("0 invoice(s) queued", action["params"]["message"])
        self.assertIn("already exported by CSV", action["params"]["message"])
        self.assertIn(moves[0].name, action["params"]["message"])
        form = Form(self.env["xero.export.wizard"])
        form.company_id = company
        self.assertEqual((form.move_count, form.xero_csv_count), (0, 2))
        self.env["xero.export"]._cron_xero_export()
        self.assertEqual(self.proxy.count("PUT", API + "/Invoices"), 0)
        self.assertEqual(self.proxy.count("PUT", API + "/CreditNotes"), 0)
        self.assertEqual(set(moves.mapped("xero_state")), {"csv"})
        # ... and the mappings typed for the file are the connection's now.
        self.assertEqual(
            self.env["xero.tax.mapping"].search([("connection_id", "=", connection.id)]), mapping
        )
        mapping.invalidate_recordset(["connection_id"])
        self.assertEqual(mapping.connection_id, connection)

    def test_credit_notes_are_negative_documents(self):
        invoice = self._invoices(1)
        reversal = (
            self.env["account.move.reversal"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create({"reason": "Overcharged", "journal_id": invoice.journal_id.id})
        )
        refund = self.env["account.move"].browse(reversal.refund_moves()["res_id"])
        refund.action_post()
        files = self._files(self._export())
        rows = self._by_number(files)
        self.assertEqual(set(rows), {invoice.name, refund.name})
        (row,) = rows[refund.name]
        self.assertLess(Decimal(row["*UnitAmount"]), 0)
        self.assertGreater(Decimal(row["*Quantity"]), 0)
        self.assertEqual(row["*TaxType"], GST)
        self._assert_amounts(refund, rows[refund.name])
        self._assert_amounts(invoice, rows[invoice.name])
        self.assertEqual(refund.xero_state, "csv")
        self.assertIn("0 invoice(s) queued", refund.action_xero_send()["params"]["message"])

    def test_lines_without_tax_need_the_no_tax_name(self):
        moves = self._invoices(1, tax=self.env["account.tax"])
        with self.assertRaises(UserError) as caught:
            self._export()
        self.assertIn("no-tax rate", str(caught.exception))
        self.assertEqual(moves.xero_state, "not_sent")
        rows = self._files(self._export(no_tax_name="No GST"))[EXCLUSIVE % 1]
        self.assertEqual([r["*TaxType"] for r in rows], ["No GST"])
        self.assertEqual(self.env.company.xero_no_tax_name, "No GST", "remembered")
        self.assertEqual(Form(self.env["xero.csv.export.wizard"]).no_tax_name, "No GST")

    def test_tax_mapped_without_name_is_refused_with_a_hint(self):
        self.env["xero.tax.mapping"].search([("tax_id", "=", self.tax_sale_a.id)]).write(
            {"xero_tax_name": False}
        )
        moves = self._invoices(1)
        with self.assertRaises(UserError) as caught:
            self._export()
        message = str(caught.exception)
        self.assertIn("no Xero tax rate name", message)
        self.assertIn(self.tax_sale_a.display_name, message)
        self.assertIn(moves.name, message)

    def test_check_mappings_fills_names_and_types_from_tax_rates(self):
        mappings = self.env["xero.tax.mapping"].search([("company_id", "=", self.env.company.id)])
        mappings.filtered(lambda m: m.tax_id == self.tax_sale_a).xero_tax_name = False
        self.addCleanup(setattr, self.proxy, "tax_rates", None)
        self.proxy.tax_rates = [
            {"TaxType": "OUTPUT", "Name": GST, "Status": "ACTIVE"},
            {"TaxType": "OUTPUT3", "Name": GST_INCLUDED, "Status": "ACTIVE"},
            {"TaxType": "NONE", "Name": "No GST", "Status": "ACTIVE"},
        ]
        action = self.connection.action_xero_check_mappings()
        self.assertEqual(self.proxy.count("GET", API + "/TaxRates"), 1)
        self.assertNotIn("OUTPUT", action["params"]["message"])
        by_tax = {m.tax_id: m for m in mappings}
        self.assertEqual(by_tax[self.tax_sale_a].xero_tax_name, GST)
        self.assertEqual(by_tax[self.tax_included].xero_tax_type, "OUTPUT3")
        self.assertEqual(self.env.company.xero_no_tax_name, "No GST")
        # A name Xero does not know is named as a problem.
        by_tax[self.tax_included].write({"xero_tax_type": False, "xero_tax_name": "GST 9%"})
        action = self.connection.action_xero_check_mappings()
        self.assertIn("no Xero TaxType", action["params"]["message"])
        self.assertEqual(action["params"]["type"], "warning")

    def test_csv_exported_invoices_are_never_sent_by_the_api(self):
        moves = self._invoices(3)
        self._export()
        action = moves.action_xero_send()
        self.assertIn("0 invoice(s) queued", action["params"]["message"])
        self.assertIn("already exported by CSV", action["params"]["message"])
        self.assertEqual(set(moves.mapped("xero_state")), {"csv"})
        # The export wizard offers none of them, and a run of the export cron sends none.
        wizard = Form(self.env["xero.export.wizard"])
        self.assertEqual(wizard.move_count, 0)
        self.env["xero.export"]._cron_xero_export()
        self.assertEqual(self.proxy.count("PUT", API + "/Invoices"), 0)
        self.assertEqual(self.xero_local.invoices(), [])

    def test_one_file_and_date_format(self):
        moves = self._invoices(2, invoice_date="2019-03-31")
        attachment = self._export(date_format="%Y-%m-%d")
        self.assertEqual(attachment.mimetype, "text/csv")
        self.assertEqual(attachment.name, EXCLUSIVE % 1)
        rows = self._files(attachment)[EXCLUSIVE % 1]
        self.assertEqual([r["*InvoiceNumber"] for r in rows], moves.mapped("name"))
        self.assertEqual({r["*InvoiceDate"] for r in rows}, {"2019-03-31"})

    def test_refuses_invoices_with_problems_naming_invoice_and_field(self):
        good = self._invoices(2)
        bad = self._invoices(1, tax=self.tax_sale_b)
        with self.assertRaises(UserError) as caught:
            self._export()
        message = str(caught.exception)
        self.assertIn(bad.name, message)
        self.assertIn("field Taxes", message)
        self.assertIn(self.tax_sale_b.name, message)
        self.assertNotIn(good[0].name, message)
        self.assertEqual(set((good | bad).mapped("xero_state")), {"not_sent"})
        self.assertFalse(
            self.env["ir.attachment"].search([("res_model", "=", "xero.csv.export.wizard")])
        )

    def test_filters_like_the_api_wizard(self):
        early = self._invoices(2)
        late = self._invoices(2, invoice_date="2019-03-01", partner=self.customers[1])
        failed = self._invoices(1, invoice_date="2019-03-02")
        failed.xero_state = "failed"
        failure = self.env["xero.failure"]._xero_report(
            "invoice_export", failed, "Refused", self.connection
        )
        form = Form(self.env["xero.csv.export.wizard"])
        form.date_from = fields.Date.from_string("2019-02-01")
        self.assertEqual(form.move_count, 2)
        form.include_failed = True
        self.assertEqual(form.move_count, 3)
        form.partner_ids.add(self.customers[1])
        self.assertEqual(form.move_count, 2)
        form.partner_ids.clear()
        wizard = form.save()
        wizard.action_xero_export_csv()
        self.assertEqual(set((late | failed).mapped("xero_state")), {"csv"})
        self.assertEqual(set(early.mapped("xero_state")), {"not_sent"})
        self.assertEqual(failure.state, "resolved", "the file made the API failure moot")
        # Already exported: not again, unless asked.
        form = Form(self.env["xero.csv.export.wizard"])
        form.date_from = fields.Date.from_string("2019-02-01")
        self.assertEqual(form.move_count, 0)
        form.include_csv = True
        self.assertEqual(form.move_count, 3)
        # From a list selection.
        ctx = {"active_model": "account.move", "active_ids": early[:1].ids}
        form = Form(self.env["xero.csv.export.wizard"].with_context(**ctx))
        self.assertEqual(form.move_count, 1)
