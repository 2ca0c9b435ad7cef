# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The addon's transaction policy, and the helpers that carry it out.

POLICY

1. When we commit. A cron works on the cursor ir.cron gives it and commits once per batch
   (``commit_batch``): the claim before any call to Xero, a batch's results before the next
   claim, each invoice of the payments cron once reconciled, each connection of the drift cron
   once checked. Progress is reported where we commit anyway (``compat.cron_progress``). The
   export cron runs each organisation with work in a thread of its own (Odoo runs a job on one
   cron worker at a time), each on its own cursor from the registry, under the same rules.
   While its threads work, the export run looks for organisations that got work in short
   read transactions of their own. Buttons only queue work and ``_trigger()`` the crons; a
   webhook request stores its events and answers. Nothing else commits, except what must
   survive the caller's rollback: ``short_transaction`` (token rotation, ``needs_reconnect``,
   the pacing time every worker shares).
2. Which isolation. Odoo's cursors are REPEATABLE READ: there a ``FOR UPDATE``, ``FOR NO KEY
   UPDATE`` or an UPDATE on a row another worker changed since the snapshot fails ("could not
   serialize access") instead of waiting and seeing the row as it now is. Every transaction
   that follows one of our commits runs READ COMMITTED (``commit_batch``,
   ``switch_to_read_committed``), and so does every ``short_transaction``; a flag written in a
   short transaction is invisible to the caller's older snapshot, so it is passed along, never
   re-read.
3. Which locks. The claim takes its rows ``FOR UPDATE SKIP LOCKED`` (never waits); shared
   state on the connection row is locked ``FOR NO KEY UPDATE`` (a caller may hold the key-share
   lock of a foreign key to it); crons write the connection row itself only after their last
   call to Xero. No call to Xero while a row or advisory lock is held, with three exceptions:

   - the contact lock (``xero.contact._xero_resolve_contacts``): two workers must never create
     the same contact, so one at a time looks up, creates and commits the bindings;
   - the token refresh's row lock (``xero.oauth._xero_refresh``): the refresh token may be
     used once, so the row stays locked across Xero's token call, in a short transaction of
     its own that commits the new pair before anyone else reads it;
   - the claim's liveness lock (``ClaimLiveness``): held, on a connection of its own, exactly
     as long as the claimant works on its batch, Xero's calls included, because that is what
     it shows; nobody ever waits for it (it is only read in ``pg_locks``);
   - the payments run lock (``const.PAYMENTS_RUN_LOCK``, ``xero.payment.import``): held on a
     connection of its own for the whole payments run; a webhook delivery only tries it (to
     know whether a run will see its events), never waits for it.
4. Company-dependent data (account codes, taxes, partner properties, journals) is read
   ``with_company`` the record's company: a cron runs as OdooBot in the main company.

These helpers behave the same everywhere; tests that need real commits or concurrency run on
real cursors (``tests/real.py``).
"""

from contextlib import contextmanager

from odoo import sql_db

# The next transaction's isolation, as the first statement after a commit.
READ_COMMITTED = "SET TRANSACTION ISOLATION LEVEL READ COMMITTED"


def switch_to_read_committed(env):
    """Commit what ``env``'s transaction did so far and go on in a READ COMMITTED one."""
    env.cr.commit()
    env.cr.execute(READ_COMMITTED)


def commit_batch(env):
    """Commit a cron's batch; the next batch runs READ COMMITTED, with an empty cache."""
    switch_to_read_committed(env)
    env.invalidate_all()


@contextmanager
def short_transaction(registry):
    """A cursor of its own, READ COMMITTED, that commits on exit (like ``cursor()``).

    Only for what must commit whatever the caller's transaction does: token rotation (and
    ``needs_reconnect``) and the pacing time every worker shares (``xero.connection.
    _xero_detached``, ``xero.api``).
    """
    with registry.cursor() as cr:
        cr.execute(READ_COMMITTED)
        yield cr


class ClaimLiveness:
    """Shows in PostgreSQL that a claimant is alive (``xero.export._xero_claim_batch``).

    ``hold(token)`` takes ``pg_advisory_xact_lock(lock, token)`` in a transaction of its own, on
    a connection of its own that does nothing else; ``release()`` ends that transaction, and
    every lock it holds goes with it. So does the claimant's death: PostgreSQL ends a killed
    client's backend (SIGKILL, ``limit_time_real``, a restart or crash) and frees its locks.
    Not the claimant's own transaction: it commits the claim before calling Xero, and a
    transaction lock ends with that commit. Not a session lock on it either: Odoo pools
    connections, and one given back after an exception would keep the lock alive. The
    connection comes from the database's pool (``sql_db.db_connect``), not from
    ``registry.cursor()``, which a test may have bound to its own transaction: this lock must
    never share the claimant's transaction.
    """

    def __init__(self, env, lock):
        self.dbname = env.cr.dbname
        self.lock = lock
        self._cr = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def hold(self, token):
        if self._cr is None:
            self._cr = sql_db.db_connect(self.dbname).cursor()
        self._cr.execute("SELECT pg_advisory_xact_lock(%s, %s)", [self.lock, token])

    def release(self):
        if self._cr is not None:
            self._cr.rollback()

    def close(self):
        if self._cr is not None:
            self._cr.close()
            self._cr = None
