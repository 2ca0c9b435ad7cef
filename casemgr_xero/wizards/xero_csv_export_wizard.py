# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Legacy export: Xero's "Import invoices" CSV files, built by the API path's own mapping.

For companies that import invoices into Xero by hand. The files follow Xero's template
(``csv_template.COLUMNS``), hold at most 500 invoices each (Xero's import limit) and come
as one download (a zip when there is more than one file). Exported invoices are marked
``xero_state = 'csv'`` so that the API never sends them again.
"""

import io
import zipfile

from casemgr_xero_core import csv_template
from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import html_escape

MAX_PER_FILE = 500
MAX_PROBLEMS_SHOWN = 30
DATE_FORMATS = [
    ("%d/%m/%Y", "DD/MM/YYYY (31/12/2024)"),
    ("%m/%d/%Y", "MM/DD/YYYY (12/31/2024)"),
    ("%Y-%m-%d", "YYYY-MM-DD (2024-12-31)"),
]
PREFIX = "xero-invoices"
# Xero asks on import whether the file's amounts are tax exclusive or inclusive: never mix.
PREFIX_INCLUSIVE = "xero-invoices-tax-inclusive"


class XeroCsvExportWizard(models.TransientModel):
    _name = "xero.csv.export.wizard"
    _inherit = "xero.invoice.filter.mixin"
    _description = "Export invoices to Xero CSV files"

    include_failed = fields.Boolean(string="Include invoices the API failed to send")
    include_csv = fields.Boolean(string="Include invoices already exported by CSV")
    date_format = fields.Selection(DATE_FORMATS, required=True, default="%d/%m/%Y")
    attachment_id = fields.Many2one("ir.attachment", readonly=True)

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
    def _xero_connection(self):
        conn = self.env["xero.connection"].search(
            [("company_id", "=", self.company_id.id)], limit=1
        )
        if not conn:
            raise UserError(
                self.env._(
                    "Export to Xero CSV: company %(company)s has no Xero connection. Create one "
                    "under Invoicing > Configuration > Xero > Connections (it need not be "
                    "connected): it holds the account codes and tax types used in the file.",
                    company=self.company_id.name,
                )
            )
        return conn

    def _xero_check(self, moves, data):
        """Refuse the export when any invoice would be rejected, naming invoice and field."""
        errors = []
        for move in moves:
            errors += self.env["xero.invoice.data"]._xero_problems(data[move.id])
        if errors:
            shown = errors[:MAX_PROBLEMS_SHOWN]
            if len(errors) > len(shown):
                shown.append(self.env._("… and %s more problem(s).", len(errors) - len(shown)))
            raise UserError(
                self.env._(
                    "Export to Xero CSV: fix these invoices first (nothing was exported).\n%s",
                    "\n".join(shown),
                )
            )

    def _xero_files(self, invoices):
        """[(name, bytes)]: ≤ 500 invoices per file, tax-inclusive invoices in files of their
        own (Xero asks once per import whether amounts include tax)."""
        inclusive = [inv for inv in invoices if inv.line_amount_types == "Inclusive"]
        exclusive = [inv for inv in invoices if inv.line_amount_types != "Inclusive"]
        files = []
        for group, prefix in ((exclusive, PREFIX), (inclusive, PREFIX_INCLUSIVE)):
            if group:
                files += csv_template.write_csv_files(
                    group, max_per_file=MAX_PER_FILE, date_format=self.date_format, prefix=prefix
                )
        return files

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
                self.env._("Export to Xero CSV: no posted customer invoice matches these filters.")
            )
        conn = self._xero_connection()
        moves = self._xero_lock(moves)
        if not moves:
            raise UserError(
                self.env._("Export to Xero CSV: these invoices were queued for the API meanwhile.")
            )
        data = self.env["xero.invoice.data"]._xero_invoice_data(conn, moves)
        self._xero_check(moves, data)
        files = self._xero_files([data[m.id] for m in moves])
        if len(files) == 1:
            name, content = files[0]
            mimetype = "text/csv"
        else:
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
                for fname, fcontent in files:
                    archive.writestr(fname, fcontent)
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
        body = Markup(html_escape(self.env._("Exported to Xero by CSV (file %s)."))) % name
        moves._message_log_batch(bodies={m.id: body for m in moves})
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{attachment.id}?download=true",
            "target": "download",
        }
