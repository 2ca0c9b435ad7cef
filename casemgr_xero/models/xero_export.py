# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The export service: customer invoices → Xero, in batches of 50, exactly once.

TRANSACTION POLICY (the whole addon follows it; it is written here once)

1. A cron works on the cron's own cursor and commits once per batch (``tools.commit_batch``;
   each transaction after a commit runs READ COMMITTED, so that a row another worker changed
   meanwhile is waited for or skipped, never a serialization failure).
   The export cron runs each organisation with work (also one that gets work during the run)
   in a thread of its own (Odoo runs a job on one cron worker at a time: one after the other,
   a slow or rate-limited organisation would hold the others up). Each thread works on its own
   cursor from the registry (``registry.cursor()``), READ COMMITTED from its first statement,
   under the same rules 1-4; the threads share nothing but the run's deadline
   (``RUN_SECONDS``). The cron's own cursor only reads which organisations have work (every
   second until the deadline) and, once every thread has ended, reports progress.
   In a test transaction (registry in test mode) the organisations run one after the other on
   the test's cursor, and a pause is not waited out (the cron is re-triggered at its end).
2. The claim is the first statement after a commit (``queued`` → ``sending`` with an attempt
   key, ``FOR UPDATE SKIP LOCKED``; it also takes back the claims whose claimant has died,
   read in ``pg_locks``) and is committed before any call to Xero; the batch's results are
   written onto rows that still carry that key and committed before the next claim. A batch
   whose outcome is unknown (dropped connection, timeout, crash) is sent again only after a
   lookup by InvoiceNumber in Xero has bound what Xero already has.
3. Progress is reported as ir.cron expects (``compat.cron_progress``); a run that stops
   with work left (or after ``RUN_SECONDS``, or as soon as its prefork worker is asked to stop:
   ``hooks.STOPPING``) re-triggers its cron, due now, and reports no
   ``remaining`` (ir.cron's own re-runs would chain past ``limit_time_real``; see there).
4. No call to Xero while the transaction holds a row or advisory lock. Two exceptions, with
   their reasons where they are taken: the contact lock (``xero.contact._xero_resolve_contacts``)
   and the claim's liveness lock (``tools.ClaimLiveness``): it is held, on a connection of its
   own, for exactly as long as the claimant works on its batch, Xero call included, because
   that is what it proves; nobody ever waits for it (it is only read in ``pg_locks``). The
   payments run lock (``xero.payment.import._cron_xero_payments``) likewise, on a connection
   of its own for the whole run: a webhook delivery only tries it, never waits for it.
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
from datetime import timedelta

from casemgr_xero_core.errors import AuthError, RateLimited, XeroError

from odoo import api, fields, models

from .. import compat
from ..const import CLAIM_LOCK
from ..hooks import STOPPING
from ..tools import ClaimLiveness, commit_batch

_logger = logging.getLogger(__name__)

# A cron run ends after about this long, re-triggering itself when work remains: it stays well
# inside Odoo's limit_time_real (120 s by default; a prefork cron worker past it is killed), and
# a graceful server stop, which waits for running jobs, is not held up for long.
RUN_SECONDS = 30
# A pause up to this long (Xero's minute window) is waited out inside the run: a delayed
# ir.cron.trigger only fires at the cron workers' next poll (every 60 s + pid % 10), which would
# cost up to one more minute per window. A longer pause (day limit) re-triggers at its end.
MAX_INLINE_WAIT = 65
# While organisations export in threads, the run looks this often for one that got work since.
WORK_POLL = 1.0


class XeroExport(models.AbstractModel):
    _name = "xero.export"
    _description = "Xero export service"

    @api.model
    def _xero_set_groups(self, action_ids, group_xmlids):
        """Who sees *Send to Xero* (data file; the groups field's name differs by series)."""
        return compat.set_groups(self.env["ir.actions.server"].browse(action_ids), group_xmlids)

    @api.model
    def _cron_xero_export(self, max_batches=20):
        """Send what is queued, each organisation in a thread of its own (policy, point 1)."""
        cron = self.env.ref("casemgr_xero.ir_cron_xero_export")
        commit_batch(self.env)  # whatever ran before us is committed; a fresh snapshot
        conns = self.env["xero.connection"].search([("state", "=", "connected")])
        if compat.in_test_mode(self.env.registry):
            # One transaction for the whole test: no threads, no waiting (a pause re-triggers).
            done, more = self._xero_export_connections(conns, max_batches, cron, None)
        elif len(conns) > 1:
            # Several organisations: a thread each, started as soon as one has work, also
            # during the run (one that gets work after the run began does not wait for the
            # next run, up to RUN_SECONDS later).
            done, more = self._xero_export_parallel(
                conns, max_batches, time.monotonic() + RUN_SECONDS
            )
        else:
            done, more = self._xero_export_connections(
                conns, max_batches, cron, time.monotonic() + RUN_SECONDS
            )
        # Work left is handed over to a trigger due now (NOTIFY on commit: a new job at once),
        # not reported as ``remaining``: ir.cron would run the job again in this worker, up to
        # 10 times, and the master's limit_time_real watchdog (120 s) is reset only between
        # jobs, so a chain of 30 s runs would get the worker killed mid-batch (seen in
        # ``bench/run scale``: a graceful stop waited out two runs). In a test, as before.
        test = compat.in_test_mode(self.env.registry)
        remaining = self._xero_queued_count() if more and test else 0
        compat.cron_progress(self.env, done, remaining)
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
        """Export each of ``conns`` that has work in a thread with its own cursor (policy,
        point 1). Until the deadline the cron's cursor looks every ``WORK_POLL`` seconds for
        organisations that got work since (users press Send to Xero while a run is going):
        each gets its thread then, once per run.

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

        threads = {}
        while True:
            # READ COMMITTED (commit_batch): each look sees what users queued since.
            self.env.cr.execute(
                "SELECT DISTINCT xero_connection_id FROM account_move "
                "WHERE xero_state IN ('queued', 'sending') AND xero_connection_id = ANY(%s)",
                [conns.ids],
            )
            for conn_id in sorted({r[0] for r in self.env.cr.fetchall()} - threads.keys()):
                thread = threading.Thread(
                    target=export, args=(conn_id,), name=f"xero-export-{conn_id}"
                )
                thread.start()
                threads[conn_id] = thread
            alive = [t for t in threads.values() if t.is_alive()]
            if not alive or time.monotonic() >= deadline or STOPPING.is_set():
                break
            alive[0].join(WORK_POLL)
        for thread in threads.values():
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
                if deadline and (time.monotonic() >= deadline or STOPPING.is_set()):
                    # Time is up, or the server is stopping (hooks.STOPPING): the cron is
                    # re-triggered, due now, and the next run (or server) goes on.
                    return done, True
                wait = self.env["xero.api"]._xero_paused(conn)
                if wait:
                    if not deadline or wait > MAX_INLINE_WAIT:
                        cron._trigger(at=fields.Datetime.now() + timedelta(seconds=wait + 1))
                        return done, False
                    STOPPING.wait(min(wait, max(0.0, deadline - time.monotonic())))
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
