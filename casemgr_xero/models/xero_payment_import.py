# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The payment import service: webhook events and the poll say which invoices to look at.

Per connection, the payments cron:

1. marks events of categories it does not handle ``ignored``;
2. polls ``GET /Payments`` when the poll interval has elapsed (or when forced) and keeps the
   invoices whose payments changed since the last poll;
3. adds the invoices that still have an open ``payment_import`` failure (retry once the cause
   is fixed);
4. reconciles each invoice once (``xero.payment.reconcile``) and closes the events about it,
   one commit per invoice (the transaction policy is ``transaction.py``).
"""

import logging
import time
from datetime import timedelta

from casemgr_xero_core.changes import changed_after_export, updated_invoices
from casemgr_xero_core.errors import AuthError, RateLimited, XeroError
from casemgr_xero_core.payments import invoices_to_look_at

from odoo import api, fields, models

from .. import compat
from ..const import PAYMENTS_RUN_LOCK
from ..transaction import ClaimLiveness, commit_batch

_logger = logging.getLogger(__name__)

HANDLED_CATEGORIES = ("INVOICE", "CREDITNOTE")
INVOICE_EVENTS = ("INVOICE",)  # CREDITNOTE events point at the invoices a note is allocated to
MAX_INVOICES_PER_RUN = 500
RUN, GATE = 0, 1  # the two keys of PAYMENTS_RUN_LOCK (pg_advisory_xact_lock(lock, key))
# A run that got events while it worked waits this long for more before it ends, looking this
# often; it ends after RUN_SECONDS whatever comes (Odoo's limit_time_real, a graceful stop).
LINGER = 0.5
LINGER_POLL = 0.05
RUN_SECONDS = 30


class XeroPaymentImport(models.AbstractModel):
    _name = "xero.payment.import"
    _description = "Xero payment import service"

    @api.model
    def _cron_xero_payments(self, force_poll=False):
        """Mirror Xero's payments, connection by connection (each in its company).

        The run holds ``(PAYMENTS_RUN_LOCK, RUN)`` from its start to its end, so that a webhook
        delivery meanwhile needs no cron trigger of its own (``_xero_enter_delivery``). Events
        stored while it works are taken in the same run, and once some came it waits up to
        ``LINGER`` for more before it ends (a burst of deliveries is one run, not a run and a
        wake-up per delivery). At its end it waits for the deliveries under way (``GATE``),
        then triggers itself again if events came that it did not see."""
        deadline = time.monotonic() + RUN_SECONDS
        with ClaimLiveness(self.env, PAYMENTS_RUN_LOCK) as lock:
            lock.hold(RUN)
            commit_batch(self.env)  # whatever ran before us is committed; a fresh snapshot
            seen, unseen, wait = set(), self._xero_new_event_ids(), 0.0
            while True:
                seen |= unseen
                self._xero_run(force_poll)
                force_poll = False
                commit_batch(self.env)
                if time.monotonic() >= deadline:
                    break
                unseen = self._xero_new_events_since(seen, wait)
                if not unseen:
                    break
                wait = LINGER
            # Every delivery that found RUN held holds GATE (shared) until it has committed
            # its events: once we hold GATE they are visible (READ COMMITTED) or not stored.
            lock.hold(GATE)
            unseen = self._xero_new_event_ids() - seen
            lock.release()  # RUN and GATE at once: a delivery that waited finds no run
        if unseen:
            self.env.ref("casemgr_xero.ir_cron_xero_payments")._trigger()
        return True

    def _xero_new_events_since(self, seen, wait):
        """Ids of the events stored (``new``) and not in ``seen``, looking for up to ``wait``
        seconds until there are some."""
        until = time.monotonic() + wait
        while True:
            new = self._xero_new_event_ids() - seen
            if new or time.monotonic() >= until:
                return new
            time.sleep(LINGER_POLL)

    @api.model
    def _xero_enter_delivery(self):
        """Called by a webhook delivery before it stores events (in the transaction that
        stores them); True when the events need no cron trigger of their own: a payments run
        is under way, which will see them or trigger itself at its end (see
        ``_cron_xero_payments``), or a trigger is already due that no run has taken yet, whose
        run will start after they are committed. A trigger costs an ORM insert and, for the
        wake-up, a connection of its own to PostgreSQL's ``postgres`` database (Odoo never
        pools those): a burst of deliveries pays one per run, not one per delivery
        (bench/README.md).

        One statement, held to this transaction's end: GATE shared (waits only while an ending
        run holds it, for one query), then a try of RUN shared, which fails only while a run
        holds it (deliveries never exclude one another); when taken, the next run cannot start
        before these events are committed. Without a run, a trigger of the payments cron
        counts when it was due when created (``call_at <= create_date``: Odoo sent the cron
        workers its ``NOTIFY``; a delayed one, e.g. a pause's end, wakes nobody when it falls
        due, nor does Odoo's own ``_reschedule_asap``, inserted without ``create_date``) and
        ``FOR KEY SHARE SKIP LOCKED`` gets it: a trigger a starting run is deleting (Odoo's
        ``_clear_schedule``, committed only when that run ends) is locked, so skipped, and one
        taken here stays until this transaction commits (the run that deletes it starts after
        that)."""
        self.env.cr.execute(
            """
            WITH gate AS MATERIALIZED (SELECT pg_advisory_xact_lock_shared(%s, %s)),
                 run AS MATERIALIZED (
                     SELECT NOT pg_try_advisory_xact_lock_shared(%s, %s) AS under_way FROM gate),
                 due AS MATERIALIZED (
                     SELECT 1 FROM ir_cron_trigger t, run
                      WHERE NOT run.under_way
                        AND t.cron_id = (SELECT res_id FROM ir_model_data
                                          WHERE module = 'casemgr_xero'
                                            AND name = 'ir_cron_xero_payments')
                        AND t.call_at <= t.create_date
                      LIMIT 1
                        FOR KEY SHARE OF t SKIP LOCKED)
            SELECT under_way OR EXISTS (SELECT 1 FROM due) FROM run
            """,
            [PAYMENTS_RUN_LOCK, GATE, PAYMENTS_RUN_LOCK, RUN],
        )
        return self.env.cr.fetchone()[0]

    def _xero_new_event_ids(self):
        self.env.cr.execute("SELECT id FROM xero_webhook_event WHERE state = 'new'")
        return {r[0] for r in self.env.cr.fetchall()}

    def _xero_run(self, force_poll):
        cron = self.env.ref("casemgr_xero.ir_cron_xero_payments")
        connections = self.env["xero.connection"].search(
            [("payments_enabled", "=", True), ("state", "=", "connected")]
        )
        done, more = 0, False
        for conn in connections:
            service = self.with_company(conn.company_id)
            try:
                n, left = service._xero_process_connection(
                    conn.with_company(conn.company_id), force_poll=force_poll
                )
                done += n
                more |= left
            except RateLimited as exc:
                retry = max(exc.retry_after or 60.0, 1.0)
                self.env["xero.api"]._xero_pause_until(
                    conn, fields.Datetime.now() + timedelta(seconds=retry)
                )
                cron._trigger(at=fields.Datetime.now() + timedelta(seconds=retry + 1))
            except AuthError as exc:
                self.env["xero.failure"].sudo()._xero_report("auth", conn, str(exc), conn)
                commit_batch(self.env)
            except XeroError as exc:
                _logger.warning("Xero payments for connection %s deferred: %s", conn.id, exc)
                cron._trigger(at=fields.Datetime.now() + timedelta(seconds=60))
        compat.cron_progress(self.env, done, self._xero_pending() if more else 0)
        if more:
            cron._trigger()

    def _xero_pending(self):
        self.env.cr.execute(
            """
            SELECT count(DISTINCT resource_id) FROM xero_webhook_event
             WHERE state IN ('new', 'failed') AND event_category IN %s
            """,
            [HANDLED_CATEGORIES],
        )
        return self.env.cr.fetchone()[0]

    def _xero_process_connection(self, conn, force_poll=False, limit=MAX_INVOICES_PER_RUN):
        """Reconcile what the events, the poll and open failures point at.

        Returns (invoices reconciled, True if work remains)."""
        wait = self.env["xero.api"]._xero_paused(conn)
        if wait:
            self.env.ref("casemgr_xero.ir_cron_xero_payments")._trigger(
                at=fields.Datetime.now() + timedelta(seconds=wait + 1)
            )
            return 0, False
        self._xero_ignore_unhandled(conn)
        commit_batch(self.env)
        client = conn._xero_client()
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
            [conn.id, INVOICE_EVENTS, limit + 1],
        )
        from_events = [r[0] for r in cr.fetchall()]
        more = len(from_events) > limit
        wanted = dict.fromkeys(from_events[:limit])
        from_notes, note_events = self.env["xero.change"]._xero_credit_note_invoices(conn, client)
        wanted.update(dict.fromkeys(from_notes))

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
        if note_events:
            cr.execute(
                """
                UPDATE xero_webhook_event
                   SET state = 'done', attempts = attempts + 1,
                       processed_at = now() at time zone 'UTC',
                       write_date = now() at time zone 'UTC'
                 WHERE id IN %s AND state IN ('new', 'failed')
                """,
                [tuple(note_events)],
            )
            commit_batch(self.env)
        if poll_started:
            # After the last call to Xero: a token refresh locks the connection row.
            conn.sudo().last_payment_poll = poll_started
            commit_batch(self.env)
        return len(wanted), more

    def _xero_ignore_unhandled(self, conn):
        self.env.cr.execute(
            """
            UPDATE xero_webhook_event
               SET state = 'ignored', message = %s, processed_at = now() at time zone 'UTC',
                   write_date = now() at time zone 'UTC'
             WHERE connection_id = %s AND state = 'new' AND event_category NOT IN %s
            """,
            [
                self.env._("Only invoice and credit note events are looked at."),
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
        by_payment = invoices_to_look_at(payments, since, bound)
        # Credited, voided or edited in Xero since (xero_change.py): no payment says so. An
        # invoice whose only update is our export's is not read again (core EXPORT_SETTLE).
        updated = updated_invoices(client, since)
        candidates = list(dict.fromkeys(by_payment + list(updated)))
        if not candidates:
            return []
        self.env.cr.execute(
            """
            SELECT xero_invoice_id, xero_sent_at FROM account_move
             WHERE xero_connection_id = %s AND xero_invoice_id IN %s
            """,
            [conn.id, tuple(candidates)],
        )
        ours = dict(self.env.cr.fetchall())
        paid = set(by_payment)
        return [
            i
            for i in candidates
            if i in ours and (i in paid or changed_after_export(updated[i], ours[i]))
        ]

    def _xero_process_invoice(self, conn, client, xero_invoice_id):
        """One transaction: reconcile this invoice, close the events about it, commit.

        The events are picked before Xero is read (a later one waits for the next run) and
        closed after it: no row is locked while Xero is called."""
        cr = self.env.cr
        cr.execute(
            """
            SELECT id FROM xero_webhook_event
             WHERE connection_id = %s AND resource_id = %s AND state IN ('new', 'failed')
               AND event_category IN %s
            """,
            [conn.id, xero_invoice_id, INVOICE_EVENTS],
        )
        event_ids = [r[0] for r in cr.fetchall()]
        env = self.env(su=True)
        results = env["xero.payment.reconcile"]._xero_sync_invoice_payments(
            conn.with_env(env), [xero_invoice_id], client=client
        )
        state, message = results.get(xero_invoice_id, ("done", False))
        if event_ids:
            env.flush_all()
            cr.execute(
                """
                UPDATE xero_webhook_event
                   SET state = %s, message = %s, attempts = attempts + 1,
                       processed_at = now() at time zone 'UTC',
                       write_date = now() at time zone 'UTC'
                 WHERE id IN %s AND state IN ('new', 'failed')
                """,
                [state, message or None, tuple(event_ids)],
            )
        commit_batch(self.env)
        return state

    def _xero_sync_now(self, connections):
        """Have the payments cron run now and poll Xero whatever the interval says."""
        now = fields.Datetime.now()
        for conn in connections.sudo():
            due = now - timedelta(minutes=max(conn.payment_poll_interval or 0, 0))
            if conn.last_payment_poll and conn.last_payment_poll > due:
                conn.last_payment_poll = due
        self.env.ref("casemgr_xero.ir_cron_xero_payments")._trigger()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Xero payments"),
                "message": self.env._("The payments import runs in the background now."),
                "type": "info",
                "sticky": False,
            },
        }
