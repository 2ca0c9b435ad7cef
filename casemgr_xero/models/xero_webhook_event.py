# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Xero webhook events, stored as they arrive; the payments cron turns them into reconciles.

A delivery (the controller hands over the raw body and its signature) is verified and routed
by ``_xero_receive``: the signature against the app's webhook key, each event to the
connection bound to its ``tenantId`` among the app's, then one ``INSERT … ON CONFLICT DO
NOTHING`` on the dedupe key (a redelivery is a no-op) and a wake-up of the payments cron
unless a run is under way or already due;
``xero.payment.import`` does the rest.
"""

import logging
from dataclasses import dataclass

from casemgr_xero_core.payments import parse_xero_datetime
from casemgr_xero_core.webhooks import (
    MAX_BODY_BYTES,
    WebhookPayloadError,
    parse_events,
    verify_signature,
)
from psycopg2.extras import execute_values

from odoo import api, fields, models

from .. import compat
from ..transaction import switch_to_read_committed

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebhookReceipt:
    """What one delivery came to. ``status`` is the HTTP answer Xero gets (empty body): 200
    (taken; also a redelivery, Xero's intent-to-receive check with no events, and events of
    an organisation no connection of the app imports payments for), 400 (not a Xero payload),
    401 (unknown or inactive app or connection, no key, wrong signature)."""

    status: int
    events: int = 0  # events in the payload
    stored: int = 0  # of them new (a redelivery stores none)
    dropped: int = 0  # of an organisation no connection of the app imports payments for
    reason: str = ""  # why not 200, for the log


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
    # Request path (controller): verify, route, one INSERT, wake the cron; no ORM
    # ------------------------------------------------------------------
    @api.model
    def _xero_receive(self, body, signature, app_id=None, connection_id=None):
        """Verify and route one delivery of Xero's webhook; returns a ``WebhookReceipt``.

        ``body`` is the raw request body, ``signature`` the ``x-xero-signature`` header; the
        delivery came to the URL of app ``app_id`` or to the older URL of connection
        ``connection_id`` (routed among all the connections of that connection's app). The
        signature is checked (HMAC-SHA256, constant time) with the app's webhook key before
        the body is parsed; each event goes to the active connection of the app that imports
        payments for its ``tenantId``; the others are dropped (logged, not stored) without
        failing the delivery, since Xero disables a webhook that keeps failing. No call to
        Xero: Xero wants the answer within 5 s. One query reads the key and the routes.
        """
        label = f"app {app_id}" if app_id else f"connection {connection_id}"
        if body is None or len(body) > MAX_BODY_BYTES:
            return WebhookReceipt(400, reason="body missing or too large")
        cr = self.env.cr
        cr.execute(
            """
            SELECT a.webhook_key, c.tenant_id, c.id, c.company_id
              FROM xero_app a
              LEFT JOIN xero_connection c
                ON c.app_id = a.id AND c.active AND c.payments_enabled
             WHERE a.active AND a.id = COALESCE(%s, (
                       SELECT app_id FROM xero_connection
                        WHERE id = %s AND active AND payments_enabled))
            """,
            [app_id, connection_id],
        )
        rows = cr.fetchall()
        if not rows:
            return WebhookReceipt(401, reason=f"no active {label}")
        if not verify_signature(body, signature, rows[0][0]):
            return WebhookReceipt(401, reason=f"signature not {label}'s")
        try:
            events = parse_events(body, MAX_BODY_BYTES)
        except WebhookPayloadError as exc:
            _logger.info("Xero webhook (%s): malformed payload (%s)", label, exc)
            return WebhookReceipt(400, reason=str(exc))
        by_tenant = {tenant: (conn, company) for _key, tenant, conn, company in rows if conn}
        routed = {}
        for ev in events:
            target = by_tenant.get(ev.tenant_id)
            if target:
                routed.setdefault(target, []).append(ev)
        dropped = len(events) - sum(len(evs) for evs in routed.values())
        if dropped:
            _logger.info(
                "Xero webhook (%s): %d event(s) of an organisation no connection imports "
                "payments for dropped",
                label,
                dropped,
            )
        stored = 0
        if routed:
            # A READ COMMITTED transaction for the insert: ON CONFLICT against a parallel
            # redelivery must wait for the other transaction rather than fail with a
            # serialization error (REPEATABLE READ) and make Odoo replay the request. (The
            # foreign-key check on the connection row does not fail either way: PostgreSQL 15,
            # measured, docs/NOTES.md.)
            switch_to_read_committed(self.env)
            payments = self.env["xero.payment.import"]
            woken = payments._xero_enter_delivery()
            for (conn_id, company_id), evs in routed.items():
                stored += self._xero_store_events(conn_id, company_id, evs)
            if stored and not woken:
                self.env.ref("casemgr_xero.ir_cron_xero_payments")._trigger()
        return WebhookReceipt(200, events=len(events), stored=stored, dropped=dropped)

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
    # Buttons
    # ------------------------------------------------------------------
    def action_xero_retry(self):
        self.filtered(lambda e: e.state in ("failed", "ignored")).write({"state": "new"})
        self.env.ref("casemgr_xero.ir_cron_xero_payments")._trigger()
        return True
