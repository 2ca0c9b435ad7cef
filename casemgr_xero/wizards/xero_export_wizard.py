# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models
from odoo.exceptions import UserError


class XeroExportWizard(models.TransientModel):
    """Pick posted customer invoices by company, dates, customer and journal; queue them."""

    _name = "xero.export.wizard"
    _description = "Export invoices to Xero"

    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    date_from = fields.Date(string="From")
    date_to = fields.Date(string="To")
    partner_ids = fields.Many2many("res.partner", string="Customers")
    journal_ids = fields.Many2many(
        "account.journal", string="Journals", domain="[('type', '=', 'sale')]"
    )
    include_failed = fields.Boolean(string="Include previously failed")
    selected_move_ids = fields.Many2many(
        "account.move", string="Selected invoices", help="Invoices selected on the list."
    )
    move_ids = fields.Many2many(
        "account.move", compute="_compute_moves", string="Invoices to export"
    )
    move_count = fields.Integer(compute="_compute_moves", string="Invoices")
    amount_total = fields.Monetary(compute="_compute_moves", string="Total")
    currency_id = fields.Many2one(related="company_id.currency_id")

    @api.model
    def default_get(self, fields_list):
        res = super().default_get(fields_list)
        ctx = self.env.context
        if ctx.get("active_model") == "account.move" and ctx.get("active_ids"):
            moves = self.env["account.move"].browse(ctx["active_ids"])
            res["selected_move_ids"] = [(6, 0, moves.ids)]
            if len(moves.company_id) == 1:
                res["company_id"] = moves.company_id.id
        return res

    def _xero_domain(self):
        self.ensure_one()
        states = ["not_sent", "failed"] if self.include_failed else ["not_sent"]
        domain = [
            ("company_id", "=", self.company_id.id),
            ("move_type", "in", ("out_invoice", "out_refund")),
            ("state", "=", "posted"),
            ("xero_state", "in", states),
        ]
        if self.selected_move_ids:
            domain.append(("id", "in", self.selected_move_ids.ids))
        if self.date_from:
            domain.append(("invoice_date", ">=", self.date_from))
        if self.date_to:
            domain.append(("invoice_date", "<=", self.date_to))
        if self.partner_ids:
            domain.append(
                ("commercial_partner_id", "in", self.partner_ids.commercial_partner_id.ids)
            )
        if self.journal_ids:
            domain.append(("journal_id", "in", self.journal_ids.ids))
        return domain

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
        for wizard in self:
            moves = self.env["account.move"].search(wizard._xero_domain())
            wizard.move_ids = moves
            wizard.move_count = len(moves)
            wizard.amount_total = sum(moves.mapped("amount_total_signed"))

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
