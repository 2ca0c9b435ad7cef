# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Test base: a real xero-local (shared per process) behind a counting, fault-injecting proxy."""

import time

from casemgr_xero_core.testing.proxy import FaultProxy
from casemgr_xero_core.testing.xero_local import shared_xero_local

from odoo.addons.account.tests.common import AccountTestInvoicingCommon

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

    def _xero_reset_peer(self):
        self.xero_local.reset()
        self.proxy.reset()

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


class XeroTestCommon(XeroPeerMixin, AccountTestInvoicingCommon):
    """Accounting data + a connected Xero connection for the main company.

    The registry is put in test mode so that the addon's own short transactions (token
    rotation, batch claims) run on the test transaction instead of a second connection.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry.enter_test_mode(cls.cr)
        cls.addClassCleanup(cls.registry.leave_test_mode)
        cls._xero_start_peer()
        cls.connection = cls.env["xero.connection"].create(
            cls._xero_connection_vals(cls.env.company)
        )

    def setUp(self):
        super().setUp()
        self._xero_reset_peer()
        self._xero_bind(self.connection)
