# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""``xero.webhook.event._xero_receive``: a delivery verified against its app's key and routed by
tenant, without HTTP (the controller only hands over the body and the signature); and the
payments cron's wake-up (``xero.payment.import._xero_enter_delivery``, the run lock)."""

import json
from datetime import timedelta

from casemgr_xero_core.webhooks import parse_events, sign
from psycopg2.errors import LockNotAvailable

from odoo import fields
from odoo.sql_db import db_connect
from odoo.tests import tagged

from ..const import PAYMENTS_RUN_LOCK
from ..models import xero_payment_import
from ..models.xero_payment_import import GATE, RUN, XeroPaymentImport
from .common import XeroPaymentsMixin, XeroTestCommon

TENANT_B = "b2b2b2b2-0000-4000-8000-0000000000bb"
UNKNOWN = "99999999-0000-4000-8000-000000000099"
KEY_B = "app-b-webhook-key-0123456789abcdefghijklmnopqrstuvwxyz"


def _payload(*events):
    return json.dumps({"events": list(events), "firstEventSequence": 1}).encode()


def _event(tenant, resource="11111111-0000-4000-8000-000000000001", when="2030-01-01T00:00:00"):
    return {
        "resourceUrl": f"https://api.xero.com/api.xro/2.0/Invoices/{resource}",
        "resourceId": resource,
        "eventDateUtc": when,
        "eventType": "UPDATE",
        "eventCategory": "INVOICE",
        "tenantId": tenant,
        "tenantType": "ORGANISATION",
    }


@tagged("post_install", "-at_install")
class TestXeroWebhookReceive(XeroPaymentsMixin, XeroTestCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._xero_payments_setup()
        cls.company_b = cls.setup_other_company(name="Company B")["company"]
        # Another Client ID: another Xero app, with its own key and URL.
        cls.connection_b = cls.env["xero.connection"].create(
            {
                **cls._xero_connection_vals(cls.company_b, client_id="OTHER-CLIENT-ID"),
                "payments_enabled": True,
            }
        )
        cls.connection_b.app_id.sudo().webhook_key = KEY_B
        cls.app_a = cls.connection.app_id
        cls.app_b = cls.connection_b.app_id

    def setUp(self):
        super().setUp()
        self._xero_bind(self.connection_b, tenant_id=TENANT_B)
        self._xero_payments_reset()
        self.connection_b.last_payment_poll = self.connection.last_payment_poll
        self.tenant_a = self.connection.tenant_id
        self.env.flush_all()
        # No trigger due: a delivery's own trigger is counted from 0 (a due one would stand in).
        self.env.cr.execute(
            "DELETE FROM ir_cron_trigger WHERE cron_id = %s", [self.payment_cron.id]
        )

    def _receive(self, body, key=None, **target):
        signature = sign(body, key) if key else None
        target = target or {"app_id": self.app_a.id}
        self.env.flush_all()
        receipt = self.env["xero.webhook.event"].sudo()._xero_receive(body, signature, **target)
        self.env.invalidate_all()
        return receipt

    def _stored(self):
        return self.env["xero.webhook.event"].search(
            [("connection_id", "in", (self.connection | self.connection_b).ids)]
        )

    def _due_triggers(self):
        self.env.flush_all()
        return self.env["ir.cron.trigger"].search_count(
            [("cron_id", "=", self.payment_cron.id), ("call_at", "<=", fields.Datetime.now())]
        )

    # ------------------------------------------------------------------ verification
    def test_bad_signature_is_401_and_nothing_stored(self):
        body = _payload(_event(self.tenant_a))
        triggers = self._due_triggers()
        for key in ("wrong-key", KEY_B, None):
            receipt = self._receive(body, key)
            self.assertEqual((receipt.status, receipt.stored), (401, 0), key)
        # the signature is over the raw bytes: the same JSON re-serialised does not verify
        signature = sign(body, self.WEBHOOK_KEY)
        other = json.dumps(json.loads(body), indent=1).encode()
        receipt = self.env["xero.webhook.event"]._xero_receive(
            other, signature, app_id=self.app_a.id
        )
        self.assertEqual(receipt.status, 401)
        # an unknown or inactive app, a connection that imports no payments
        self.assertEqual(self._receive(body, self.WEBHOOK_KEY, app_id=999999).status, 401)
        self.app_b.active = False
        self.assertEqual(self._receive(body, KEY_B, app_id=self.app_b.id).status, 401)
        self.app_b.active = True
        self.connection_b.payments_enabled = False
        self.assertEqual(self._receive(body, KEY_B, connection_id=self.connection_b.id).status, 401)
        self.assertFalse(self._stored())
        self.assertEqual(self._due_triggers(), triggers, "nothing stored, nothing triggered")

    def test_malformed_and_oversized_are_400(self):
        for body in (b"not json", b'{"events": {}}', json.dumps({"events": [{}]}).encode()):
            self.assertEqual(self._receive(body, self.WEBHOOK_KEY).status, 400, body)
        huge = b" " * (1_048_576 + 1)
        self.assertEqual(self._receive(huge, self.WEBHOOK_KEY).status, 400)
        self.assertFalse(self._stored())

    def test_intent_to_receive(self):
        receipt = self._receive(_payload(), self.WEBHOOK_KEY)
        self.assertEqual((receipt.status, receipt.events, receipt.stored), (200, 0, 0))

    # ------------------------------------------------------------------ routing
    def test_unknown_tenant_is_dropped_not_failed(self):
        receipt = self._receive(_payload(_event(UNKNOWN)), self.WEBHOOK_KEY)
        self.assertEqual(
            (receipt.status, receipt.events, receipt.stored, receipt.dropped), (200, 1, 0, 1)
        )
        self.assertFalse(self._stored())

    def test_two_apps_each_routes_its_own_tenants(self):
        ev_a, ev_b = _event(self.tenant_a), _event(TENANT_B)
        # app A's URL: its key only, and only its own connections' tenants
        receipt = self._receive(_payload(ev_a, ev_b), self.WEBHOOK_KEY)
        self.assertEqual((receipt.status, receipt.stored, receipt.dropped), (200, 1, 1))
        self.assertEqual(self._stored().connection_id, self.connection)
        self.assertEqual(self._stored().company_id, self.env.company)
        # app B's URL, app B's key: B's tenant goes to B's connection, in B's company
        self.assertEqual(
            self._receive(_payload(ev_b), self.WEBHOOK_KEY, app_id=self.app_b.id).status, 401
        )
        receipt = self._receive(_payload(ev_a, ev_b), KEY_B, app_id=self.app_b.id)
        self.assertEqual((receipt.status, receipt.stored, receipt.dropped), (200, 1, 1))
        stored_b = self._stored().filtered(lambda e: e.connection_id == self.connection_b)
        self.assertEqual((stored_b.company_id, stored_b.tenant_id), (self.company_b, TENANT_B))
        # a connection's older URL routes among its app's connections, with the app's key
        receipt = self._receive(
            _payload(_event(TENANT_B, when="2030-01-02T00:00:00")),
            KEY_B,
            connection_id=self.connection_b.id,
        )
        self.assertEqual((receipt.status, receipt.stored), (200, 1))
        self.assertEqual(
            self._receive(
                _payload(ev_b), self.WEBHOOK_KEY, connection_id=self.connection_b.id
            ).status,
            401,
        )

    def test_redelivery_stores_once(self):
        body = _payload(_event(self.tenant_a), _event(self.tenant_a, when="2030-01-01T00:00:01"))
        first = self._receive(body, self.WEBHOOK_KEY)
        again = self._receive(body, self.WEBHOOK_KEY)
        self.assertEqual((first.status, first.stored), (200, 2))
        self.assertEqual((again.status, again.events, again.stored), (200, 2, 0))
        self.assertEqual(len(self._stored()), 2)

    # ------------------------------------------------------------------ waking the cron
    def test_a_delivery_triggers_the_cron_only_when_no_run_holds_the_lock(self):
        """A run under way (the run lock held, here on a connection of its own) sees the event
        or triggers itself at its end: the delivery adds no trigger. Without one, it does."""
        before = self._due_triggers()
        with db_connect(self.env.cr.dbname).cursor() as run_cr:
            run_cr.execute("SELECT pg_advisory_xact_lock(%s, %s)", [PAYMENTS_RUN_LOCK, RUN])
            receipt = self._receive(_payload(_event(self.tenant_a)), self.WEBHOOK_KEY)
            self.assertEqual(receipt.stored, 1)
            self.assertEqual(self._due_triggers(), before, "a run is under way")
            run_cr.rollback()
        receipt = self._receive(
            _payload(_event(self.tenant_a, when="2030-01-01T00:00:05")), self.WEBHOOK_KEY
        )
        self.assertEqual(receipt.stored, 1)
        self.assertEqual(self._due_triggers(), before + 1)

    def _seed_trigger(self, call_at, create_date):
        self.env.cr.execute(
            "INSERT INTO ir_cron_trigger (cron_id, call_at, create_date) VALUES (%s, %s, %s)",
            [self.payment_cron.id, call_at, create_date],
        )

    def test_a_due_trigger_stands_in_only_if_it_woke_the_cron_workers(self):
        """With no run under way, a delivery adds no trigger when one is due that no run has
        taken and that was due when created (Odoo then sent the cron workers its NOTIFY): one
        trigger per run, not per delivery (each costs an insert and a connection to
        PostgreSQL's ``postgres``). A delayed trigger (a pause's end) that has fallen due woke
        nobody, nor does one due later: the delivery triggers."""
        now = fields.Datetime.now()
        self._seed_trigger(now - timedelta(seconds=1), now - timedelta(seconds=1))
        for k in range(2):
            receipt = self._receive(
                _payload(_event(self.tenant_a, when=f"2030-01-04T00:00:0{k}")), self.WEBHOOK_KEY
            )
            self.assertEqual(receipt.stored, 1)
            self.assertEqual(self._due_triggers(), 1, f"delivery {k + 1}: the trigger stands in")
        self.env.cr.execute(
            "DELETE FROM ir_cron_trigger WHERE cron_id = %s", [self.payment_cron.id]
        )
        self._seed_trigger(now - timedelta(seconds=1), now - timedelta(seconds=30))  # delayed
        self._seed_trigger(now + timedelta(hours=1), now)  # due later
        self._receive(_payload(_event(self.tenant_a, when="2030-01-04T00:01:00")), self.WEBHOOK_KEY)
        self.assertEqual(self._due_triggers(), 2, "the delivery's own trigger")

    def _run_storing(self, tenant, when):
        """The payments cron, with one event stored while it works (after it began) by a
        delivery that found the run lock held, so triggered nothing."""
        original = XeroPaymentImport._xero_run
        events = parse_events(_payload(_event(tenant, when=when)))
        conn = self.connection
        calls = []

        def run_and_store(service, force_poll):
            result = original(service, force_poll)
            if not calls:
                service.env["xero.webhook.event"]._xero_store_events(
                    conn.id, conn.company_id.id, events
                )
            calls.append(force_poll)
            return result

        self.patch(XeroPaymentImport, "_xero_run", run_and_store)
        self.env["xero.payment.import"]._cron_xero_payments()
        return calls

    def test_a_run_takes_the_events_stored_while_it_works(self):
        before = self._due_triggers()
        calls = self._run_storing(self.tenant_a, "2030-01-03T00:00:00")
        self.assertEqual(len(calls), 2, "one more pass, in the same run")
        self.assertNotEqual(self._stored().state, "new")
        self.assertEqual(self._due_triggers(), before, "no trigger, no second run")

    def test_a_run_past_its_time_triggers_itself_for_an_event_it_did_not_see(self):
        self.patch(xero_payment_import, "RUN_SECONDS", 0)
        before = self._due_triggers()
        calls = self._run_storing(self.tenant_a, "2030-01-03T00:00:00")
        self.assertEqual(len(calls), 1)
        self.assertEqual(self._stored().state, "new")
        self.assertEqual(self._due_triggers(), before + 1)

    def test_a_run_does_not_trigger_itself_for_events_it_saw(self):
        """An event the run saw but left (its organisation paused for Xero's limits) waits
        for the pause's own trigger: no trigger due now, no run after run."""
        self._receive(_payload(_event(self.tenant_a)), self.WEBHOOK_KEY)
        self.env["xero.api"]._xero_pause_until(
            self.connection, fields.Datetime.now() + timedelta(seconds=30)
        )
        before = self._due_triggers()
        self.env["xero.payment.import"]._cron_xero_payments()
        self.assertEqual(self._stored().state, "new")
        self.assertEqual(self._due_triggers(), before)

    def test_a_run_ends_after_the_deliveries_under_way(self):
        """A delivery that found the run lock held holds GATE until its events are committed:
        the run waits for it before its last look for events (here, a delivery under way on a
        connection of its own, and a lock timeout instead of the wait)."""
        with db_connect(self.env.cr.dbname).cursor() as delivery_cr:
            delivery_cr.execute(
                "SELECT pg_advisory_xact_lock_shared(%s, %s)", [PAYMENTS_RUN_LOCK, GATE]
            )
            with self.assertRaises(LockNotAvailable), self.env.cr.savepoint():
                self.env.cr.execute("SET LOCAL lock_timeout = '300ms'")
                self.env["xero.payment.import"]._cron_xero_payments()
            delivery_cr.rollback()
