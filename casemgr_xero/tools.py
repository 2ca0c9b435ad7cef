# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Transactions: the cron's commit, and the addon's one independent-transaction helper.

The policy they serve is written at the top of ``models/xero_export.py``.
"""

from contextlib import contextmanager


def commit_batch(env):
    """Commit the work done so far (a cron's batch); the next transaction runs READ COMMITTED.

    Odoo's cursors are REPEATABLE READ: there, a ``FOR UPDATE`` (or an UPDATE) on a row another
    worker changed since the snapshot fails with "could not serialize access" instead of waiting
    for it and seeing the row as it now is. A cron that claims, sends and writes results batch
    after batch wants the latter, so each of its transactions starts READ COMMITTED.

    In a test transaction (the registry in test mode) nothing may commit: this only flushes.
    """
    if env.registry.in_test_mode():
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
        if not registry.in_test_mode():  # a test cursor shares the test's transaction
            cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        yield cr
