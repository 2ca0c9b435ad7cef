# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Server-wide hooks (manifest ``post_load``) for Odoo's prefork server.

1. A (re)spawned cron worker polls at once.

Odoo 18's prefork ``WorkerCron`` sleeps (``select()`` on ``LISTEN cron_trigger``, 60 s +
pid % 10) *before* its first poll. After a cron worker is killed (SIGKILL, ``limit_time_real``,
``limit_memory_hard``) or the server is restarted, the job it was running is ready again at
once, but nothing runs it until some worker's timer ends or something sends a ``NOTIFY``: the
export queue stood still for 60-70 s after each kill and each restart (``bench/run scale``).
With this hook a new cron worker polls for ready jobs as soon as it has started, then sleeps
as Odoo's does; the export it takes over looks up the dead claim's batch first (its liveness
lock is gone with the dead backend).

2. A cron worker asked to stop says so (``STOPPING``): a graceful stop (SIGTERM to the master,
   which sends SIGINT to its workers and waits up to ``limit_time_real`` for running jobs) then
   ends the export run after its current batch instead of at the end of its ``RUN_SECONDS`` or
   of a pause for Xero's limits (``bench/run scale``: a graceful stop took 30 s). The run
   re-triggers its cron, due now, as at any end with work left.

``post_load`` runs where the module is imported: in the prefork master when it preloads the
database (``-d`` / ``db_name``) or when the module is server-wide
(``--load=base,web,casemgr_xero``), so before it forks any worker. Imported later, in a worker
only (neither), they change nothing that matters: that worker polls once more, at once, and its
SIGINT handler was bound before. Threaded and test servers are untouched.
"""

import logging
import threading

_logger = logging.getLogger(__name__)

# Set in a prefork worker process when its master asks it to stop (never in other servers).
STOPPING = threading.Event()


def _xero_post_load():
    from odoo.service import server

    worker_cron = server.WorkerCron
    if getattr(worker_cron, "_xero_polls_at_start", False):
        return
    odoo_sleep = worker_cron.sleep

    def sleep(self):
        if not getattr(self, "_xero_polled", False):
            # First pass of this worker's loop: poll now (ready jobs of a dead worker, jobs
            # due while the server was down); from the next pass on, sleep as Odoo does.
            self._xero_polled = True
            return None
        return odoo_sleep(self)

    worker_cron.sleep = sleep
    worker_cron._xero_polls_at_start = True

    worker = server.Worker
    odoo_signal_handler = worker.signal_handler  # SIGINT: the master's graceful stop

    def signal_handler(self, sig, frame):
        STOPPING.set()
        return odoo_signal_handler(self, sig, frame)

    # Worker.start() binds self.signal_handler after the fork: this one.
    worker.signal_handler = signal_handler
    _logger.debug("casemgr_xero: prefork cron workers poll at start and report a stop")
