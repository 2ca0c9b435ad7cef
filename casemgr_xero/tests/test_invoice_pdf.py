# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The invoice's PDF in Xero (issue #21 item 2): from a real export through the proxy, the
crons run as ir.cron runs them (the superuser in the main company, an empty cache)."""

import base64
from datetime import timedelta

from casemgr_xero_core.attachments import MAX_ATTACHMENT_BYTES

from odoo import SUPERUSER_ID, Command, api, fields
from odoo.tests import tagged

from ..models.xero_attachment import STALE_CLAIM
from .common import API, XeroTestCommon

INVOICES = API + "/Invoices"


@tagged("post_install", "-at_install")
class TestXeroInvoicePdf(XeroTestCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._xero_map_tax()
        cls.Failure = cls.env["xero.failure"]

    def setUp(self):
        super().setUp()
        self.connection.xero_attach_pdf = True

    def _fresh_env(self):
        self.env.flush_all()
        self.env.invalidate_all()
        return api.Environment(self.env.cr, SUPERUSER_ID, {})

    def _export(self, count=1):
        moves = self.env["account.move"].create(
            [self._xero_invoice_vals(name=f"Advice {i}") for i in range(count)]
        )
        moves.action_post()
        moves.action_xero_send()
        self._fresh_env()["xero.export"]._cron_xero_export()
        self.env.invalidate_all()
        self.assertEqual(set(moves.mapped("xero_state")), {"sent"})
        return moves

    def _run_pdf_cron(self):
        self._fresh_env()["xero.attachment"]._cron_xero_attach_pdf()
        self.env.invalidate_all()

    def _cards(self, move):
        return self.Failure.search(
            [
                ("kind", "=", "invoice_pdf"),
                ("res_model", "=", "account.move"),
                ("res_id", "=", move.id),
            ]
        )

    def _assert_sent_once(self, move):
        self.assertEqual(move.xero_state, "sent")
        self.assertEqual(
            [i["InvoiceNumber"] for i in self.xero_local.invoices()].count(move.name), 1
        )

    def test_pdf_attached_once_with_the_online_link(self):
        moves = self._export(2)
        self.assertEqual(set(moves.mapped("xero_pdf_state")), {"pending"})
        # the second one has the PDF Odoo keeps once an invoice is sent or printed: that one
        stored = b"%PDF-1.4\n% the stored invoice PDF\n%%EOF\n"
        moves[1].invoice_pdf_report_file = base64.b64encode(stored)
        cron = self.env.ref("casemgr_xero.ir_cron_xero_attach_pdf")
        self.assertTrue(self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]))
        self._run_pdf_cron()
        for move in moves:
            self.assertEqual(move.xero_pdf_state, "attached")
            (att,) = self.proxy.invoice_attachments(move.xero_invoice_id)
            # Odoo's test mode renders the report as HTML: the file's type follows its bytes
            content = self.proxy.attachment_content(move.xero_invoice_id, att["FileName"])
            ext = "pdf" if content.startswith(b"%PDF-") else "html"
            self.assertEqual(att["FileName"], move._get_invoice_report_filename(extension=ext))
            if move == moves[1]:
                self.assertEqual((content, att["MimeType"]), (stored, "application/pdf"))
            else:
                self.assertIn(move.name.encode(), content)  # rendered now
            self.assertTrue(att["IncludeOnline"])
            self.assertTrue(move.xero_online_url.startswith("https://in.xero.com/"))
            self._assert_sent_once(move)
        self.assertEqual(self.proxy.count("PUT", INVOICES + "/"), 2)
        self.assertEqual(self.proxy.count("PUT", INVOICES), 3)  # 1 batch + 2 attachments
        self.assertFalse(self.Failure.search([("kind", "=", "invoice_pdf")]))
        # the link on the invoice form
        arch = self.env["account.move"].get_view(view_type="form")["arch"]
        self.assertIn('name="xero_online_url"', arch)
        self.assertIn('widget="url"', arch.split('name="xero_online_url"')[1].split("/>")[0])
        # a second run attaches nothing again
        self._run_pdf_cron()
        self.assertEqual(self.proxy.count("PUT", INVOICES + "/"), 2)

    def test_off_by_default_nothing_is_attached(self):
        self.assertFalse(self.env["xero.connection"].new({}).xero_attach_pdf)
        self.connection.xero_attach_pdf = False
        move = self._export()
        self.assertFalse(move.xero_pdf_state)
        self._run_pdf_cron()
        self.assertFalse(move.xero_pdf_state)
        self.assertFalse(move.xero_online_url)
        self.assertEqual(self.proxy.invoice_attachments(move.xero_invoice_id), [])
        self.assertEqual(self.proxy.count(path_prefix=INVOICES + "/"), 0)

    def test_over_the_size_limit_the_invoice_stays_sent_one_card(self):
        move = self._export()
        big = b"%PDF-1.4\n" + b"0" * MAX_ATTACHMENT_BYTES
        # the PDF Odoo keeps for an invoice once sent or printed
        move.invoice_pdf_report_file = base64.b64encode(big)
        self.assertEqual(move.invoice_pdf_report_id.raw, big)
        self._run_pdf_cron()
        self.assertEqual(move.xero_pdf_state, "failed")
        self._assert_sent_once(move)
        card = self._cards(move)
        self.assertEqual(len(card), 1)
        self.assertIn("over Xero's limit of 10 MB", card.message)
        self.assertEqual(card.connection_id, self.connection)
        self.assertEqual(self.proxy.count(path_prefix=f"{INVOICES}/{move.xero_invoice_id}/Att"), 0)
        self.assertEqual(self.proxy.invoice_attachments(move.xero_invoice_id), [])
        # the online link is kept all the same
        self.assertTrue(move.xero_online_url)
        # Xero's own 413 (a file the client let through): the same one card
        move.invoice_pdf_report_file = False
        self.proxy.max_attachment_bytes = 10
        card.action_xero_retry()
        self._run_pdf_cron()
        self.assertEqual(move.xero_pdf_state, "failed")
        self.assertEqual(self._cards(move), card)
        self.assertEqual(card.state, "open")
        self.assertEqual(card.attempts, 2)
        self.assertIn("over Xero's limit", card.message)
        self._assert_sent_once(move)
        self.assertEqual(self.proxy.count("PUT", INVOICES), 2)  # the batch + one attachment

    def test_xero_refusing_is_one_card_and_retry_attaches(self):
        move = self._export()
        self.proxy.respond(
            400,
            b'{"ErrorNumber": 10, "Type": "ValidationException", '
            b'"Message": "The file type is not allowed"}',
            headers={"Content-Type": "application/json"},
            method="PUT",
            path_prefix=f"{INVOICES}/{move.xero_invoice_id}/Attachments",
        )
        self._run_pdf_cron()
        self.assertEqual(move.xero_pdf_state, "failed")
        card = self._cards(move)
        self.assertEqual(len(card), 1)
        self.assertIn("The file type is not allowed", card.message)
        self._assert_sent_once(move)
        self._run_pdf_cron()  # a failed PDF is not tried again by itself
        self.assertEqual(len(self._cards(move)), 1)
        self.assertEqual(self.proxy.count("PUT", INVOICES + "/"), 1)
        card.action_xero_retry()
        self.assertEqual(card.state, "retrying")
        self.assertEqual(move.xero_pdf_state, "pending")
        self._run_pdf_cron()
        self.assertEqual(move.xero_pdf_state, "attached")
        self.assertEqual(len(self.proxy.invoice_attachments(move.xero_invoice_id)), 1)
        self.assertEqual(card.state, "resolved")
        self._assert_sent_once(move)
        self.assertEqual(self.proxy.count("PUT", INVOICES), 3)  # batch, refused, attached

    def test_xero_unavailable_is_no_card_the_next_run_attaches(self):
        move = self._export()
        self.proxy.respond(
            503,
            b"Service Unavailable",
            method="PUT",
            path_prefix=f"{INVOICES}/{move.xero_invoice_id}/",
        )
        self._run_pdf_cron()
        self.assertEqual(move.xero_pdf_state, "pending")
        self.assertFalse(self._cards(move))
        cron = self.env.ref("casemgr_xero.ir_cron_xero_attach_pdf")
        self.assertTrue(self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]))
        self._run_pdf_cron()
        self.assertEqual(move.xero_pdf_state, "attached")
        self.assertEqual(len(self.proxy.invoice_attachments(move.xero_invoice_id)), 1)
        self._assert_sent_once(move)

    def test_a_dead_workers_claim_is_taken_back_after_a_while_only(self):
        moves = self._export(2)
        self.env.flush_all()
        # both claimed by a worker that died: one just now, one longer ago than STALE_CLAIM
        now = fields.Datetime.now()
        ages = (STALE_CLAIM + timedelta(minutes=1), timedelta(minutes=1))
        for move, age in zip(moves, ages, strict=True):
            self.env.cr.execute(
                "UPDATE account_move SET xero_pdf_state = 'attaching', xero_pdf_at = %s "
                "WHERE id = %s",
                [now - age, move.id],
            )
        self.env.invalidate_all()
        self._run_pdf_cron()
        self.assertEqual(moves.mapped("xero_pdf_state"), ["attached", "attaching"])
        self.assertEqual(len(self.proxy.invoice_attachments(moves[0].xero_invoice_id)), 1)
        self.assertEqual(self.proxy.invoice_attachments(moves[1].xero_invoice_id), [])


TENANT_B = "b2b2b2b2-0000-4000-8000-0000000000fb"  # xero-local makes a tenant it does not know


@tagged("post_install", "-at_install")
class TestXeroInvoicePdfCompanies(XeroTestCommon):
    """Two companies, two organisations: only the one that attaches PDFs gets them, in its own
    organisation, and its cards are its company's."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_data_2 = cls.setup_other_company(name="PDF Company B")
        cls.company_b = cls.company_data_2["company"]
        cls.company_data_2["default_journal_sale"].code = "PDFB"
        cls.connection_b = cls.env["xero.connection"].create(
            cls._xero_connection_vals(cls.company_b, xero_attach_pdf=True)
        )
        cls._xero_map_tax()
        cls._xero_map_tax(cls.company_data_2["default_tax_sale"], connection=cls.connection_b)

    def setUp(self):
        super().setUp()
        self._xero_bind(self.connection_b, tenant_id=TENANT_B)
        both = (self.env.company | self.company_b).ids
        self.env = self.env(context=dict(self.env.context, allowed_company_ids=both))

    def _invoice(self, company_data, tax):
        move = (
            self.env["account.move"]
            .with_company(company_data["company"])
            .create(
                {
                    "move_type": "out_invoice",
                    "partner_id": self.partner_a.id,
                    "invoice_date": "2019-01-01",
                    "journal_id": company_data["default_journal_sale"].id,
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "name": "Fees",
                                "quantity": 1,
                                "price_unit": 100.0,
                                "account_id": company_data["default_account_revenue"].id,
                                "tax_ids": [Command.set(tax.ids)],
                            }
                        )
                    ],
                }
            )
        )
        move.action_post()
        return move

    def _fresh_env(self):
        self.env.flush_all()
        self.env.invalidate_all()
        return api.Environment(self.env.cr, SUPERUSER_ID, {})

    def test_only_the_company_that_attaches_gets_pdfs_its_cards_its_own(self):
        move_a = self._invoice(self.company_data, self.tax_sale_a)
        move_b = self._invoice(self.company_data_2, self.company_data_2["default_tax_sale"])
        (move_a | move_b).action_xero_send()
        self._fresh_env()["xero.export"]._cron_xero_export()
        self.env.invalidate_all()
        self.assertEqual((move_a | move_b).mapped("xero_state"), ["sent", "sent"])
        self.assertFalse(move_a.xero_pdf_state)
        self.assertEqual(move_b.xero_pdf_state, "pending")
        self.proxy.respond(
            400,
            b'{"Type": "ValidationException", "Message": "Too many attachments"}',
            headers={"Content-Type": "application/json"},
            method="PUT",
            path_prefix=f"{INVOICES}/{move_b.xero_invoice_id}/Attachments",
        )
        self._fresh_env()["xero.attachment"]._cron_xero_attach_pdf()
        self.env.invalidate_all()
        card = self.env["xero.failure"].search([("kind", "=", "invoice_pdf")])
        self.assertEqual(len(card), 1)
        self.assertEqual((card.company_id, card.connection_id), (self.company_b, self.connection_b))
        card.action_xero_retry()
        self._fresh_env()["xero.attachment"]._cron_xero_attach_pdf()
        self.env.invalidate_all()
        self.assertEqual(move_b.xero_pdf_state, "attached")
        self.assertEqual(len(self.proxy.invoice_attachments(move_b.xero_invoice_id, TENANT_B)), 1)
        (att,) = self.proxy.invoice_attachments(move_b.xero_invoice_id)
        content = self.proxy.attachment_content(move_b.xero_invoice_id, att["FileName"])
        self.assertIn(move_b.name.encode(), content)
        self.assertFalse(move_a.xero_pdf_state)
        self.assertEqual(self.proxy.invoice_attachments(move_a.xero_invoice_id), [])
