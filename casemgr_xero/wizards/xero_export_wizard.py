# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models
from odoo.exceptions import UserError


class XeroExportWizard(models.TransientModel):
    """Pick posted customer invoices by company, dates, customer and journal; queue them."""

    _name = "xero.export.wizard"
    _inherit = "xero.invoice.filter.mixin"
    _description = "Export invoices to Xero"

    _xero_move_types = ("out_invoice", "out_refund")

    xero_csv_count = fields.Integer(
        compute="_compute_moves",
        string="Exported by CSV",
        help="Invoices of this selection exported by CSV (imported into Xero by hand): they "
        "are never sent by the API.",
    )

    @api.depends(
        "company_id",
        "date_from",
        "date_to",
        "partner_ids",
        "journal_ids",
        "include_failed",
        "selected_move_ids",
    )
    def _compute_moves(self):
        res = super()._compute_moves()
        for wizard in self:
            domain = [
                ("xero_state", "=", "csv")
                if isinstance(leaf, tuple) and leaf[0] == "xero_state"
                else leaf
                for leaf in wizard._xero_domain()
            ]
            wizard.xero_csv_count = self.env["account.move"].search_count(domain)
        return res

    def action_xero_export(self):
        self.ensure_one()
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise UserError(self.env._("Export to Xero: the date From must be before the date To."))
        moves = self.env["account.move"].search(self._xero_domain())
        if not moves:
            raise UserError(
                self.env._("Export to Xero: no posted customer invoice matches these filters.")
            )
        return moves.action_xero_send()
