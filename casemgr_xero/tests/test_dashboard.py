# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import datetime, timedelta

from casemgr_xero_core.errors import ReconnectRequired
from dateutil.relativedelta import relativedelta
from lxml import etree

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools.safe_eval import safe_eval

from .. import compat
from .common import XeroTestCommon

OPEN_DOMAIN = [("state", "in", ("open", "retrying"))]


@tagged("post_install", "-at_install")
class TestXeroDashboard(XeroTestCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # tax_sale_b is left unmapped on purpose: invoices using it fail until it is mapped.
        cls._xero_map_tax()
        cls.customer = cls.env["res.partner"].create({"name": "Dashboard Client"})
        cls.Failure = cls.env["xero.failure"]

    def _invoice(self, tax, price=100.0):
        move = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.customer.id,
                "invoice_date": "2019-01-01",
                "invoice_line_ids": [
                    Command.create(
                        {
                            "product_id": self.product_a.id,
                            "name": "Attendance",
                            "quantity": 1,
                            "price_unit": price,
                            "tax_ids": [Command.set(tax.ids)],
                        }
                    )
                ],
            }
        )
        move.action_post()
        return move

    def _run_cron(self):
        self.env["xero.export"]._cron_xero_export()
        self.env.invalidate_all()

    def _failure_of(self, record, kind="invoice_export"):
        return self.Failure.search(
            [("kind", "=", kind), ("res_model", "=", record._name), ("res_id", "=", record.id)]
        )

    # ------------------------------------------------------------------ kanban
    def test_every_kind_lands_in_its_state_column(self):
        move = self._invoice(self.tax_sale_a)
        kinds = ["invoice_export", "payment_import", "contact", "auth", "mapping", "drift"]
        records = {
            "invoice_export": move,
            "payment_import": move,
            "contact": self.customer,
            "auth": self.connection,
            "mapping": self.tax_sale_b,
            "drift": move,
        }
        failures = self.Failure
        for kind in kinds:
            failures |= self.Failure._xero_report(
                kind, records[kind], f"{kind} went wrong", self.connection
            )
        self.assertEqual(len(failures), 6)
        self.assertEqual(set(failures.mapped("kind")), set(kinds))
        failures.filtered(lambda f: f.kind == "contact").action_xero_ignore()
        failures.filtered(lambda f: f.kind == "drift").state = "resolved"
        failures.filtered(lambda f: f.kind == "mapping").state = "retrying"

        domain = [("id", "in", failures.ids)]
        counts = dict(compat.web_read_group_counts(self.Failure, domain, "state"))
        # group_expand: all four columns are there, in workflow order.
        self.assertEqual(list(counts), ["open", "retrying", "resolved", "ignored"])
        self.assertEqual(counts, {"open": 3, "retrying": 1, "resolved": 1, "ignored": 1})
        # An empty column still shows (no failure is resolved here).
        columns = compat.web_read_group_counts(
            self.Failure, [("id", "in", failures.ids), ("state", "!=", "resolved")], "state"
        )
        self.assertIn("resolved", [state for state, _count in columns])
        # Kind by state, as the pivot shows it.
        by_kind = self.Failure._read_group(domain, ["state", "kind"], ["__count"])
        self.assertIn(("open", "invoice_export", 1), by_kind)
        self.assertIn(("ignored", "contact", 1), by_kind)

    def test_dashboard_views_load(self):
        action = self.env.ref("casemgr_xero.xero_failure_dashboard_action")
        self.assertTrue(action.view_mode.startswith("kanban"))
        menu = self.env.ref("casemgr_xero.menu_xero_dashboard")
        siblings = self.env["ir.ui.menu"].search([("parent_id", "=", menu.parent_id.id)])
        self.assertEqual(siblings[0], menu, "Dashboard is the first item of Invoicing > Xero")
        views = self.Failure.get_views(
            [
                (False, "kanban"),
                (False, "list"),
                (False, "form"),
                (False, "pivot"),
                (False, "graph"),
                (False, "search"),
            ]
        )
        # Every view the dashboard opens loads (Odoo validates each against the model).
        self.assertEqual(
            set(views["views"]), {"kanban", "list", "form", "pivot", "graph", "search"}
        )

    def _search_filter(self, name):
        """The domain of the dashboard search view's filter ``name``, evaluated as the web
        client evaluates it (``context_today()`` is the user's today)."""
        arch = self.Failure.get_views([(False, "search")])["views"]["search"]["arch"]
        (node,) = etree.fromstring(arch).xpath(f"//filter[@name='{name}']")
        return safe_eval(
            node.get("domain"),
            {
                "context_today": lambda: fields.Date.context_today(self.Failure),
                "relativedelta": relativedelta,
                "datetime": datetime,
            },
        )

    def test_age_filters_of_the_search_view(self):
        move = self._invoice(self.tax_sale_a)
        make = self.Failure._xero_report
        cards = {
            days: make(kind, record, f"{days} days old", self.connection)
            for days, kind, record in (
                (0, "contact", self.customer),
                (6, "invoice_export", move),
                (8, "mapping", self.tax_sale_b),
                (31, "drift", move),
            )
        }
        now = fields.Datetime.now()
        for days, card in cards.items():
            card.first_seen = now - timedelta(days=days, hours=1)
        ids = [("id", "in", [c.id for c in cards.values()])]
        for name, older in (("older_7", (8, 31)), ("older_30", (31,))):
            found = self.Failure.search(ids + self._search_filter(name))
            self.assertEqual(found, self.Failure.union(*(cards[d] for d in older)), name)

    # ------------------------------------------------------------------ retry
    def test_retry_fixed_invoice_exports_and_resolves(self):
        move = self._invoice(self.tax_sale_b)
        move.action_xero_send()
        self._run_cron()
        self.assertEqual(move.xero_state, "failed")
        # The cause (an unmapped tax) has its card, listing the invoice.
        failure = self._failure_of(self.tax_sale_b, kind="mapping")
        self.assertEqual(failure.state, "open")
        self.assertEqual(failure.move_ids, move)
        self.assertIn("has no Xero tax type", failure.summary)
        self.assertIn(self.tax_sale_b.name, failure.summary)
        self.assertFalse(failure.xero_url, "not in Xero: no Open in Xero button")
        # Retrying before the fix is refused, the card stays as it was.
        with self.assertRaisesRegex(UserError, "still has no Xero tax type"):
            failure.action_xero_retry()
        self.assertEqual(failure.state, "open")
        self.assertEqual(self.Failure.search_count([("move_ids", "in", move.ids)]), 1)
        # Fix the cause, press Retry: the same invoice is queued (not a copy), the cron is due.
        self.env["xero.tax.mapping"].create(
            {
                "connection_id": self.connection.id,
                "tax_id": self.tax_sale_b.id,
                "xero_tax_type": "OUTPUT2",
            }
        )
        self.env["ir.cron.trigger"].search([]).unlink()
        moves_before = self.env["account.move"].search_count([])
        action = failure.action_xero_retry()
        self.assertEqual(action["params"]["type"], "success")
        self.assertEqual(failure.state, "retrying")
        self.assertEqual(move.xero_state, "queued")
        self.assertEqual(self.env["account.move"].search_count([]), moves_before)
        cron = self.env.ref("casemgr_xero.ir_cron_xero_export")
        self.assertTrue(self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]))
        self._run_cron()
        self.assertEqual(move.xero_state, "sent")
        self.assertEqual(failure.state, "resolved")
        self.assertEqual([i["InvoiceNumber"] for i in self.xero_local.invoices()], [move.name])
        open_record = failure.action_xero_open_record()
        self.assertEqual(
            (open_record["res_model"], open_record["res_id"]), ("account.tax", self.tax_sale_b.id)
        )
        with self.assertRaises(UserError):
            failure.action_xero_retry()

    def test_retry_invoice_card_requeues_and_open_in_xero(self):
        move = self._invoice(self.tax_sale_a)
        failure = self.Failure._xero_report("invoice_export", move, "refused", self.connection)
        self.assertFalse(failure.xero_url)
        action = failure.action_xero_retry()
        self.assertEqual(action["params"]["type"], "success")
        self.assertEqual((failure.state, move.xero_state), ("retrying", "queued"))
        self._run_cron()
        self.assertEqual((failure.state, move.xero_state), ("resolved", "sent"))
        self.assertEqual(failure.xero_url, move.xero_url)
        self.assertEqual(failure.action_xero_open_in_xero()["url"], move.xero_url)

    def test_retry_explains_what_cannot_be_queued(self):
        move = self._invoice(self.tax_sale_b)
        failure = self.Failure._xero_report("invoice_export", move, "refused", self.connection)
        move.button_draft()
        with self.assertRaisesRegex(UserError, "not posted"):
            failure.action_xero_retry()
        self.assertEqual(failure.state, "open")

    def test_retry_checks_the_cause_of_mapping_and_contact_cards(self):
        # A contact card that no longer blocks any invoice: Retry closes it.
        partner_failure = self.Failure._xero_report(
            "contact", self.customer, "Contact refused", self.connection
        )
        partner_failure.action_xero_retry()
        self.assertEqual(partner_failure.state, "resolved")
        # A tax still unmapped: a clear refusal, nothing changes.
        tax_failure = self.Failure._xero_report(
            "mapping", self.tax_sale_b, "Unmapped", self.connection
        )
        with self.assertRaisesRegex(UserError, "still has no Xero tax type"):
            tax_failure.action_xero_retry()
        self.assertEqual(tax_failure.state, "open")

    def test_ignore_hides_it_from_open(self):
        move = self._invoice(self.tax_sale_b)
        failure = self.Failure._xero_report("invoice_export", move, "refused", self.connection)
        self.assertEqual(self.connection.xero_failure_count, 1)
        failure.action_xero_ignore()
        self.assertEqual(failure.state, "ignored")
        self.assertFalse(self.Failure.search(OPEN_DOMAIN + [("id", "=", failure.id)]))
        self.connection.invalidate_recordset(["xero_failure_count"])
        self.assertEqual(self.connection.xero_failure_count, 0)

    def test_connection_smart_button(self):
        move = self._invoice(self.tax_sale_b)
        self.Failure._xero_report("invoice_export", move, "refused", self.connection)
        self.Failure._xero_report("contact", self.customer, "refused", self.connection)
        self.assertEqual(self.connection.xero_failure_count, 2)
        action = self.connection.action_xero_open_failures()
        self.assertEqual(self.Failure.search_count(action["domain"] + OPEN_DOMAIN), 2)

    # ------------------------------------------------------------------ cleanup
    def test_cleanup_cron_deletes_old_resolved_and_ignored(self):
        move = self._invoice(self.tax_sale_a)
        make = self.Failure._xero_report
        old_resolved = make("invoice_export", move, "x", self.connection)
        old_ignored = make("contact", self.customer, "x", self.connection)
        old_open = make("mapping", self.tax_sale_b, "x", self.connection)
        new_resolved = make("drift", move, "x", self.connection)
        (old_resolved | new_resolved).write({"state": "resolved"})
        old_ignored.action_xero_ignore()
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE xero_failure SET write_date = now() at time zone 'UTC' - interval '31 days' "
            "WHERE id IN %s",
            [tuple((old_resolved | old_ignored | old_open).ids)],
        )
        self.env.invalidate_all()
        cron = self.env.ref("casemgr_xero.ir_cron_xero_failure_cleanup")
        cron.method_direct_trigger()
        self.assertFalse((old_resolved | old_ignored).exists())
        self.assertEqual((old_open | new_resolved).exists(), old_open | new_resolved)
        # The retention is a system parameter.
        self.env["ir.config_parameter"].sudo().set_param("casemgr_xero.failure_retention_days", "0")
        self.assertEqual(self.Failure._cron_xero_failure_cleanup(), 1)
        self.assertFalse(new_resolved.exists())
        self.assertTrue(old_open.exists())

    # ------------------------------------------------------------------ reconnect
    def test_needs_reconnect_files_failure_and_todo(self):
        admin = self.env.ref("base.user_admin")
        admin.company_ids |= self.env.company
        self._xero_expire_token(self.connection)
        self.proxy.respond(
            400,
            b'{"error":"invalid_grant"}',
            {"Content-Type": "application/json"},
            method="POST",
            path_prefix="/connect/token",
            times=2,
        )
        for _attempt in range(2):
            try:
                self.env["xero.oauth"]._xero_refresh(self.connection)
                self.fail("ReconnectRequired expected")
            except ReconnectRequired as exc:
                self.assertTrue(exc.message, "the reason is kept for the user")
        self.env.invalidate_all()
        self.assertEqual(self.connection.state, "needs_reconnect")
        failure = self._failure_of(self.connection, "auth")
        self.assertEqual(len(failure), 1, "one card, bumped, not one per attempt")
        self.assertEqual(failure.attempts, 2)
        self.assertEqual(failure.company_id, self.connection.company_id)
        self.assertIn("must be reconnected", failure.message)
        todo = self.connection.activity_ids
        managers = compat.group_users(self.env.ref("account.group_account_manager")).filtered(
            lambda u: not u.share and self.env.company in u.company_ids
        )
        self.assertIn(admin, managers)
        self.assertEqual(todo.user_id, managers, "one to-do per billing administrator")
        self.assertEqual(len(todo), len(managers))
        # Retry on a connection problem reconnects: Xero's sign-in page.
        action = failure.action_xero_retry()
        self.assertEqual(action["type"], "ir.actions.act_url")
        self.assertIn("/identity/connect/authorize", action["url"])
        # Signing in again resolves the card and closes the to-dos.
        self.connection.sudo().oauth_state = "NONCE"
        self.env["xero.oauth"]._xero_complete(self.connection, "AUTH-CODE")
        self.env.invalidate_all()
        self.assertEqual(self.connection.state, "connected")
        self.assertEqual(failure.state, "resolved")
        self.assertFalse(self.connection.activity_ids)
