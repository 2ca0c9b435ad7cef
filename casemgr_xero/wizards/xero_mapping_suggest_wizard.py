# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Check mappings, then propose what is missing: Xero tax types of the same effective rate
(GET /TaxRates) for unmapped sales taxes, Xero revenue account codes of the same name
(GET /Accounts) for income accounts whose code Xero lacks. Nothing is saved until confirmed."""

from casemgr_xero_core.errors import XeroError
from casemgr_xero_core.suggest import suggest_account_codes, suggest_tax_types

from odoo import api, fields, models
from odoo.exceptions import UserError


class XeroMappingSuggestWizard(models.TransientModel):
    _name = "xero.mapping.suggest.wizard"
    _description = "Xero mapping suggestions"

    connection_id = fields.Many2one("xero.connection", required=True, ondelete="cascade")
    check_message = fields.Text(string="Check", readonly=True)
    line_ids = fields.One2many("xero.mapping.suggest.line", "wizard_id")

    @api.model
    def _xero_suggestions(self, connection, client, fetched=None):
        """[line vals] for what ``connection`` leaves unmapped and Xero's lists can fill.
        ``fetched``: {"accounts": …, "tax_rates": …} already read from Xero (not asked again)."""
        company = connection.company_id
        fetched = fetched or {}
        try:
            xero_rates = fetched["tax_rates"] if "tax_rates" in fetched else client.get_tax_rates()
            xero_accounts = fetched["accounts"] if "accounts" in fetched else client.get_accounts()
        except XeroError as exc:
            raise UserError(
                self.env._(
                    "Xero connection %(name)s: %(msg)s", name=connection.display_name, msg=exc
                )
            ) from exc
        lines = []
        if xero_rates:
            mapped = (
                self.env["xero.tax.mapping"].search([("connection_id", "=", connection.id)]).tax_id
            )
            taxes = (
                self.env["account.tax"]
                .with_company(company)
                .search(
                    [
                        ("type_tax_use", "=", "sale"),
                        ("amount_type", "=", "percent"),
                        ("company_id", "=", company.id),
                        ("id", "not in", mapped.ids),
                    ]
                )
            )
            found = suggest_tax_types([(t.id, t.amount) for t in taxes], xero_rates)
            for tax in taxes.filtered(lambda t: t.id in found):
                prop = found[tax.id]
                lines.append(
                    {
                        "kind": "tax",
                        "tax_id": tax.id,
                        "value": prop.value,
                        "xero_name": prop.label,
                        "alternatives": ", ".join(prop.alternatives),
                    }
                )
        if xero_accounts:
            mapped = (
                self.env["xero.account.mapping"]
                .search([("connection_id", "=", connection.id)])
                .account_id
            )
            # Codes are company-dependent: read them in the connection's company.
            accounts = (
                self.env["account.account"]
                .with_company(company)
                .search(
                    [
                        ("account_type", "in", ("income", "income_other")),
                        ("company_ids", "in", company.id),
                        ("id", "not in", mapped.ids),
                    ]
                )
            )
            found = suggest_account_codes([(a.id, a.code, a.name) for a in accounts], xero_accounts)
            for account in accounts.filtered(lambda a: a.id in found):
                prop = found[account.id]
                lines.append(
                    {
                        "kind": "account",
                        "account_id": account.id,
                        "value": prop.value,
                        "xero_name": prop.label,
                        "alternatives": ", ".join(prop.alternatives),
                    }
                )
        return lines

    def action_xero_confirm(self):
        """Save the ticked proposals as mappings."""
        self.ensure_one()
        chosen = self.line_ids.filtered(lambda line: line.confirm and line.value)
        taxes = chosen.filtered(lambda line: line.kind == "tax" and line.tax_id)
        accounts = chosen.filtered(lambda line: line.kind == "account" and line.account_id)
        conn = self.connection_id
        self.env["xero.tax.mapping"].create(
            [
                {"connection_id": conn.id, "tax_id": line.tax_id.id, "xero_tax_type": line.value}
                for line in taxes
            ]
        )
        self.env["xero.account.mapping"].create(
            [
                {
                    "connection_id": conn.id,
                    "account_id": line.account_id.id,
                    "xero_account_code": line.value,
                }
                for line in accounts
            ]
        )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Xero mappings"),
                "message": self.env._(
                    "%(taxes)s tax type(s) and %(accounts)s account code(s) mapped. Retry the "
                    "mapping cards on the Xero dashboard to send the invoices they blocked.",
                    taxes=len(taxes),
                    accounts=len(accounts),
                ),
                "type": "success",
                "next": {"type": "ir.actions.act_window_close"},
            },
        }


class XeroMappingSuggestLine(models.TransientModel):
    _name = "xero.mapping.suggest.line"
    _description = "Xero mapping suggestion"

    wizard_id = fields.Many2one("xero.mapping.suggest.wizard", required=True, ondelete="cascade")
    confirm = fields.Boolean(string="Map", default=True)
    kind = fields.Selection([("tax", "Tax"), ("account", "Account")], required=True)
    tax_id = fields.Many2one("account.tax", string="Odoo tax")
    account_id = fields.Many2one("account.account", string="Odoo account")
    value = fields.Char(string="Xero tax type / account code")
    xero_name = fields.Char(string="Name in Xero", readonly=True)
    alternatives = fields.Char(string="Also fits", readonly=True)
