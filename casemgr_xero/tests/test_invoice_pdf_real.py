# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The PDF cron's transactions on real cursors (``real.py``): its claim is committed before
Xero is called, no row stays locked while Xero answers, and a second worker meanwhile takes
nothing of it."""

import threading

from odoo.tests import tagged

from .real import INVOICES, XeroRealCursorCase


@tagged("post_install", "-at_install")
class TestXeroInvoicePdfReal(XeroRealCursorCase):
    def _pdf_rows(self, move_ids):
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT id, xero_state, xero_pdf_state, xero_invoice_id, xero_online_url "
                "FROM account_move WHERE id = ANY(%s) ORDER BY id",
                [move_ids],
            )
            return cr.fetchall()

    def test_claim_committed_no_row_lock_while_xero_answers(self):
        with self.registry.cursor() as cr:
            self._env(cr)["xero.connection"].browse(self.connection_id).xero_attach_pdf = True
        move_ids = self._queue_invoices(2)
        self._run_export()
        rows = self._pdf_rows(move_ids)
        self.assertEqual({(r[1], r[2]) for r in rows}, {("sent", "pending")})
        # Xero holds every attachment's answer back for 2 s
        self.proxy.delay(2.0, method="PUT", path_prefix=INVOICES + "/", times=2)
        errors = []

        def worker():
            try:
                with self.registry.cursor() as cr:
                    self._env(cr)["xero.attachment"]._cron_xero_attach_pdf()
            except Exception as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)

        thread = threading.Thread(target=worker)
        thread.start()
        try:
            self.assertTrue(self.proxy.wait_for("PUT", INVOICES + "/", timeout=60))
            # While Xero answers: the claim is committed, and no row of it is locked
            with self.registry.cursor() as cr:
                cr.execute(
                    "SELECT xero_pdf_state FROM account_move WHERE id = ANY(%s) "
                    "ORDER BY id FOR UPDATE NOWAIT",
                    [move_ids],
                )
                self.assertEqual([r[0] for r in cr.fetchall()], ["attaching", "attaching"])
                cr.rollback()
            # a second worker takes nothing of a live claim
            with self.registry.cursor() as cr:
                self._env(cr)["xero.attachment"]._cron_xero_attach_pdf()
        finally:
            thread.join(60)
        self.assertFalse(errors)
        rows = self._pdf_rows(move_ids)
        for _id, state, pdf_state, xero_id, url in rows:
            self.assertEqual((state, pdf_state), ("sent", "attached"))
            self.assertEqual(len(self.proxy.invoice_attachments(xero_id)), 1)
            self.assertTrue(url)
        self.assertEqual(self.proxy.count("PUT", INVOICES + "/"), 2)
        self._assert_exactly_once(move_ids)
