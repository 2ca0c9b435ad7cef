# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The export service: customer invoices → Xero, in batches of 50, exactly once.

TRANSACTION POLICY (the whole addon follows it; it is written here once)

1. A cron works on the cron's own cursor and commits once per batch (``tools.commit_batch``;
   each transaction after a commit runs READ COMMITTED, so that a row another worker changed
   meanwhile is waited for or skipped, never a serialization failure).
   The export cron runs each organisation with work in a thread of its own (Odoo runs a job on
   one cron worker at a time: one after the other, a slow or rate-limited organisation would
   hold the others up). Each thread works on its own cursor from the registry
   (``registry.cursor()``), READ COMMITTED from its first statement, under the same rules 1-4;
   the threads share nothing but the run's deadline (``RUN_SECONDS``). The cron's own cursor
   only reads which organisations have work and, once every thread has ended, reports progress.
   In a test transaction (registry in test mode) the organisations run one after the other on
   the test's cursor, and a pause is not waited out (the cron is re-triggered at its end).
2. The claim is the first statement after a commit (``queued`` → ``sending`` with an attempt
   key, ``FOR UPDATE SKIP LOCKED``; it also takes back the claims whose claimant has died,
   read in ``pg_locks``) and is committed before any call to Xero; the batch's results are
   written onto rows that still carry that key and committed before the next claim. A batch
   whose outcome is unknown (dropped connection, timeout, crash) is sent again only after a
   lookup by InvoiceNumber in Xero has bound what Xero already has.
3. Progress is reported as ir.cron expects (``ir.cron._notify_progress``); a run that stops
   with work left (or after ``RUN_SECONDS``) re-triggers its cron, due now, and reports no
   ``remaining`` (ir.cron's own re-runs would chain past ``limit_time_real``; see there).
4. No call to Xero while the transaction holds a row or advisory lock. Two exceptions, with
   their reasons where they are taken: the contact lock (``xero.contact._xero_resolve_contacts``)
   and the claim's liveness lock (``tools.ClaimLiveness``): it is held, on a connection of its
   own, for exactly as long as the claimant works on its batch, Xero call included, because
   that is what it proves; nobody ever waits for it (it is only read in ``pg_locks``).
5. Only ``tools.short_transaction`` opens a cursor of its own, for what must commit whatever
   the caller does: token rotation and the pacing time every worker shares (``xero.api``);
   besides the export cron's per-organisation cursors (point 1) and the liveness lock's
   (point 4).
6. Buttons queue work and ``_trigger()`` the crons; they never run a cron in the user's request.
7. Company-dependent data (account codes, taxes, partner properties, journals) is read
   ``with_company`` the record's company: a cron runs as OdooBot in the main company.
"""

import logging
import threading
import time
import uuid
from datetime import timedelta

from casemgr_xero_core import export as xero_export
from casemgr_xero_core import mapping
from casemgr_xero_core.batching import MAX_INVOICES_PER_REQUEST
from casemgr_xero_core.errors import AuthError, RateLimited, XeroError
from markupsafe import Markup
from psycopg2.extras import execute_values

from odoo import api, fields, models
from odoo.tools import html_escape

from ..tools import ClaimLiveness, commit_batch
from .account_move import XERO_WEB_INVOICE_URL
from .xero_failure_export import XeroProblems

_logger = logging.getLogger(__name__)

# pg_advisory_xact_lock(CLAIM_LOCK, token of the attempt key): held while the claimant lives.
CLAIM_LOCK = 0x58434C4D  # "XCLM"
# A cron run ends after about this long, re-triggering itself when work remains: it stays well
# inside Odoo's limit_time_real (120 s by default; a prefork cron worker past it is killed), and
# a graceful server stop, which waits for running jobs, is not held up for long.
RUN_SECONDS = 30
# A pause up to this long (Xero's minute window) is waited out inside the run: a delayed
# ir.cron.trigger only fires at the cron workers' next poll (every 60 s + pid % 10), which would
# cost up to one more minute per window. A longer pause (day limit) re-triggers at its end.
MAX_INLINE_WAIT = 65


class XeroExport(models.AbstractModel):
    _name = "xero.export"
    _description = "Xero export service"

    @api.model
    def _cron_xero_export(self, max_batches=20):
        """Send what is queued, each organisation in a thread of its own (policy, point 1)."""
        cron = self.env.ref("casemgr_xero.ir_cron_xero_export")
        commit_batch(self.env)  # whatever ran before us is committed; a fresh snapshot
        conns = self.env["xero.connection"].search([("state", "=", "connected")])
        if self.env.registry.in_test_mode():
            # One transaction for the whole test: no threads, no waiting (a pause re-triggers).
            done, more = self._xero_export_connections(conns, max_batches, cron, None)
        else:
            deadline = time.monotonic() + RUN_SECONDS
            if len(conns) > 1:
                self.env.cr.execute(
                    "SELECT DISTINCT xero_connection_id FROM account_move "
                    "WHERE xero_state IN ('queued', 'sending') AND xero_connection_id = ANY(%s)",
                    [conns.ids],
                )
                busy = {r[0] for r in self.env.cr.fetchall()}
                conns = conns.filtered(lambda c: c.id in busy)
            if len(conns) > 1:
                done, more = self._xero_export_parallel(conns, max_batches, deadline)
            else:
                done, more = self._xero_export_connections(conns, max_batches, cron, deadline)
        # Work left is handed over to a trigger due now (NOTIFY on commit: a new job at once),
        # not reported as ``remaining``: ir.cron would run the job again in this worker, up to
        # 10 times, and the master's limit_time_real watchdog (120 s) is reset only between
        # jobs, so a chain of 30 s runs would get the worker killed mid-batch (seen in
        # ``bench/run scale``: a graceful stop waited out two runs). In a test, as before.
        test = self.env.registry.in_test_mode()
        remaining = self._xero_queued_count() if more and test else 0
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        if more:
            cron._trigger()
        return True

    def _xero_export_connections(self, conns, max_batches, cron, deadline):
        """Export ``conns`` one after the other on this cursor: (moves handled, work left)."""
        done, more = 0, False
        for conn in conns:  # every one of them: no short-circuit
            service = self.with_company(conn.company_id)
            sent, left = service._xero_export_connection(
                conn.with_company(conn.company_id), max_batches, cron, deadline
            )
            done += sent
            more |= left
        return done, more

    def _xero_export_parallel(self, conns, max_batches, deadline):
        """Export each of ``conns`` in a thread with its own cursor (policy, point 1).

        Returns (moves handled, True when work remains); the first error of a thread is
        raised once every thread has ended."""
        registry, uid, su = self.env.registry, self.env.uid, self.env.su
        context = dict(self.env.context)
        dbname = self.env.cr.dbname
        results, errors = {}, []

        def export(conn_id):
            threading.current_thread().dbname = dbname
            try:
                with registry.cursor() as cr:
                    env = api.Environment(cr, uid, context, su=su)
                    commit_batch(env)  # READ COMMITTED from the first statement
                    conn = env["xero.connection"].browse(conn_id)
                    service = env["xero.export"].with_company(conn.company_id)
                    results[conn_id] = service._xero_export_connection(
                        conn.with_company(conn.company_id),
                        max_batches,
                        env.ref("casemgr_xero.ir_cron_xero_export"),
                        deadline,
                    )
            except Exception as exc:  # noqa: BLE001 - re-raised below, after the others end
                _logger.exception("Xero export for connection %s failed", conn_id)
                errors.append(exc)

        threads = [
            threading.Thread(target=export, args=(conn.id,), name=f"xero-export-{conn.id}")
            for conn in conns
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return (
            sum(sent for sent, _left in results.values()),
            any(left for _sent, left in results.values()),
        )

    def _xero_queued_count(self):
        self.env.cr.execute(
            """
            SELECT count(*)
              FROM account_move m JOIN xero_connection c ON c.id = m.xero_connection_id
             WHERE m.xero_state = 'queued' AND c.state = 'connected'
            """
        )
        return self.env.cr.fetchone()[0]

    def _xero_export_connection(self, conn, max_batches, cron, deadline=None):
        """Send up to ``max_batches`` batches for ``conn``.

        With a ``deadline`` (``time.monotonic()``; cron runs) a pause of at most
        ``MAX_INLINE_WAIT`` is waited out here, until the deadline; without one (tests) the
        run re-triggers the cron at the pause's end and returns.
        Returns (moves handled, True when work remains now)."""
        done, batches = 0, 0
        with ClaimLiveness(self.env, CLAIM_LOCK) as liveness:
            while batches < max_batches:
                if deadline and time.monotonic() >= deadline:
                    return done, True
                wait = self.env["xero.api"]._xero_paused(conn)
                if wait:
                    if not deadline or wait > MAX_INLINE_WAIT:
                        cron._trigger(at=fields.Datetime.now() + timedelta(seconds=wait + 1))
                        return done, False
                    time.sleep(min(wait, max(0.0, deadline - time.monotonic())))
                    continue
                key, moves = self._xero_claim_batch(conn, liveness)
                if not moves:
                    return done, False
                batches += 1
                try:
                    self._xero_send_batch(conn, key, moves)
                    done += len(moves)
                except RateLimited as exc:
                    # Never assume nothing reached Xero: the next attempt looks up first.
                    self._xero_release(key, moves, unknown=True)
                    retry = max(exc.retry_after or 60.0, 1.0)
                    self.env["xero.api"]._xero_pause_until(
                        conn, fields.Datetime.now() + timedelta(seconds=retry)
                    )
                    if deadline and retry <= MAX_INLINE_WAIT:
                        continue
                    cron._trigger(at=fields.Datetime.now() + timedelta(seconds=retry + 1))
                    return done, False
                except AuthError as exc:
                    self._xero_release(key, moves, unknown=True, commit=False)
                    self.env["xero.failure"]._xero_report("auth", conn, str(exc), conn)
                    commit_batch(self.env)
                    return done, False
                except XeroError as exc:
                    # Transient (5xx, timeout, dropped connection): requeue, try again later.
                    _logger.warning("Xero export for connection %s deferred: %s", conn.id, exc)
                    self._xero_release(key, moves, unknown=True)
                    cron._trigger(at=fields.Datetime.now() + timedelta(seconds=60))
                    return done, False
                finally:
                    # The batch's outcome is committed (or the batch is left to the lookup of
                    # the next run): its claimant is done with it.
                    liveness.release()
        return done, True

    @staticmethod
    def _xero_claim_token(key):
        """The int4 advisory-lock token of an attempt key (the uuid's first 32 bits)."""
        token = int(key[:8], 16)
        return token - (1 << 32) if token >= (1 << 31) else token

    def _xero_claim_alive_tokens(self):
        """Tokens (as PostgreSQL shows them in ``pg_locks.objid``, unsigned) of the claims whose
        claimant is alive.

        The claimant holds ``pg_advisory_xact_lock(CLAIM_LOCK, token)`` (``tools.ClaimLiveness``)
        from before its claim is committed until the batch's outcome is, and PostgreSQL releases
        it when that ends or when the claimant's backend goes (the worker killed: SIGKILL,
        ``limit_time_real``, a server restart or crash). The lock lives in PostgreSQL, so this
        holds for every process and every Odoo server sharing the database; no clock or timeout
        is involved. Chosen over recording the claimant's backend pid + backend_start: Odoo
        pools connections, so a backend can outlive the work (or serve another cursor).
        """
        self.env.cr.execute(
            """
            SELECT l.objid::text::bigint
              FROM pg_locks l JOIN pg_database d ON d.oid = l.database
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
               AND l.classid = %s AND d.datname = current_database()
            """,
            [CLAIM_LOCK],
        )
        return {r[0] for r in self.env.cr.fetchall()}

    @api.model
    def _xero_claim_batch(self, conn, liveness):
        """Move up to 50 queued moves (or moves of a claim whose claimant died) to ``sending``
        and commit.

        The first statements after the previous commit (policy, point 2). The claimant's
        liveness lock is taken (``liveness``, a ``tools.ClaimLiveness``) before the claim, so a
        committed claim is never without it; the caller releases it once the batch's outcome
        is committed."""
        key = str(uuid.uuid4())
        liveness.hold(self._xero_claim_token(key))
        now = fields.Datetime.now()
        cr = self.env.cr
        # Dead claims: read the claims first, then the live locks. A claimant that ended in
        # between wrote its outcome first, so the row re-check of FOR UPDATE (READ COMMITTED)
        # skips its rows.
        cr.execute(
            "SELECT DISTINCT xero_attempt_key FROM account_move "
            "WHERE xero_connection_id = %s AND xero_state = 'sending'",
            [conn.id],
        )
        claims = [r[0] for r in cr.fetchall()]
        dead = []
        if claims:
            alive = self._xero_claim_alive_tokens()
            dead = [k for k in claims if k and self._xero_claim_token(k) & 0xFFFFFFFF not in alive]
        cr.execute(
            """
            WITH picked AS (
                SELECT id FROM account_move
                 WHERE xero_connection_id = %s
                   AND (xero_state = 'queued'
                        OR (xero_state = 'sending'
                            AND (xero_attempt_key IS NULL OR xero_attempt_key = ANY(%s))))
                 ORDER BY id
                 LIMIT %s
                   FOR UPDATE SKIP LOCKED
            )
            UPDATE account_move AS m
               SET xero_state = 'sending', xero_attempt_key = %s, xero_attempt_at = %s,
                   xero_outcome_unknown = m.xero_outcome_unknown OR m.xero_state = 'sending'
              FROM picked
             WHERE m.id = picked.id
            RETURNING m.id
            """,
            [conn.id, dead, MAX_INVOICES_PER_REQUEST, key, now],
        )
        ids = sorted(r[0] for r in cr.fetchall())
        commit_batch(self.env)  # claimed for everyone to see, before any call to Xero
        if not ids:
            liveness.release()
        return key, self.env["account.move"].browse(ids)

    def _xero_release(self, key, moves, unknown, commit=True):
        """Put a claimed batch back in the queue (flagged when its outcome is unknown)."""
        self.env.cr.execute(
            """
            UPDATE account_move
               SET xero_state = 'queued',
                   xero_outcome_unknown = xero_outcome_unknown OR %s
             WHERE id IN %s AND xero_attempt_key = %s AND xero_state = 'sending'
            """,
            [bool(unknown), tuple(moves.ids), key],
        )
        moves.invalidate_recordset(["xero_state", "xero_outcome_unknown"])
        if commit:
            commit_batch(self.env)

    def _xero_send_batch(self, conn, key, moves):
        """Validate, bind contacts, send invoices then credit notes, write every outcome.

        If Xero stops answering halfway, what is known is written first and the exception is
        re-raised: the caller puts the rest back in the queue flagged 'outcome unknown'.
        """
        client = conn._xero_client()
        InvoiceData = self.env["xero.invoice.data"]
        data = InvoiceData._xero_invoice_data(conn, moves)
        results = {}  # move id -> (state, Xero id, message)
        valid = self.env["account.move"].browse()
        for move in moves:
            errors = InvoiceData._xero_problems(data[move.id])
            if errors:  # kept with their causes: one dashboard card per cause
                results[move.id] = ("failed", None, XeroProblems(errors))
            else:
                valid |= move
        try:
            if valid:
                contact_errors = self.env["xero.contact"]._xero_resolve_contacts(
                    conn, client, valid, data
                )
                for move_id, message in contact_errors.items():
                    results[move_id] = ("failed", None, XeroProblems([message]))
                sendable = valid.filtered(lambda m: m.id not in contact_errors)
                invoices = sendable.filtered(lambda m: m.move_type == "out_invoice")
                refunds = sendable - invoices
                prefix = conn.invoice_number_prefix or ""
                for group, payload_fn, send_fn, suffix in (
                    (invoices, mapping.invoice_payload, xero_export.send_invoice_batch, ""),
                    (
                        refunds,
                        mapping.credit_note_payload,
                        xero_export.send_credit_note_batch,
                        "-cn",
                    ),
                ):
                    if not group:
                        continue
                    items = send_fn(
                        client,
                        [payload_fn(data[m.id], prefix) for m in group],
                        key + suffix,
                        check_existing=conn.check_numbers
                        or any(m.xero_outcome_unknown for m in group),
                    )
                    for move, item in zip(group, items, strict=True):
                        state = item.outcome  # the core classifies Xero's answer
                        message = None
                        if state == "failed":
                            message = "\n".join(item.messages) or self.env._(
                                "Xero refused this document."
                            )
                        if state == "failed" and item.xero_id and item.total is not None:
                            # In Xero, with another total: sent (never send it again), and a
                            # drift card says by how much and why it may differ.
                            state = "sent"
                            message = self.env["xero.failure"]._xero_total_mismatch_message(
                                conn, client, move, item.total
                            )
                        xero_id = item.xero_id if state != "queued" else None
                        results[move.id] = (state, xero_id, message)
        finally:
            if results:
                self._xero_write_results(conn, key, moves, results)
                commit_batch(self.env)  # the results, before anything else can go wrong
        self._xero_allocate_credit_notes(conn, client, moves, results)
        commit_batch(self.env)

    def _xero_allocate_credit_notes(self, conn, client, moves, results):
        """Apply each credit note just created to its original invoice when that is in Xero.

        Every call to Xero is made first, then the outcomes are written (policy, point 4)."""
        outcomes = []  # (credit note, original invoice, error or None)
        for move in moves.filtered(lambda m: m.move_type == "out_refund"):
            state, credit_note_id, _msg = results.get(move.id, (None, None, None))
            origin = move.reversed_entry_id
            if state != "sent" or not origin.xero_invoice_id:
                continue
            if origin.xero_connection_id != conn:
                continue
            try:
                client.allocate_credit_note(
                    credit_note_id,
                    origin.xero_invoice_id,
                    min(move.amount_total, origin.amount_total),
                    fields.Date.to_string(move.invoice_date or move.date),
                )
            except XeroError as exc:
                outcomes.append((move, origin, exc))
            else:
                outcomes.append((move, origin, None))
        for move, origin, exc in outcomes:
            if exc is not None:
                message = self.env._(
                    "Credit note %(cn)s is in Xero but could not be allocated to invoice "
                    "%(inv)s there: %(msg)s. Allocate it in Xero.",
                    cn=move.name,
                    inv=origin.name,
                    msg=exc,
                )
                self.env["xero.failure"].sudo()._xero_report(
                    "invoice_export", move.sudo(), message, conn.sudo()
                )
                continue
            move.sudo().message_post(
                body=self.env._("Allocated in Xero to invoice %s.", origin.name),
                message_type="comment",
                subtype_xmlid="mail.mt_note",
            )

    def _xero_write_results(self, conn, key, moves, results):
        """Write the batch's outcome onto our claim only (the caller commits)."""
        now = fields.Datetime.now()
        env = self.env(su=True)
        env.flush_all()
        rows = [
            (move_id, state, xero_id, message, state == "queued", now, key)
            for move_id, (state, xero_id, message) in results.items()
        ]
        execute_values(
            env.cr,
            """
            UPDATE account_move AS m
               SET xero_state = v.state,
                   xero_invoice_id = COALESCE(v.xero_id, m.xero_invoice_id),
                   xero_error = v.message,
                   xero_sent_at = CASE WHEN v.state = 'sent' THEN v.now ELSE m.xero_sent_at END,
                   xero_outcome_unknown = v.unknown
              FROM (VALUES %s) AS v(id, state, xero_id, message, unknown, now, key)
             WHERE m.id = v.id AND m.xero_attempt_key = v.key AND m.xero_state = 'sending'
            """,
            rows,
            template="(%s, %s, %s, %s, %s, %s::timestamp, %s)",
            page_size=1000,
        )
        moves.invalidate_recordset()
        dmoves = env["account.move"].browse(list(results))
        sent = dmoves.filtered(lambda m: results[m.id][0] == "sent")
        failed = dmoves.filtered(lambda m: results[m.id][0] == "failed")
        failures = env["xero.failure"]
        failures._xero_resolve("invoice_export", sent)
        dconn = conn.with_env(env)
        failures._xero_report_sent(sent, {k: v[2] for k, v in results.items()}, dconn)
        failures._xero_report_export({m: results[m.id][2] for m in failed}, dconn)
        bodies = {}
        for move in sent:
            url = XERO_WEB_INVOICE_URL % results[move.id][1]
            bodies[move.id] = self.env._(
                'Sent to Xero (%(org)s): <a href="%(url)s" target="_blank">open in Xero</a>',
                org=html_escape(conn.tenant_name or ""),
                url=html_escape(url),
            )
        for move in failed:
            bodies[move.id] = self.env._(
                "Xero refused this invoice: %s", html_escape(results[move.id][2])
            )
        if bodies:
            dmoves.browse(list(bodies))._message_log_batch(
                bodies={k: Markup(v) for k, v in bodies.items()}
            )
