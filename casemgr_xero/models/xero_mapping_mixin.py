# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models
from odoo.exceptions import UserError


class XeroMappingMixin(models.AbstractModel):
    """What the account, tax and tracking mappings share: they belong to a *company*.

    A firm that only imports Xero's CSV files by hand has no connection, yet needs its account
    codes and tax rate names; a firm that connects later keeps them. ``connection_id`` is the
    company's active connection, for display and searching (``create`` still takes one and
    files the mapping under its company).
    """

    _name = "xero.mapping.mixin"
    _description = "Xero mapping (per company)"
    _check_company_auto = True
    #: the Odoo record and the Xero value a mapping pairs (see ``_xero_values``)
    _xero_key_field = None
    _xero_value_field = None

    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    connection_id = fields.Many2one(
        "xero.connection",
        compute="_compute_connection_id",
        search="_search_connection_id",
        help="The company's Xero connection, if it has one: mappings do not need one.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        Connection = self.env["xero.connection"]
        for vals in vals_list:
            conn_id = vals.pop("connection_id", False)
            if conn_id and not vals.get("company_id"):
                vals["company_id"] = Connection.browse(conn_id).company_id.id
        return super().create(vals_list)

    @api.depends("company_id")
    def _compute_connection_id(self):
        connections = {
            c.company_id.id: c
            for c in self.env["xero.connection"].search([("company_id", "in", self.company_id.ids)])
        }
        for mapping in self:
            mapping.connection_id = connections.get(mapping.company_id.id, False)

    def _search_connection_id(self, operator, value):
        if operator not in ("=", "!=", "in", "not in"):
            raise UserError(self.env._("Unsupported search on Connection: %s", operator))
        ids = [value] if operator in ("=", "!=") else list(value or [])
        Connection = self.env["xero.connection"].with_context(active_test=False).sudo()
        companies = Connection.browse([i for i in ids if i]).company_id
        if False in ids or None in ids:  # "no connection": companies without an active one
            connected = (
                Connection.with_context(active_test=True)
                .search([("company_id", "!=", False)])
                .company_id
            )
            domain = [
                "|",
                ("company_id", "in", companies.ids),
                ("company_id", "not in", connected.ids),
            ]
        else:
            domain = [("company_id", "in", companies.ids)]
        return domain if operator in ("=", "in") else ["!", *domain]

    @api.model
    def _xero_values(self, companies):
        """{Odoo record id: Xero value} of these companies' mappings (rows without one left out)."""
        key, value = self._xero_key_field, self._xero_value_field
        return {
            m[key].id: m[value]
            for m in self.search([("company_id", "in", companies.ids)])
            if m[key] and m[value]
        }
