# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models

from .. import compat


@compat.sql_constraints(
    ("account_uniq", "UNIQUE (company_id, account_id)", "This account is already mapped."),
)
class XeroAccountMapping(models.Model):
    """Odoo income account → Xero AccountCode (unmapped accounts send their own code)."""

    _name = "xero.account.mapping"
    _inherit = "xero.mapping.mixin"
    _description = "Xero Account Mapping"
    _rec_name = "account_id"
    _xero_key_field = "account_id"
    _xero_value_field = "xero_account_code"

    account_id = fields.Many2one("account.account", required=True, ondelete="cascade")
    xero_account_code = fields.Char(string="Xero AccountCode", required=True)
