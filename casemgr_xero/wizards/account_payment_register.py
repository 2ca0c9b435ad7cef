# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import models


class AccountPaymentRegister(models.TransientModel):
    _inherit = "account.payment.register"

    def _create_payment_vals_from_wizard(self, batch_result):
        """A payment mirrored from Xero in a foreign currency keeps Xero's rate: its balance in
        the company currency is given (context ``xero_payment_balance``) instead of converted at
        Odoo's rate of the day; the reconcile books the exchange difference."""
        vals = super()._create_payment_vals_from_wizard(batch_result)
        balance = self.env.context.get("xero_payment_balance")
        if balance is not None and not vals.get("write_off_line_vals"):
            vals["force_balance"] = balance
        return vals
