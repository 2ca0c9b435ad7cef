# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models


class AccountPayment(models.Model):
    _inherit = "account.payment"

    xero_payment_id = fields.Char(
        string="Xero PaymentID",
        copy=False,
        index=True,
        readonly=True,
        help="The Xero payment this Odoo payment mirrors.",
    )

    def init(self):
        res = super().init()
        # Last guard of the reconcile: one live Odoo payment per Xero payment and company.
        # Cancelled ones keep their id (history) and do not count.
        self.env.cr.execute(
            """
            CREATE UNIQUE INDEX IF NOT EXISTS account_payment_xero_payment_id_uniq
                ON account_payment (company_id, xero_payment_id)
             WHERE xero_payment_id IS NOT NULL AND state NOT IN ('canceled', 'rejected')
            """
        )
        return res
