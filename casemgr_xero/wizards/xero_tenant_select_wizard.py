# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models
from odoo.exceptions import UserError


class XeroTenantSelectWizard(models.TransientModel):
    _name = "xero.tenant.select.wizard"
    _description = "Choose the Xero organisation of a connection"

    connection_id = fields.Many2one("xero.connection", required=True, ondelete="cascade")
    tenant = fields.Selection(selection="_selection_tenant", string="Organisation")

    @api.model
    def _selection_tenant(self):
        conn_id = self.env.context.get("default_connection_id")
        if not conn_id:
            return []
        conn = self.env["xero.connection"].browse(conn_id).exists()
        return [(t["id"], t["name"]) for t in (conn.available_tenant_ids or [])]

    def action_xero_bind(self):
        self.ensure_one()
        if not self.tenant:
            raise UserError(self.env._("Choose the Xero organisation to bind."))
        orgs = {t["id"]: t["name"] for t in (self.connection_id.available_tenant_ids or [])}
        if self.tenant not in orgs:
            raise UserError(self.env._("That organisation is not part of this Xero grant."))
        self.connection_id.write(
            {
                "tenant_id": self.tenant,
                "tenant_name": orgs[self.tenant],
                "available_tenant_ids": False,
                "state": "connected",
                "last_error": False,
            }
        )
        self.env["xero.failure"]._xero_auth_restored(self.connection_id)
        return {"type": "ir.actions.act_window_close"}
