# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Server-wide hook (manifest ``post_load``): a (re)spawned prefork cron worker polls at once.

Odoo 18's prefork ``WorkerCron`` sleeps (``select()`` on ``LISTEN cron_trigger``, 60 s +
pid % 10) *before* its first poll. After a cron worker is killed (SIGKILL, ``limit_time_real``,
``limit_memory_hard``) or the server is restarted, the job it was running is ready again at
once, but nothing runs it until some worker's timer ends or something sends a ``NOTIFY``: the
export queue stood still for 60-70 s after each kill and each restart (``bench/run scale``).
With this hook a new cron worker polls for ready jobs as soon as it has started, then sleeps
as Odoo's does; the export it takes over looks up the dead claim's batch first (its liveness
lock is gone with the dead backend).

``post_load`` runs where the module is imported: in the prefork master when it preloads the
database (``-d`` / ``db_name``) or when the module is server-wide (``--load=base,web,casemgr_xero``),
so before it forks any worker. Imported later, in a worker only, it changes nothing that matters
(that worker polls once more, at once). Threaded and test servers are untouched.
"""

import logging

_logger = logging.getLogger(__name__)


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
    _logger.debug("casemgr_xero: prefork cron workers poll at start")
