# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json
import urllib.request

from odoo.tests import tagged

from .. import compat
from .common import API, XeroTestCommon


@tagged("post_install", "-at_install")
class TestXeroDrift(XeroTestCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._xero_map_tax()

    def _export(self, count):
        moves = self.env["account.move"].create(
            [
                self._xero_invoice_vals(name=f"Advice {i}", price_unit=100.0 + i)
                for i in range(count)
            ]
        )
        moves.action_post()
        moves.action_xero_send()
        self.env["xero.export"]._cron_xero_export()
        self.env.invalidate_all()
        self.assertEqual(set(moves.mapped("xero_state")), {"sent"})
        return moves

    def _change_amount_in_xero(self, move, new_amount):
        inv = next(i for i in self.xero_local.invoices() if i["InvoiceID"] == move.xero_invoice_id)
        lines = inv["LineItems"]
        lines[0]["LineAmount"] = new_amount
        body = json.dumps({"Invoices": [{"LineItems": lines}]}).encode()
        req = urllib.request.Request(
            f"{self.xero_local.url}{API}/Invoices/{move.xero_invoice_id}",
            data=body,
            method="POST",
            headers={
                "Authorization": "Bearer test",
                "Xero-Tenant-Id": self.connection.tenant_id,
                "Content-Type": "application/json",
            },
        )
        urllib.request.urlopen(req, timeout=10).read()

    def test_report_and_cron_flag_exactly_the_changed_invoice(self):
        moves = self._export(4)
        changed = moves[2]
        self._change_amount_in_xero(changed, 999.0)

        action = self.connection.action_xero_drift_report()
        wizard = self.env["xero.drift.wizard"].browse(action["res_id"])
        self.assertEqual(wizard.checked_count, 4)
        self.assertEqual(set(wizard.line_ids.mapped("move_id")), {changed})
        self.assertIn("total", wizard.line_ids.mapped("field"))
        self.assertTrue(wizard.line_ids[0].xero_url)

        self.env["xero.drift"]._cron_xero_drift()
        failures = self.env["xero.failure"].search([("kind", "=", "drift")])
        self.assertEqual(failures.mapped("res_id"), [changed.id])
        self.assertIn("total differs", failures.message)
        # Running it again bumps the same card rather than adding one.
        self.env["xero.drift"]._cron_xero_drift()
        failures = self.env["xero.failure"].search([("kind", "=", "drift")])
        self.assertEqual(len(failures), 1)
        self.assertEqual(failures.attempts, 2)
        # Put it right in Xero: the next check resolves the card.
        self._change_amount_in_xero(changed, changed.amount_untaxed)
        self.env["xero.drift"]._cron_xero_drift()
        self.assertEqual(failures.state, "resolved")

    def test_no_drift_when_equal(self):
        self._export(3)
        action = self.connection.action_xero_drift_report()
        wizard = self.env["xero.drift.wizard"].browse(action["res_id"])
        self.assertEqual(wizard.checked_count, 3)
        self.assertFalse(wizard.line_ids)

    def test_every_difference_is_worded_by_the_addon(self):
        """The addon words each kind of difference itself (translatable); in English it says
        what the core's plain text says."""
        from casemgr_xero_core.drift import Difference

        drift = self.env["xero.drift"]
        for diff in (
            Difference(1, "INV/1", "existence", "exported", "abc-123"),
            Difference(1, "INV/1", "total", "100.00", "110.00"),
            Difference(1, "INV/1", "amount_due", "0.00", "10.00"),
            Difference(1, "INV/1", "status", "posted", "VOIDED"),
            Difference(1, "INV/1", "status", "paid", "AUTHORISED"),
            Difference(1, "INV/1", "status", "not paid", "PAID"),
        ):
            self.assertEqual(drift._xero_difference_text(diff), diff.message)

    def test_cron_progress_reported_per_connection_adds_up(self):
        """The drift cron reports after each connection the count so far; ir.cron's record of
        the job shows that count, on 18.0 (which takes the count) and 19.0 (which adds what it
        is given)."""
        cron = self.env.ref("casemgr_xero.ir_cron_xero_drift")
        progress = self.env["ir.cron.progress"].create(
            {"cron_id": cron.id, "done": 0, "remaining": 0}
        )
        env = self.env(context={"ir_cron_progress_id": progress.id, "cron_id": cron.id})
        compat.cron_progress(env, 1, 1)
        compat.cron_progress(env, 2, 0)
        progress.invalidate_recordset()
        self.assertEqual((progress.done, progress.remaining), (2, 0))
