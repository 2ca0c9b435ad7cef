# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Queueing (Send to Xero, the export wizard): a year of invoices at once, and only the Xero
fields touched."""

from odoo.exceptions import AccessError
from odoo.tests import tagged

from .. import compat
from .common import XeroTestCommon


@tagged("post_install", "-at_install")
class TestXeroQueue(XeroTestCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._xero_map_tax()

    def _posted(self, count):
        moves = self.env["account.move"].create([self._xero_invoice_vals() for _i in range(count)])
        moves.action_post()
        return moves

    def test_queueing_leaves_the_invoices_themselves_alone(self):
        """Only the Xero fields change: no re-sync of the invoice's lines (account.move's
        write() does one per invoice, ~14 ms each: 12 minutes for 50,000 in one request), no
        "manually modified" flag set on the accountant's invoices."""
        moves = self._posted(3)
        self.env.flush_all()
        # One of them Xero knew before (e.g. a total mismatch); none touched by a person; the
        # lines' last change long ago.
        self.env.cr.execute(
            "UPDATE account_move SET is_manually_modified = false, xero_invoice_id = "
            "CASE WHEN id = %s THEN 'seen-by-xero-before' END WHERE id = ANY(%s)",
            [moves[0].id, moves.ids],
        )
        self.env.cr.execute(
            "UPDATE account_move_line SET write_date = '2000-01-01' WHERE move_id = ANY(%s)",
            [moves.ids],
        )
        self.env.invalidate_all()

        queued, skipped = moves._xero_queue()

        self.assertEqual((queued, skipped), (moves, {}))
        self.env.flush_all()
        self.assertEqual(set(moves.mapped("xero_state")), {"queued"})
        self.assertEqual(set(moves.mapped("xero_connection_id")), {self.connection})
        self.assertEqual(moves.mapped("xero_outcome_unknown"), [True, False, False])
        self.assertEqual(set(moves.mapped("is_manually_modified")), {False})
        self.assertEqual({str(d)[:10] for d in moves.line_ids.mapped("write_date")}, {"2000-01-01"})

    def test_a_user_who_cannot_edit_invoices_cannot_queue_them(self):
        moves = self._posted(1)
        reader = self.env["res.users"].create(
            {
                "name": "Auditor",
                "login": "xero-queue-auditor",
                compat.GROUPS_FIELD: [
                    (
                        6,
                        0,
                        [
                            self.env.ref("base.group_user").id,
                            self.env.ref("account.group_account_readonly").id,
                        ],
                    )
                ],
            }
        )
        with self.assertRaises(AccessError):
            moves.with_user(reader)._xero_queue()
        self.assertEqual(moves.xero_state, "not_sent")
