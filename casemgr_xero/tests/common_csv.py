# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The CSV export tests' invoices, the wizard run and the reading of its files."""

import base64
import csv
import io
import zipfile
from collections import defaultdict
from decimal import Decimal

from casemgr_xero_core.csv_template import COLUMNS

from odoo import Command
from odoo.tests import Form

from .common import XeroTestCommon

GST = "15% GST on Income"
GST_INCLUDED = "15% GST on Income (included)"
EXCLUSIVE = "xero-invoices-exclusive-%03d.csv"
INCLUSIVE = "xero-invoices-inclusive-%03d.csv"


class XeroCsvCommon(XeroTestCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tax_included = cls.env["account.tax"].create(
            {
                "name": "GST 15% included",
                "amount": 15.0,
                "type_tax_use": "sale",
                "price_include_override": "tax_included",
                "company_id": cls.env.company.id,
            }
        )
        cls.env["xero.tax.mapping"].create(
            [
                {
                    "connection_id": cls.connection.id,
                    "tax_id": cls.tax_sale_a.id,
                    "xero_tax_type": "OUTPUT",
                    "xero_tax_name": GST,
                },
                # A firm that never connected types only the name.
                {"tax_id": cls.tax_included.id, "xero_tax_name": GST_INCLUDED},
            ]
        )
        cls.customers = cls.env["res.partner"].create(
            [
                {
                    "name": f"CSV Client {i:02d}",
                    "email": f"csv{i}@example.com",
                    "street": f"{i} Queen Street",
                    "street2": "Level 2",
                    "city": "Auckland",
                    "zip": "1010",
                    "country_id": cls.env.ref("base.nz").id,
                }
                for i in range(7)
            ]
        )

    def _invoices(
        self, count, tax=None, invoice_date="2019-01-01", partner=None, post=True, company=None
    ):
        tax = self.tax_sale_a if tax is None else tax
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
        Move = self.env["account.move"].with_company(company or self.env.company)
        moves = Move.create(
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

    def _export(self, company=None, context=None, **values):
        """Fill the wizard as a user does (Form), press Download; return the attachment."""
        env = self.env(context=dict(self.env.context, **(context or {})))
        form = Form(env["xero.csv.export.wizard"])
        if company:
            form.company_id = company
        for name, value in values.items():
            setattr(form, name, value)
        wizard = form.save()
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

    @staticmethod
    def _by_number(files):
        rows = defaultdict(list)
        for name in sorted(files):
            for row in files[name]:
                rows[row["*InvoiceNumber"]].append(row)
        return rows

    def _assert_amounts(self, move, lines):
        """What Xero will compute from the rows equals Odoo: per line and in total."""
        sign = -1 if move.move_type == "out_refund" else 1
        self.assertEqual({r["Total"] for r in lines}, {"%.2f" % (sign * move.amount_total)})
        tax = sum(Decimal(r["TaxAmount"]) for r in lines if r["*Quantity"])
        self.assertEqual(tax, sign * Decimal("%.2f" % move.amount_tax), move.name)
        amounts = sum(
            Decimal(r["*Quantity"]) * Decimal(r["*UnitAmount"]) for r in lines if r["*Quantity"]
        )
        inclusive = move.invoice_line_ids.tax_ids.price_include
        expected = move.amount_total if inclusive else move.amount_untaxed
        self.assertEqual(amounts.quantize(Decimal("0.01")), sign * Decimal("%.2f" % expected))
