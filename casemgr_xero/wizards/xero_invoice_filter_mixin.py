# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models


class XeroInvoiceFilterMixin(models.AbstractModel):
    """The filters both export wizards share: company, dates, customers, journals, the list's
    selection; the count and total of what they pick."""

    _name = "xero.invoice.filter.mixin"
    _description = "Xero export filters"

    #: move types the wizard picks
    _xero_move_types = ("out_invoice",)

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

    def _xero_states(self):
        """The Xero states of the invoices the wizard picks."""
        return ["not_sent", "failed"] if self.include_failed else ["not_sent"]

    def _xero_domain(self):
        self.ensure_one()
        domain = [
            ("company_id", "=", self.company_id.id),
            ("move_type", "in", self._xero_move_types),
            ("state", "=", "posted"),
            ("xero_state", "in", self._xero_states()),
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

    def _compute_moves(self):
        for wizard in self:
            groups = self.env["account.move"]._read_group(
                wizard._xero_domain(), [], ["__count", "amount_total_signed:sum"]
            )
            count, total = groups[0] if groups else (0, 0.0)
            wizard.move_count = count
            wizard.amount_total = total or 0.0
