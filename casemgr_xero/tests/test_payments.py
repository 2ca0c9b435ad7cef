# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Payments from Xero: the reconcile, the payments cron (events, poll, retries), failures."""

import json
from datetime import timedelta

from casemgr_xero_core.webhooks import parse_events
from psycopg2 import IntegrityError

from odoo import fields
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import XeroPaymentsMixin, XeroTestCommon


@tagged("post_install", "-at_install")
class TestXeroPayments(XeroPaymentsMixin, XeroTestCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._xero_payments_setup()

    def setUp(self):
        super().setUp()
        self._xero_payments_reset()

    def _store(self, *events):
        parsed = parse_events(json.dumps({"events": list(events)}).encode())
        Event = self.env["xero.webhook.event"]
        n = Event._xero_store_events(self.connection.id, self.connection.company_id.id, parsed)
        self.env.invalidate_all()
        return n

    # ------------------------------------------------------------------ create / delete
    def test_create_then_delete(self):
        move = self._export(1000.0)
        total = move.amount_total
        pid = self._xero_pay(move, total, date="2019-01-05")
        self._store(self._event(move))
        self._run()
        pay = self._payments(move)
        self.assertEqual(len(pay), 1)
        self.assertEqual(pay.xero_payment_id, pid)
        self.assertIn(pay.state, ("in_process", "paid"))
        self.assertAlmostEqual(pay.amount, total)
        self.assertEqual(str(pay.date), "2019-01-05")
        self.assertEqual(pay.journal_id, self.bank_journal)
        self.assertIn(move.payment_state, ("paid", "in_payment"))
        self.assertTrue(pay.is_reconciled)
        self.assertEqual(self._events().state, "done")
        self.assertTrue(
            any(pid in (m.body or "") for m in move.message_ids),
            "a chatter note names the Xero payment",
        )

        self._xero_delete(pid)
        self._store(self._event(move, event_date_utc="2030-01-01T00:00:00.000"))
        self._run()
        self.assertEqual(pay.state, "canceled")
        self.assertEqual(move.payment_state, "not_paid")
        self.assertEqual(self._payments(move), pay, "cancelled, never deleted")

    def test_running_twice_changes_nothing(self):
        move = self._export(500.0)
        self._xero_pay(move, 200.0)
        self._store(self._event(move))
        self._run()
        snapshot = (self._payments(move).ids, len(move.message_ids), move.amount_residual)
        self.assertEqual(move.payment_state, "partial")
        for _i in range(2):
            self._store(self._event(move, event_date_utc=f"2030-01-0{_i + 1}T00:00:00.000"))
            self._run(force_poll=True)
        self.assertEqual(
            (self._payments(move).ids, len(move.message_ids), move.amount_residual), snapshot
        )

    def test_redelivered_event_is_stored_once(self):
        move = self._export()
        ev = self._event(move)
        self.assertEqual(self._store(ev), 1)
        self.assertEqual(self._store(ev), 0)
        self.assertEqual(self._store(ev, ev), 0)
        self.assertEqual(len(self._events()), 1)

    def test_delete_before_create_seen(self):
        move = self._export(300.0)
        pid = self._xero_pay(move, 100.0)
        self._xero_delete(pid)
        # the delete's event first, then the create's: order does not matter
        self._store(self._event(move, event_date_utc="2030-01-02T00:00:00.000"))
        self._store(self._event(move, event_date_utc="2030-01-01T00:00:00.000"))
        self._run()
        self.assertFalse(self._payments(move))
        self.assertEqual(move.payment_state, "not_paid")
        self.assertEqual(set(self._events().mapped("state")), {"done"})

    def test_modified_payment_is_delete_plus_create(self):
        move = self._export(300.0)
        old = self._xero_pay(move, 100.0)
        self._store(self._event(move))
        self._run()
        # "editing" a payment in Xero deletes it and creates another
        self._xero_delete(old)
        new = self._xero_pay(move, 150.0, date="2019-01-07")
        self._store(self._event(move, event_date_utc="2030-01-01T00:00:00.000"))
        self._run()
        pays = self._payments(move)
        self.assertEqual(
            sorted((p.xero_payment_id, p.state == "canceled", p.amount) for p in pays),
            sorted([(old, True, 100.0), (new, False, 150.0)]),
        )
        self.assertAlmostEqual(move.amount_residual, move.amount_total - 150.0)

    def test_event_for_unknown_invoice_is_ignored(self):
        self._store(self._event("00000000-1111-2222-3333-444444444444"))
        self._store(self._event(self._export(), category="CONTACT"))
        self.proxy.reset()
        self._run()
        self.assertEqual(set(self._events().mapped("state")), {"ignored"})
        self.assertEqual(self.proxy.count("GET"), 0, "no Xero call for invoices we never sent")

    # ------------------------------------------------------------------ poll
    def test_poll_alone_mirrors_create_and_delete(self):
        move = self._export(400.0)
        pid = self._xero_pay(move, 400.0)
        self.connection.last_payment_poll = fields.Datetime.now() - timedelta(hours=1)
        self._run(force_poll=True)
        pay = self._payments(move)
        self.assertEqual(pay.xero_payment_id, pid)
        self.assertIn(move.payment_state, ("paid", "in_payment"))
        self.assertFalse(self._events())
        self.assertTrue(self.connection.last_payment_poll)

        # xero-local does not bump UpdatedDateUTC on delete: the poll still sees it because
        # the payment is live in Odoo and DELETED in Xero.
        self._xero_delete(pid)
        self._run(force_poll=True)
        self.assertEqual(pay.state, "canceled")
        self.assertEqual(move.payment_state, "not_paid")

    def test_poll_respects_interval(self):
        move = self._export(400.0)
        self._xero_pay(move, 10.0)
        self.connection.write(
            {"payment_poll_interval": 10, "last_payment_poll": fields.Datetime.now()}
        )
        self._run()
        self.assertFalse(self._payments(move), "poll not due yet, no event")
        self.connection.last_payment_poll = fields.Datetime.now() - timedelta(minutes=11)
        self._run()
        self.assertEqual(len(self._payments(move)), 1)

    # ------------------------------------------------------------------ failures
    def test_unmapped_account_fails_then_succeeds_once_mapped(self):
        self.connection.default_payment_journal_id = False  # no fallback for unmapped accounts
        move = self._export(250.0)
        pid = self._xero_pay(move, 250.0, code="091")
        self._store(self._event(move))
        self._run()
        self.assertFalse(self._payments(move))
        self.assertEqual(self._events().state, "failed")
        failure = self.env["xero.failure"].search(
            [
                ("kind", "=", "payment_import"),
                ("res_model", "=", "account.move"),
                ("res_id", "=", move.id),
            ]
        )
        self.assertEqual(failure.state, "open")
        self.assertIn("091", failure.message)
        self.assertIn(move.name, failure.message)
        self.assertIn("Xero account", failure.message)

        self._run()  # still unmapped: same failure, bumped
        self.assertEqual(failure.attempts, 2)

        self.env["xero.payment.journal"].create(
            {
                "connection_id": self.connection.id,
                "xero_account": "091",
                "journal_id": self.company_data["default_journal_cash"].id,
            }
        )
        self._run()
        pay = self._payments(move)
        self.assertEqual(pay.xero_payment_id, pid)
        self.assertEqual(pay.journal_id, self.company_data["default_journal_cash"])
        self.assertEqual(failure.state, "resolved")
        self.assertEqual(self._events().state, "done")

    def test_amount_above_residual_fails(self):
        move = self._export(100.0)
        self._xero_pay(move, move.amount_total + 50.0)
        self._store(self._event(move))
        self._run()
        self.assertFalse(self._payments(move))
        failure = self.env["xero.failure"].search(
            [
                ("kind", "=", "payment_import"),
                ("res_id", "=", move.id),
                ("res_model", "=", "account.move"),
            ]
        )
        self.assertIn("Amount Due", failure.message)

    def test_locked_period_fails(self):
        move = self._export(100.0)
        self._xero_pay(move, 10.0, date="2019-01-05")
        move.company_id.fiscalyear_lock_date = "2019-01-31"
        self._store(self._event(move))
        self._run()
        self.assertFalse(self._payments(move))
        failure = self.env["xero.failure"].search(
            [
                ("kind", "=", "payment_import"),
                ("res_id", "=", move.id),
                ("res_model", "=", "account.move"),
            ]
        )
        self.assertIn("locked", failure.message)

    def test_currency_specific_mapping_wins(self):
        usd_journal = self.env["account.journal"].create(
            {"name": "Bank USD", "code": "BUSD", "type": "bank"}
        )
        self.env["xero.payment.journal"].create(
            {
                "connection_id": self.connection.id,
                "xero_account": "090",
                "currency_id": self.env.company.currency_id.id,
                "journal_id": usd_journal.id,
            }
        )
        move = self._export(100.0)
        self._xero_pay(move, 10.0)
        self._store(self._event(move))
        self._run()
        self.assertEqual(self._payments(move).journal_id, usd_journal)

    def test_unique_xero_payment_id_per_company(self):
        move = self._export(100.0)
        self._xero_pay(move, 10.0)
        self._store(self._event(move))
        self._run()
        pay = self._payments(move)
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"):
            with self.env.cr.savepoint():
                copy = pay.copy()
                copy.xero_payment_id = pay.xero_payment_id
                copy.flush_recordset()

    def test_credit_note_made_in_xero_is_a_card_not_ignored(self):
        move = self._export(400.0)
        client = self.connection._xero_client()
        # A credit note applied to our invoice that Xero lists without being able to give it
        # (xero-local keeps what it is told): still a card, its lines left to the person.
        client.request(
            "POST",
            f"/Invoices/{move.xero_invoice_id}",
            body={
                "Invoices": [
                    {
                        "CreditNotes": [
                            {
                                "CreditNoteID": "cn-made-in-xero",
                                "CreditNoteNumber": "CN-0042",
                                "Total": 50.0,
                            }
                        ],
                        "AmountCredited": 50.0,
                    }
                ]
            },
        )
        self._store(self._event(move))
        self._run()
        change = self.env["xero.change"].search([("move_id", "=", move.id)])
        failure = self.env["xero.failure"].search(
            [("res_model", "=", "xero.change"), ("res_id", "=", change.id)]
        )
        self.assertEqual(failure.state, "open")
        self.assertEqual(failure.kind, "xero_change")
        self.assertIn("CN-0042", failure.message)
        self.assertIn("did not give the credit note's lines", failure.message)
        # The person records it and presses Ignore: the next check does not reopen it.
        failure.action_xero_ignore()
        self._store(self._event(move, event_date_utc="2030-01-03T00:00:00.000"))
        self._run()
        self.assertEqual(self._events().mapped("state"), ["done", "done"])
        self.assertEqual(failure.state, "ignored")
        self.assertFalse(
            self.env["xero.failure"].search(
                [("kind", "=", "xero_change"), ("state", "in", ("open", "retrying"))]
            )
        )

    def test_first_poll_ever_reads_every_payment(self):
        move = self._export(250.0)
        pid = self._xero_pay(move, 250.0)
        self.connection.last_payment_poll = False  # a connection that never polled
        self._run(force_poll=True)
        self.assertEqual(self._payments(move).xero_payment_id, pid)
        self.assertTrue(self.connection.last_payment_poll)

    def test_cleanup_purges_old_processed_events_only(self):
        move = self._export(100.0)
        self._store(
            self._event(move, event_date_utc="2030-01-01T00:00:00.000"),
            self._event(move, event_date_utc="2030-01-02T00:00:00.000"),
            self._event(move, event_date_utc="2030-01-03T00:00:00.000"),
        )
        done, failed, fresh = self._events().sorted("event_date")
        done.state, failed.state = "done", "failed"
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE xero_webhook_event SET write_date = now() at time zone 'UTC' - "
            "interval '31 days' WHERE id IN %s",
            [(done.id, failed.id)],
        )
        self.env.invalidate_all()
        self.env["xero.failure"]._cron_xero_failure_cleanup()
        self.assertEqual(self._events(), failed | fresh, "processed and old: gone; others kept")
