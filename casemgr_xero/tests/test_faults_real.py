# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Fault tests with REAL transactions (``real.py``): several cursors, a killed process, row
locks. Each test asserts that Xero holds every invoice exactly once (by InvoiceNumber) and that
every invoice is bound to its Xero InvoiceID.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

from odoo.tests import get_db_name, tagged

from ..models.xero_export import CLAIM_LOCK
from ..transaction import ClaimLiveness
from .real import INVOICES, TOKEN, XeroRealCursorCase, config_file

# A cron worker in a process of its own (killed with SIGKILL by the test).
WORKER_SCRIPT = """
import sys
import odoo
from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
odoo.tools.config.parse_config(["-c", sys.argv[1], "--log-level", "warn"])
registry = Registry(sys.argv[2])
with registry.cursor() as cr:
    api.Environment(cr, SUPERUSER_ID, {})["xero.export"]._cron_xero_export()
print("WORKER DONE", flush=True)
"""


@tagged("post_install", "-at_install")
class TestXeroFaultsReal(XeroRealCursorCase):
    # ------------------------------------------------------------------ tests
    def test_two_real_workers_drain_one_queue_once(self):
        move_ids = self._queue_invoices(120)
        # Each PUT is held 1 s so that both workers are demonstrably in flight together.
        self.proxy.delay(1.0, method="PUT", path_prefix=INVOICES, times=10)
        barrier = threading.Barrier(2)
        claimed = {0: [], 1: []}
        errors = []
        Move = self.registry["xero.export"]
        original_claim = Move._xero_claim_batch
        worker_of = {}

        def spy_claim(model, conn, liveness):
            key, moves = original_claim(model, conn, liveness)
            if moves:
                claimed[worker_of[threading.get_ident()]].append(len(moves))
            return key, moves

        def worker(n):
            worker_of[threading.get_ident()] = n
            try:
                barrier.wait(30)
                with self.registry.cursor() as cr:
                    self._env(cr)["xero.export"]._cron_xero_export(max_batches=1)
                    # A worker takes one batch per run here, then runs again, like a cron
                    # re-triggered by itself: the two interleave on the queue.
                while True:
                    with self.registry.cursor() as cr:
                        cr.execute(
                            "SELECT count(*) FROM account_move WHERE id = ANY(%s) "
                            "AND xero_state = 'queued'",
                            [move_ids],
                        )
                        if not cr.fetchone()[0]:
                            break
                        self._env(cr)["xero.export"]._cron_xero_export(max_batches=1)
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        Move._xero_claim_batch = spy_claim
        try:
            threads = [threading.Thread(target=worker, args=(n,)) for n in (0, 1)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(180)
        finally:
            Move._xero_claim_batch = original_claim
        self.assertFalse(errors, errors)
        self.assertEqual(sum(claimed[0]) + sum(claimed[1]), 120, claimed)
        # SKIP LOCKED: both workers got batches while the other held its claim.
        self.assertTrue(claimed[0] and claimed[1], claimed)
        # One PUT per claimed batch: 3 batches, or 4 when the two workers' last claims met on
        # the last 20 invoices and SKIP LOCKED split them.
        batches = len(claimed[0]) + len(claimed[1])
        self.assertIn(batches, (3, 4), claimed)
        self.assertEqual(self.proxy.count("PUT", INVOICES), batches, claimed)
        self._assert_exactly_once(move_ids)

    def test_worker_killed_mid_batch_is_looked_up_not_resent(self):
        move_ids = self._queue_invoices(60)
        # Xero stores the first batch, then its answer is held back until the worker is dead.
        self.proxy.delay(15, method="PUT", path_prefix=INVOICES, times=1, after_forward=True)
        env_vars = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        proc = subprocess.Popen(
            [sys.executable, "-c", WORKER_SCRIPT, config_file(), get_db_name()],
            env=env_vars,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            # The PUT reached xero-local, which stored it; its answer is held back.
            stored = self.proxy.wait_for("PUT", INVOICES, forwarded=True, timeout=120)
            exited = proc.poll()
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            output = proc.stdout.read().decode(errors="replace")
            proc.stdout.close()
        self.assertTrue(stored, f"the worker's PUT never reached Xero: {output[-3000:]}")
        self.assertIsNone(exited, f"the worker ended before it was killed: {output[-3000:]}")
        self.assertEqual(len(self.xero_local.invoices()), 50, "Xero stored the first batch")
        states = Counter(r[2] for r in self._rows(move_ids))
        self.assertEqual(states, {"sending": 50, "queued": 10}, "claim committed, result lost")
        # The claimant died with its transaction, and its liveness lock with it: the very next
        # run looks the batch up (no 10-minute wait) and binds, never resends.
        puts_before = self.proxy.count("PUT", INVOICES)
        self._run_export()
        self._assert_exactly_once(move_ids)
        self.assertEqual(self.proxy.count("PUT", INVOICES), puts_before + 1, "only the last 10")

    def test_live_claim_is_left_alone_until_its_claimant_ends(self):
        move_ids = self._queue_invoices(20)
        Export = self.registry["xero.export"]
        # A claimant in another connection: claims the batch (committed) and stays alive, its
        # liveness lock held.
        claimant = self.registry.cursor()
        liveness = ClaimLiveness(self._env(claimant), CLAIM_LOCK)
        try:
            key, moves = Export._xero_claim_batch(
                self._env(claimant)["xero.export"],
                self._env(claimant)["xero.connection"].browse(self.connection_id),
                liveness,
            )
            self.assertEqual(len(moves), 20)
            # Even a claim made long ago is not taken while its claimant lives.
            with self.registry.cursor() as cr:
                cr.execute(
                    "UPDATE account_move SET xero_attempt_at = xero_attempt_at - interval '1 day'"
                    " WHERE xero_attempt_key = %s",
                    [key],
                )
            self._run_export()
            self.assertEqual(Counter(r[2] for r in self._rows(move_ids)), {"sending": 20})
            self.assertEqual(self.proxy.count("PUT", INVOICES), 0, "a live claim is not sent")
        finally:
            liveness.close()  # the claimant ends without a result (a crash)
            claimant.close()
        self._run_export()
        self._assert_exactly_once(move_ids)
        lookups = [r for r in self.proxy.requests if r.method == "GET" and r.path == INVOICES]
        self.assertTrue(lookups, "the orphaned batch was looked up before it was sent")

    def test_organisations_export_in_parallel_in_one_cron_run(self):
        move_ids = self._queue_invoices(100)
        conn_b = self._second_organisation(move_ids[50:], "tenant-parallel-b")
        # Each organisation's PUT is held 6 s (longer than the other's contact calls on a busy
        # machine): one after the other they could not overlap.
        self.proxy.delay(6.0, method="PUT", path_prefix=INVOICES, times=2)
        self._run_export()
        puts = [r for r in self.proxy.requests if r.method == "PUT" and r.path == INVOICES]
        self.assertEqual(len(puts), 2)
        self.assertEqual(
            {r.tenant for r in puts}, {self.xero_local.tenant_id(), "tenant-parallel-b"}
        )
        first, second = sorted(puts, key=lambda r: r.started)
        self.assertLess(
            second.started, first.ended, "the two organisations were in flight together"
        )
        self.assertEqual({r[2] for r in self._rows(move_ids)}, {"sent"})
        with self.registry.cursor() as cr:
            env = self._env(cr)
            names = {r[0]: r[1] for r in self._rows(move_ids)}
            for conn_id, ids in ((self.connection_id, move_ids[:50]), (conn_b, move_ids[50:])):
                found = env["xero.connection"].browse(conn_id)._xero_client()
                found = found.find_invoices_by_number([names[i] for i in ids])
                self.assertEqual(len(found), 50)
            cr.execute("UPDATE xero_connection SET active = false WHERE id = %s", [conn_b])

    def test_an_organisation_queued_during_a_run_is_exported_in_that_run(self):
        """Organisation A is exporting; users then queue organisation B's invoices: the same
        cron run starts B's thread (it does not wait for the next run, up to 30 s later)."""
        move_ids = self._queue_invoices(100)
        conn_b = self._second_organisation(move_ids[50:], "tenant-late-b", state="not_sent")
        # A's PUT is held 4 s; B's invoices are queued (committed) while it is in flight.
        self.proxy.delay(4.0, method="PUT", path_prefix=INVOICES, times=1)
        run = threading.Thread(target=self._run_export)
        run.start()
        self.assertTrue(self.proxy.wait_for("PUT", INVOICES, timeout=30))
        with self.registry.cursor() as cr:
            cr.execute(
                "UPDATE account_move SET xero_state = 'queued' WHERE id = ANY(%s)",
                [move_ids[50:]],
            )
        run.join(60)
        self.assertFalse(run.is_alive())
        puts = sorted(
            (r for r in self.proxy.requests if r.method == "PUT" and r.path == INVOICES),
            key=lambda r: r.started,
        )
        self.assertEqual([r.tenant for r in puts], [self.xero_local.tenant_id(), "tenant-late-b"])
        self.assertEqual({r[2] for r in self._rows(move_ids)}, {"sent"}, "all sent in one run")
        with self.registry.cursor() as cr:
            cr.execute("UPDATE xero_connection SET active = false WHERE id = %s", [conn_b])

    def test_a_short_pause_is_waited_out_within_the_run(self):
        move_ids = self._queue_invoices(60)
        self.proxy.respond(
            429,
            b'{"Title": "Too Many Requests"}',
            {"Retry-After": "2", "X-Rate-Limit-Problem": "minute"},
            method="PUT",
            path_prefix=INVOICES,
        )
        t0 = time.monotonic()
        self._run_export()  # one cron run: no wait for a cron poll after Xero's 2 s
        self.assertGreaterEqual(time.monotonic() - t0, 2.0)
        self._assert_exactly_once(move_ids)

    def test_two_concurrent_token_refreshes_post_once(self):
        with self.registry.cursor() as cr:
            self._xero_expire_token(self._env(cr)["xero.connection"].browse(self.connection_id))
        # Hold the token answer so that the second worker surely waits on the row lock.
        self.proxy.delay(1.0, method="POST", path_prefix=TOKEN, times=2)
        barrier = threading.Barrier(2)
        tokens, errors = [None, None], []

        def worker(n):
            try:
                with self.registry.cursor() as cr:
                    conn = self._env(cr)["xero.connection"].browse(self.connection_id)
                    client = conn._xero_client()
                    client.get_token()  # read the (expired) pair, as a worker would
                    barrier.wait(30)
                    tokens[n] = client._current_token()["access_token"]
                    client.find_contacts(names=["nobody"])  # the new token works
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        self.assertFalse(errors, errors)
        self.assertEqual(self.proxy.count("POST", TOKEN), 1, "one refresh for two workers")
        self.assertTrue(tokens[0])
        self.assertEqual(tokens[0], tokens[1])
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT access_token FROM xero_connection WHERE id = %s", [self.connection_id]
            )
            self.assertEqual(cr.fetchone()[0], tokens[0])
