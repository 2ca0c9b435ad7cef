# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The transaction policy's claims (``transaction.py``), on real cursors (``real.py``): what a
short transaction commits survives the caller's rollback; a pause written by one worker stops
every other, whatever its snapshot; the export's statements and commits do not grow with the
number of invoices; the drift cron commits connection by connection."""

import json
import threading
import time
import urllib.request
from datetime import datetime
from unittest.mock import patch

from casemgr_xero_core.errors import ReconnectRequired

from odoo import sql_db
from odoo.tests import tagged

from ..models.xero_export import MAX_INLINE_WAIT
from .real import API, INVOICES, TOKEN, XeroRealCursorCase


@tagged("post_install", "-at_install")
class TestXeroTransactionsReal(XeroRealCursorCase):
    def _connection_row(self, *fields):
        with self.registry.cursor() as cr:
            cr.execute(
                f"SELECT {', '.join(fields)} FROM xero_connection WHERE id = %s",  # noqa: S608
                [self.connection_id],
            )
            return cr.fetchone()

    def test_needs_reconnect_survives_the_callers_rollback(self):
        with self.registry.cursor() as cr:
            self._xero_expire_token(self._env(cr)["xero.connection"].browse(self.connection_id))
        self.proxy.respond(
            400,
            b'{"error":"invalid_grant"}',
            {"Content-Type": "application/json"},
            method="POST",
            path_prefix=TOKEN,
        )
        cr = self.registry.cursor()
        try:
            conn = self._env(cr)["xero.connection"].browse(self.connection_id)
            with self.assertRaises(ReconnectRequired):
                conn._xero_client().get_organisation()
            cr.rollback()  # the caller's transaction fails, as a cron's does
        finally:
            cr.close()
        state, error = self._connection_row("state", "last_error")
        self.assertEqual(state, "needs_reconnect")
        self.assertTrue(error, "the reason is kept for the user")
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT count(*) FROM xero_failure WHERE connection_id = %s AND kind = 'auth' "
                "AND state = 'open'",
                [self.connection_id],
            )
            self.assertEqual(cr.fetchone()[0], 1, "the dashboard's card survives too")

    def test_day_budget_pause_stops_every_worker_whatever_its_snapshot(self):
        move_ids = self._queue_invoices(60)
        # A second worker whose REPEATABLE READ snapshot predates the pause.
        other = self.registry.cursor()
        try:
            other.execute("SELECT 1")  # its snapshot is taken here
            # After this many calls the proxy reports X-DayLimit-Remaining: 0 (as Xero does).
            self.proxy._day_limit = self.proxy.count() + 3
            self.addCleanup(setattr, self.proxy, "_day_limit", 5000)
            t0 = time.monotonic()
            self._run_export()
            self.assertLess(time.monotonic() - t0, MAX_INLINE_WAIT, "a day's pause is not waited")
            rows = self._rows(move_ids)
            sent = [r for r in rows if r[2] == "sent"]
            self.assertTrue(sent, "work goes on while budget remains")
            self.assertEqual({r[2] for r in rows} - {"sent"}, {"queued"}, "the rest waits")
            (not_before,) = self._connection_row("not_before")
            self.assertGreater(not_before, datetime.utcnow(), "the pause is committed")
            calls = self.proxy.count()
            env = self._env(other)
            conn = env["xero.connection"].browse(self.connection_id)
            cron = env.ref("casemgr_xero.ir_cron_xero_export")
            run = env["xero.export"]._xero_export_connection(conn, 20, cron, time.monotonic() + 30)
            self.assertEqual(run, (0, False))
            self.assertEqual(self.proxy.count(), calls, "no call while the day budget is spent")
            other.commit()
        finally:
            other.close()
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT max(call_at) FROM ir_cron_trigger WHERE cron_id = %s AND id > %s",
                [self.cron_id, self.trigger_floor],
            )
            self.assertGreaterEqual(cr.fetchone()[0], not_before, "the cron wakes at its end")

    def test_export_statements_and_commits_do_not_grow_per_invoice(self):
        # Warm-up: every client bound to its Xero contact, the mappings and the chart read.
        self._queue_invoices(len(self.partner_ids))
        self._run_export()
        self.assertEqual(self.proxy.count("PUT", INVOICES), 1)
        warm = len(self.xero_local.state()["contacts"])
        counts = []
        for count in (5, 50):
            self._queue_invoices(count)
            commits = []
            commit = sql_db.Cursor.commit

            def counting_commit(cr, _commit=commit, _commits=commits):
                _commits.append(1)
                return _commit(cr)

            before = sql_db.sql_counter
            with patch.object(sql_db.Cursor, "commit", counting_commit):
                self._run_export()
            counts.append((sql_db.sql_counter - before, len(commits)))
        self.assertEqual(self.proxy.count("PUT", INVOICES), 3, "one batch each")
        self.assertEqual(
            len(self.xero_local.state()["contacts"]), warm, "no contact made after the warm-up"
        )
        (small_statements, small_commits), (big_statements, big_commits) = counts
        self.assertLessEqual(big_statements, small_statements + 15, counts)
        self.assertEqual(big_commits, small_commits, counts)
        self.assertGreater(small_commits, 1, "the production path commits")

    def test_drift_cron_commits_each_connection_as_it_goes(self):
        """The drift cron commits (and reports progress) per connection: what it found for
        the first organisation is saved while it still waits for the second's answer."""
        move_ids = self._queue_invoices(4)
        conn_b = self._second_organisation(move_ids[2:], "tenant-drift-b")
        self._run_export()
        self.assertEqual({r[2] for r in self._rows(move_ids)}, {"sent"})
        # One invoice of each organisation no longer matches in Xero.
        with self.registry.cursor() as cr:
            env = self._env(cr)
            for move_id in (move_ids[0], move_ids[2]):
                move = env["account.move"].browse(move_id)
                self._change_total_in_xero(move.xero_invoice_id, move.xero_connection_id.tenant_id)
        # Each organisation's read is held 3 s.
        self.proxy.delay(3.0, method="GET", path_prefix=INVOICES, times=2)
        run = threading.Thread(target=self._run_drift)
        run.start()
        try:
            self.assertTrue(self.proxy.wait_for("GET", INVOICES, count=2, timeout=60))
            # The second organisation's read is in flight: the first one's card is saved.
            self.assertEqual(len(self._drift_cards(move_ids)), 1, "the first one is committed")
        finally:
            run.join(60)
        self.assertEqual(len(self._drift_cards(move_ids)), 2)
        with self.registry.cursor() as cr:
            cr.execute("UPDATE xero_connection SET active = false WHERE id = %s", [conn_b])

    def _run_drift(self):
        with self.registry.cursor() as cr:
            self._env(cr)["xero.drift"]._cron_xero_drift()

    def _drift_cards(self, move_ids):
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT res_id FROM xero_failure WHERE kind = 'drift' AND state = 'open' "
                "AND res_model = 'account.move' AND res_id = ANY(%s)",
                [move_ids],
            )
            return [r[0] for r in cr.fetchall()]

    def _change_total_in_xero(self, xero_id, tenant_id):
        """Change an invoice's first line in xero-local (as someone editing it in Xero)."""
        url = f"{self.xero_local.url}{API}/Invoices/{xero_id}"
        headers = {
            "Authorization": "Bearer test",
            "Xero-Tenant-Id": tenant_id,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
            lines = json.load(r)["Invoices"][0]["LineItems"]
        lines[0]["LineAmount"] = 999.0
        body = json.dumps({"Invoices": [{"LineItems": lines}]}).encode()
        req = urllib.request.Request(url, data=body, method="POST", headers=headers)
        urllib.request.urlopen(req, timeout=10).read()
