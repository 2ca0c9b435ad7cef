# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The dashboard's health line (models/xero_health.py): its figures against counts the test
makes itself, its companies, and its cost (queries) at two sizes."""

import json
import time as _time
import uuid
from datetime import datetime, timedelta, timezone

import pytz
from casemgr_xero_core.webhooks import WebhookEvent

from odoo import Command, fields
from odoo.tests import new_test_user, tagged

from .common import XeroTestCommon

TENANT_B = "b2b2b2b2-0000-4000-8000-0000000000bb"
OPEN = ("open", "retrying")


@tagged("post_install", "-at_install")
class TestXeroHealth(XeroTestCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._xero_map_tax()  # tax_sale_b stays unmapped: an invoice using it fails
        cls.company_a = cls.env.company
        cls.company_data_2 = cls.setup_other_company(name="Health Company B")
        cls.company_b = cls.company_data_2["company"]
        cls.company_data_2["default_journal_sale"].code = "HLTB"
        cls.connection_b = cls.env["xero.connection"].create(
            cls._xero_connection_vals(cls.company_b)
        )
        cls.both = cls.company_a | cls.company_b
        cls.customer = cls.env["res.partner"].create({"name": "Health Client"})
        cls.user_a = new_test_user(
            cls.env,
            login="xero_health_user_a",
            groups="base.group_user,account.group_account_invoice",
            company_id=cls.company_a.id,
            company_ids=[Command.set(cls.company_a.ids)],
            tz="Pacific/Auckland",
        )
        cls.Health = cls.env["xero.health"]

    def setUp(self):
        super().setUp()
        self._xero_bind(self.connection_b, tenant_id=TENANT_B)
        self.env = self.env(context=dict(self.env.context, allowed_company_ids=self.both.ids))

    # ------------------------------------------------------------------ helpers
    def _invoices(self, count, company_data=None, tax=None):
        company_data = company_data or self.company_data
        tax = (
            tax
            if tax is not None
            else (
                self.tax_sale_a
                if company_data is self.company_data
                else company_data["default_tax_sale"]
            )
        )
        moves = (
            self.env["account.move"]
            .with_company(company_data["company"])
            .create(
                [
                    {
                        "move_type": "out_invoice",
                        "partner_id": self.customer.id,
                        "invoice_date": "2019-01-01",
                        "journal_id": company_data["default_journal_sale"].id,
                        "invoice_line_ids": [
                            Command.create(
                                {
                                    "name": f"Fees {i}",
                                    "quantity": 1,
                                    "price_unit": 100.0 + i,
                                    "account_id": company_data["default_account_revenue"].id,
                                    "tax_ids": [Command.set(tax.ids)],
                                }
                            )
                        ],
                    }
                    for i in range(count)
                ]
            )
        )
        moves.action_post()
        return moves

    def _export(self, moves):
        moves.action_xero_send()
        self.env["xero.export"].sudo()._cron_xero_export()
        self.env.invalidate_all()

    def _store_event(self, conn, resource_id, received_at):
        """A webhook event as the controller stores it, received at ``received_at``."""
        events = [
            WebhookEvent(
                resource_id=resource_id,
                event_type="UPDATE",
                event_category="INVOICE",
                tenant_id=conn.tenant_id,
                event_date_utc=received_at.isoformat(),
            )
        ]
        Event = self.env["xero.webhook.event"].sudo()
        self.assertEqual(Event._xero_store_events(conn.id, conn.company_id.id, events), 1)
        self.env.cr.execute(
            "UPDATE xero_webhook_event SET create_date = %s WHERE connection_id = %s "
            "AND resource_id = %s",
            [received_at, conn.id, resource_id],
        )

    def _lines(self, env=None):
        self.env.flush_all()
        self.env.invalidate_all()
        lines = (env or self.env)["xero.health"]._xero_health_lines()
        return {line.company_id: line for line in lines}

    def _today_start_utc(self, tz_name):
        """Midnight of today in ``tz_name``, as a naive UTC datetime (computed here, not by
        the addon)."""
        tz = pytz.timezone(tz_name)
        local_midnight = datetime.now(tz).replace(hour=0, minute=0, second=0, microsecond=0)
        local_midnight = tz.localize(local_midnight.replace(tzinfo=None))
        return local_midnight.astimezone(pytz.utc).replace(tzinfo=None)

    # ------------------------------------------------------------------ figures
    def test_figures_equal_independent_counts(self):
        Move = self.env["account.move"]
        # Company A: 4 sent through the real export, one of them before today (user's time).
        sent = self._invoices(4)
        self._export(sent)
        self.assertEqual(set(sent.mapped("xero_state")), {"sent"})
        midnight = self._today_start_utc("Pacific/Auckland")
        sent[0].xero_sent_at = midnight - timedelta(minutes=1)
        sent[1].xero_sent_at = midnight + timedelta(seconds=1)
        # One refused (an unmapped tax): a card for the tax; an ignored card is not counted.
        refused = self._invoices(1, tax=self.tax_sale_b)
        self._export(refused)
        self.assertEqual(refused.xero_state, "failed")
        # 3 queued (nobody ran the cron since), 2 claimed by a worker still at work (sending).
        queued = self._invoices(5)
        queued.action_xero_send()
        queued[:2].write({"xero_state": "sending", "xero_attempt_key": str(uuid.uuid4())})
        ignored = self.env["xero.failure"]._xero_report(
            "contact", self.customer, "refused", self.connection
        )
        ignored.action_xero_ignore()
        # A rate limit paused the connection 10 minutes from now.
        paused_until = fields.Datetime.now().replace(microsecond=0) + timedelta(minutes=10)
        self.env["xero.api"]._xero_pause_until(self.connection, paused_until)
        # Payments on: a poll at a known time, two webhooks received, the later one wins.
        polled = datetime(2026, 12, 5, 9, 30)
        self.connection.sudo().write({"payments_enabled": True, "last_payment_poll": polled})
        self._store_event(self.connection, sent[2].xero_invoice_id, datetime(2026, 12, 5, 9, 0))
        self._store_event(self.connection, sent[3].xero_invoice_id, datetime(2026, 12, 5, 9, 45))
        expires = _time.time() + 900
        self.connection.sudo().token_expires_at = expires
        # Company B: 1 queued, 1 open card, no webhook, Xero refused its grant.
        queued_b = self._invoices(1, company_data=self.company_data_2)
        queued_b.action_xero_send()
        self.env["xero.failure"]._xero_report(
            "contact", self.customer, "refused in B", self.connection_b
        )
        self._store_event(self.connection, sent[0].xero_invoice_id, datetime(2026, 12, 4, 8, 0))
        self.connection_b.sudo().state = "needs_reconnect"

        lines = self._lines(self.env(context={**self.env.context, "tz": "Pacific/Auckland"}))
        self.assertEqual(set(lines), set(self.both.ids))
        a, b = lines[self.company_a.id], lines[self.company_b.id]
        # What the test did, in plain numbers ...
        self.assertEqual((a.queued, a.sending, a.sent_today, a.open_failures), (3, 2, 3, 1))
        self.assertEqual((b.queued, b.sending, b.sent_today, b.open_failures), (1, 0, 0, 1))
        # ... and the same counted by the test from the records.
        for line, conn in ((a, self.connection), (b, self.connection_b)):
            mine = [("xero_connection_id", "=", conn.id)]
            self.assertEqual(line.queued, Move.search_count(mine + [("xero_state", "=", "queued")]))
            self.assertEqual(
                line.sending, Move.search_count(mine + [("xero_state", "=", "sending")])
            )
            self.assertEqual(
                line.sent_today,
                len(
                    Move.search(mine + [("xero_state", "=", "sent")]).filtered(
                        lambda m: m.xero_sent_at >= midnight
                    )
                ),
            )
            self.assertEqual(
                line.open_failures,
                self.env["xero.failure"].search_count(
                    [("company_id", "=", conn.company_id.id), ("state", "in", OPEN)]
                ),
            )
        self.assertEqual(a.paused_until, paused_until)
        self.assertIsNone(b.paused_until)
        self.assertEqual((a.payments_enabled, a.last_payment_poll), (True, polled))
        self.assertFalse(b.payments_enabled)
        self.assertEqual(a.last_webhook, datetime(2026, 12, 5, 9, 45))
        self.assertIsNone(b.last_webhook)
        self.assertEqual(
            a.token_expires_at,
            datetime.fromtimestamp(expires, timezone.utc).replace(tzinfo=None),
        )
        self.assertFalse(a.reconnect_needed)
        self.assertTrue(b.reconnect_needed)

    def test_pause_over_is_not_shown(self):
        self.env["xero.api"]._xero_pause_until(
            self.connection, fields.Datetime.now() - timedelta(seconds=5)
        )
        self.assertIsNone(self._lines()[self.company_a.id].paused_until)

    def test_sent_today_follows_the_users_time_zone(self):
        sent = self._invoices(1)
        self._export(sent)
        # Sent 30 minutes before midnight, Auckland time: yesterday there, today in UTC-10.
        sent.xero_sent_at = self._today_start_utc("Pacific/Auckland") - timedelta(minutes=30)
        auckland = self._lines(self.env(context={**self.env.context, "tz": "Pacific/Auckland"}))
        self.assertEqual(auckland[self.company_a.id].sent_today, 0)
        honolulu_midnight = self._today_start_utc("Pacific/Honolulu")
        expected = 1 if sent.xero_sent_at >= honolulu_midnight else 0
        honolulu = self._lines(self.env(context={**self.env.context, "tz": "Pacific/Honolulu"}))
        self.assertEqual(honolulu[self.company_a.id].sent_today, expected)

    # ------------------------------------------------------------------ companies
    def test_one_line_per_company_the_user_may_see(self):
        self.assertEqual(set(self._lines()), set(self.both.ids))
        # The company switcher: only A active, only A's line.
        only_a = self.env(context={**self.env.context, "allowed_company_ids": self.company_a.ids})
        self.assertEqual(set(self._lines(only_a)), {self.company_a.id})
        # An invoicing user of company A alone (B is not theirs, whatever the context says).
        user_env = self.env(user=self.user_a, context={"allowed_company_ids": self.company_a.ids})
        self.assertEqual(set(self._lines(user_env)), {self.company_a.id})
        # They may read it although webhook events and tokens are not theirs to read.
        self._store_event(self.connection, "resource-1", datetime(2026, 12, 5, 10, 0))
        (row,) = user_env["xero.health"].get_xero_health()
        self.assertEqual(row["company_id"], self.company_a.id)
        self.assertTrue(row["last_webhook"])  # formatted for the user (Auckland time)
        self.assertIn("11:00", row["last_webhook"])  # 10:00 UTC is 23:00 in Auckland
        json.dumps(row)  # what the dashboard receives
        # No active connection in the chosen companies: no line (the header shows nothing).
        (self.connection | self.connection_b).active = False
        self.assertEqual(self._lines(), {})

    # ------------------------------------------------------------------ cost
    def _health_queries(self):
        """Queries of one health line read, on an empty record cache (Odoo's own caches, e.g.
        record rules, warmed by a first read)."""
        self.env["xero.health"]._xero_health_lines()
        self.env.flush_all()
        self.env.invalidate_all()
        before = self.env.cr.sql_log_count
        lines = self.env["xero.health"]._xero_health_lines()
        return self.env.cr.sql_log_count - before, lines

    def _grow(self, count):
        """``count`` more of everything the line counts, in both companies."""
        sent = self._invoices(count)
        self._export(sent)
        self._invoices(count).action_xero_send()
        self._invoices(count, company_data=self.company_data_2).action_xero_send()
        for i, move in enumerate(sent):
            self.env["xero.failure"]._xero_report("drift", move, f"drift {i}", self.connection)
            self._store_event(self.connection, move.xero_invoice_id, fields.Datetime.now())

    def test_query_count_does_not_grow_with_invoices(self):
        self._grow(2)
        small, lines = self._health_queries()
        figures = {line.company_id: (line.queued, line.sent_today) for line in lines}
        self.assertEqual(figures, {self.company_a.id: (2, 2), self.company_b.id: (2, 0)})
        self._grow(25)
        large, lines = self._health_queries()
        # The second export also sent the 2 invoices queued in A by the first _grow (B's
        # failed: its tax has no Xero tax type).
        figures = {line.company_id: (line.queued, line.sent_today) for line in lines}
        self.assertEqual(figures, {self.company_a.id: (25, 29), self.company_b.id: (25, 0)})
        self.assertEqual(large, small, "queries with 25-29 invoices of each kind vs 2")
        self.assertLessEqual(small, 8, "one per table (and the user's time zone)")
