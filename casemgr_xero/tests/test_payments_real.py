# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Payments from Xero on real cursors (``real.py``): webhooks redelivered by parallel requests
on Odoo's multi-process server, and the payments cron racing webhook inserts and an export."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from casemgr_xero_core.webhooks import parse_events, sign
from casemgr_xero_testing.webhook import build_event, build_payload, signed_post

from odoo.tests import tagged

from ..transaction import switch_to_read_committed
from .real import API, XeroRealCursorCase, prefork_server

KEY = "real-webhook-key-0123456789abcdefghijklmnopqrstuvwxyz"


@tagged("post_install", "-at_install")
class TestXeroPaymentsReal(XeroRealCursorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with cls.registry.cursor() as cr:
            env = cls._env(cr)
            conn = env["xero.connection"].browse(cls.connection_id)
            bank = env["account.journal"].search(
                [("company_id", "=", cls.company_id), ("type", "=", "bank")], limit=1
            )
            assert bank, "the test database's main company needs a bank journal"
            env["xero.payment.journal"].create(
                {"connection_id": conn.id, "xero_account": "090", "journal_id": bank.id}
            )
            conn.write({"payments_enabled": True, "webhook_key": KEY})
            cls.app_id = conn.app_id.id
        cls._prefork = None

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:  # the poll is not due unless a test forces it
            cr.execute(
                "UPDATE xero_connection SET last_payment_poll = '2100-01-01' WHERE id = %s",
                [self.connection_id],
            )

    # ------------------------------------------------------------------ helpers
    def _exported_and_paid(self, count):
        """``count`` invoices through the real export, each paid in full in Xero:
        {move id: (Xero InvoiceID, Xero PaymentID)}."""
        move_ids = self._queue_invoices(count)
        self._run_export()
        paid = {}
        with self.registry.cursor() as cr:
            client = self._env(cr)["xero.connection"].browse(self.connection_id)._xero_client()
            for move_id, _name, state, xero_id in self._rows(move_ids):
                self.assertEqual(state, "sent")
                cr.execute("SELECT amount_total FROM account_move WHERE id = %s", [move_id])
                amount = float(cr.fetchone()[0])
                payment = client.create_payment(
                    {
                        "Invoice": {"InvoiceID": xero_id},
                        "Account": {"Code": "090"},
                        "Date": "2019-01-05",
                        "Amount": amount,
                    }
                )
                paid[move_id] = (xero_id, payment["PaymentID"])
        return paid

    def _run_payments(self, force_poll=False):
        with self.registry.cursor() as cr:
            self._env(cr)["xero.payment.import"]._cron_xero_payments(force_poll=force_poll)

    def _payments_of(self, payment_id):
        with self.registry.cursor() as cr:
            cr.execute("SELECT state FROM account_payment WHERE xero_payment_id = %s", [payment_id])
            return [r[0] for r in cr.fetchall()]

    def _event_states(self, xero_ids):
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT state, count(*) FROM xero_webhook_event WHERE connection_id = %s "
                "AND resource_id = ANY(%s) GROUP BY state",
                [self.connection_id, list(xero_ids)],
            )
            return dict(cr.fetchall())

    def _tenant(self):
        return self.xero_local.tenant_id()

    # ------------------------------------------------------------------ tests
    @classmethod
    def _server(cls):
        """Odoo's multi-process server (2 HTTP workers), started once for the class, each
        worker's registry loaded (Xero's intent-to-receive check: an empty signed delivery)."""
        if cls._prefork is None:
            cls._prefork = cls.enterClassContext(prefork_server(workers=2))
            url = f"{cls._prefork.url}/xero/webhook/app/{cls.app_id}"
            empty = build_payload([])
            with ThreadPoolExecutor(8) as pool:
                warm = list(pool.map(lambda _i: signed_post(url, empty, KEY, 120), range(8)))
            assert {status for status, _body in warm} == {200}, warm
        return cls._prefork

    def _webhook_url(self):
        return f"{self._server().url}/xero/webhook/app/{self.app_id}"

    def test_redelivered_webhook_from_parallel_requests_is_one_event_one_payment(self):
        """Xero redelivers an event it had no answer for: the same signed POST reaches two
        HTTP worker processes at once. One event is stored, one payment made."""
        ((_move_id, (xero_id, payment_id)),) = self._exported_and_paid(1).items()
        payload = build_payload([build_event(xero_id, tenant_id=self._tenant())])
        url = self._webhook_url()
        barrier = threading.Barrier(8)

        def deliver(_i):
            barrier.wait(30)
            return signed_post(url, payload, KEY, timeout=60)[0]

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(deliver, range(8)))
        self.assertEqual(statuses, [200] * 8, "every delivery is acknowledged")
        self.assertEqual(self._event_states([xero_id]), {"new": 1}, "one event stored")
        self._run_payments()
        self._run_payments()
        states = self._payments_of(payment_id)
        self.assertEqual(len(states), 1, "one payment")
        self.assertIn(states[0], ("in_process", "paid"))
        self.assertEqual(self._event_states([xero_id]), {"done": 1})

    def test_webhook_stores_its_events_when_a_cron_changed_the_connection_meanwhile(self):
        """A delivery's request began (REPEATABLE READ snapshot) before a cron committed a
        change to the connection row, then stores events pointing at that row: stored, with
        no serialization failure and no replay. (PostgreSQL 15's foreign-key check, a KEY SHARE
        lock, does not fail on a non-key update; a row lock taken in that old snapshot would:
        the request locks nothing there, and goes on READ COMMITTED before it writes.)"""
        ((_move_id, (xero_id, _payment_id)),) = self._exported_and_paid(1).items()
        payload = build_payload([build_event(xero_id, tenant_id=self._tenant())])
        server, url = self._server(), self._webhook_url()
        log_before = len(server.log())
        cron = self.registry.cursor()
        try:
            # The cron's transaction: holds the connection table until it commits, so that the
            # request, once it has read the app's key (its snapshot taken), waits for it.
            cron.execute("LOCK TABLE xero_connection IN ACCESS EXCLUSIVE MODE")
            answer = []
            post = threading.Thread(
                target=lambda: answer.append(signed_post(url, payload, KEY, timeout=60)[0])
            )
            post.start()
            self.assertTrue(self._wait_for_lock_wait("xero_connection"), "the request waits")
            cron.execute(
                "UPDATE xero_connection SET last_payment_poll = '2100-01-02' WHERE id = %s",
                [self.connection_id],
            )
            cron.commit()
        finally:
            cron.close()
        post.join(60)
        self.assertEqual(answer, [200])
        self.assertEqual(self._event_states([xero_id]), {"new": 1})
        self.assertNotIn("could not serialize", server.log()[log_before:], "no replay")

    def _wait_for_lock_wait(self, table, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.registry.cursor() as cr:
                cr.execute(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass",
                    [table],
                )
                if cr.fetchone()[0]:
                    return True
            time.sleep(0.05)
        return False

    def test_payments_cron_races_webhook_inserts_and_an_export(self):
        """While the payments cron polls Xero and commits (it writes the connection row at
        its end), webhook deliveries store events and the export cron sends another queue:
        each delivery is stored at once (nothing the cron holds across its Xero call makes it
        wait), no serialization failure anywhere, one payment per Xero payment, every event
        done, every invoice in Xero once."""
        paid = self._exported_and_paid(3)
        queued = self._queue_invoices(60)
        # The cron's poll is held 4 s: the deliveries and the export run while it is in flight.
        self.proxy.delay(4.0, method="GET", path_prefix=API + "/Payments", times=1)
        errors, took = [], []

        def guarded(fn):
            def run():
                try:
                    fn()
                except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                    errors.append(exc)

            return run

        def deliver(cr, xero_id):
            env = self._env(cr)
            switch_to_read_committed(env)  # as the webhook request does before it writes
            events = parse_events(
                json.dumps(build_payload([build_event(xero_id, tenant_id=self._tenant())])).encode()
            )
            Event = env["xero.webhook.event"]
            Event._xero_store_events(self.connection_id, self.company_id, events)
            cr.commit()

        # A request whose snapshot predates everything the cron will commit.
        early = self.registry.cursor()
        early.execute("SELECT webhook_key FROM xero_app WHERE id = %s", [self.app_id])
        cron = threading.Thread(target=guarded(lambda: self._run_payments(force_poll=True)))
        export = threading.Thread(target=guarded(self._run_export))
        try:
            cron.start()
            self.assertTrue(self.proxy.wait_for("GET", API + "/Payments", timeout=60))
            export.start()
            for xero_id, _payment_id in paid.values():  # while the cron's poll is in flight
                t0 = time.monotonic()
                with self.registry.cursor() as cr:
                    cr.execute("SELECT webhook_key FROM xero_app WHERE id = %s", [self.app_id])
                    deliver(cr, xero_id)
                took.append(time.monotonic() - t0)
            cron.join(120)
            export.join(120)
            deliver(early, next(iter(paid.values()))[0])
        finally:
            early.close()
        self.assertFalse(errors, errors)
        self.assertLess(max(took), 2.0, f"a delivery waited for the cron: {took}")
        self._run_payments()  # the events stored during the first run
        for _xero_id, payment_id in paid.values():
            self.assertEqual(len(self._payments_of(payment_id)), 1, payment_id)
        self.assertEqual(set(self._event_states(x for x, _p in paid.values())), {"done"})
        self.assertEqual({r[2] for r in self._rows(queued)}, {"sent"})
        self._assert_exactly_once(list(paid) + queued)

    def _due_payment_triggers(self):
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT count(*) FROM ir_cron_trigger WHERE call_at <= (now() AT TIME ZONE 'UTC') "
                "AND cron_id = (SELECT res_id FROM ir_model_data WHERE module = 'casemgr_xero' "
                "AND name = 'ir_cron_xero_payments')"
            )
            return cr.fetchone()[0]

    def test_a_trigger_a_starting_run_is_deleting_does_not_stand_in_for_a_delivery(self):
        """A delivery adds no trigger when one is due that no run has taken; but a run that is
        starting has deleted the due triggers in its transaction (Odoo's ``_clear_schedule``,
        committed when the run ends): one of those would be gone without waking a run for the
        delivery's events, so the delivery triggers anew."""
        resources = ["7a7a7a7a-0000-4000-8000-00000000000%d" % k for k in (1, 2)]
        tenant = self._tenant()

        def deliver(resource):
            body = json.dumps(build_payload([build_event(resource, tenant_id=tenant)])).encode()
            with self.registry.cursor() as cr:
                receipt = self._env(cr)["xero.webhook.event"]._xero_receive(
                    body, sign(body, KEY), app_id=self.app_id
                )
            self.assertEqual((receipt.status, receipt.stored), (200, 1))

        cron_of = (
            "cron_id = (SELECT res_id FROM ir_model_data WHERE module = 'casemgr_xero' "
            "AND name = 'ir_cron_xero_payments')"
        )
        try:
            with self.registry.cursor() as cr:
                cr.execute(f"DELETE FROM ir_cron_trigger WHERE {cron_of}")  # noqa: S608
                # A trigger due when created (a delivery's: Odoo sent its NOTIFY).
                cr.execute(
                    "INSERT INTO ir_cron_trigger (cron_id, call_at, create_date) "  # noqa: S608
                    "SELECT res_id, (now() AT TIME ZONE 'UTC') - interval '1 second', "
                    "(now() AT TIME ZONE 'UTC') - interval '1 second' FROM ir_model_data "
                    "WHERE module = 'casemgr_xero' AND name = 'ir_cron_xero_payments'"
                )
            deliver(resources[0])
            self.assertEqual(self._due_payment_triggers(), 1, "the due trigger stands in")
            run = self.registry.cursor()  # the cron's transaction of a run that is starting
            try:
                run.execute(
                    f"DELETE FROM ir_cron_trigger WHERE {cron_of} "  # noqa: S608
                    "AND call_at <= (now() AT TIME ZONE 'UTC')"
                )
                deliver(resources[1])
                run.commit()
            finally:
                run.close()
            self.assertEqual(self._due_payment_triggers(), 1, "the delivery's own trigger")
        finally:
            with self.registry.cursor() as cr:
                cr.execute(
                    "DELETE FROM xero_webhook_event WHERE resource_id = ANY(%s)", [resources]
                )
                cr.execute(f"DELETE FROM ir_cron_trigger WHERE {cron_of}")  # noqa: S608
