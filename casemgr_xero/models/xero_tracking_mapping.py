# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models


class XeroTrackingMapping(models.Model):
    """Odoo analytic plan → Xero tracking category; the analytic account is the option."""

    _name = "xero.tracking.mapping"
    _description = "Xero Tracking Mapping"
    _rec_name = "plan_id"

    connection_id = fields.Many2one(
        "xero.connection", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="connection_id.company_id", store=True)
    plan_id = fields.Many2one("account.analytic.plan", required=True, ondelete="cascade")
    xero_category = fields.Char(string="Xero tracking category", required=True)

    _sql_constraints = [
        ("plan_uniq", "UNIQUE (connection_id, plan_id)", "This analytic plan is already mapped."),
    ]
