# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Test base: a real xero-local (shared per process) behind a counting, fault-injecting proxy."""

import time
from decimal import Decimal

from casemgr_xero_core.mapping import ContactData, InvoiceData, LineData, invoice_payload
from casemgr_xero_testing.proxy import FaultProxy
from casemgr_xero_testing.webhook import build_event
from casemgr_xero_testing.xero_local import shared_xero_local

from odoo import Command, fields
from odoo.tests import HttpCase

from odoo.addons.account.tests.common import AccountTestInvoicingCommon

from .. import compat

API = "/api.xro/2.0"


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

    @staticmethod
    def _xero_expire_token(connection):
        """Make the stored access token look expired (the next call refreshes it)."""
        connection.sudo().token_expires_at = time.time() - 60


class XeroTestCommon(XeroPeerMixin, AccountTestInvoicingCommon):
    """Accounting data + a connected Xero connection for the main company.

    The registry is put in test mode so that the addon's own short transactions (token
    rotation, batch claims) run on the test transaction instead of a second connection.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        compat.enter_test_mode(cls)
        cls._xero_start_peer_and_connection()

    def setUp(self):
        super().setUp()
        self._xero_reset_peer_and_connection()

    # ------------------------------------------------------------------ shared builders
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
        """A posted customer invoice (of ``company``, in ``currency``), created in ``conn``'s
        organisation (default: the test connection) and bound as the export would."""
        conn = conn or self.connection
        move = self.init_invoice(
            "out_invoice",
            partner=partner or self.partner_a,
            invoice_date="2019-01-01",
            amounts=[amount],
            post=True,
            company=company,
            currency=currency,
        )
        total = Decimal(str(move.amount_total))
        data = InvoiceData(
            key=str(move.id),
            number=move.name,
            date=move.invoice_date,
            due_date=move.invoice_date_due,
            currency=move.currency_id.name,
            lines=[
                LineData(
                    move.name,
                    quantity=Decimal(1),
                    unit_amount=total,
                    line_amount=total,
                    account_code="200",
                )
            ],
            contact=ContactData(key=str(move.partner_id.id), name=move.partner_id.name),
            total=total,
            line_amount_types="NoTax",
        )
        (item,) = conn._xero_client().put_invoices([invoice_payload(data)], f"bind-{move.id}")
        assert item.ok, item.messages
        move.write(
            {"xero_state": "sent", "xero_invoice_id": item.xero_id, "xero_connection_id": conn.id}
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
        self.env["xero.webhook.event"]._cron_xero_payments(force_poll=force_poll)
        self.env.invalidate_all()

    def _payments(self, move):
        return self.env["account.payment"].search(
            [("xero_payment_id", "!=", False), ("invoice_ids", "in", move.ids)]
        )

    def _events(self):
        return self.env["xero.webhook.event"].search([("connection_id", "=", self.connection.id)])


class XeroHttpTestCommon(XeroPeerMixin, AccountTestInvoicingCommon, HttpCase):
    """Like XeroTestCommon, for tests that post to the Odoo HTTP server (HttpCase already
    puts the registry in test mode)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._xero_start_peer_and_connection()

    def setUp(self):
        super().setUp()
        compat.allow_http_requests(self)  # Xero's webhook POSTs carry no test cookie
        self._xero_reset_peer_and_connection()
