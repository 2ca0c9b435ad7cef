# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models


class XeroContact(models.Model):
    """Binding of an Odoo commercial partner to a Xero ContactID, per connection."""

    _name = "xero.contact"
    _description = "Xero Contact Binding"
    _rec_name = "partner_id"

    connection_id = fields.Many2one("xero.connection", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="connection_id.company_id", store=True, index=True)
    partner_id = fields.Many2one("res.partner", required=True, ondelete="cascade", index=True)
    xero_contact_id = fields.Char(string="Xero ContactID", required=True, index=True)

    _sql_constraints = [
        (
            "partner_uniq",
            "UNIQUE (connection_id, partner_id)",
            "This partner is already bound to a Xero contact.",
        ),
        (
            "contact_uniq",
            "UNIQUE (connection_id, xero_contact_id)",
            "This Xero contact is already bound to another partner.",
        ),
    ]
