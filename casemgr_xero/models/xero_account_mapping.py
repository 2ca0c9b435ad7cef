# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models


class XeroAccountMapping(models.Model):
    """Odoo income account → Xero AccountCode (unmapped accounts send their own code)."""

    _name = "xero.account.mapping"
    _description = "Xero Account Mapping"
    _rec_name = "account_id"

    connection_id = fields.Many2one(
        "xero.connection", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="connection_id.company_id", store=True)
    account_id = fields.Many2one("account.account", required=True, ondelete="cascade")
    xero_account_code = fields.Char(string="Xero AccountCode", required=True)

    _sql_constraints = [
        ("account_uniq", "UNIQUE (connection_id, account_id)", "This account is already mapped."),
    ]
