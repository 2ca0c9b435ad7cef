# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The addon's one independent-transaction helper."""

from contextlib import contextmanager


@contextmanager
def short_transaction(registry):
    """A new cursor whose transaction is READ COMMITTED (commits on exit, like ``cursor()``).

    Odoo's cursors are REPEATABLE READ: there, a ``FOR UPDATE`` that waits for another worker's
    commit fails with "could not serialize access due to concurrent update" instead of locking
    the row as it now is. The short transactions that share state between workers (token
    rotation, pacing, batch claims and results) must wait and then see the committed row.
    """
    with registry.cursor() as cr:
        if not registry.in_test_mode():  # a test cursor shares the test's transaction
            cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        yield cr
