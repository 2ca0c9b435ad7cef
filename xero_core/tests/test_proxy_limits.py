"""The test proxy's per-organisation limits (Xero's: minute, day, concurrent), which
``bench/run scale`` relies on."""

import threading
import urllib.error
import urllib.request

from casemgr_xero_testing.proxy import FaultProxy

API = "/api.xro/2.0"


def _get(proxy, tenant):
    req = urllib.request.Request(
        f"{proxy.url}{API}/Contacts",
        headers={
            "Authorization": "Bearer x",
            "Xero-Tenant-Id": tenant,
            "Accept": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)


def test_minute_and_day_budgets_are_per_organisation(xero):
    with FaultProxy(xero.url) as proxy:
        proxy.tenant_limits(per_minute=2, per_day=3, concurrent=5)
        a = [_get(proxy, "org-a") for _ in range(3)]
        assert [s for s, _h in a] == [200, 200, 429]
        assert a[1][1]["X-MinLimit-Remaining"] == "0"
        assert a[2][1]["X-Rate-Limit-Problem"] == "minute"
        assert 1 <= int(a[2][1]["Retry-After"]) <= 60
        # Another organisation has its own budget.
        assert _get(proxy, "org-b")[0] == 200
        assert proxy.per_tenant()["org-a"]["429 minute"] == 1
        proxy.tenant_limits(per_minute=None, per_day=1, concurrent=5)
        assert _get(proxy, "org-a")[0] == 200
        status, headers = _get(proxy, "org-a")
        assert (status, headers["X-Rate-Limit-Problem"]) == (429, "day")


def test_concurrent_calls_beyond_the_limit_get_429(xero):
    with FaultProxy(xero.url) as proxy:
        proxy.tenant_limits(per_minute=None, per_day=None, concurrent=1)
        proxy.delay(1.0, method="GET", path_prefix=API + "/Contacts", times=1)
        first = {}
        thread = threading.Thread(target=lambda: first.update(r=_get(proxy, "org-a")))
        thread.start()
        while not proxy.requests:
            pass
        status, headers = _get(proxy, "org-a")
        thread.join()
        assert first["r"][0] == 200
        assert (status, headers["X-Rate-Limit-Problem"]) == (429, "concurrent")
        assert proxy.per_tenant()["org-a"] == {f"GET {API}/Contacts": 1, "429 concurrent": 1}


def test_the_day_budget_rolls_and_says_when_a_call_may_go_again(xero):
    """A sliding day (shortened here to 2 s): Retry-After is the time until its oldest call
    leaves it, and then a call goes again (Xero's 24 h work the same way, only longer)."""
    import time

    with FaultProxy(xero.url) as proxy:
        proxy.tenant_limits(per_minute=None, per_day=2, concurrent=5, day_seconds=2)
        assert [_get(proxy, "org-a")[0] for _ in range(2)] == [200, 200]
        status, headers = _get(proxy, "org-a")
        assert (status, headers["X-Rate-Limit-Problem"]) == (429, "day")
        assert headers["Retry-After"] in ("1", "2")
        time.sleep(2.1)
        status, headers = _get(proxy, "org-a")
        assert (status, headers["X-DayLimit-Remaining"]) == (200, "1")
