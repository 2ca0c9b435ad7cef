# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models


class XeroDriftWizard(models.TransientModel):
    """Compare what Odoo exported with what the Xero organisation holds now."""

    _name = "xero.drift.wizard"
    _description = "Xero drift report"

    connection_id = fields.Many2one("xero.connection", required=True, ondelete="cascade")
    checked_count = fields.Integer(readonly=True)
    line_ids = fields.One2many("xero.drift.line", "wizard_id", readonly=True)
    summary = fields.Char(readonly=True)

    def action_xero_check(self):
        self.ensure_one()
        drift = self.env["xero.drift"]
        differences, checked = drift._xero_drift_differences(self.connection_id)
        self.line_ids.unlink()
        self.write(
            {
                "checked_count": len(checked),
                "line_ids": [
                    fields.Command.create(
                        {
                            "move_id": move.id,
                            "field": diff.field,
                            "odoo_value": diff.odoo,
                            "xero_value": diff.xero,
                            "message": drift._xero_difference_text(diff),
                        }
                    )
                    for move, diff in differences
                ],
                "summary": self.env._(
                    "%(checked)s exported invoice(s) checked, %(diff)s difference(s).",
                    checked=len(checked),
                    diff=len(differences),
                ),
            }
        )
        return True


class XeroDriftLine(models.TransientModel):
    _name = "xero.drift.line"
    _description = "Xero drift report line"

    wizard_id = fields.Many2one("xero.drift.wizard", required=True, ondelete="cascade")
    move_id = fields.Many2one("account.move", string="Invoice", readonly=True)
    xero_url = fields.Char(related="move_id.xero_url", string="Open in Xero")
    field = fields.Selection(
        [
            ("existence", "Missing in Xero"),
            ("total", "Total"),
            ("amount_due", "Amount due"),
            ("status", "Status"),
        ],
        readonly=True,
    )
    odoo_value = fields.Char(string="Odoo", readonly=True)
    xero_value = fields.Char(string="Xero", readonly=True)
    message = fields.Char(readonly=True)
