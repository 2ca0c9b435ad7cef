# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Changes made in Xero after the export (issue #21, item 1): a credit note allocated, the
invoice voided, its lines edited -> Xero's signed events through Odoo's HTTP server (or, without
them, the poll) -> one "Changed in Xero" card -> Make draft -> posted by a person -> reconciled,
Odoo's balance equal to Xero's. The proxy plays Xero's part (``xero_changes.py``)."""

import json
from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from .common import API, XeroHttpTestCommon, XeroPaymentsMixin


class XeroChangesHelpers:
    """Xero's part (credit, void, edit) and the card's helpers; no test."""

    # ------------------------------------------------------------------ Xero's part
    def _client(self, conn=None):
        return (conn or self.connection)._xero_client()

    def _xero_invoice(self, move, conn=None):
        return self._client(conn).get_invoice(move.xero_invoice_id)

    def _credit_in_xero(
        self, move, amount, conn=None, number="CN-0042", description="Filing fee waived"
    ):
        """A credit note entered in Xero (one untaxed line on the invoice's disbursement
        account) and allocated to ``move`` for ``amount``."""
        client = self._client(conn)
        xinv = client.get_invoice(move.xero_invoice_id)
        code = next(li["AccountCode"] for li in xinv["LineItems"] if li.get("TaxType") == "NONE")
        note = client.request(
            "PUT",
            "/CreditNotes",
            body={
                "CreditNotes": [
                    {
                        "Type": "ACCRECCREDIT",
                        "Status": "AUTHORISED",
                        "CreditNoteNumber": number,
                        "Contact": xinv["Contact"],
                        "Date": "2019-01-10",
                        "LineAmountTypes": "Exclusive",
                        "LineItems": [
                            {
                                "Description": description,
                                "Quantity": 1,
                                "UnitAmount": amount,
                                "LineAmount": amount,
                                "AccountCode": code,
                                "TaxType": "NONE",
                            }
                        ],
                        "Total": amount,
                    }
                ]
            },
        )["CreditNotes"][0]
        client.allocate_credit_note(
            note["CreditNoteID"], move.xero_invoice_id, amount, "2019-01-10"
        )
        return note["CreditNoteID"]

    def _deliver(self, conn=None):
        """Xero's events for what changed, signed, to the connection's webhook URL."""
        url = self.base_url() + "/xero/webhook/%d" % (conn or self.connection).id
        status = self.proxy.deliver_events(url, self.WEBHOOK_KEY)
        self.env.invalidate_all()
        self.assertEqual(status, 200)

    def _cards(self, move=None):
        domain = [("kind", "=", "xero_change")]
        if move:
            changes = self.env["xero.change"].search([("move_id", "=", move.id)])
            domain += [("res_model", "=", "xero.change"), ("res_id", "in", changes.ids)]
        return self.env["xero.failure"].search(domain)

    def _post_draft(self, card):
        action = card.action_xero_make_draft()
        draft = self.env["account.move"].browse(action["res_id"])
        self.assertEqual(draft.state, "draft", "nothing is posted by itself")
        return draft


class XeroChangesCase(XeroChangesHelpers, XeroPaymentsMixin, XeroHttpTestCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._xero_payments_setup()

    def setUp(self):
        super().setUp()
        self._xero_payments_reset()
        self.env.flush_all()


@tagged("post_install", "-at_install")
class TestXeroChanges(XeroChangesCase):
    def test_credit_in_xero_event_card_draft_posted_reconciled(self):
        move = self._export(1000.0)
        cn_id = self._credit_in_xero(move, 200.0)
        self._deliver()
        self._run()
        card = self._cards(move)
        self.assertEqual(len(card), 1)
        self.assertEqual(card.state, "open")
        self.assertIn("Xero credited %s by" % move.name, card.message)
        self.assertIn("200.00", card.message)
        self.assertIn("CN-0042", card.message)
        self.assertIn("Filing fee waived", card.message)
        draft = self._post_draft(card)
        self.assertEqual(card.state, "resolved")
        self.assertEqual(draft.move_type, "out_refund")
        self.assertAlmostEqual(draft.amount_total, 200.0)
        self.assertEqual(draft.invoice_line_ids.name, "Filing fee waived")
        self.assertFalse(draft.invoice_line_ids.tax_ids)
        self.assertEqual((draft.xero_invoice_id, draft.xero_state), (cn_id, "sent"))
        draft.action_post()
        # never exported back: Xero already has it
        queued, skipped = draft._xero_queue()
        self.assertFalse(queued)
        self.assertTrue(skipped)
        self.assertEqual(move.payment_state, "partial")
        xinv = self._xero_invoice(move)
        self.assertAlmostEqual(move.amount_residual, float(xinv["AmountDue"]))
        self.assertAlmostEqual(move.amount_residual, 800.0)
        # the same events again, and the poll: nothing more
        self._credit_note_events_again(move, cn_id)
        self.connection.last_payment_poll = fields.Datetime.now() - timedelta(days=1)
        self._run(force_poll=True)
        self.assertEqual(len(self._cards(move)), 1)
        self.assertEqual(len(self.env["xero.change"].search([("move_id", "=", move.id)])), 1)
        self.assertEqual(card.action_xero_make_draft()["res_id"], draft.id, "one draft")

    def _credit_note_events_again(self, move, cn_id):
        self.proxy._record(self.connection.tenant_id, "CREDITNOTE", cn_id, "UPDATE")
        self.proxy._record(self.connection.tenant_id, "INVOICE", move.xero_invoice_id, "UPDATE")
        self._deliver()
        self._run()

    def test_void_in_xero_draft_full_reversal(self):
        move = self._export(500.0)
        self._client().request(
            "POST", f"/Invoices/{move.xero_invoice_id}", body={"Invoices": [{"Status": "VOIDED"}]}
        )
        self._deliver()
        self._run()
        card = self._cards(move)
        self.assertEqual(len(card), 1)
        self.assertIn("Xero voided %s" % move.name, card.message)
        draft = self._post_draft(card)
        self.assertEqual(draft.move_type, "out_refund")
        self.assertEqual(draft.reversed_entry_id, move)
        self.assertAlmostEqual(draft.amount_total, move.amount_total)
        draft.action_post()
        self.assertEqual(move.payment_state, "reversed")
        self.assertAlmostEqual(move.amount_residual, 0.0)
        self.assertEqual(self._xero_invoice(move)["Status"], "VOIDED")
        # seen again, by webhook and by the poll: one card, one draft
        self.proxy._record(self.connection.tenant_id, "INVOICE", move.xero_invoice_id, "UPDATE")
        self._deliver()
        self.connection.last_payment_poll = fields.Datetime.now() - timedelta(hours=1)
        self._run(force_poll=True)
        self.assertEqual(len(self._cards(move)), 1)
        self.assertEqual(len(self.env["xero.change"].search([("move_id", "=", move.id)])), 1)
        self.assertEqual(card.action_xero_make_draft()["res_id"], draft.id)

    def test_edit_in_xero_draft_adjustment_line_by_line(self):
        move = self._export(1000.0)
        xinv = self._xero_invoice(move)
        items = json.loads(json.dumps(xinv["LineItems"], default=float))
        fee = next(li for li in items if li.get("TaxType") == "NONE")
        old = float(fee["LineAmount"])
        fee["LineAmount"] = fee["UnitAmount"] = round(old - 150.0, 2)
        self._client().request(
            "POST", f"/Invoices/{move.xero_invoice_id}", body={"Invoices": [{"LineItems": items}]}
        )
        self._deliver()
        self._run()
        card = self._cards(move)
        self.assertEqual(len(card), 1)
        self.assertIn("was edited in Xero", card.message)
        self.assertIn("150.00", card.message)
        draft = self._post_draft(card)
        self.assertEqual(draft.move_type, "out_refund")
        self.assertAlmostEqual(draft.amount_total, 150.0)
        self.assertEqual(len(draft.invoice_line_ids), 2, "the line gone and the line new")
        draft.action_post()
        self.assertAlmostEqual(move.amount_residual, float(self._xero_invoice(move)["AmountDue"]))
        self.assertAlmostEqual(move.amount_residual, 850.0)

    def test_the_poll_does_not_read_again_what_the_export_just_sent(self):
        """Xero stamps UpdatedDateUTC when the export creates an invoice: the next poll must
        not spend a GET of the day's budget on each invoice exported since the last one."""
        moves = self._export(300.0) | self._export(400.0) | self._export(500.0)
        self.assertEqual(set(moves.mapped("xero_state")), {"sent"})
        self.connection.last_payment_poll = fields.Datetime.now() - timedelta(hours=1)
        before = self.proxy.count("GET", API + "/Invoices/")
        self._run(force_poll=True)
        self.assertEqual(self.proxy.count("GET", API + "/Invoices/"), before, "read again")
        self.assertFalse(self._cards())

    def test_without_webhooks_the_poll_finds_it(self):
        move = self._export(400.0)
        move.xero_sent_at = fields.Datetime.now() - timedelta(hours=2)  # exported earlier
        self._credit_in_xero(move, 100.0)
        self.proxy.webhook_events.clear()  # Xero's events never arrive
        self._run()
        self.assertFalse(self._cards(move), "no event, poll not due")
        self.connection.last_payment_poll = fields.Datetime.now() - timedelta(hours=1)
        self._run(force_poll=True)
        card = self._cards(move)
        self.assertEqual(len(card), 1)
        self.assertIn("100.00", card.message)

    def test_ignore_closes_for_good(self):
        move = self._export(400.0)
        cn_id = self._credit_in_xero(move, 100.0)
        self._deliver()
        self._run()
        card = self._cards(move)
        card.action_xero_ignore()
        self._credit_note_events_again(move, cn_id)
        self.connection.last_payment_poll = fields.Datetime.now() - timedelta(hours=1)
        self._run(force_poll=True)
        self.assertEqual(self._cards(move).mapped("state"), ["ignored"])
        self.assertEqual(
            self.env["xero.change"].search([("move_id", "=", move.id)]).state, "ignored"
        )

    def test_credit_note_event_alone_points_at_the_invoice_unmapped_named(self):
        move = self._export(600.0)
        client = self._client()
        xinv = client.get_invoice(move.xero_invoice_id)
        note = client.request(
            "PUT",
            "/CreditNotes",
            body={
                "CreditNotes": [
                    {
                        "Type": "ACCRECCREDIT",
                        "Status": "AUTHORISED",
                        "CreditNoteNumber": "CN-0077",
                        "Contact": xinv["Contact"],
                        "Date": "2019-01-10",
                        "LineItems": [
                            {
                                "Description": "Discount agreed",
                                "Quantity": 1,
                                "UnitAmount": 100.0,
                                "LineAmount": 100.0,
                                "AccountCode": "ZZ-NOT-IN-ODOO",
                                "TaxType": "EXEMPTOUTPUT",
                            }
                        ],
                        "Total": 100.0,
                    }
                ]
            },
        )["CreditNotes"][0]
        client.allocate_credit_note(note["CreditNoteID"], move.xero_invoice_id, 100.0, "2019-01-10")
        self.proxy.webhook_events[:] = [
            e for e in self.proxy.webhook_events if e["eventCategory"] == "CREDITNOTE"
        ]
        self._deliver()
        self._run()
        card = self._cards(move)
        self.assertEqual(len(card), 1)
        self.assertIn("CN-0077", card.message)
        self.assertIn("tax type EXEMPTOUTPUT", card.message)
        self.assertIn("account code ZZ-NOT-IN-ODOO", card.message)
        self.assertEqual(
            set(self._events().mapped("state")), {"done"}, "the credit note's events are closed"
        )
        draft = self._post_draft(card)
        self.assertAlmostEqual(draft.amount_total, 100.0)
        self.assertFalse(draft.invoice_line_ids.tax_ids, "left to the person")


TENANT_B = "b2b2b2b2-0000-4000-8000-0000000000bb"


@tagged("post_install", "-at_install")
class TestXeroChangesTwoCompanies(XeroChangesCase):
    """Two organisations: each company gets its own card and draft."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_data_2 = cls.setup_other_company(name="Company B")
        cls.company_b = cls.company_data_2["company"]
        cls.company_data_2["default_journal_sale"].code = "INVB"
        cls.connection_b = cls.env["xero.connection"].create(
            {**cls._xero_connection_vals(cls.company_b), "payments_enabled": True}
        )
        cls.env["xero.payment.journal"].create(
            {
                "connection_id": cls.connection_b.id,
                "xero_account": "090",
                "journal_id": cls.company_data_2["default_journal_bank"].id,
            }
        )

    def setUp(self):
        super().setUp()
        self._xero_bind(self.connection_b, tenant_id=TENANT_B)
        self.connection_b.last_payment_poll = self.connection.last_payment_poll
        self.env.flush_all()

    def test_two_companies_stay_apart(self):
        move_a = self._export(1000.0)
        move_b = self._export(1000.0, company=self.company_b, conn=self.connection_b)
        self._credit_in_xero(move_b, 300.0, conn=self.connection_b, number="CN-B1")
        app_url = self.connection.app_id.webhook_url.replace(
            self.connection.app_id.get_base_url(), self.base_url()
        )
        self.assertEqual(self.proxy.deliver_events(app_url, self.WEBHOOK_KEY), 200)
        self.env.invalidate_all()
        self._run()
        self.assertFalse(self._cards(move_a))
        card = self._cards(move_b)
        self.assertEqual(len(card), 1)
        self.assertEqual(card.company_id, self.company_b)
        self.assertEqual(card.connection_id, self.connection_b)
        draft = self._post_draft(card)
        self.assertEqual(draft.company_id, self.company_b)
        draft.action_post()
        self.assertAlmostEqual(move_b.amount_residual, 700.0)
        self.assertAlmostEqual(move_a.amount_residual, 1000.0)
        user_a = self.env["res.users"].create(
            {
                "name": "Accountant A",
                "login": "acc_a_changes",
                "company_id": self.env.company.id,
                "company_ids": [fields.Command.set(self.env.company.ids)],
                "group_ids" if "group_ids" in self.env["res.users"]._fields else "groups_id": [
                    fields.Command.set(self.env.ref("account.group_account_invoice").ids)
                ],
            }
        )
        self.assertFalse(self.env["xero.change"].with_user(user_a).search([]))
