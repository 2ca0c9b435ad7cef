import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from casemgr_xero_core import oauth
from casemgr_xero_core.client import XeroClient
from casemgr_xero_core.endpoints import XeroEndpoints

pytest_plugins = ["casemgr_xero_testing.pytest_plugin"]


class TokenBox:
    """Caller-side token store: get_token / refresh hooks, counting refreshes."""

    def __init__(self, endpoints, token):
        self.endpoints = endpoints
        self.token = token
        self.refresh_calls = 0

    def get(self):
        return self.token

    def refresh(self, stale):
        self.refresh_calls += 1
        self.token = oauth.refresh_token(self.endpoints, "cid", "secret", stale["refresh_token"])
        return self.token


@pytest.fixture
def make_client(xero):
    def factory(base_url=None, **kw):
        ep = XeroEndpoints.for_base(base_url or xero.url)
        box = TokenBox(ep, oauth.client_credentials_token(ep, "cid", "secret"))
        client = XeroClient(ep, xero.tenant_id(), box.get, refresh=box.refresh, **kw)
        client.box = box
        return client

    return factory


@pytest.fixture(scope="session", autouse=True)
def load_registry():
    """Neutralise pytest-odoo's database fixture should the plugin be active anyway."""
    yield
