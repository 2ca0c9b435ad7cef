# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Browser tours (casemgr_xero/static/tests/tours/) against xero-local, through Chromium."""

from datetime import timedelta

from odoo import Command, fields
from odoo.tests import HttpCase, tagged

from .common import XeroOneTransaction, XeroPeerMixin

INVOICES_URL = "/odoo/action-account.action_move_out_invoice_type"


@tagged("post_install", "-at_install")
class TestXeroTours(XeroOneTransaction, XeroPeerMixin, HttpCase):
    """HttpCase already puts the registry in test mode: the addon's own short transactions
    (batch claims, results) run on the test transaction, as the server's requests do."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._xero_one_transaction()
        cls._xero_start_peer()
        cls.company = cls.env.ref("base.main_company")
        cls.env.ref("base.user_admin").company_ids |= cls.company
        cls.connection = cls.env["xero.connection"].create(cls._xero_connection_vals(cls.company))
        cls.tax = cls.env["account.tax"].create(
            {
                "name": "Tour GST 15%",
                "amount": 15.0,
                "type_tax_use": "sale",
                "company_id": cls.company.id,
            }
        )
        cls.stamp = cls.env["account.tax"].create(
            {
                "name": "Tour stamp duty 5%",
                "amount": 5.0,
                "type_tax_use": "sale",
                "company_id": cls.company.id,
            }
        )
        cls.env["xero.tax.mapping"].create(
            {"connection_id": cls.connection.id, "tax_id": cls.tax.id, "xero_tax_type": "OUTPUT"}
        )
        cls.client_a, cls.client_b = cls.env["res.partner"].create(
            [{"name": "Tour Client A"}, {"name": "Tour Client B"}]
        )
        cls.cron = cls.env.ref("casemgr_xero.ir_cron_xero_export")

    def setUp(self):
        super().setUp()
        self._xero_reset_peer()
        self._xero_bind(self.connection)

    def _invoice(self, partner, tax=None, hours=2.5):
        move = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "company_id": self.company.id,
                "partner_id": partner.id,
                "invoice_date": "2026-01-15",
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": "Professional time: associate",
                            "quantity": hours,
                            "price_unit": 280.0,
                            "tax_ids": [Command.set((tax or self.tax).ids)],
                        }
                    ),
                    Command.create(
                        {
                            "name": "Disbursement: courier",
                            "quantity": 1,
                            "price_unit": 18.0,
                            "tax_ids": [Command.set((tax or self.tax).ids)],
                        }
                    ),
                ],
            }
        )
        move.action_post()
        return move

    def test_send_from_list(self):
        moves = self._invoice(self.client_a) | self._invoice(self.client_b)
        self.start_tour(INVOICES_URL, "casemgr_xero_send_invoices", login="admin")
        moves.invalidate_recordset()
        self.assertEqual(moves.mapped("xero_state"), ["sent", "sent"])
        in_xero = {i["InvoiceNumber"] for i in self.xero_local.invoices()}
        self.assertEqual(in_xero, set(moves.mapped("name")))

    def test_export_wizard(self):
        others = self._invoice(self.client_a) | self._invoice(self.client_a)
        target = self._invoice(self.client_b)
        self.start_tour("/odoo", "casemgr_xero_export_wizard", login="admin")
        (others | target).invalidate_recordset()
        self.assertEqual(target.xero_state, "queued")
        self.assertEqual(set(others.mapped("xero_state")), {"not_sent"})

    def _fixed_failure(self):
        """An invoice Xero could not take (unmapped tax), then the tax gets mapped."""
        move = self._invoice(self.client_a, tax=self.stamp)
        move.action_xero_send()
        self.cron.method_direct_trigger()
        self.assertEqual(move.xero_state, "failed")
        # One card for the cause (the unmapped tax), listing the invoice.
        failure = self.env["xero.failure"].search(
            [("res_model", "=", "account.tax"), ("res_id", "=", self.stamp.id)]
        )
        self.assertEqual(failure.move_ids, move)
        self.assertEqual(failure.state, "open")
        self.env["xero.tax.mapping"].create(
            {
                "connection_id": self.connection.id,
                "tax_id": self.stamp.id,
                "xero_tax_type": "OUTPUT",
            }
        )
        return move, failure

    def test_failure_list_resend(self):
        move, failure = self._fixed_failure()
        self.start_tour(
            "/odoo/action-casemgr_xero.xero_failure_action",
            "casemgr_xero_failure_resend",
            login="admin",
        )
        self.assertEqual(move.xero_state, "queued")
        self.cron.method_direct_trigger()
        self.assertEqual(move.xero_state, "sent")
        self.assertEqual(failure.state, "resolved")

    def test_dashboard_retry(self):
        move, failure = self._fixed_failure()
        self.start_tour(
            "/odoo/action-casemgr_xero.xero_failure_dashboard_action",
            "casemgr_xero_dashboard_retry",
            login="admin",
        )
        self.cron.method_direct_trigger()
        self.assertEqual(move.xero_state, "sent")
        self.assertEqual(failure.state, "resolved")

    def test_connection_form_test_button(self):
        self.start_tour(
            f"/odoo/action-casemgr_xero.xero_connection_action/{self.connection.id}",
            "casemgr_xero_test_connection",
            login="admin",
        )
        self.assertEqual(self.connection.state, "connected")

    def test_dashboard_health_line(self):
        """The health line above the dashboard's columns (its figures: test_health.py)."""
        self.company.name = "Tour Health Co"
        sent = self._invoice(self.client_a)
        sent.action_xero_send()
        self.cron.method_direct_trigger()
        self.assertEqual(sent.xero_state, "sent")
        move, failure = self._fixed_failure()
        self._invoice(self.client_b).action_xero_send()
        self.env["xero.api"]._xero_pause_until(
            self.connection, fields.Datetime.now() + timedelta(minutes=10)
        )
        self.start_tour(
            "/odoo/action-casemgr_xero.xero_failure_dashboard_action",
            "casemgr_xero_dashboard_health",
            login="admin",
        )
        self.assertEqual((move.xero_state, failure.state), ("queued", "retrying"))
