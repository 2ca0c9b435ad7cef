# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import base64
import csv
import io
import logging
import time
import zipfile
from collections import defaultdict
from decimal import Decimal

from casemgr_xero_core.csv_template import COLUMNS

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from .common import API, XeroTestCommon

_logger = logging.getLogger(__name__)


@tagged("post_install", "-at_install")
class TestXeroCsvExport(XeroTestCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["xero.tax.mapping"].create(
            {
                "connection_id": cls.connection.id,
                "tax_id": cls.tax_sale_a.id,
                "xero_tax_type": "OUTPUT",
            }
        )
        cls.customers = cls.env["res.partner"].create(
            [{"name": f"CSV Client {i:02d}", "email": f"csv{i}@example.com"} for i in range(7)]
        )

    def _invoices(self, count, tax=None, invoice_date="2019-01-01", partner=None, post=True):
        tax = tax or self.tax_sale_a
        if count > 100:
            # The test database's accounting tables look empty to the planner (autovacuum
            # after every rolled-back run): a thousand invoices then get nested loops in
            # account.move's payment-state query, and posting takes many minutes. A first
            # small batch and ANALYZE give it real numbers (pg_class stats, not data).
            self._invoices(60, post=False)  # drafts: not exported
            self.env.flush_all()
            self.env.cr.execute(
                "ANALYZE account_move, account_move_line, account_partial_reconcile, "
                "account_move_line_account_tax_rel"
            )
        moves = self.env["account.move"].create(
            [
                {
                    "move_type": "out_invoice",
                    "partner_id": (partner or self.customers[i % len(self.customers)]).id,
                    "invoice_date": invoice_date,
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "product_id": self.product_a.id,
                                "name": f"Attendance, matter {i}",
                                "quantity": 1 + i % 3,
                                "price_unit": 100.0 + (i % 50) * 1.25,
                                "tax_ids": [Command.set(tax.ids)],
                            }
                        )
                    ],
                }
                for i in range(count)
            ]
        )
        if post:
            moves.action_post()
        return moves

    def _export(self, **vals):
        wizard = self.env["xero.csv.export.wizard"].create(vals)
        action = wizard.action_xero_export_csv()
        attachment = wizard.attachment_id
        self.assertEqual(action["type"], "ir.actions.act_url")
        self.assertEqual(action["url"], f"/web/content/{attachment.id}?download=true")
        return attachment

    @staticmethod
    def _files(attachment):
        """{name: [rows]}, checking the header of every file."""
        raw = base64.b64decode(attachment.datas)
        if attachment.mimetype == "application/zip":
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                contents = {n: archive.read(n) for n in archive.namelist()}
        else:
            contents = {attachment.name: raw}
        files = {}
        for name, content in contents.items():
            reader = csv.reader(io.StringIO(content.decode("utf-8"), newline=""))
            header = next(reader)
            assert header == COLUMNS, header
            files[name] = [dict(zip(header, row, strict=True)) for row in reader]
        return files

    # ------------------------------------------------------------------ tests
    def test_1201_invoices_make_three_files_in_a_zip(self):
        start = time.monotonic()
        moves = self._invoices(1201)
        created = time.monotonic() - start
        start = time.monotonic()
        attachment = self._export(company_id=self.env.company.id)
        exported = time.monotonic() - start
        _logger.info(
            "CSV test: 1,201 invoices created+posted in %.1fs, exported in %.1fs", created, exported
        )
        self.assertEqual(attachment.mimetype, "application/zip")
        self.assertEqual(attachment.name, "xero-invoices.zip")
        files = self._files(attachment)
        self.assertEqual(
            sorted(files),
            ["xero-invoices-001.csv", "xero-invoices-002.csv", "xero-invoices-003.csv"],
        )
        per_file = [len({r["*InvoiceNumber"] for r in files[n]}) for n in sorted(files)]
        self.assertEqual(per_file, [500, 500, 201])

        rows = defaultdict(list)
        for name in sorted(files):
            for row in files[name]:
                rows[row["*InvoiceNumber"]].append(row)
        self.assertEqual(set(rows), set(moves.mapped("name")))
        grand_total = Decimal(0)
        for move in moves:
            lines = rows[move.name]
            self.assertEqual(len(lines), len(move.invoice_line_ids))
            row, line = lines[0], move.invoice_line_ids
            self.assertEqual(row["*ContactName"], move.partner_id.name)
            self.assertEqual(row["EmailAddress"], move.partner_id.email)
            self.assertEqual(row["*InvoiceDate"], "01/01/2019")
            self.assertEqual(row["*DueDate"], move.invoice_date_due.strftime("%d/%m/%Y"))
            self.assertEqual(row["*Description"], line.name)
            self.assertEqual(row["*AccountCode"], line.account_id.code)
            self.assertEqual(row["*TaxType"], "OUTPUT")
            self.assertEqual(row["Currency"], move.currency_id.name)
            amount = Decimal(row["*Quantity"]) * Decimal(row["*UnitAmount"])
            self.assertEqual(float(amount), move.amount_untaxed, move.name)
            grand_total += amount
        self.assertAlmostEqual(float(grand_total), sum(moves.mapped("amount_untaxed")), places=2)
        self.assertEqual(set(moves.mapped("xero_state")), {"csv"})
        self.assertIn("Exported to Xero by CSV", moves[0].message_ids[0].body)
        _logger.info("CSV test: total %.1fs", time.monotonic() - start + created)

    def test_csv_exported_invoices_are_never_sent_by_the_api(self):
        moves = self._invoices(3)
        self._export(company_id=self.env.company.id)
        action = moves.action_xero_send()
        self.assertIn("0 invoice(s) queued", action["params"]["message"])
        self.assertIn("already exported by CSV", action["params"]["message"])
        self.assertEqual(set(moves.mapped("xero_state")), {"csv"})
        # Even if something queued them behind the wizard's back, the API path skips them.
        wizard = Form(self.env["xero.export.wizard"])
        self.assertEqual(wizard.move_count, 0)
        self.env["account.move"]._cron_xero_export()
        self.assertEqual(self.proxy.count("PUT", API + "/Invoices"), 0)
        self.assertEqual(self.xero_local.invoices(), [])

    def test_one_file_and_date_format(self):
        moves = self._invoices(2, invoice_date="2019-03-31")
        attachment = self._export(company_id=self.env.company.id, date_format="%Y-%m-%d")
        self.assertEqual(attachment.mimetype, "text/csv")
        self.assertEqual(attachment.name, "xero-invoices.csv")
        rows = self._files(attachment)["xero-invoices.csv"]
        self.assertEqual([r["*InvoiceNumber"] for r in rows], moves.mapped("name"))
        self.assertEqual({r["*InvoiceDate"] for r in rows}, {"2019-03-31"})

    def test_refuses_invoices_with_problems_naming_invoice_and_field(self):
        good = self._invoices(2)
        bad = self._invoices(1, tax=self.tax_sale_b)
        with self.assertRaises(UserError) as caught:
            self._export(company_id=self.env.company.id)
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
