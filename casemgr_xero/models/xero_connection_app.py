# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""What issue 13 adds to the connection (kept apart from ``xero_connection.py`` while that
file is being split; merge it there):

* its Xero app (``xero_app.py``): Client ID, secret and webhook key are the app's, found or
  created from the Client ID; the webhook URL shown is the app's one URL;
* a default payment journal (mappings per Xero bank account override it);
* *Check mappings* proposes what is missing (``wizards/xero_mapping_suggest_wizard.py``).
"""

from odoo import api, fields, models


class XeroConnection(models.Model):
    _inherit = "xero.connection"

    app_id = fields.Many2one(
        "xero.app",
        string="Xero app",
        index=True,
        ondelete="restrict",
        copy=False,
        help="Set from the Client ID: connections with the same Client ID share the app's "
        "secret, webhook key and webhook URL.",
    )
    client_id = fields.Char(related="app_id.client_id", readonly=False, store=False)
    client_secret = fields.Char(related="app_id.client_secret", readonly=False, store=False)
    webhook_key = fields.Char(related="app_id.webhook_key", readonly=False, store=False)

    @staticmethod
    def _xero_app_vals(App, vals):
        """Resolve ``client_id`` in ``vals`` to ``app_id``; never clear a shared secret/key
        with an empty value."""
        vals = dict(vals)
        if "client_id" in vals:
            vals["app_id"] = App._xero_for_client_id(vals.pop("client_id")).id
        for fname in ("client_secret", "webhook_key"):
            if fname in vals and not vals[fname] and "app_id" in vals:
                vals.pop(fname)  # a new connection of an existing app keeps its values
        return vals

    @api.model_create_multi
    def create(self, vals_list):
        App = self.env["xero.app"]
        return super().create([self._xero_app_vals(App, v) for v in vals_list])

    def write(self, vals):
        if "client_id" in vals:
            vals = self._xero_app_vals(self.env["xero.app"], vals)
        return super().write(vals)

    @api.depends("company_id", "app_id")
    def _compute_webhook_url(self):
        res = super()._compute_webhook_url()
        for conn in self:
            if conn.app_id:
                conn.webhook_url = conn.app_id.webhook_url
        return res

    default_payment_journal_id = fields.Many2one(
        "account.journal",
        string="Default payment journal",
        compute="_compute_default_payment_journal_id",
        store=True,
        readonly=False,
        precompute=True,
        domain="[('type', '=', 'bank'), ('company_id', '=', company_id)]",
        help="Payments made in Xero to a bank account with no mapping below are registered "
        "in this journal (when its currency is the payment's). Set from the company's bank "
        "journal: the only one, else the first.",
    )

    @api.depends("company_id")
    def _compute_default_payment_journal_id(self):
        for conn in self:
            if conn.default_payment_journal_id.company_id == conn.company_id:
                continue
            conn.default_payment_journal_id = (
                self.env["account.journal"]
                .sudo()
                .search(
                    [("type", "=", "bank"), ("company_id", "=", conn.company_id.id)],
                    order="sequence, id",
                    limit=1,
                )
                .id
            )

    def action_xero_check_mappings(self):
        """Compare, then propose what is missing (when Xero lists its tax rates / accounts):
        a wizard for the person to confirm; otherwise the comparison's notification."""
        fetched = {}
        result = super(
            XeroConnection, self.with_context(xero_mapping_lists=fetched)
        ).action_xero_check_mappings()
        lines = self.env["xero.mapping.suggest.wizard"]._xero_suggestions(
            self, self._xero_client(), fetched
        )
        if not lines:
            return result
        wizard = self.env["xero.mapping.suggest.wizard"].create(
            {
                "connection_id": self.id,
                "check_message": result["params"]["message"],
                "line_ids": [fields.Command.create(vals) for vals in lines],
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
