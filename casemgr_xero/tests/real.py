# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The real-cursor harness: tests whose claim needs real commits, isolation or concurrency.

Unlike the one-transaction tests (``common.XeroOneTransaction``) these do not put the registry
in test mode: every cursor is its own PostgreSQL connection, as cron workers and HTTP workers
have in production, and the addon's commits are real COMMITs. The data a class needs is
therefore committed into the test database (main company, its generic chart of accounts) and
deleted again by SQL in a class cleanup (every row above the ids the class started from), so
that the other (transactional) test classes never see it.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg2

from odoo import SUPERUSER_ID, Command, api
from odoo.modules.registry import Registry
from odoo.sql_db import Cursor
from odoo.tests import BaseCase, get_db_name
from odoo.tools import config

from .common import API, XeroPeerMixin

INVOICES = API + "/Invoices"
TOKEN = "/connect/token"


class XeroRealCursorCase(XeroPeerMixin, BaseCase):
    """Committed data, real cursors; see the module docstring."""

    # What a class commits is deleted again (ids above the floor read at its start; the
    # one-transaction tests never commit, so nothing else is there). In an order that suits
    # the foreign keys; a table whose rows are still referenced waits for the next pass.
    CLEANED = (
        "mail_tracking_value",
        "mail_message",
        "mail_followers",
        "mail_activity",
        "account_partial_reconcile",
        "account_payment_register",
        "account_payment",
        "account_move",
        "account_full_reconcile",
        "xero_webhook_event",
        "xero_failure",
        "xero_contact",
        "xero_payment_journal",
        "xero_tax_mapping",
        "xero_account_mapping",
        "xero_connection",
        "xero_app",
        "res_partner",
        "ir_cron_trigger",
    )

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = Registry(get_db_name())
        cls._xero_start_peer()
        with cls.registry.cursor() as cr:
            assert isinstance(cr, Cursor), "these tests need real cursors (no test mode)"
            cls.floors = {}
            for table in cls.CLEANED:
                cr.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608
                cls.floors[table] = cr.fetchone()[0]
        cls.addClassCleanup(cls._cleanup)
        cls.trigger_floor = cls.floors["ir_cron_trigger"]
        with cls.registry.cursor() as cr:
            env = cls._env(cr)
            cls.cron_id = env.ref("casemgr_xero.ir_cron_xero_export").id
            company = env.ref("base.main_company")
            cls.company_id = company.id
            cls.journal_id = (
                env["account.journal"]
                .search([("type", "=", "sale"), ("company_id", "=", company.id)], limit=1)
                .id
            )
            assert cls.journal_id, "the test database's main company needs a sales journal"
            conn = env["xero.connection"].create(cls._xero_connection_vals(company))
            cls.connection_id = conn.id
            partners = env["res.partner"].create(
                [{"name": f"Real Worker Client {i:02d}"} for i in range(12)]
            )
            cls.partner_ids = partners.ids

    @classmethod
    def _cleanup(cls):
        left, errors = list(cls.CLEANED), {}
        with cls.registry.cursor() as cr:
            for _pass in range(len(left)):
                for table in list(left):
                    try:
                        with cr.savepoint(flush=False):
                            cr.execute(
                                f"DELETE FROM {table} WHERE id > %s",  # noqa: S608
                                [cls.floors[table]],
                            )
                        left.remove(table)
                    except psycopg2.errors.ForeignKeyViolation as exc:
                        errors[table] = str(exc).strip()
                if not left:
                    break
            cr.commit()  # what could go, even when something could not
        assert not left, f"rows still referenced: {[errors[t] for t in left]}"
        cls.registry.clear_cache()

    @staticmethod
    def _env(cr):
        return api.Environment(cr, SUPERUSER_ID, {})

    def setUp(self):
        super().setUp()
        self._xero_reset_peer()
        with self.registry.cursor() as cr:
            conn = self._env(cr)["xero.connection"].browse(self.connection_id)
            self._xero_bind(conn)
            conn.not_before = False  # no pause left by an earlier test

    # ------------------------------------------------------------------ helpers
    def _queue_invoices(self, count):
        """Create, post and queue ``count`` invoices in a committed transaction."""
        with self.registry.cursor() as cr:
            env = self._env(cr)
            moves = env["account.move"].create(
                [
                    {
                        "move_type": "out_invoice",
                        "company_id": self.company_id,
                        "journal_id": self.journal_id,
                        "partner_id": self.partner_ids[i % len(self.partner_ids)],
                        "invoice_date": "2019-01-01",
                        "invoice_line_ids": [
                            Command.create(
                                {
                                    "name": f"Attendance, matter {i}",
                                    "quantity": 1,
                                    "price_unit": 100.0 + i,
                                    "tax_ids": [Command.clear()],
                                }
                            )
                        ],
                    }
                    for i in range(count)
                ]
            )
            moves.action_post()
            queued, skipped = moves._xero_queue()
            self.assertEqual(len(queued), count, skipped)
            return moves.ids

    def _rows(self, move_ids):
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT id, name, xero_state, xero_invoice_id FROM account_move "
                "WHERE id = ANY(%s) ORDER BY id",
                [move_ids],
            )
            return cr.fetchall()

    def _assert_exactly_once(self, move_ids):
        rows = self._rows(move_ids)
        by_number = Counter(inv["InvoiceNumber"] for inv in self.xero_local.invoices())
        dupes = {num: n for num, n in by_number.items() if n > 1}
        self.assertFalse(dupes, "duplicate invoices in Xero")
        ids_in_xero = {inv["InvoiceNumber"]: inv["InvoiceID"] for inv in self.xero_local.invoices()}
        self.assertEqual(set(ids_in_xero), {r[1] for r in rows}, "Xero holds exactly our invoices")
        for _id, name, state, xero_id in rows:
            self.assertEqual(state, "sent", name)
            self.assertEqual(xero_id, ids_in_xero[name], f"{name} bound to its Xero invoice")
        contacts = Counter(c["Name"] for c in self.xero_local.state()["contacts"])
        self.assertFalse({k: v for k, v in contacts.items() if v > 1}, "duplicate contacts")

    def _run_export(self):
        with self.registry.cursor() as cr:
            self._env(cr)["xero.export"]._cron_xero_export()

    def _second_organisation(self, move_ids, tenant_id, state="queued"):
        """A second organisation (company, connection, tenant) that takes ``move_ids``, in
        ``state``. The invoices stay the main company's; the export reads them in its
        connection's company, so the income account gets its code there too (codes are
        company-dependent). Returns the connection's id."""
        with self.registry.cursor() as cr:
            env = self._env(cr)
            company_b = env["res.company"].create({"name": f"Real Worker Org {tenant_id}"})
            self.addCleanup(self._drop_company, company_b.id)
            income = env["account.move"].browse(move_ids[0]).invoice_line_ids.account_id
            income.with_company(company_b).code = income.code
            self.addCleanup(self._drop_code, income.id, company_b.id)
            conn_b = env["xero.connection"].create(self._xero_connection_vals(company_b))
            self._xero_bind(conn_b, tenant_id=tenant_id)
            cr.execute(
                "UPDATE account_move SET xero_connection_id = %s, xero_state = %s "
                "WHERE id = ANY(%s)",
                [conn_b.id, state, move_ids],
            )
            return conn_b.id

    def _drop_code(self, account_id, company_id):
        with self.registry.cursor() as cr:
            cr.execute(
                "UPDATE account_account SET code_store = code_store - %s WHERE id = %s",
                [str(company_id), account_id],
            )

    def _drop_company(self, company_id):
        """Remove the extra company (or, if something now refers to it, archive it)."""
        with self.registry.cursor() as cr:
            cr.execute("DELETE FROM xero_connection WHERE company_id = %s", [company_id])
            try:
                with cr.savepoint():
                    self._env(cr)["res.company"].browse(company_id).unlink()
            except Exception:  # noqa: BLE001 - archived instead; invisible to other tests
                cr.execute("UPDATE res_company SET active = false WHERE id = %s", [company_id])


def config_file():
    """The test run's Odoo configuration file (19.0 deprecates ``config.rcfile``)."""
    return config["config"] or config.rcfile


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PreforkServer:
    url: str  # http://127.0.0.1:<port>
    log_path: str

    def log(self):
        with open(self.log_path) as log:
            return log.read()


@contextmanager
def prefork_server(workers=2):
    """Odoo's multi-process server on the test database (``workers`` HTTP workers, no cron
    worker: the test runs the crons itself), as production runs it; yields a
    ``PreforkServer``. Its log (warnings and errors) goes to a temporary file, quoted when it
    does not start."""
    import odoo  # noqa: PLC0415

    # The prefork master re-executes sys.argv[0] for its gevent process: give it odoo-bin
    # (19.0's odoo is a namespace package: its one __path__ entry is the tree).
    odoo_bin = os.path.join(os.path.dirname(list(odoo.__path__)[0]), "odoo-bin")
    launcher = [odoo_bin] if os.path.exists(odoo_bin) else ["-m", "odoo"]
    http_port, gevent_port = _free_port(), _free_port()
    db = get_db_name()
    paths = [p for p in sys.path if p]
    with tempfile.TemporaryDirectory() as tmp:
        # The prefork master always spawns a gevent process, whose gevent reads its plugins
        # through pkg_resources: absent here, or failing on a distribution it cannot find
        # (zope.interface), it dies and is respawned every second. This shim (first on the
        # server's path) reads them through importlib.metadata.
        with open(os.path.join(tmp, "pkg_resources.py"), "w") as shim:
            shim.write(
                "from importlib.metadata import entry_points\n\n\n"
                "def iter_entry_points(group, name=None):\n"
                "    return [e for e in entry_points(group=group) if name in (None, e.name)]\n"
            )
        paths.insert(0, tmp)
        log_path = os.path.join(tmp, "odoo.log")
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    *launcher,
                    "-c",
                    config_file(),
                    "-d",
                    db,
                    "--db-filter",
                    f"^{db}$",
                    "--http-interface",
                    "127.0.0.1",
                    "--http-port",
                    str(http_port),
                    "--gevent-port",
                    str(gevent_port),
                    "--workers",
                    str(workers),
                    "--max-cron-threads",
                    "0",
                    "--log-level",
                    "warn",
                ],
                env=dict(os.environ, PYTHONPATH=os.pathsep.join(paths)),
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        url = f"http://127.0.0.1:{http_port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    urllib.request.urlopen(url + "/web/webclient/version_info", timeout=2)
                    break
                except urllib.error.HTTPError:
                    break  # it answers
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        with open(log_path) as log:
                            tail = log.read()[-3000:]
                        raise RuntimeError(f"Odoo did not start: {tail}") from None
                    time.sleep(0.5)
            yield PreforkServer(url, log_path)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)
