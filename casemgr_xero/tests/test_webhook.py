# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""POST /xero/webhook/<id> for real through Odoo's HTTP server, then the payments cron."""

import http.client
import json
import urllib.error
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from casemgr_xero_testing.webhook import build_payload, sign, signed_post

from odoo.tests import tagged

from .common import XeroHttpTestCommon, XeroPaymentsMixin


@tagged("post_install", "-at_install")
class TestXeroWebhook(XeroPaymentsMixin, XeroHttpTestCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._xero_payments_setup()

    def setUp(self):
        super().setUp()
        self._xero_payments_reset()
        self.env.flush_all()

    def _url(self, connection_id=None):
        return self.base_url() + "/xero/webhook/%d" % (connection_id or self.connection.id)

    def _post_raw(self, events, key=None, signature=None, connection_id=None):
        return signed_post(
            self._url(connection_id),
            build_payload(events),
            key or self.WEBHOOK_KEY,
            timeout=30,
            signature=signature,
        )

    def _post(self, events, **kwargs):
        status, body = self._post_raw(events, **kwargs)
        self.env.invalidate_all()
        return status, body

    # ------------------------------------------------------------------ request path
    def test_intent_to_receive(self):
        status, body = self._post([])
        self.assertEqual((status, body), (200, b""))
        # Xero's check also sends a wrongly signed body and expects 401
        status, body = self._post([], key="not-the-key")
        self.assertEqual((status, body), (401, b""))

    def test_bad_signature_is_401_and_nothing_stored(self):
        move = self._export()
        for kwargs in ({"key": "wrong-key"}, {"signature": "AAAA"}, {"signature": ""}):
            status, body = self._post([self._event(move)], **kwargs)
            self.assertEqual((status, body), (401, b""), kwargs)
        # no signature header at all
        status, _body = signed_post(self._url(), build_payload([self._event(move)]), None)
        self.assertEqual(status, 401)
        self.assertFalse(self._events())

    def test_unknown_or_disabled_connection_is_401(self):
        move = self._export()
        status, _b = self._post([self._event(move)], connection_id=999999)
        self.assertEqual(status, 401)
        self.connection.payments_enabled = False
        self.env.flush_all()
        status, _b = self._post([self._event(move)])
        self.assertEqual(status, 401)
        self.connection.payments_enabled = True
        self.connection.sudo().webhook_key = False
        self.env.flush_all()
        status, _b = self._post([self._event(move)])
        self.assertEqual(status, 401)
        self.assertFalse(self._events())

    def test_malformed_and_oversized(self):
        bad = b'{"events": [{"resourceId": 1}'
        status, body = signed_post(self._url(), bad, self.WEBHOOK_KEY)
        self.assertEqual((status, body), (400, b""))
        no_fields = json.dumps({"events": [{"resourceId": "x"}]}).encode()
        status, _b = signed_post(self._url(), no_fields, self.WEBHOOK_KEY)
        self.assertEqual(status, 400)
        # announced as larger than 1 MB: refused before the body is read
        conn = http.client.HTTPConnection(urlsplit(self.base_url()).netloc, timeout=30)
        try:
            conn.putrequest("POST", urlsplit(self._url()).path)
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", str(2 * 1024 * 1024))
            conn.putheader("x-xero-signature", "irrelevant")
            conn.endheaders()
            self.assertEqual(conn.getresponse().status, 400)
        finally:
            conn.close()
        # sent larger than 1 MB: 400, or the connection is closed before all of it is sent
        big = b'{"events": [], "pad": "' + b"x" * (1024 * 1024) + b'"}'
        try:
            status, _b = signed_post(self._url(), big, self.WEBHOOK_KEY, timeout=30)
        except (urllib.error.URLError, ConnectionError):
            status = None  # the server closed the connection before reading it all
        self.assertIn(status, (400, None))
        self.assertFalse(self._events(), "nothing of an oversized delivery is stored")

    def test_foreign_tenant_events_are_not_stored(self):
        move = self._export()
        foreign = self._event(move, tenant_id="11111111-2222-3333-4444-555555555555")
        status, body = self._post([foreign])
        self.assertEqual((status, body), (200, b""))
        self.assertFalse(self._events())
        # mixed delivery: ours stored, foreign dropped
        status, _b = self._post([foreign, self._event(move)])
        self.assertEqual(status, 200)
        self.assertEqual(self._events().tenant_id, self.connection.tenant_id)

    def test_event_stored_and_cron_triggered(self):
        move = self._export()
        self.proxy.reset()
        triggers = self.env["ir.cron.trigger"].search_count(
            [("cron_id", "=", self.payment_cron.id)]
        )
        status, body = self._post([self._event(move)])
        self.assertEqual((status, body), (200, b""))
        ev = self._events()
        self.assertEqual(
            (ev.state, ev.resource_id, ev.event_category, ev.company_id),
            ("new", move.xero_invoice_id, "INVOICE", self.connection.company_id),
        )
        self.assertGreater(
            self.env["ir.cron.trigger"].search_count([("cron_id", "=", self.payment_cron.id)]),
            triggers,
        )
        self.assertEqual(self.proxy.count(), 0, "no Xero call in the request")

    # ------------------------------------------------------------------ end to end
    def test_payment_via_webhook_redelivered_three_times(self):
        move = self._export(1000.0)
        pid = self._xero_pay(move, move.amount_total, date="2019-01-05")
        event = self._event(move)
        for _i in range(3):
            self.assertEqual(self._post([event])[0], 200)
        self.assertEqual(len(self._events()), 1)
        self._run()
        pay = self._payments(move)
        self.assertEqual(len(pay), 1)
        self.assertEqual(pay.xero_payment_id, pid)
        self.assertEqual(str(pay.date), "2019-01-05")
        self.assertAlmostEqual(pay.amount, move.amount_total)
        self.assertIn(pay.state, ("in_process", "paid"))
        self.assertIn(move.payment_state, ("paid", "in_payment"))
        # the same event again, later: still one payment
        self.assertEqual(self._post([event])[0], 200)
        self._run()
        self.assertEqual(len(self._payments(move)), 1)

        self._xero_delete(pid)
        self.assertEqual(self._post([self._event(move)])[0], 200)
        self._run()
        self.assertEqual(pay.state, "canceled")
        self.assertEqual(move.payment_state, "not_paid")

    def test_burst_of_500_events(self):
        moves = [self._export(100.0 + i) for i in range(10)]
        pids = {m.id: self._xero_pay(m, m.amount_total) for m in moves}
        events = [
            self._event(
                moves[i % 10],
                event_date_utc="2030-01-01T00:%02d:%02d.%03d" % (i // 600, (i // 10) % 60, i),
            )
            for i in range(500)
        ]
        # one large delivery (250 events) and 25 small ones in parallel, some redelivered
        bodies = [events[:250]] + [events[250 + 10 * k : 260 + 10 * k] for k in range(25)]
        bodies += bodies[-5:]
        with ThreadPoolExecutor(max_workers=6) as pool:
            results = list(pool.map(self._post_raw, bodies))
        statuses = [r[0] for r in results]
        self.assertEqual(set(statuses), {200})
        self.env.invalidate_all()
        self.assertEqual(len(self._events()), 500)
        self.proxy.reset()
        self._run()
        self.assertEqual(set(self._events().mapped("state")), {"done"})
        for move in moves:
            pay = self._payments(move)
            self.assertEqual(pay.mapped("xero_payment_id"), [pids[move.id]])
            self.assertIn(move.payment_state, ("paid", "in_payment"))
        # 10 invoices: one read of each invoice and of each payment, not one per event
        self.assertLessEqual(self.proxy.count("GET"), 10 * 2 + 2)

    def test_signature_is_over_raw_bytes(self):
        move = self._export()
        raw = json.dumps(build_payload([self._event(move)]), indent=4).encode()
        status, _b = signed_post(self._url(), raw, None, signature=sign(raw, self.WEBHOOK_KEY))
        self.assertEqual(status, 200)
        self.assertEqual(len(self._events()), 1)
