# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Legacy export: Xero's sales-invoice import file ("Import invoices" CSV), for firms that
import into Xero by hand. Needs no Xero connection: only the company's mappings.

Written as Xero's own import instructions say (read 2026-12-02; sources in ``docs/NOTES.md``,
"Xero's invoice import file": Xero's template ``SalesInvoiceTemplate.csv`` and import help
as copied in public guides, e.g. https://online.flippingbook.com/view/399081/31/ and
https://workbenchdoc.atlassian.net/wiki/spaces/XI/pages/20316164/Sales+Import):

- the template's 29 columns in its order (``csv_template.COLUMNS``), one row per line;
- ``*TaxType`` holds the tax rate's display name (``xero.tax.mapping.xero_tax_name``, e.g.
  ``15% GST on Income``), lines without tax the company's name for "no tax";
- tax-exclusive and tax-inclusive invoices in separate files (Xero asks once per import which
  it is), named ``xero-invoices-exclusive-001.csv`` / ``xero-invoices-inclusive-001.csv``;
- ``Total`` and ``TaxAmount`` from Odoo, the customer's postal address, ≤ 500 invoices a file
  (one download; a zip when there are several files);
- credit notes in the same files with negated amounts (Xero imports a negative document as a
  credit note); they are not allocated to their invoices: that is done in Xero.

Exported moves are marked ``xero_state = 'csv'``: the API path never sends them, even once the
company connects (``account.move._xero_skip_reason``).
"""

import io
import zipfile

from casemgr_xero_core import csv_template
from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import html_escape

MAX_PER_FILE = csv_template.MAX_INVOICES_PER_FILE
MAX_PROBLEMS_SHOWN = 30
DATE_FORMATS = [
    ("%d/%m/%Y", "DD/MM/YYYY (31/12/2024)"),
    ("%m/%d/%Y", "MM/DD/YYYY (12/31/2024)"),
    ("%Y-%m-%d", "YYYY-MM-DD (2024-12-31)"),
]
PREFIX = "xero-invoices"


class XeroCsvExportWizard(models.TransientModel):
    _name = "xero.csv.export.wizard"
    _inherit = "xero.invoice.filter.mixin"
    _description = "Export invoices to Xero CSV files"

    _xero_move_types = ("out_invoice", "out_refund")

    include_failed = fields.Boolean(string="Include invoices the API failed to send")
    include_csv = fields.Boolean(string="Include invoices already exported by CSV")
    date_format = fields.Selection(DATE_FORMATS, required=True, default="%d/%m/%Y")
    no_tax_name = fields.Char(
        string="Xero name of 'no tax'",
        default=lambda self: self.env.company.xero_no_tax_name,
        help="Your Xero organisation's name for its no-tax rate (e.g. 'No GST', 'No VAT', "
        "'Tax Exempt'), written on lines without tax. Remembered for the company.",
    )
    attachment_id = fields.Many2one("ir.attachment", readonly=True)

    @api.onchange("company_id")
    def _onchange_company_id_no_tax_name(self):
        self.no_tax_name = self.company_id.xero_no_tax_name

    def _xero_states(self):
        states = super()._xero_states()
        if self.include_csv:
            states.append("csv")
        return states

    @api.depends(
        "company_id",
        "date_from",
        "date_to",
        "partner_ids",
        "journal_ids",
        "include_failed",
        "include_csv",
        "selected_move_ids",
    )
    def _compute_moves(self):
        return super()._compute_moves()

    # ------------------------------------------------------------------
    def _xero_nameless_taxes(self, moves):
        """A hint naming the mapped taxes of ``moves`` that lack their Xero name (or '')."""
        mappings = self.env["xero.tax.mapping"].search(
            [
                ("company_id", "=", self.company_id.id),
                ("tax_id", "in", moves.invoice_line_ids.tax_ids.ids),
            ]
        )
        nameless = mappings.filtered(lambda m: not (m.xero_tax_name or "").strip())
        if not nameless:
            return ""
        return self.env._(
            "These taxes have a Xero TaxType but no Xero tax rate name, which the import file "
            "needs: %(taxes)s (Invoicing > Configuration > Xero > Tax types; Check mappings "
            "fills them when the company is connected).",
            taxes=", ".join(nameless.tax_id.mapped("display_name")),
        )

    def _xero_check(self, moves, data):
        """Refuse the export when any invoice would not import cleanly, naming invoice and
        field."""
        InvoiceData = self.env["xero.invoice.data"]
        errors = []
        for move in moves:
            inv = data[move.id]
            errors += [line.text for line in InvoiceData._xero_problems(inv)]
            errors += [
                self.env._(
                    "Invoice %(inv)s, line %(n)s: the line has no tax, and Xero's import needs "
                    "the name of the organisation's no-tax rate (e.g. 'No GST', 'No VAT', "
                    "'Tax Exempt').",
                    inv=inv.number,
                    n=n,
                )
                for n in csv_template.untaxed_lines(inv, self.no_tax_name)
            ]
        if errors:
            hint = self._xero_nameless_taxes(moves)
            shown = ([hint] if hint else []) + errors[:MAX_PROBLEMS_SHOWN]
            if len(errors) > MAX_PROBLEMS_SHOWN:
                shown.append(
                    self.env._("… and %s more problem(s).", len(errors) - MAX_PROBLEMS_SHOWN)
                )
            raise UserError(
                self.env._(
                    "Export to Xero CSV: fix these invoices first (nothing was exported).\n%s",
                    "\n".join(shown),
                )
            )

    def _xero_csv_data(self, moves):
        """Plain data for the file: the API path's own mapping, with the tax rates' display
        names, the customers' postal addresses, and credit notes typed as such."""
        conn = self.env["xero.connection"].search(
            [("company_id", "=", self.company_id.id)], limit=1
        )  # may be empty: the file needs no connection
        InvoiceData = self.env["xero.invoice.data"].with_context(xero_tax_names=True)
        data = InvoiceData._xero_invoice_data(conn, moves)
        for move in moves:
            inv = data[move.id]
            inv.status = "DRAFT"  # what Xero's import creates
            if move.move_type == "out_refund":
                inv.type = csv_template.CREDIT_NOTE
            partner = move.partner_id.commercial_partner_id
            inv.contact.street = partner.street or None
            inv.contact.street2 = partner.street2 or None
            inv.contact.city = partner.city or None
            inv.contact.state = partner.state_id.name or None
            inv.contact.zip = partner.zip or None
            inv.contact.country = partner.country_id.name or None
        return data

    def _xero_lock(self, moves):
        """Lock the invoices and keep those still eligible (the export cron may have queued
        some meanwhile: those belong to the API now)."""
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT id FROM account_move
             WHERE id IN %s AND xero_state IN %s
               FOR UPDATE
            """,
            [tuple(moves.ids), tuple(self._xero_states())],
        )
        ids = {row[0] for row in self.env.cr.fetchall()}
        moves.invalidate_recordset(["xero_state"])
        return moves.filtered(lambda m: m.id in ids)

    def action_xero_export_csv(self):
        self.ensure_one()
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise UserError(
                self.env._("Export to Xero CSV: the date From must be before the date To.")
            )
        Move = self.env["account.move"]
        moves = Move.search(self._xero_domain(), order="invoice_date, name, id")
        if not moves:
            raise UserError(
                self.env._(
                    "Export to Xero CSV: no posted customer invoice or credit note matches "
                    "these filters."
                )
            )
        moves = self._xero_lock(moves)
        if not moves:
            raise UserError(
                self.env._("Export to Xero CSV: these invoices were queued for the API meanwhile.")
            )
        no_tax_name = (self.no_tax_name or "").strip()
        if no_tax_name != (self.company_id.xero_no_tax_name or ""):
            # A label of the company's Xero organisation, remembered for the next export.
            self.company_id.sudo().xero_no_tax_name = no_tax_name or False
        data = self._xero_csv_data(moves)
        self._xero_check(moves, data)
        files = csv_template.write_csv_files(
            [data[m.id] for m in moves],
            max_per_file=MAX_PER_FILE,
            date_format=self.date_format,
            prefix=PREFIX,
            no_tax_name=no_tax_name,
        )
        if len(files) == 1:
            name, content, mimetype = files[0].name, files[0].content, "text/csv"
        else:
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
                for f in files:
                    archive.writestr(f.name, f.content)
            name, content, mimetype = f"{PREFIX}.zip", buf.getvalue(), "application/zip"
        attachment = self.env["ir.attachment"].create(
            {
                "name": name,
                "raw": content,
                "mimetype": mimetype,
                "res_model": self._name,
                "res_id": self.id,
            }
        )
        self.attachment_id = attachment
        moves.write({"xero_state": "csv", "xero_error": False})
        # A failure of the API path is moot once the invoice went to Xero by file.
        self.env["xero.failure"]._xero_resolve("invoice_export", moves)
        file_of = {int(inv.key): f.name for f in files for inv in f.invoices}
        message = self.env._("Exported to Xero by CSV (file %s).")
        moves._message_log_batch(
            bodies={m.id: Markup(html_escape(message)) % file_of[m.id] for m in moves}
        )
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{attachment.id}?download=true",
            "target": "download",
        }
