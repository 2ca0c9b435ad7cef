# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Payments from Xero on real cursors (``real.py``): webhooks redelivered by parallel requests
on Odoo's multi-process server, and the payments cron racing webhook inserts and an export."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

from casemgr_xero_core.testing.webhook import build_event, build_payload, signed_post
from casemgr_xero_core.webhooks import parse_events

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
            self._env(cr)["xero.webhook.event"]._cron_xero_payments(force_poll=force_poll)

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
    def test_redelivered_webhook_from_parallel_requests_is_one_event_one_payment(self):
        """Xero redelivers an event it had no answer for: the same signed POST reaches two
        HTTP worker processes at once. One event is stored, one payment made."""
        ((_move_id, (xero_id, payment_id)),) = self._exported_and_paid(1).items()
        payload = build_payload([build_event(xero_id, tenant_id=self._tenant())])
        with prefork_server(workers=2) as base_url:
            url = f"{base_url}/xero/webhook/app/{self.app_id}"
            with ThreadPoolExecutor(8) as pool:
                # Each worker loads the registry on its first request: warm them all up with
                # Xero's intent-to-receive check (an empty, signed delivery).
                warm = list(
                    pool.map(lambda _i: signed_post(url, build_payload([]), KEY, 120), range(8))
                )
                self.assertEqual({status for status, _body in warm}, {200})
                barrier = threading.Barrier(8)

                def deliver(_i):
                    barrier.wait(30)
                    return signed_post(url, payload, KEY, timeout=60)[0]

                statuses = list(pool.map(deliver, range(8)))
        self.assertEqual(statuses, [200] * 8, "every delivery is acknowledged")
        self.assertEqual(self._event_states([xero_id]), {"new": 1}, "one event stored")
        self._run_payments()
        self._run_payments()
        states = self._payments_of(payment_id)
        self.assertEqual(len(states), 1, "one payment")
        self.assertIn(states[0], ("in_process", "paid"))
        self.assertEqual(self._event_states([xero_id]), {"done": 1})

    def test_payments_cron_races_webhook_inserts_and_an_export(self):
        """While the payments cron polls Xero and commits (it writes the connection row at
        its end), webhook deliveries store events and the export cron sends another queue:
        no serialization failure anywhere, one payment per Xero payment, every event done,
        every invoice sent once."""
        paid = self._exported_and_paid(3)
        queued = self._queue_invoices(60)
        # The payments cron's reads are held so that the others run while it is in flight.
        self.proxy.delay(1.0, method="GET", path_prefix=API + "/Payments", times=2)
        errors = []
        snapshot_taken = threading.Event()
        cron_done = threading.Event()

        def guarded(fn):
            def run():
                try:
                    fn()
                except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                    errors.append(exc)

            return run

        def payments_cron():
            snapshot_taken.wait(30)
            self._run_payments(force_poll=True)
            cron_done.set()

        def deliveries():
            # A request whose snapshot predates the cron's commit of the connection row (the
            # request reads the app's key first, as the controller does), then stores events.
            for n, (xero_id, _payment_id) in enumerate(paid.values()):
                with self.registry.cursor() as cr:
                    env = self._env(cr)
                    cr.execute("SELECT webhook_key FROM xero_app WHERE id = %s", [self.app_id])
                    if n == 0:
                        snapshot_taken.set()
                        cron_done.wait(60)
                    switch_to_read_committed(env)
                    event = build_event(xero_id, tenant_id=self._tenant())
                    events = parse_events(json.dumps(build_payload([event])).encode())
                    env["xero.webhook.event"]._xero_store_events(
                        self.connection_id, self.company_id, events
                    )

        threads = [
            threading.Thread(target=guarded(payments_cron)),
            threading.Thread(target=guarded(deliveries)),
            threading.Thread(target=guarded(self._run_export)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        self.assertFalse(errors, errors)
        self._run_payments()  # the events stored during the first run
        for _xero_id, payment_id in paid.values():
            self.assertEqual(len(self._payments_of(payment_id)), 1, payment_id)
        self.assertEqual(set(self._event_states(x for x, _p in paid.values())), {"done"})
        self.assertEqual({r[2] for r in self._rows(queued)}, {"sent"})
        self._assert_exactly_once(list(paid) + queued)
