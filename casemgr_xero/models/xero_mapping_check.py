# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Check mappings: compare what is mapped with what the Xero organisation lists."""

from casemgr_xero_core.errors import XeroError
from casemgr_xero_core.mapping import check_settings

from odoo import Command, models
from odoo.exceptions import UserError

from .. import texts


class XeroMappingCheck(models.AbstractModel):
    _name = "xero.mapping.check"
    _description = "Xero mapping check service"

    def _xero_check_mappings(self, conn):
        """Compare account codes, tax types and tracking categories with the organisation."""
        conn.ensure_one()
        # Account names carry their code, which is company-dependent: read them in conn's.
        self = self.with_company(conn.company_id)  # noqa: PLW0642
        accounts = {
            m.account_id.display_name: m.xero_account_code
            for m in self.env["xero.account.mapping"].search([("connection_id", "=", conn.id)])
        }
        taxes = {
            m.tax_id.display_name: m.xero_tax_type
            for m in self.env["xero.tax.mapping"].search([("connection_id", "=", conn.id)])
        }
        tracking = {
            m.plan_id.display_name: m.xero_category
            for m in self.env["xero.tracking.mapping"].search([("connection_id", "=", conn.id)])
        }
        client = conn._xero_client()
        try:
            lists = (
                client.get_accounts(),
                client.get_tax_rates(),
                client.get_tracking_categories(),
            )
        except XeroError as exc:
            raise UserError(
                self.env._("Xero connection %(name)s: %(msg)s", name=conn.display_name, msg=exc)
            ) from exc
        # Tax rate names (the CSV file's TaxType) and TaxTypes found by name, filled in.
        taxes = self.env["xero.tax.mapping"]._xero_fill(conn.company_id, lists[1]) or taxes
        problems = [
            texts.setting_text(self.env, p)
            for p in check_settings(accounts, taxes, tracking, *lists)
        ]
        unchecked = [
            label
            for label, values in zip(
                (self.env._("accounts"), self.env._("tax rates"), self.env._("tracking")),
                lists,
                strict=True,
            )
            if values is None
        ]
        lines = problems or [
            self.env._("Every mapped account, tax and tracking category exists in Xero.")
        ]
        if unchecked:
            lines.append(
                self.env._(
                    "This Xero organisation did not list its %(what)s: not checked.",
                    what=", ".join(unchecked),
                )
            )
        message = "\n".join(lines)
        # Then propose what is missing (when Xero lists its tax rates / accounts), reusing
        # the lists just read: a wizard for the person to confirm.
        Suggest = self.env["xero.mapping.suggest.wizard"]
        suggestions = Suggest._xero_suggestions(
            conn, client, {"accounts": lists[0], "tax_rates": lists[1]}
        )
        if suggestions:
            wizard = Suggest.create(
                {
                    "connection_id": conn.id,
                    "check_message": message,
                    "line_ids": [Command.create(vals) for vals in suggestions],
                }
            )
            return {
                "type": "ir.actions.act_window",
                "name": self.env._("Xero mapping suggestions"),
                "res_model": "xero.mapping.suggest.wizard",
                "res_id": wizard.id,
                "view_mode": "form",
                "target": "new",
            }
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Xero mappings"),
                "message": message,
                "type": "warning" if problems else "success",
                "sticky": bool(problems),
            },
        }
