# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Browser tour: a credit note made in Xero -> its card -> Make draft -> post (Chromium)."""

import json

from casemgr_xero_core.webhooks import parse_events

from odoo import Command
from odoo.tests import HttpCase, tagged

from odoo.addons.account.tests.common import AccountTestInvoicingCommon

from .common import XeroOneTransaction, XeroPaymentsMixin, XeroPeerMixin
from .test_xero_changes import XeroChangesHelpers


@tagged("post_install", "-at_install")
class TestXeroChangesTour(
    XeroChangesHelpers,
    XeroPaymentsMixin,
    XeroOneTransaction,
    XeroPeerMixin,
    AccountTestInvoicingCommon,
    HttpCase,
):
    """The events are stored as the webhook stores them (its HTTP path: test_xero_changes.py);
    the browser is the only client of the server here."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._xero_one_transaction()
        cls._xero_start_peer_and_connection()
        cls._xero_payments_setup()

    def setUp(self):
        super().setUp()
        self._xero_reset_peer_and_connection()
        self._xero_payments_reset()

    def test_tour_credit_card_draft_post(self):
        move = self._export(1000.0)
        self._credit_in_xero(move, 120.0, number="CN-TOUR", description="Tour fee waived")
        events = parse_events(json.dumps({"events": self.proxy.webhook_events}).encode())
        self.env["xero.webhook.event"]._xero_store_events(
            self.connection.id, self.connection.company_id.id, events
        )
        self._run()
        self.env.ref("base.user_admin").write(
            {"company_ids": [Command.link(move.company_id.id)], "company_id": move.company_id.id}
        )
        self.start_tour(
            "/odoo/action-casemgr_xero.xero_failure_dashboard_action",
            "casemgr_xero_change_credit_draft",
            login="admin",
        )
        self.env.invalidate_all()
        draft = self.env["xero.change"].search([("move_id", "=", move.id)]).draft_move_id
        self.assertEqual(draft.state, "posted")
        self.assertEqual(draft.invoice_line_ids.name, "Tour fee waived")
        self.assertAlmostEqual(move.amount_residual, 880.0)
        self.assertAlmostEqual(move.amount_residual, float(self._xero_invoice(move)["AmountDue"]))
