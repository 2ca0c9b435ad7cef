"""pytest fixtures: ``xero_local`` (session), ``xero`` (reset per test), ``xero_proxy``.

Register with ``pytest_plugins = ["casemgr_xero_testing.pytest_plugin"]``.
"""

from __future__ import annotations

import pytest

from .proxy import FaultProxy
from .xero_local import XeroLocal


@pytest.fixture(scope="session")
def xero_local():
    with XeroLocal() as xl:
        yield xl


@pytest.fixture
def xero(xero_local):
    """The session's xero-local, emptied before the test."""
    xero_local.reset()
    return xero_local


@pytest.fixture
def xero_proxy(xero):
    with FaultProxy(xero.url) as proxy:
        yield proxy
