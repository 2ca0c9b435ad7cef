# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Test base: a real xero-local (shared per process) behind a counting, fault-injecting proxy."""

import time
from unittest.mock import patch

from casemgr_xero_testing.proxy import FaultProxy
from casemgr_xero_testing.webhook import build_event
from casemgr_xero_testing.xero_local import shared_xero_local

from odoo import Command, fields
from odoo.tests import HttpCase

from odoo.addons.account.tests.common import AccountTestInvoicingCommon

from .. import compat
from ..transaction import READ_COMMITTED, ClaimLiveness

API = "/api.xro/2.0"


def _enter_test_mode(case_cls):
    """Put the registry in test mode for the test class ``case_cls`` (from its setUpClass):
    18.0 ``Registry.enter_test_mode``; since 19.0 the test case patches the registry's
    ``cursor`` (a series difference named in compat.py; only the tests need it)."""
    if compat.SERIES < 19:
        case_cls.registry.enter_test_mode(case_cls.cr)
        case_cls.addClassCleanup(case_cls.registry.leave_test_mode)
    elif not case_cls._registry_patched:  # an HttpCase has done it already
        case_cls.registry_enter_test_mode_cls()


class XeroOneTransaction:
    """The whole test in one transaction that it rolls back (Odoo's test mode), running the
    addon's production code unchanged: what it commits is simply kept in that transaction.

    - The test cursor's ``commit`` (which Odoo forbids in a test) flushes and empties the
      cache, as a real commit does, and ends nothing: every later statement still sees it.
    - ``registry.cursor()`` gives cursors on that same transaction (Odoo's ``TestCursor``:
      commit and rollback are savepoints), as the addon's short transactions need.
    - The one statement a single transaction cannot run, switching the isolation of the next
      transaction (``transaction.READ_COMMITTED``), is skipped: there is no next transaction.
    - ``ClaimLiveness`` takes its advisory locks in that transaction too, not on a connection
      of its own: a webhook delivery's shared lock on the payments run (held to its
      transaction's end, which here is the test's end) would otherwise make the next payments
      run wait for it forever, something no two real transactions can do.

    What depends on real commits, isolation or concurrency is proven on real cursors
    (``tests/real.py``)."""

    @classmethod
    def _xero_one_transaction(cls):
        cr = cls.cr
        execute = cr.execute

        def commit():
            cr.flush()
            cr.clear()

        def execute_in_one_transaction(query, params=None, log_exceptions=True):
            if query == READ_COMMITTED:
                return None
            return execute(query, params, log_exceptions)

        def hold(liveness, token):
            execute("SELECT pg_advisory_xact_lock(%s, %s)", [liveness.lock, token])

        cls.startClassPatcher(patch.object(cr, "commit", commit))
        cls.startClassPatcher(patch.object(cr, "execute", execute_in_one_transaction))
        cls.startClassPatcher(patch.object(ClaimLiveness, "hold", hold))
        cls.startClassPatcher(patch.object(ClaimLiveness, "release", lambda liveness: None))


class XeroPeerMixin:
    """Start xero-local + proxy once per class; reset both before each test."""

    @classmethod
    def _xero_start_peer(cls):
        cls.xero_local = shared_xero_local()
        cls.proxy = FaultProxy(cls.xero_local.url, tax_maths=True)
        cls.addClassCleanup(cls.proxy.stop)

    @classmethod
    def _xero_connection_vals(cls, company, **vals):
        base = cls.proxy.url
        return {
            "name": f"Xero {company.name}",
            "company_id": company.id,
            "auth_type": "oauth",
            "client_id": "CLIENT-ID",
            "client_secret": "CLIENT-SECRET-VALUE",
            "api_url": base + API,
            "connections_url": base + "/connections",
            "token_url": base + "/connect/token",
            "authorize_url": base + "/identity/connect/authorize",
            "revocation_url": base + "/connect/revocation",
            **vals,
        }

    @classmethod
    def _xero_start_peer_and_connection(cls):
        cls._xero_start_peer()
        cls.connection = cls.env["xero.connection"].create(
            cls._xero_connection_vals(cls.env.company)
        )

    def _xero_reset_peer(self):
        self.xero_local.reset()
        self.proxy.reset()

    def _xero_reset_peer_and_connection(self):
        self._xero_reset_peer()
        self._xero_bind(self.connection)

    def _xero_bind(self, connection, tenant_id=None):
        """A connected connection with a valid (xero-local accepts any) token pair."""
        connection.sudo().write(
            {
                "tenant_id": tenant_id or self.xero_local.tenant_id(),
                "tenant_name": "Test Organisation",
                "state": "connected",
                "access_token": "ACCESS-TOKEN-VALUE",
                "refresh_token": "REFRESH-TOKEN-VALUE",
                "token_expires_at": time.time() + 1800,
            }
        )
        return connection

    @classmethod
    def _xero_map_tax(cls, tax=None, xero_tax_type="OUTPUT", connection=None):
        """Map ``tax`` (default: tax_sale_a) to a Xero tax type on ``connection``."""
        return cls.env["xero.tax.mapping"].create(
            {
                "connection_id": (connection or cls.connection).id,
                "tax_id": (tax or cls.tax_sale_a).id,
                "xero_tax_type": xero_tax_type,
            }
        )

    @staticmethod
    def _xero_expire_token(connection):
        """Make the stored access token look expired (the next call refreshes it)."""
        connection.sudo().token_expires_at = time.time() - 60


class XeroTestCommon(XeroOneTransaction, XeroPeerMixin, AccountTestInvoicingCommon):
    """Accounting data + a connected Xero connection for the main company, in one transaction
    (``XeroOneTransaction``); the export's per-organisation threads open their cursors on it.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        _enter_test_mode(cls)
        cls._xero_one_transaction()
        cls._xero_start_peer_and_connection()

    def setUp(self):
        super().setUp()
        compat.let_threads_open_test_cursors(self)
        self._xero_reset_peer_and_connection()

    def _xero_invoice_vals(self, partner=None, tax=None, invoice_date="2019-01-01", **line):
        """A one-line customer invoice: 1 × 'Attendance' (product_a) at 100, ``tax``
        (default: tax_sale_a); ``line`` overrides the line's values."""
        tax = self.tax_sale_a if tax is None else tax
        vals = {
            "product_id": self.product_a.id,
            "name": "Attendance",
            "quantity": 1,
            "price_unit": 100.0,
            "tax_ids": [Command.set(tax.ids)],
            **line,
        }
        return {
            "move_type": "out_invoice",
            "partner_id": (partner or self.partner_a).id,
            "invoice_date": invoice_date,
            "invoice_line_ids": [Command.create(vals)],
        }


class XeroPaymentsMixin:
    """Exported invoices bound to xero-local, Xero-side payments, signed events, the cron."""

    WEBHOOK_KEY = "test-webhook-key-0123456789abcdefghijklmnopqrstuvwxyz"

    @classmethod
    def _xero_payments_setup(cls):
        cls.bank_journal = cls.company_data["default_journal_bank"]
        cls.env["xero.payment.journal"].create(
            {
                "connection_id": cls.connection.id,
                "xero_account": "090",
                "journal_id": cls.bank_journal.id,
            }
        )
        cls.connection.sudo().write({"payments_enabled": True, "webhook_key": cls.WEBHOOK_KEY})
        cls.payment_cron = cls.env.ref("casemgr_xero.ir_cron_xero_payments")

    def _xero_payments_reset(self):
        # The poll is not due unless a test asks for it.
        self.connection.last_payment_poll = fields.Datetime.now()

    def _export(self, amount=1000.0, partner=None, company=None, currency=None, conn=None):
        """A customer invoice of ``company`` (in ``currency``) totalling ``amount`` tax
        included, sent to ``conn``'s organisation (default: the test connection) by the real
        export: posted, queued, exported by the cron. Its lines: a taxed fee (2 hours, the
        company's sale tax, mapped to Xero's OUTPUT) and an untaxed disbursement making up the
        rest, with a note between them."""
        conn = conn or self.connection
        company = company or self.env.company
        tax = company.account_sale_tax_id
        if not self.env["xero.tax.mapping"].search_count(
            [("company_id", "=", company.id), ("tax_id", "=", tax.id)]
        ):
            self._xero_map_tax(tax, connection=conn)
        base = 20.0 * int(amount * 0.4 / 20) or 20.0  # its tax (15 %) comes out in cents
        taxed = tax.compute_all(base, currency=company.currency_id)["total_included"]
        Move = self.env["account.move"].with_company(company)
        move = Move.create(
            {
                "move_type": "out_invoice",
                "partner_id": (partner or self.partner_a).id,
                "invoice_date": "2019-01-01",
                "currency_id": (currency or company.currency_id).id,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": "Attendance on client",
                            "quantity": 2,
                            "price_unit": base / 2,
                            "tax_ids": [Command.set(tax.ids)],
                        }
                    ),
                    Command.create({"display_type": "line_note", "name": "Disbursements:"}),
                    Command.create(
                        {
                            "name": "Court filing fee",
                            "quantity": 1,
                            "price_unit": round(amount - taxed, 2),
                            "tax_ids": [Command.clear()],
                        }
                    ),
                ],
            }
        )
        move.action_post()
        assert move.currency_id.compare_amounts(move.amount_total, amount) == 0, move.amount_total
        move.action_xero_send()
        self.env.flush_all()
        self.env["xero.export"].sudo()._cron_xero_export()
        self.env.invalidate_all()
        assert (move.xero_state, move.xero_connection_id) == ("sent", conn), (
            move.xero_state,
            move.xero_error,
        )
        return move

    def _xero_pay(self, move, amount, date="2019-01-05", code="090"):
        return self.connection._xero_client().create_payment(
            {
                "Invoice": {"InvoiceID": move.xero_invoice_id},
                "Account": {"Code": code},
                "Date": date,
                "Amount": amount,
            }
        )["PaymentID"]

    def _xero_delete(self, payment_id):
        self.connection._xero_client().delete_payment(payment_id)

    def _event(self, move_or_id, tenant_id=None, **kw):
        rid = move_or_id if isinstance(move_or_id, str) else move_or_id.xero_invoice_id
        return build_event(rid, tenant_id=tenant_id or self.connection.tenant_id, **kw)

    def _run(self, force_poll=False):
        self.env.flush_all()
        self.env["xero.payment.import"]._cron_xero_payments(force_poll=force_poll)
        self.env.invalidate_all()

    def _payments(self, move):
        return self.env["account.payment"].search(
            [("xero_payment_id", "!=", False), ("invoice_ids", "in", move.ids)]
        )

    def _events(self):
        return self.env["xero.webhook.event"].search([("connection_id", "=", self.connection.id)])


class XeroHttpTestCommon(XeroOneTransaction, XeroPeerMixin, AccountTestInvoicingCommon, HttpCase):
    """Like XeroTestCommon, for tests that post to the Odoo HTTP server (HttpCase already
    puts the registry in test mode)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._xero_one_transaction()
        cls._xero_start_peer_and_connection()

    def setUp(self):
        super().setUp()
        compat.allow_http_requests(self)  # Xero's webhook POSTs carry no test cookie
        self._xero_reset_peer_and_connection()
