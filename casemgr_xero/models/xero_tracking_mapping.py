# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models

from .. import compat


@compat.sql_constraints(
    ("plan_uniq", "UNIQUE (company_id, plan_id)", "This analytic plan is already mapped."),
)
class XeroTrackingMapping(models.Model):
    """Odoo analytic plan → Xero tracking category; the analytic account is the option."""

    _name = "xero.tracking.mapping"
    _inherit = "xero.mapping.mixin"
    _description = "Xero Tracking Mapping"
    _rec_name = "plan_id"
    _xero_key_field = "plan_id"
    _xero_value_field = "xero_category"

    plan_id = fields.Many2one("account.analytic.plan", required=True, ondelete="cascade")
    xero_category = fields.Char(string="Xero tracking category", required=True)
