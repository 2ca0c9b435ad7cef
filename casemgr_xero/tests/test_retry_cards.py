# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Every dashboard card can be acted on: Retry runs the real flow again (crons run in a fresh
environment, as ir.cron does); one card per cause; a total mismatch is sent, with a card."""

import json
from decimal import Decimal

from odoo import SUPERUSER_ID, api
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import API, XeroPaymentsMixin, XeroTestCommon

INVOICES = API + "/Invoices"


@tagged("post_install", "-at_install")
class TestXeroRetryCards(XeroPaymentsMixin, XeroTestCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._xero_payments_setup()
        cls.env["xero.tax.mapping"].create(
            {
                "connection_id": cls.connection.id,
                "tax_id": cls.tax_sale_a.id,
                "xero_tax_type": "OUTPUT",
            }
        )
        cls.Failure = cls.env["xero.failure"]

    def setUp(self):
        super().setUp()
        self._xero_payments_reset()

    def _fresh_env(self, context=None):
        self.env.flush_all()
        self.env.invalidate_all()
        return api.Environment(self.env.cr, SUPERUSER_ID, context or {})

    def _run_export(self):
        # As ir.cron runs it: the superuser in the main company (not the test company), with
        # an empty cache; the export reads each invoice in its own company.
        env = self._fresh_env()
        env["xero.export"]._cron_xero_export()
        env.flush_all()
        self.env.invalidate_all()

    def _run_payments(self):
        env = self._fresh_env()
        env["xero.payment.import"]._cron_xero_payments(force_poll=True)
        env.flush_all()
        self.env.invalidate_all()

    def _invoices(self, tax, count, price=100.0, partner=None):
        moves = self.env["account.move"].create(
            [
                self._xero_invoice_vals(
                    partner=partner, tax=tax, name=f"Advice {i}", price_unit=price + i
                )
                for i in range(count)
            ]
        )
        moves.action_post()
        return moves

    def _open(self, kind, record=None):
        domain = [("kind", "=", kind), ("state", "in", ("open", "retrying"))]
        if record is not None:
            domain += [("res_model", "=", record._name), ("res_id", "=", record.id)]
        return self.Failure.search(domain)

    # ------------------------------------------------------------------ payment card
    def test_retry_payment_card_after_mapping_its_bank_account(self):
        self.connection.default_payment_journal_id = False  # no fallback for unmapped accounts
        move = self._export(500.0)
        pid = self._xero_pay(move, move.amount_total, code="091")  # no journal for 091
        self._run_payments()
        card = self._open("payment_import", move)
        self.assertEqual(len(card), 1)
        self.assertIn("091", card.message)
        self.assertFalse(self._payments(move))
        # Retry before the fix: the same card, still open, says why.
        with self.assertRaisesRegex(UserError, "091"):
            card.action_xero_retry()
        self.assertEqual(card.state, "open")
        # Map the account, press Retry: Xero is read again, the payment mirrored, card closed.
        self.env["xero.payment.journal"].create(
            {
                "connection_id": self.connection.id,
                "xero_account": "091",
                "journal_id": self.bank_journal.id,
            }
        )
        result = card.action_xero_retry()
        self.assertEqual(result["params"]["type"], "success")
        self.assertEqual(card.state, "resolved")
        self.assertEqual(self._payments(move).xero_payment_id, pid)
        self.assertIn(move.payment_state, ("paid", "in_payment"))

    # ------------------------------------------------------------------ one card per cause
    def test_one_card_for_an_unmapped_tax_and_retry_sends_them_all(self):
        moves = self._invoices(self.tax_sale_b, 6)
        moves.action_xero_send()
        self._run_export()
        self.assertEqual(set(moves.mapped("xero_state")), {"failed"})
        self.assertEqual(self.proxy.count("PUT", INVOICES), 0)
        card = self._open("mapping")
        self.assertEqual(len(card), 1, "one card for the cause, not one per invoice")
        self.assertEqual((card.res_model, card.res_id), ("account.tax", self.tax_sale_b.id))
        self.assertIn(self.tax_sale_b.name, card.name)
        self.assertEqual(card.move_ids, moves)
        self.assertEqual(card.move_count, 6)
        self.assertEqual(card.attempts, 1, "one run, one attempt (not one per invoice)")
        self.assertFalse(self._open("invoice_export"), "the invoices have no cards of their own")
        # Retry before mapping it: refused, says what to do; nothing queued.
        with self.assertRaisesRegex(UserError, "still has no Xero tax type"):
            card.action_xero_retry()
        self.assertEqual(set(moves.mapped("xero_state")), {"failed"})
        # Map it, press Retry: all six are queued and the cron sends them; the card closes.
        self.env["xero.tax.mapping"].create(
            {
                "connection_id": self.connection.id,
                "tax_id": self.tax_sale_b.id,
                "xero_tax_type": "OUTPUT",
            }
        )
        card.action_xero_retry()
        self.assertEqual(card.state, "retrying")
        self.assertEqual(set(moves.mapped("xero_state")), {"queued"})
        self._run_export()
        self.assertEqual(set(moves.mapped("xero_state")), {"sent"})
        self.assertEqual(card.state, "resolved")
        self.assertEqual(
            sorted(i["InvoiceNumber"] for i in self.xero_local.invoices()),
            sorted(moves.mapped("name")),
        )

    def test_a_later_failure_for_another_reason_leaves_the_cause_card(self):
        moves = self._invoices(self.tax_sale_b, 2)
        moves.action_xero_send()
        self._run_export()
        card = self._open("mapping")
        self.assertEqual(card.move_ids, moves)
        # One of them is now sent by another path (e.g. the tax removed): it leaves the card.
        self.env["xero.tax.mapping"].create(
            {
                "connection_id": self.connection.id,
                "tax_id": self.tax_sale_b.id,
                "xero_tax_type": "OUTPUT",
            }
        )
        moves[0]._xero_queue()
        self._run_export()
        self.assertEqual(card.move_ids, moves[1])
        self.assertEqual(card.state, "open")

    def test_contact_card_lists_its_invoices_and_retry_sends_them(self):
        partner = self.env["res.partner"].create({"name": "Refused Client"})
        moves = self._invoices(self.tax_sale_a, 3, partner=partner)
        refused = {
            "Contacts": [
                {
                    "Name": "Refused Client",
                    "HasValidationErrors": True,
                    "ValidationErrors": [{"Message": "The contact name is not allowed."}],
                }
            ]
        }
        self.proxy.respond(
            200,
            json.dumps(refused),
            {"Content-Type": "application/json"},
            method="POST",
            path_prefix=API + "/Contacts",
        )
        moves.action_xero_send()
        self._run_export()
        self.assertEqual(set(moves.mapped("xero_state")), {"failed"})
        card = self._open("contact", partner)
        self.assertEqual(len(card), 1)
        self.assertEqual(card.move_ids, moves)
        self.assertIn("Refused Client", card.name)
        self.assertFalse(self._open("invoice_export"))
        # Xero takes the contact now: Retry resolves it again, then sends the invoices.
        card.action_xero_retry()
        self._run_export()
        self.assertEqual(set(moves.mapped("xero_state")), {"sent"})
        self.assertEqual(card.state, "resolved")
        self.assertTrue(
            self.env["xero.contact"].search(
                [("partner_id", "=", partner.id), ("connection_id", "=", self.connection.id)]
            )
        )

    # ------------------------------------------------------------------ total mismatch
    def test_total_mismatch_is_sent_with_a_drift_card(self):
        # Xero's OUTPUT is 20% where Odoo's tax is 15%: Xero computes another total.
        self.proxy.tax_rates = {"OUTPUT": 20}
        moves = self._invoices(self.tax_sale_a, 2, price=1000.0)
        moves.action_xero_send()
        self._run_export()
        # Xero's tax rates are read once for the batch, not once per mismatched invoice.
        self.assertEqual(self.proxy.count("GET", API + "/TaxRates"), 1)
        move = moves[0]
        self.assertEqual(moves.mapped("xero_state"), ["sent", "sent"])
        self.assertEqual(move.xero_state, "sent")
        self.assertTrue(move.xero_invoice_id)
        self.assertTrue(move.xero_url)
        self.assertFalse(self._open("invoice_export", move))
        card = self._open("drift", move)
        self.assertEqual(len(card), 1)
        self.assertIn("differs from Odoo's", card.message)
        self.assertIn("50.00", card.message)  # 1,200 in Xero against 1,150 in Odoo
        self.assertIn("OUTPUT", card.message)
        self.assertIn("20", card.message)
        self.assertIn("do not send it again", card.message)
        # Send again refuses: it is in Xero.
        queued, skipped = move._xero_queue()
        self.assertFalse(queued)
        # The drift report lists it.
        action = self.connection.action_xero_drift_report()
        wizard = self.env["xero.drift.wizard"].browse(action["res_id"])
        self.assertEqual(wizard.line_ids.move_id, moves)
        self.assertIn("total", wizard.line_ids.mapped("field"))
        # Retry compares again: still different, the card stays open.
        with self.assertRaisesRegex(UserError, "still differs"):
            card.action_xero_retry()
        self.assertEqual(card.state, "open")

    # ------------------------------------------------------------------ default journal
    def test_default_payment_journal_takes_unmapped_accounts(self):
        self.assertEqual(self.connection.default_payment_journal_id, self.bank_journal)
        move = self._export(300.0)
        pid = self._xero_pay(move, move.amount_total, code="092")  # no mapping of its own
        self._run_payments()
        pay = self._payments(move)
        self.assertEqual((pay.xero_payment_id, pay.journal_id), (pid, self.bank_journal))
        self.assertFalse(self._open("payment_import", move))

    # ------------------------------------------------------------------ foreign currency
    def test_foreign_payment_uses_xero_rate_and_reference_as_memo(self):
        eur = self.setup_other_currency("EUR")  # Odoo: 2 EUR per unit of company currency
        move = self._export(1000.0, currency=eur)
        total = Decimal(str(move.amount_total))
        client = self.connection._xero_client()
        client.create_payment(
            {
                "Invoice": {"InvoiceID": move.xero_invoice_id},
                "Account": {"Code": "090"},
                "Date": "2019-01-05",
                "Amount": float(total),
                "CurrencyRate": 2.5,  # Xero's rate of the payment, not Odoo's 2.0
                "Reference": "Wire 42",
            }
        )
        self._run_payments()
        pay = self._payments(move)
        self.assertEqual(len(pay), 1)
        self.assertEqual(pay.memo, "Wire 42")
        self.assertEqual(pay.currency_id, eur)
        self.assertAlmostEqual(pay.amount, float(total))
        liquidity, _counterpart, _writeoff = pay._seek_for_lines()
        self.assertAlmostEqual(liquidity.amount_currency, float(total))
        self.assertAlmostEqual(liquidity.balance, float(total) / 2.5)
        self.assertIn(move.payment_state, ("paid", "in_payment"))

    # ------------------------------------------------------------------ suggestions
    def test_check_mappings_proposes_from_xero_and_the_person_confirms(self):
        revenue = self.company_data["default_account_revenue"]
        self.proxy.tax_rates = {"OUTPUT": 20, "OUTPUT2": 15, "ZERORATEDOUTPUT": 0}
        self.proxy.accounts = [
            {"Code": "200", "Name": revenue.name, "Type": "REVENUE", "Status": "ACTIVE"},
            {"Code": "090", "Name": "Business Bank", "Type": "BANK", "Status": "ACTIVE"},
        ]
        moves = self._invoices(self.tax_sale_b, 3)
        moves.action_xero_send()
        self._run_export()
        card = self._open("mapping")
        action = self.connection.action_xero_check_mappings()
        self.assertEqual(action["res_model"], "xero.mapping.suggest.wizard")
        wizard = self.env["xero.mapping.suggest.wizard"].browse(action["res_id"])
        tax_line = wizard.line_ids.filtered(lambda line: line.tax_id == self.tax_sale_b)
        self.assertEqual(tax_line.value, "OUTPUT2", "same effective rate as the 15% tax")
        account_line = wizard.line_ids.filtered(lambda line: line.account_id == revenue)
        self.assertEqual(account_line.value, "200")
        self.assertFalse(wizard.line_ids.filtered(lambda line: line.tax_id == self.tax_sale_a))
        # The person keeps the two proposals and unticks the rest, then saves.
        (wizard.line_ids - tax_line - account_line).confirm = False
        wizard.action_xero_confirm()
        tax_map = self.env["xero.tax.mapping"].search(
            [("connection_id", "=", self.connection.id), ("tax_id", "=", self.tax_sale_b.id)]
        )
        self.assertEqual(tax_map.xero_tax_type, "OUTPUT2")
        acc_map = self.env["xero.account.mapping"].search(
            [("connection_id", "=", self.connection.id), ("account_id", "=", revenue.id)]
        )
        self.assertEqual(acc_map.xero_account_code, "200")
        # Retry on the card sends the blocked invoices with Xero's own codes; totals agree.
        card.action_xero_retry()
        self._run_export()
        self.assertEqual(set(moves.mapped("xero_state")), {"sent"})
        self.assertEqual(card.state, "resolved")
        self.assertFalse(self._open("drift"))
        sent = self.xero_local.invoices()
        self.assertEqual({li["AccountCode"] for i in sent for li in i["LineItems"]}, {"200"})
        self.assertEqual({li["TaxType"] for i in sent for li in i["LineItems"]}, {"OUTPUT2"})

    # ------------------------------------------------------------------ auth
    def test_retry_auth_card_reconnects(self):
        card = self.Failure._xero_report("auth", self.connection, "refused", self.connection)
        action = card.action_xero_retry()
        self.assertEqual(action["type"], "ir.actions.act_url")
        self.assertIn("/identity/connect/authorize", action["url"])
