# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models

KINDS = [
    ("invoice_export", "Invoice export"),
    ("payment_import", "Payment import"),
    ("contact", "Contact"),
    ("auth", "Authentication / connection"),
    ("mapping", "Mapping"),
    ("drift", "Drift"),
]


class XeroFailure(models.Model):
    """One thing a person can fix: an invoice Xero refused, a payment we could not mirror, …

    There is at most one open failure per (kind, record): a new occurrence bumps ``attempts``
    and ``last_seen`` instead of adding a line, and a later success resolves it.
    """

    _name = "xero.failure"
    _description = "Xero Failure"
    _inherit = ["mail.thread"]
    _order = "last_seen desc, id desc"

    name = fields.Char(string="Record", required=True)
    connection_id = fields.Many2one("xero.connection", ondelete="cascade", index=True)
    company_id = fields.Many2one(
        "res.company",
        required=True,
        index=True,
        default=lambda self: self.env.company,
    )
    kind = fields.Selection(KINDS, required=True, index=True)
    res_model = fields.Char(index=True)
    res_id = fields.Many2oneReference(model_field="res_model", index=True)
    message = fields.Text(required=True)
    attempts = fields.Integer(default=1)
    first_seen = fields.Datetime(default=fields.Datetime.now, required=True)
    last_seen = fields.Datetime(default=fields.Datetime.now, required=True)
    state = fields.Selection(
        [
            ("open", "Open"),
            ("retrying", "Retrying"),
            ("resolved", "Resolved"),
            ("ignored", "Ignored"),
        ],
        default="open",
        required=True,
        index=True,
        tracking=True,
    )

    @api.model
    def _xero_report(self, kind, record, message, connection=None):
        """Open (or bump) the failure of ``kind`` for ``record``; return it."""
        company = connection.company_id if connection else record.company_id
        domain = [
            ("kind", "=", kind),
            ("res_model", "=", record._name),
            ("res_id", "=", record.id),
            ("state", "in", ("open", "retrying")),
        ]
        failure = self.sudo().search(domain, limit=1)
        if not failure:
            acknowledged = self.sudo().search(
                domain[:3] + [("state", "=", "ignored"), ("message", "=", message)], limit=1
            )
            if acknowledged:
                return acknowledged  # a person saw this very problem and chose to ignore it
        now = fields.Datetime.now()
        if failure:
            failure.write(
                {
                    "message": message,
                    "attempts": failure.attempts + 1,
                    "last_seen": now,
                    "state": "open",
                }
            )
            return failure
        return self.sudo().create(
            {
                "name": record.display_name,
                "kind": kind,
                "res_model": record._name,
                "res_id": record.id,
                "message": message,
                "connection_id": connection.id if connection else False,
                "company_id": company.id,
                "first_seen": now,
                "last_seen": now,
            }
        )

    @api.model
    def _xero_resolve(self, kind, records):
        """A success on ``records`` closes their open failures of ``kind``."""
        if not records:
            return
        self.sudo().search(
            [
                ("kind", "=", kind),
                ("res_model", "=", records._name),
                ("res_id", "in", records.ids),
                ("state", "in", ("open", "retrying")),
            ]
        ).write({"state": "resolved"})

    def action_xero_open_record(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
        }

    def action_xero_ignore(self):
        self.write({"state": "ignored"})
        return True
