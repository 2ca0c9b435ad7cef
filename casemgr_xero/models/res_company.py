# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    xero_no_tax_name = fields.Char(
        string="Xero name of 'no tax'",
        help="The name your Xero organisation gives its no-tax rate (TaxType NONE), e.g. "
        "'No GST', 'No VAT', 'Tax Exempt': Xero's CSV import file needs it on lines without "
        "tax. Check mappings fills it when the company is connected.",
    )
