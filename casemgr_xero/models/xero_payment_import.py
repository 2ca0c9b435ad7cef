# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The payment import service: webhook events and the poll say which invoices to look at.

Per connection, the payments cron:

1. marks events of categories it does not handle ``ignored``;
2. polls ``GET /Payments`` when the poll interval has elapsed (or when forced) and keeps the
   invoices whose payments changed since the last poll;
3. adds the invoices that still have an open ``payment_import`` failure (retry once the cause
   is fixed);
4. reconciles each invoice once (``xero.payment.reconcile``) in a transaction of its own that
   also row-locks (SKIP LOCKED) and closes the events about it.
"""

import logging
from datetime import timedelta

from casemgr_xero_core.errors import AuthError, RateLimited, XeroError
from casemgr_xero_core.payments import invoices_to_look_at

from odoo import api, fields, models

_logger = logging.getLogger(__name__)

HANDLED_CATEGORIES = ("INVOICE",)
MAX_INVOICES_PER_RUN = 500


class XeroPaymentImport(models.AbstractModel):
    _name = "xero.payment.import"
    _description = "Xero payment import service"

    @api.model
    def _cron_xero_payments(self, force_poll=False):
        cron = self.env.ref("casemgr_xero.ir_cron_xero_payments")
        connections = self.env["xero.connection"].search(
            [("payments_enabled", "=", True), ("state", "=", "connected")]
        )
        more = False
        for conn in connections:
            try:
                more |= self._xero_process_connection(conn, force_poll=force_poll)
            except RateLimited as exc:
                retry = max(exc.retry_after or 60.0, 1.0)
                self.env["xero.api"]._xero_pause_until(
                    conn, fields.Datetime.now() + timedelta(seconds=retry)
                )
                cron._trigger(at=fields.Datetime.now() + timedelta(seconds=retry + 1))
            except AuthError as exc:
                with conn._xero_detached() as dconn:
                    dconn.env["xero.failure"]._xero_report("auth", dconn, str(exc), dconn)
            except XeroError as exc:
                _logger.warning("Xero payments for connection %s deferred: %s", conn.id, exc)
                cron._trigger(at=fields.Datetime.now() + timedelta(seconds=60))
        if more:
            cron._trigger()
        return True

    def _xero_process_connection(self, conn, force_poll=False, limit=MAX_INVOICES_PER_RUN):
        """Reconcile what the events, the poll and open failures point at. True if work remains."""
        wait = self.env["xero.api"]._xero_paused(conn)
        if wait:
            self.env.ref("casemgr_xero.ir_cron_xero_payments")._trigger(
                at=fields.Datetime.now() + timedelta(seconds=wait + 1)
            )
            return False
        self._xero_ignore_unhandled(conn)
        client = conn._xero_client()
        self.env.flush_all()
        cr = self.env.cr
        cr.execute(
            """
            SELECT resource_id
              FROM xero_webhook_event
             WHERE connection_id = %s AND state IN ('new', 'failed')
               AND event_category IN %s
             GROUP BY resource_id
             ORDER BY MIN(id)
             LIMIT %s
            """,
            [conn.id, HANDLED_CATEGORIES, limit + 1],
        )
        from_events = [r[0] for r in cr.fetchall()]
        more = len(from_events) > limit
        wanted = dict.fromkeys(from_events[:limit])

        poll_started = None
        now = fields.Datetime.now()
        interval = timedelta(minutes=max(conn.payment_poll_interval or 0, 0))
        if force_poll or not conn.last_payment_poll or conn.last_payment_poll + interval <= now:
            poll_started = now
            wanted.update(dict.fromkeys(self._xero_poll_invoice_ids(conn, client)))

        failed_moves = (
            self.env["xero.failure"]
            .sudo()
            .search(
                [
                    ("kind", "=", "payment_import"),
                    ("connection_id", "=", conn.id),
                    ("res_model", "=", "account.move"),
                    ("state", "in", ("open", "retrying")),
                ]
            )
        )
        if failed_moves:
            moves = self.env["account.move"].sudo().browse(failed_moves.mapped("res_id")).exists()
            wanted.update(dict.fromkeys(m.xero_invoice_id for m in moves if m.xero_invoice_id))

        for xero_invoice_id in wanted:
            self._xero_process_invoice(conn, client, xero_invoice_id)
        if poll_started:
            with conn._xero_detached() as dconn:
                dconn.last_payment_poll = poll_started
        self.env.invalidate_all()
        return more

    def _xero_ignore_unhandled(self, conn):
        self.env.flush_all()
        with self.env.registry.cursor() as cr:
            cr.execute(
                """
                UPDATE xero_webhook_event
                   SET state = 'ignored', message = %s, processed_at = now() at time zone 'UTC',
                       write_date = now() at time zone 'UTC'
                 WHERE connection_id = %s AND state = 'new' AND event_category NOT IN %s
                """,
                [
                    self.env._("Only invoice events can carry payment changes."),
                    conn.id,
                    HANDLED_CATEGORIES,
                ],
            )

    def _xero_poll_invoice_ids(self, conn, client):
        """InvoiceIDs, among those exported through ``conn``, whose payments changed since the
        last poll (GET /Payments, every page, filtered client-side on UpdatedDateUTC)."""
        since = conn.last_payment_poll or None  # never polled: every payment
        payments = client.list_payments(if_modified_since=since)
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT xero_payment_id FROM account_payment
             WHERE company_id = %s AND xero_payment_id IS NOT NULL
               AND state NOT IN ('canceled', 'rejected')
            """,
            [conn.company_id.id],
        )
        bound = {r[0] for r in self.env.cr.fetchall()}
        candidates = invoices_to_look_at(payments, since, bound)
        if not candidates:
            return []
        self.env.cr.execute(
            """
            SELECT xero_invoice_id FROM account_move
             WHERE xero_connection_id = %s AND xero_invoice_id IN %s
            """,
            [conn.id, tuple(candidates)],
        )
        ours = {r[0] for r in self.env.cr.fetchall()}
        return [i for i in candidates if i in ours]

    def _xero_process_invoice(self, conn, client, xero_invoice_id):
        """One short transaction: lock this invoice's pending events, reconcile, close them."""
        self.env.flush_all()
        with self.env.registry.cursor() as cr:
            cr.execute(
                """
                SELECT id FROM xero_webhook_event
                 WHERE connection_id = %s AND resource_id = %s AND state IN ('new', 'failed')
                   AND event_category IN %s
                 ORDER BY id
                   FOR UPDATE SKIP LOCKED
                """,
                [conn.id, xero_invoice_id, HANDLED_CATEGORIES],
            )
            event_ids = [r[0] for r in cr.fetchall()]
            env = self.env(cr=cr, su=True)
            dconn = conn.with_env(env)
            results = env["xero.payment.reconcile"]._xero_sync_invoice_payments(
                dconn, [xero_invoice_id], client=client
            )
            state, message = results.get(xero_invoice_id, ("done", False))
            if event_ids:
                cr.execute(
                    """
                    UPDATE xero_webhook_event
                       SET state = %s, message = %s, attempts = attempts + 1,
                           processed_at = now() at time zone 'UTC',
                           write_date = now() at time zone 'UTC'
                     WHERE id IN %s
                    """,
                    [state, message or None, tuple(event_ids)],
                )
        return state
