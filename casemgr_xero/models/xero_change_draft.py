# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Make draft: the Odoo entry matching a change made in Xero (``xero_change.py``).

- credited: a draft credit note with the Xero credit note's lines mapped back (tax types ->
  taxes, account codes -> accounts, through the mappings; an unmapped one is named on the
  card and left to the person), bound to that Xero credit note (never exported back);
- voided: a draft full reversal of the invoice;
- edited: a draft adjustment of the difference (a credit note when the total went down, an
  invoice when it went up), line by line.

One draft per change (pressed twice, the same draft opens); a credit note is the invoice's
reversal (``reversed_entry_id``): posted by a person, Odoo reconciles it with the invoice."""

from decimal import Decimal

from casemgr_xero_core import changes as core

from odoo import Command, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import clean_context


class XeroChangeDraft(models.AbstractModel):
    _name = "xero.change.draft"
    _description = "Xero change: the draft in Odoo"

    def _xero_maps(self, company):
        """({tax type: tax}, {account code: account}) of ``company``'s mappings, reversed."""
        taxes = {}
        for tax_id, tax_type in self.env["xero.tax.mapping"]._xero_values(company).items():
            taxes.setdefault(tax_type, self.env["account.tax"].browse(tax_id))
        accounts = {}
        for acc_id, code in self.env["xero.account.mapping"]._xero_values(company).items():
            accounts.setdefault(code, self.env["account.account"].browse(acc_id))
        return taxes, accounts

    def _xero_account(self, company, code, accounts):
        if not code:
            return None
        if code in accounts:
            return accounts[code]
        Account = self.env["account.account"].with_company(company)
        return Account.search([("code", "=", code)], limit=1) or None

    @api.model
    def _xero_unmapped(self, change):
        """The tax types and account codes of ``change``'s lines Odoo cannot map (words)."""
        if change.kind == core.VOID:
            return []
        company = change.company_id
        taxes, accounts = self.sudo()._xero_maps(company)
        out = []
        for line in change._xero_lines():
            if line.tax_type and line.tax_type != "NONE" and line.tax_type not in taxes:
                label = self.env._("tax type %s", line.tax_type)
                if label not in out:
                    out.append(label)
            if line.account_code and not self.sudo()._xero_account(
                company, line.account_code, accounts
            ):
                label = self.env._("account code %s", line.account_code)
                if label not in out:
                    out.append(label)
        return out

    @api.model
    def _xero_make(self, change):
        """The draft of ``change`` (made once); returns it."""
        change.ensure_one()
        if change.draft_move_id:
            return change.draft_move_id
        invoice = change.move_id.with_company(change.company_id)
        if change.kind == core.VOID:
            draft = invoice._reverse_moves(
                [
                    {
                        "ref": self.env._("Voided in Xero: %s", invoice.name),
                        "invoice_date": fields.Date.context_today(self),
                        "date": fields.Date.context_today(self),
                    }
                ],
                cancel=False,
            )
        else:
            draft = self._xero_draft_from_lines(change, invoice)
        draft.write({"xero_change_id": change.id})
        if change.kind == core.CREDIT:
            # The Xero credit note it stands for: "already in Xero", never exported back.
            draft.write(
                {
                    "xero_invoice_id": change.xero_source_id,
                    "xero_connection_id": change.connection_id.id,
                    "xero_state": "sent",
                }
            )
        change.write({"draft_move_id": draft.id, "state": "drafted"})
        draft.message_post(body=change._xero_message())
        return draft

    def _xero_draft_from_lines(self, change, invoice):
        lines = change._xero_lines()
        if not lines:
            raise UserError(
                self.env._(
                    "%(name)s: Xero gave no lines for this change; enter it by hand, then press "
                    "Ignore.",
                    name=change.name,
                )
            )
        refund = change.kind == core.CREDIT or change.amount < 0
        sign = Decimal(1) if change.kind == core.CREDIT or not refund else Decimal(-1)
        taxes, accounts = self._xero_maps(invoice.company_id)
        fallback = invoice.invoice_line_ids.filtered(lambda x: x.display_type == "product")[:1]
        inclusive = change.line_amount_types == "Inclusive"
        vals = []
        for line in lines:
            tax = taxes.get(line.tax_type) if line.tax_type and line.tax_type != "NONE" else None
            account = self._xero_account(invoice.company_id, line.account_code, accounts)
            amount = line.line_amount * sign
            if inclusive and not (tax and tax.price_include):
                amount = (line.line_amount - line.tax_amount) * sign
            quantity, price = Decimal(1), amount
            if line.quantity and line.unit_amount is not None:
                unit = line.unit_amount * sign
                if (line.quantity * unit).quantize(Decimal("0.01")) == amount:
                    quantity, price = line.quantity, unit
            vals.append(
                Command.create(
                    {
                        "name": line.description or change.xero_source_number,
                        "quantity": float(quantity),
                        "price_unit": float(price),
                        "account_id": (account or fallback.account_id).id,
                        "tax_ids": [Command.set(tax.ids if tax else [])],
                    }
                )
            )
        labels = {
            core.CREDIT: self.env._("Xero credit note %s", change.xero_source_number),
            core.EDIT: self.env._("Edited in Xero: %s", invoice.name),
        }
        return (
            self.env["account.move"]
            .with_company(invoice.company_id)
            .create(
                {
                    "move_type": "out_refund" if refund else "out_invoice",
                    "partner_id": invoice.partner_id.id,
                    "currency_id": invoice.currency_id.id,
                    "journal_id": invoice.journal_id.id,
                    "invoice_date": fields.Date.context_today(self),
                    "ref": labels[change.kind],
                    "reversed_entry_id": invoice.id if refund else False,
                    "invoice_line_ids": vals,
                }
            )
        )

    # The "Changed in Xero" card's buttons (xero.failure delegates here)
    def _xero_make_from_card(self, card):
        card.ensure_one()
        change = card._xero_record()
        if card.kind != "xero_change" or not change:
            raise UserError(self.env._("Xero failure %s is not a change made in Xero.", card.name))
        # The dashboard's columns put default_state in the context: not for the draft.
        service = self.with_context(clean_context(self.env.context))
        draft = service._xero_make(change.with_env(service.env))
        if card.state in ("open", "retrying"):
            card.write({"state": "resolved"})
        return {
            "type": "ir.actions.act_window",
            "res_model": "account.move",
            "res_id": draft.id,
            "view_mode": "form",
            "views": [(False, "form")],
        }

    @api.model
    def _xero_ignore_cards(self, cards):
        changes = cards.filtered(lambda f: f.kind == "xero_change" and f.res_model == "xero.change")
        if changes:
            self.env["xero.change"].sudo().browse(changes.mapped("res_id")).exists().filtered(
                lambda c: c.state == "open"
            ).write({"state": "ignored"})
