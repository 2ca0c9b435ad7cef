# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models


class XeroTaxMapping(models.Model):
    """Odoo tax → Xero TaxType. A taxed line whose tax has no mapping is not sent."""

    _name = "xero.tax.mapping"
    _description = "Xero Tax Mapping"
    _rec_name = "tax_id"

    connection_id = fields.Many2one(
        "xero.connection", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="connection_id.company_id", store=True)
    tax_id = fields.Many2one("account.tax", required=True, ondelete="cascade")
    xero_tax_type = fields.Char(string="Xero TaxType", required=True)

    _sql_constraints = [
        ("tax_uniq", "UNIQUE (connection_id, tax_id)", "This tax is already mapped."),
    ]
