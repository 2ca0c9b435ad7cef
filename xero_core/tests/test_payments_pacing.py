from datetime import datetime, timedelta, timezone

from casemgr_xero_core.batching import chunks
from casemgr_xero_core.pacing import RateInfo, not_before, parse_rate_headers
from casemgr_xero_core.payments import diff_payments


def test_diff_payments():
    xero = [
        {"PaymentID": "a", "Status": "AUTHORISED", "Amount": 10},
        {"PaymentID": "b", "Status": "DELETED"},
        {"PaymentID": "c", "Status": "AUTHORISED"},
    ]
    odoo = {"b": "posted", "c": "posted", "d": "posted", "e": "canceled"}
    create, cancel = diff_payments(xero, odoo)
    assert [p["PaymentID"] for p in create] == ["a"]
    assert cancel == ["b", "d"]
    # after applying: nothing to do (idempotent)
    odoo2 = {"a": "posted", "b": "canceled", "c": "posted", "d": "canceled", "e": "canceled"}
    assert diff_payments(xero, odoo2) == ([], [])
    assert diff_payments([], {}) == ([], [])


def test_parse_rate_headers_case_insensitive():
    info = parse_rate_headers(
        {
            "x-minlimit-remaining": "3",
            "X-DayLimit-Remaining": "4000",
            "X-AppMinLimit-Remaining": "9000",
            "Retry-After": "12",
            "X-Rate-Limit-Problem": "Minute",
        }
    )
    assert info == RateInfo(3, 4000, 9000, 12.0, "minute")
    assert parse_rate_headers({}) == RateInfo()
    assert parse_rate_headers([("Retry-After", "x")]).retry_after is None


def test_not_before():
    now = datetime(2024, 6, 1, 10, 0, 30, tzinfo=timezone.utc)
    assert not_before(now, RateInfo(min_remaining=30, day_remaining=100)) is None
    assert not_before(now, RateInfo(retry_after=5.0, problem="minute")) == now + timedelta(
        seconds=5
    )
    # A spent minute budget waits one whole window (rolling or fixed, both are clear then).
    assert not_before(now, RateInfo(min_remaining=0)) == now + timedelta(seconds=60)
    assert not_before(now, RateInfo(day_remaining=0)) >= now + timedelta(minutes=30)
    assert not_before(now, RateInfo(problem="day")) >= now + timedelta(minutes=30)


def test_chunks():
    assert [len(c) for c in chunks(list(range(120)))] == [50, 50, 20]
    assert [len(c) for c in chunks(iter(range(7)), 3)] == [3, 3, 1]
