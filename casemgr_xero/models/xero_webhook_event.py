# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Xero webhook events, stored as they arrive; the payments cron turns them into reconciles.

The controller only inserts (``INSERT … ON CONFLICT DO NOTHING`` on the dedupe key, so a
redelivery is a no-op) and triggers the cron; ``xero.payment.import`` does the rest.
"""

from casemgr_xero_core.payments import parse_xero_datetime
from psycopg2.extras import execute_values

from odoo import api, fields, models

from .. import compat


@compat.sql_constraints(
    ("dedupe_uniq", "UNIQUE (connection_id, dedupe_key)", "This Xero event is already stored."),
)
class XeroWebhookEvent(models.Model):
    _name = "xero.webhook.event"
    _description = "Xero Webhook Event"
    _order = "id desc"
    _rec_name = "resource_id"

    connection_id = fields.Many2one(
        "xero.connection", required=True, ondelete="cascade", index=True, readonly=True
    )
    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)
    tenant_id = fields.Char(string="Xero Tenant ID", readonly=True)
    event_category = fields.Char(string="Category", readonly=True)
    event_type = fields.Char(string="Type", readonly=True)
    resource_id = fields.Char(string="Xero resource ID", index=True, readonly=True)
    event_date = fields.Datetime(string="Event date (UTC)", readonly=True)
    dedupe_key = fields.Char(required=True, readonly=True)
    state = fields.Selection(
        [("new", "New"), ("done", "Done"), ("ignored", "Ignored"), ("failed", "Failed")],
        default="new",
        required=True,
        index=True,
        readonly=True,
    )
    attempts = fields.Integer(readonly=True)
    message = fields.Text(readonly=True)
    processed_at = fields.Datetime(readonly=True)

    # ------------------------------------------------------------------
    # Request path (controller): one INSERT, no ORM beyond it
    # ------------------------------------------------------------------
    @api.model
    def _xero_store_events(self, connection_id, company_id, events):
        """Insert parsed ``WebhookEvent``s; duplicates (same dedupe key) are skipped.
        Returns how many rows were new."""
        if not events:
            return 0
        now = fields.Datetime.now()
        rows = []
        for ev in events:
            when = parse_xero_datetime(ev.event_date_utc)
            rows.append(
                (
                    connection_id,
                    company_id,
                    ev.tenant_id,
                    ev.event_category,
                    ev.event_type,
                    ev.resource_id,
                    when.replace(tzinfo=None) if when else None,
                    ev.dedupe_key(),
                    "new",
                    0,
                    now,
                    now,
                    self.env.uid,
                    self.env.uid,
                )
            )
        inserted = execute_values(
            self.env.cr,
            """
            INSERT INTO xero_webhook_event
                   (connection_id, company_id, tenant_id, event_category, event_type,
                    resource_id, event_date, dedupe_key, state, attempts,
                    create_date, write_date, create_uid, write_uid)
            VALUES %s
            ON CONFLICT (connection_id, dedupe_key) DO NOTHING
            RETURNING id
            """,
            rows,
            page_size=1000,
            fetch=True,
        )
        return len(inserted)

    # ------------------------------------------------------------------
    # Cron (the service does the work; kept here for the cron's code and integrators)
    # ------------------------------------------------------------------
    @api.model
    def _cron_xero_payments(self, force_poll=False):
        return self.env["xero.payment.import"]._cron_xero_payments(force_poll=force_poll)

    # ------------------------------------------------------------------
    # Buttons
    # ------------------------------------------------------------------
    def action_xero_retry(self):
        self.filtered(lambda e: e.state in ("failed", "ignored")).write({"state": "new"})
        self.env.ref("casemgr_xero.ir_cron_xero_payments")._trigger()
        return True
