# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The export service: customer invoices → Xero, in batches of 50, exactly once.

It follows the transaction policy (``transaction.py``). What is its own:

- The run exports each organisation with work (also one that gets work during the run) in a
  thread of its own, each on its own cursor from the registry, READ COMMITTED from its first
  statement; the threads share nothing but the run's deadline (``RUN_SECONDS``). Meanwhile the
  run looks which organisations have work (every ``WORK_POLL`` seconds until the deadline,
  each look a short read transaction of its own; the cron's cursor stays idle) and, once every
  thread has ended, reports progress on the cron's cursor. One organisation runs on the
  cron's own cursor.
- The claim is the first statement after a commit (``queued`` → ``sending`` with an attempt
  key, ``FOR UPDATE SKIP LOCKED``; it also takes back the claims whose claimant has died, read
  in ``pg_locks``) and is committed before any call to Xero; the batch's results are written
  onto rows that still carry that key and committed before the next claim. A batch whose
  outcome is unknown (dropped connection, timeout, crash) is sent again only after a lookup by
  InvoiceNumber in Xero has bound what Xero already has.
- A pause up to ``MAX_INLINE_WAIT`` is waited out inside the run; a run that stops with work
  left (after ``RUN_SECONDS``, a longer pause, or as soon as its prefork worker is asked to
  stop: ``hooks.STOPPING``) re-triggers its cron and reports no ``remaining`` (ir.cron's own
  re-runs would chain past ``limit_time_real``; see there).
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
from ..transaction import ClaimLiveness, commit_batch

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
        """Send what is queued, each organisation in a thread of its own (module docstring)."""
        cron = self.env.ref("casemgr_xero.ir_cron_xero_export")
        commit_batch(self.env)  # whatever ran before us is committed; a fresh snapshot
        conns = self.env["xero.connection"].search([("state", "=", "connected")])
        if len(conns) > 1:
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
        # ``bench/run scale``: a graceful stop waited out two runs).
        compat.cron_progress(self.env, done, 0)
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
        """Export each of ``conns`` that has work in a thread with its own cursor. Until the
        deadline the run looks every ``WORK_POLL`` seconds for organisations that got
        work since (users press Send to Xero while a run is going): each gets its thread then,
        once per run.

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
            for conn_id in sorted(self._xero_connections_with_work(conns) - threads.keys()):
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

    def _xero_connections_with_work(self, conns):
        """Ids of ``conns`` with invoices queued or being sent, read in a transaction of its
        own: it sees what users queued since the last look, and the cron's cursor stays idle
        while the organisations' threads work on theirs."""
        with self.env.registry.cursor() as cr:
            cr.execute(
                "SELECT DISTINCT xero_connection_id FROM account_move "
                "WHERE xero_state IN ('queued', 'sending') AND xero_connection_id = ANY(%s)",
                [conns.ids],
            )
            return {r[0] for r in cr.fetchall()}

    def _xero_export_connection(self, conn, max_batches, cron, deadline):
        """Send up to ``max_batches`` batches for ``conn`` until ``deadline``
        (``time.monotonic()``).

        A pause of at most ``MAX_INLINE_WAIT`` is waited out here, until the deadline; a longer
        one re-triggers the cron at the pause's end and returns.
        Returns (moves handled, True when work remains now)."""
        done, batches = 0, 0
        with ClaimLiveness(self.env, CLAIM_LOCK) as liveness:
            while batches < max_batches:
                if time.monotonic() >= deadline or STOPPING.is_set():
                    # Time is up, or the server is stopping (hooks.STOPPING): the cron is
                    # re-triggered, due now, and the next run (or server) goes on.
                    return done, True
                wait = self.env["xero.api"]._xero_paused(conn)
                if wait:
                    if wait > MAX_INLINE_WAIT:
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
                    if retry <= MAX_INLINE_WAIT:
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
