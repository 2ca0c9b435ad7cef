# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Transactions: the cron's commit, the addon's one independent-transaction helper, and the
claim's liveness lock.

The policy they serve is written at the top of ``models/xero_export.py``.
"""

from contextlib import contextmanager

from . import compat


def commit_batch(env):
    """Commit the work done so far (a cron's batch); the next transaction runs READ COMMITTED.

    Odoo's cursors are REPEATABLE READ: there, a ``FOR UPDATE`` (or an UPDATE) on a row another
    worker changed since the snapshot fails with "could not serialize access" instead of waiting
    for it and seeing the row as it now is. A cron that claims, sends and writes results batch
    after batch wants the latter, so each of its transactions starts READ COMMITTED.

    In a test transaction (the registry in test mode) nothing may commit: this only flushes.
    """
    if compat.in_test_mode(env.registry):
        env.flush_all()
    else:
        env.cr.commit()
        env.cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
    env.invalidate_all()


@contextmanager
def short_transaction(registry):
    """A cursor of its own, READ COMMITTED, that commits on exit (like ``cursor()``).

    Only for what must commit whatever the caller's transaction does: token rotation and the
    pacing time every worker shares (``xero.connection._xero_detached``, ``xero.api``).
    """
    with registry.cursor() as cr:
        if not compat.in_test_mode(registry):  # a test cursor shares the test's transaction
            cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        yield cr


class ClaimLiveness:
    """Shows in PostgreSQL that a claimant is alive (``xero.export._xero_claim_batch``).

    ``hold(token)`` takes ``pg_advisory_xact_lock(lock, token)`` in a transaction of its own, on
    a connection of its own, that does nothing else; ``release()`` ends that transaction, and
    every lock it holds goes with it. So does the claimant's death: PostgreSQL ends a killed
    client's backend (SIGKILL, ``limit_time_real``, a restart or crash) and frees its locks.
    Not the claimant's own transaction: it commits the claim before calling Xero, and a
    transaction lock ends with that commit. Not a session lock on it either: Odoo pools
    connections, and one given back after an exception would keep the lock alive.

    In a test transaction (the registry in test mode) the lock is taken on the test's cursor and
    lasts until the test ends.
    """

    def __init__(self, env, lock):
        self.env = env
        self.lock = lock
        self._cr = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def hold(self, token):
        if compat.in_test_mode(self.env.registry):
            cr = self.env.cr
        else:
            if self._cr is None:
                self._cr = self.env.registry.cursor()
            cr = self._cr
        cr.execute("SELECT pg_advisory_xact_lock(%s, %s)", [self.lock, token])

    def release(self):
        if self._cr is not None:
            self._cr.rollback()

    def close(self):
        if self._cr is not None:
            self._cr.close()
            self._cr = None
