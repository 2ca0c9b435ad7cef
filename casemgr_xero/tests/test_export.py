# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json
import threading
import time
from datetime import timedelta

from casemgr_xero_testing.openapi import require_spec, validate

from odoo import fields
from odoo.tests import Form, tagged

from ..hooks import STOPPING
from .common import API
from .common_export import INVOICES, XeroExportCommon


@tagged("post_install", "-at_install")
class TestXeroExport(XeroExportCommon):
    # ------------------------------------------------------------------ tests
    def test_send_queues_and_cron_exports_120_in_3_calls(self):
        moves = self._invoices(120)
        moves.action_xero_send()
        self.assertEqual(set(moves.mapped("xero_state")), {"queued"})
        self.assertTrue(
            self.env["ir.cron.trigger"].search([("cron_id", "=", self.cron.id)]),
            "Send to Xero must trigger the export cron",
        )
        self._run_cron()
        self.assertEqual(moves.filtered("xero_error")[:1].mapped("xero_error"), [])
        self.assertEqual(self.proxy.count("PUT", INVOICES), 3)
        self.assertEqual(set(moves.mapped("xero_state")), {"sent"})
        self.assertEqual(len(self._xero_invoices()), 120)
        self._assert_matches_xero(moves)
        # Contacts: one lookup and one batch create for the 10 customers, not one per invoice.
        self.assertLessEqual(self.proxy.count("POST", API + "/Contacts"), 1)
        self.assertEqual(len(self.xero_local.state()["contacts"]), 10)
        message = moves[0].message_ids[:1]
        self.assertIn("Sent to Xero", message.body)

    def test_sent_bodies_follow_xero_openapi_schema(self):
        """Every body we send follows Xero's published contract (skipped without the spec)."""
        require_spec()
        moves = self._invoices(4)  # one in EUR
        moves.action_xero_send()
        self._run_cron()
        self.assertEqual(set(moves.mapped("xero_state")), {"sent"})
        refund = moves[0]._reverse_moves()
        refund.action_post()
        refund.action_xero_send()
        self._run_cron()
        sent = {"Invoices": 0, "CreditNotes": 0}
        for req in self.proxy.requests:
            for kind, schema in (("Invoices", "Invoice"), ("CreditNotes", "CreditNote")):
                if req.method == "PUT" and req.path == f"{API}/{kind}":
                    for body in json.loads(req.body)[kind]:
                        validate(body, schema)
                        sent[kind] += 1
        self.assertEqual(sent["Invoices"], 4)
        self.assertGreaterEqual(sent["CreditNotes"], 1)

    def test_dropped_connection_after_store_never_duplicates(self):
        moves = self._invoices(120)
        moves.action_xero_send()
        self.proxy.drop_after_forward("PUT", INVOICES, times=1)
        self._run_cron()
        # The first batch reached Xero but we never heard back: bound by lookup, not resent.
        self._run_cron()
        self._run_cron()
        self.assertEqual(set(moves.mapped("xero_state")), {"sent"})
        numbers = [inv["InvoiceNumber"] for inv in self._xero_invoices()]
        self.assertEqual(len(numbers), 120)
        self.assertEqual(len(set(numbers)), 120, "no duplicate invoice in Xero")
        self._assert_matches_xero(moves)

    def test_one_invalid_invoice_fails_alone(self):
        moves = self._invoices(50, bad_discount_at=20)
        bad = moves[20]
        moves.action_xero_send()
        self._run_cron()
        good = moves - bad
        self.assertEqual(set(good.mapped("xero_state")), {"sent"})
        self.assertEqual(bad.xero_state, "failed")
        self.assertIn("does not match", bad.xero_error)
        self.assertEqual(len(self._xero_invoices()), 49)
        failure = self.env["xero.failure"].search(
            [("res_model", "=", "account.move"), ("res_id", "=", bad.id)]
        )
        self.assertEqual(failure.state, "open")
        self.assertEqual(failure.kind, "invoice_export")
        self.assertIn("does not match", failure.message)
        self._assert_matches_xero(good)

    def test_429_reschedules_without_failing(self):
        moves = self._invoices(5)
        moves.action_xero_send()
        self.proxy.respond(
            429,
            b'{"Title": "Too Many Requests"}',
            # Longer than a run waits out (MAX_INLINE_WAIT): the cron is re-triggered at its end.
            {"Retry-After": "120", "X-Rate-Limit-Problem": "minute"},
            method="PUT",
            path_prefix=INVOICES,
        )
        before = fields.Datetime.now()
        t0 = time.monotonic()
        self._run_cron()
        self.assertLess(time.monotonic() - t0, 30, "not waited out in the run")
        self.assertEqual(set(moves.mapped("xero_state")), {"queued"})
        self.assertFalse(self.env["xero.failure"].search([("kind", "=", "invoice_export")]))
        self.connection.invalidate_recordset()
        self.assertGreaterEqual(self.connection.not_before, before)
        trigger = self.env["ir.cron.trigger"].search(
            [("cron_id", "=", self.cron.id)], order="call_at desc", limit=1
        )
        self.assertGreater(trigger.call_at, before)
        # While paused, a run sends nothing.
        self._run_cron()
        self.assertEqual(self.proxy.count("PUT", INVOICES), 1)
        # Once the pause is over, the batch goes.
        self.connection.sudo().not_before = False
        self._run_cron()
        self.assertEqual(set(moves.mapped("xero_state")), {"sent"})
        self.assertEqual(len(self._xero_invoices()), 5)

    def test_send_refuses_ineligible_with_reasons(self):
        posted = self._invoices(2)
        draft = self._invoices(1, post=False)
        bill = self.init_invoice(
            "in_invoice", partner=self.partner_a, products=self.product_a, post=True
        )
        action = (posted | draft | bill).action_xero_send()
        message = action["params"]["message"]
        self.assertIn("2 invoice(s) queued", message)
        self.assertIn("not posted", message)
        self.assertIn("not a customer invoice or credit note", message)
        self.assertEqual(set(posted.mapped("xero_state")), {"queued"})
        self.assertEqual(draft.xero_state, "not_sent")
        self.assertEqual(bill.xero_state, "not_sent")
        # Queued twice is still queued once.
        action = posted.action_xero_send()
        self.assertIn("already queued", action["params"]["message"])

    def test_wizard_filters_and_queues(self):
        early = self._invoices(3)
        late = self._invoices(2, invoice_date="2019-03-01")
        late_other = late.filtered(lambda m: m.partner_id == self.customers[1])
        wizard_form = Form(self.env["xero.export.wizard"])
        wizard_form.date_from = fields.Date.from_string("2019-02-01")
        self.assertEqual(wizard_form.move_count, 2)
        self.assertAlmostEqual(wizard_form.amount_total, sum(late.mapped("amount_total_signed")))
        wizard_form.partner_ids.add(self.customers[1])
        self.assertEqual(wizard_form.move_count, 1)
        wizard = wizard_form.save()
        wizard.action_xero_export()
        self.assertEqual(late_other.xero_state, "queued")
        self.assertEqual(set((early | late - late_other).mapped("xero_state")), {"not_sent"})

    def test_wizard_from_list_selection_includes_failed_on_request(self):
        moves = self._invoices(3)
        moves[0].xero_state = "failed"
        ctx = {"active_model": "account.move", "active_ids": moves.ids}
        wizard = Form(self.env["xero.export.wizard"].with_context(**ctx))
        self.assertEqual(wizard.move_count, 2)
        wizard.include_failed = True
        self.assertEqual(wizard.move_count, 3)
        wizard.save().action_xero_export()
        self.assertEqual(set(moves.mapped("xero_state")), {"queued"})

    def test_query_count_does_not_grow_per_invoice(self):
        """In the test's transaction; on the production path, with its commits, in
        ``test_transactions_real.py``."""
        # Warm-up: every customer bound to its Xero contact, the mappings and the chart read,
        # so that both measured runs do the same kind of work.
        warm = self._invoices(len(self.customers))
        warm.action_xero_send()
        self._run_cron()
        self.assertEqual(set(warm.mapped("xero_state")), {"sent"})
        contacts = len(self.xero_local.state()["contacts"])
        small = self._invoices(5)
        big = self._invoices(50)
        small.action_xero_send()
        self.env.flush_all()
        queries_before = self.cr.sql_log_count
        self._run_cron()
        small_queries = self.cr.sql_log_count - queries_before
        big.action_xero_send()
        self.env.flush_all()
        queries_before = self.cr.sql_log_count
        self._run_cron()
        big_queries = self.cr.sql_log_count - queries_before
        self.assertEqual(set((small | big).mapped("xero_state")), {"sent"})
        self.assertEqual(len(self.xero_local.state()["contacts"]), contacts, "caches were warm")
        self.assertLessEqual(big_queries, small_queries + 15, (small_queries, big_queries))

    def test_credit_note_exported_then_allocation_reported_where_peer_cannot(self):
        invoice = self._invoices(1)
        invoice.action_xero_send()
        self._run_cron()
        self.assertEqual(invoice.xero_state, "sent")
        reversal = (
            self.env["account.move.reversal"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create({"journal_id": invoice.journal_id.id, "reason": "Fee reduction"})
        )
        refund = self.env["account.move"].browse(reversal.refund_moves()["res_id"])
        refund.action_post()
        refund.action_xero_send()
        self.assertEqual(refund.xero_state, "queued")
        self._run_cron()
        self.assertEqual(refund.xero_state, "sent")
        notes = self.xero_local.state()["credit_notes"]
        self.assertEqual([n["CreditNoteNumber"] for n in notes], [refund.name])
        self.assertEqual(notes[0]["CreditNoteID"], refund.xero_invoice_id)
        self.assertEqual(notes[0]["Type"], "ACCRECCREDIT")
        self.assertEqual(self.proxy.count("PUT", API + "/CreditNotes"), 2)  # create + allocate
        # xero-local has no allocation endpoint: the person is told, nothing is lost.
        failure = self.env["xero.failure"].search([("res_id", "=", refund.id)])
        self.assertEqual(failure.state, "open")
        self.assertIn("could not be allocated", failure.message)
        self.assertIn(invoice.name, failure.message)

    def test_exhausted_day_budget_pauses_before_xero_says_no(self):
        moves = self._invoices(60)
        moves.action_xero_send()
        # After this many calls the proxy reports X-DayLimit-Remaining: 0 (as Xero does).
        self.addCleanup(setattr, self.proxy, "_day_limit", self.proxy._day_limit)
        self.proxy._day_limit = self.proxy.count() + 3
        self._run_cron()
        sent = moves.filtered(lambda m: m.xero_state == "sent")
        self.assertTrue(sent, "work goes on while budget remains")
        self.assertTrue(moves - sent, "and stops when the day's budget is spent")
        self.connection.invalidate_recordset()
        self.assertGreater(self.connection.not_before, fields.Datetime.now())
        calls = self.proxy.count()
        self._run_cron()
        self.assertEqual(self.proxy.count(), calls, "no call while the day budget is spent")
        self.assertFalse(moves.filtered(lambda m: m.xero_state == "failed"))

    def test_run_ends_when_its_prefork_worker_is_asked_to_stop(self):
        """A graceful stop (hooks.STOPPING) ends a cron run before its next batch and out of a
        pause for Xero's limits, instead of after RUN_SECONDS; the queue is left as it was."""
        moves = self._invoices(60)
        moves.action_xero_send()
        self.env.flush_all()  # as the cron's first commit does
        export = self.env["xero.export"].with_company(self.connection.company_id)
        self.addCleanup(STOPPING.clear)

        STOPPING.set()
        run = export._xero_export_connection(self.connection, 20, self.cron, time.monotonic() + 30)
        self.assertEqual(run, (0, True), "nothing claimed, work left for the next run")
        self.assertEqual(self.proxy.count("PUT", INVOICES), 0)
        self.assertEqual(set(moves.mapped("xero_state")), {"queued"})

        # Paused for Xero's minute limit, waited out inside the run: a stop ends the wait.
        STOPPING.clear()
        self.connection.sudo().not_before = fields.Datetime.now() + timedelta(seconds=60)
        threading.Timer(0.5, STOPPING.set).start()
        t0 = time.monotonic()
        run = export._xero_export_connection(self.connection, 20, self.cron, time.monotonic() + 60)
        self.assertLess(time.monotonic() - t0, 30, "the run waited out the pause")
        self.assertEqual(run, (0, True))
        self.assertEqual(self.proxy.count("PUT", INVOICES), 0)

        STOPPING.clear()
        self.connection.sudo().not_before = False
        run = export._xero_export_connection(self.connection, 20, self.cron, time.monotonic() + 30)
        self.assertEqual(run, (60, False))
        self.assertEqual(set(moves.mapped("xero_state")), {"sent"})

    def test_server_errors_and_read_timeouts_never_duplicate(self):
        moves = self._invoices(100)
        moves.action_xero_send()
        # 1st batch: 503 (nothing stored); 2nd batch: Xero stores it, the answer never comes
        # within the read timeout; then 500 and 502 on the retries.
        self.connection.request_timeout = 1
        self.proxy.respond(503, b"Service Unavailable", method="PUT", path_prefix=INVOICES)
        self._run_cron()
        self.assertEqual(len(self._xero_invoices()), 0)
        self.assertFalse(moves.filtered(lambda m: m.xero_state == "failed"))
        self.proxy.delay(2.5, method="PUT", path_prefix=INVOICES, after_forward=True)
        self._run_cron()
        self.proxy.respond(500, b"oops", method="PUT", path_prefix=INVOICES)
        self.proxy.respond(502, b"Bad Gateway", method="PUT", path_prefix=INVOICES)
        for _i in range(4):
            self._run_cron()
        self.assertEqual(set(moves.mapped("xero_state")), {"sent"})
        numbers = [inv["InvoiceNumber"] for inv in self._xero_invoices()]
        self.assertEqual(sorted(numbers), sorted(moves.mapped("name")), "each exactly once")
        self.assertFalse(self.env["xero.failure"].search([("kind", "=", "invoice_export")]))
