# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""A (re)spawned prefork cron worker polls at once (``hooks._xero_post_load``).

Odoo's own ``WorkerCron`` sleeps 60 s + pid % 10 before its first poll: after a kill or a
restart, a ready export job waited that long (``bench/run scale`` shows it end to end). Here
the real ``WorkerCron`` class, as the module's ``post_load`` left it, runs its sleep on a real
``LISTEN cron_trigger`` connection, as a freshly forked worker does.
"""

import os
import signal
import sys
import threading

import odoo
from odoo.modules.module import get_manifest
from odoo.service.server import PreforkServer, WorkerCron
from odoo.tests import BaseCase, tagged

from ..hooks import STOPPING

# Far below Odoo's 60 s + pid % 10, far above a thread start on a loaded machine.
PATIENCE = 10


@tagged("post_install", "-at_install")
class TestCronWorkerFirstPoll(BaseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Odoo's loader calls the manifest's post_load right after importing the package, in
        # the prefork master before it forks. pytest-odoo imports the package first (to
        # collect the tests), and the loader then skips post_load for an imported module: run
        # it here as the loader would, from the manifest (idempotent).
        hook = get_manifest("casemgr_xero")["post_load"]
        getattr(sys.modules["odoo.addons.casemgr_xero"], hook)()

    def _worker(self):
        worker = WorkerCron(PreforkServer(odoo.http.root))
        worker.pid = os.getpid()
        worker.dbcursor = odoo.sql_db.db_connect("postgres").cursor()
        worker.dbcursor.execute("LISTEN cron_trigger")
        worker.dbcursor.commit()
        self.addCleanup(worker.close)
        self.addCleanup(worker.dbcursor.close)
        return worker

    def _sleep_in_thread(self, worker):
        thread = threading.Thread(target=worker.sleep, daemon=True)
        thread.start()
        return thread

    def test_first_pass_polls_at_once_then_sleeps_as_odoo(self):
        self.assertTrue(WorkerCron._xero_polls_at_start, "post_load did not run")
        worker = self._worker()
        first = self._sleep_in_thread(worker)
        first.join(PATIENCE)
        self.assertFalse(
            first.is_alive(), "a new cron worker sleeps before its first poll (60 s + pid % 10)"
        )
        # From the second pass on it sleeps as Odoo's does, until woken (here: its wakeup pipe,
        # as the master's signals do; a NOTIFY cron_trigger does the same on the connection).
        second = self._sleep_in_thread(worker)
        second.join(1)
        self.assertTrue(second.is_alive(), "the worker no longer sleeps between polls")
        os.write(worker.wakeup_fd_w, b".")
        second.join(PATIENCE)
        self.assertFalse(second.is_alive())

    def test_each_worker_polls_once_at_start(self):
        """The flag is per worker (per forked process): a respawned one polls at once too."""
        done = []
        for _ in range(2):
            worker = self._worker()
            thread = self._sleep_in_thread(worker)
            thread.join(PATIENCE)
            done.append(not thread.is_alive())
            if thread.is_alive():
                os.write(worker.wakeup_fd_w, b".")
                thread.join(PATIENCE)
        self.assertEqual(done, [True, True])

    def test_graceful_stop_signal_is_seen_by_the_export(self):
        """The master's graceful stop sends SIGINT to each worker: Odoo's handler ends the
        worker after its job; ours also tells the running export (hooks.STOPPING)."""
        worker = self._worker()
        self.addCleanup(STOPPING.clear)
        self.assertFalse(STOPPING.is_set())
        worker.signal_handler(signal.SIGINT, None)
        self.assertFalse(worker.alive, "Odoo's own handler still runs")
        self.assertTrue(STOPPING.is_set())
