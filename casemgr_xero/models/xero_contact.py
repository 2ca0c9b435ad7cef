# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models


class XeroContact(models.Model):
    """A Xero contact of a connection's organisation, and the Odoo partner bound to it.

    Rows without a partner are the organisation's other contacts, kept up to date from
    ``GET /Contacts`` with If-Modified-Since: new partners are matched against them without
    a lookup call per batch.
    """

    _name = "xero.contact"
    _description = "Xero Contact"
    _rec_name = "name"

    connection_id = fields.Many2one(
        "xero.connection", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="connection_id.company_id", store=True, index=True)
    partner_id = fields.Many2one("res.partner", ondelete="set null", index=True)
    xero_contact_id = fields.Char(string="Xero ContactID", required=True, index=True)
    name = fields.Char(string="Name in Xero")
    email = fields.Char(string="E-mail in Xero")
    contact_number = fields.Char(string="Contact number in Xero")

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
