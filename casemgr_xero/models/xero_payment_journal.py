# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models
from odoo.exceptions import ValidationError


class XeroPaymentJournal(models.Model):
    """Xero bank account (Code or AccountID) [+ currency] → the Odoo journal of its payments."""

    _name = "xero.payment.journal"
    _description = "Xero Payment Journal"
    _order = "connection_id, xero_account, currency_id"
    _rec_name = "xero_account"

    connection_id = fields.Many2one(
        "xero.connection", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="connection_id.company_id", store=True)
    xero_account = fields.Char(
        string="Xero account",
        required=True,
        help="The Xero bank account the payment was made to: its Code (e.g. 090) or AccountID.",
    )
    currency_id = fields.Many2one(
        "res.currency", help="Only payments in this currency (empty: any currency)."
    )
    journal_id = fields.Many2one(
        "account.journal",
        string="Odoo journal",
        required=True,
        ondelete="cascade",
        domain="[('type', 'in', ('bank', 'cash')), ('company_id', '=', company_id)]",
    )

    @api.constrains("connection_id", "xero_account", "currency_id", "journal_id")
    def _check_unique_and_journal(self):
        for rec in self:
            if rec.journal_id.type not in ("bank", "cash"):
                raise ValidationError(
                    self.env._(
                        "Xero payment journal %(acc)s: journal %(j)s must be a bank or cash "
                        "journal.",
                        acc=rec.xero_account,
                        j=rec.journal_id.display_name,
                    )
                )
            if rec.journal_id.company_id != rec.connection_id.company_id:
                raise ValidationError(
                    self.env._(
                        "Xero payment journal %(acc)s: journal %(j)s belongs to another company.",
                        acc=rec.xero_account,
                        j=rec.journal_id.display_name,
                    )
                )
            dupes = self.search_count(
                [
                    ("id", "!=", rec.id),
                    ("connection_id", "=", rec.connection_id.id),
                    ("xero_account", "=", rec.xero_account),
                    ("currency_id", "=", rec.currency_id.id),
                ]
            )
            if dupes:
                raise ValidationError(
                    self.env._(
                        "Xero account %(acc)s is already mapped for this currency.",
                        acc=rec.xero_account,
                    )
                )

    @api.model
    def _xero_journal_for(self, connection, account_code, account_id, currency):
        """The journal for a payment to (code | AccountID) in ``currency``: the mapping for that
        currency wins over the one for any currency, and any mapping over the connection's
        default payment journal (used when its currency fits). Empty recordset when none."""
        keys = [k for k in (account_code, account_id) if k]
        maps = self.browse()
        if keys:
            maps = self.sudo().search(
                [("connection_id", "=", connection.id), ("xero_account", "in", keys)]
            )
        exact = maps.filtered(lambda m: currency and m.currency_id == currency)
        anyc = maps.filtered(lambda m: not m.currency_id)
        journal = (exact or anyc)[:1].journal_id
        if journal:
            return journal
        default = connection.sudo().default_payment_journal_id
        company_currency = connection.company_id.currency_id
        if default and (default.currency_id or company_currency) == (currency or company_currency):
            return default
        return self.env["account.journal"]
