"""Xero payment dict -> plain values, the poll's invoice selection, paginated listing."""

from datetime import date, datetime, timedelta, timezone

import pytest

from casemgr_xero_core.errors import NotFound
from casemgr_xero_core.payments import (
    diff_payments,
    invoices_to_look_at,
    parse_xero_date,
    parse_xero_datetime,
    payment_data,
)

from helpers import payloads

UTC = timezone.utc


def ms(dt):
    return f"/Date({int(dt.timestamp() * 1000)}+0000)/"


def test_parse_xero_dates():
    assert parse_xero_date("/Date(1546646400000+0000)/") == date(2019, 1, 5)
    assert parse_xero_datetime("/Date(1546646400000+1300)/") == datetime(2019, 1, 5, tzinfo=UTC)
    assert parse_xero_date("2019-01-05T00:00:00") == date(2019, 1, 5)
    assert parse_xero_datetime("2019-01-05T10:00:00Z") == datetime(2019, 1, 5, 10, tzinfo=UTC)
    assert parse_xero_datetime("") is None
    assert parse_xero_datetime(None) is None
    assert parse_xero_datetime("garbage") is None


def test_payment_data_from_xero_dict():
    p = {
        "PaymentID": "p1",
        "Status": "AUTHORISED",
        "Amount": 100.5,
        "Date": "/Date(1546646400000+0000)/",
        "CurrencyRate": 1.5,
        "Reference": " Cheque 42 ",
        "Account": {"Code": "090", "AccountID": "acc-1"},
        "Invoice": {"InvoiceID": "inv-1", "CurrencyCode": "EUR"},
        "UpdatedDateUTC": "/Date(1546646400000+0000)/",
    }
    d = payment_data(p)
    assert d.payment_id == "p1" and d.invoice_id == "inv-1" and d.live
    assert d.date == date(2019, 1, 5) and d.amount == 100.5
    assert d.currency == "EUR" and d.currency_rate == 1.5
    assert d.reference == "Cheque 42"
    assert (d.account_code, d.account_id) == ("090", "acc-1")
    # currency from the invoice when the payment's embedded invoice lacks it
    bare = {"PaymentID": "p2", "Status": "DELETED", "Amount": "7"}
    d2 = payment_data(bare, {"InvoiceID": "inv-2", "CurrencyCode": "NZD"})
    assert (d2.invoice_id, d2.currency, d2.amount, d2.live) == ("inv-2", "NZD", 7.0, False)
    assert d2.reference is None and d2.account_code is None and d2.date is None


def test_invoices_to_look_at_filters_client_side():
    now = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    old = ms(now - timedelta(days=3))
    new = ms(now - timedelta(minutes=1))
    pays = [
        {
            "PaymentID": "a",
            "Status": "AUTHORISED",
            "UpdatedDateUTC": old,
            "Invoice": {"InvoiceID": "i1"},
        },
        {
            "PaymentID": "b",
            "Status": "AUTHORISED",
            "UpdatedDateUTC": new,
            "Invoice": {"InvoiceID": "i2"},
        },
        {
            "PaymentID": "c",
            "Status": "AUTHORISED",
            "UpdatedDateUTC": new,
            "Invoice": {"InvoiceID": "i2"},
        },
        # deleted without a new UpdatedDateUTC (xero-local) but still active in Odoo
        {
            "PaymentID": "d",
            "Status": "DELETED",
            "UpdatedDateUTC": old,
            "Invoice": {"InvoiceID": "i3"},
        },
        {
            "PaymentID": "e",
            "Status": "DELETED",
            "UpdatedDateUTC": old,
            "Invoice": {"InvoiceID": "i4"},
        },
        {"PaymentID": "f", "Status": "AUTHORISED", "UpdatedDateUTC": new},  # no invoice
    ]
    since = (now - timedelta(hours=1)).replace(tzinfo=None)  # naive = UTC (Odoo)
    assert invoices_to_look_at(pays, since, bound_active_ids={"d"}) == ["i2", "i3"]
    assert invoices_to_look_at(pays, None) == ["i1", "i2", "i3", "i4"]
    # overlap absorbs clock skew
    assert invoices_to_look_at(pays, now, overlap=timedelta(minutes=5)) == ["i2"]
    assert invoices_to_look_at(pays, now, overlap=timedelta(0)) == []


def test_modified_payment_is_delete_plus_create():
    xero = [{"PaymentID": "old", "Status": "DELETED"}, {"PaymentID": "new", "Status": "AUTHORISED"}]
    create, cancel = diff_payments(xero, {"old": "paid"})
    assert [p["PaymentID"] for p in create] == ["new"] and cancel == ["old"]


def test_list_payments_paginates_and_get_payment(make_client, xero):
    client = make_client()
    (r,) = client.put_invoices([payloads(1)[0]], "pp1")
    created = [
        client.create_payment(
            {
                "Invoice": {"InvoiceID": r.xero_id},
                "Account": {"Code": "090"},
                "Date": "2024-06-05",
                "Amount": 1,
            }
        )
        for _ in range(105)
    ]
    listed = client.list_payments()
    assert len(listed) == 105
    assert {p["PaymentID"] for p in listed} == {p["PaymentID"] for p in created}
    one = client.get_payment(created[0]["PaymentID"])
    assert payment_data(one).invoice_id == r.xero_id
    client.delete_payment(created[0]["PaymentID"])
    assert client.get_payment(created[0]["PaymentID"])["Status"] == "DELETED"
    with pytest.raises(NotFound):
        client.get_payment("00000000-0000-0000-0000-000000000000")


def test_payment_sanity_checks():
    import datetime as dt

    from casemgr_xero_core.payments import check_payment

    day, lock = dt.date(2024, 3, 1), dt.date(2024, 2, 29)
    assert check_payment(day, 100, lock, 100, 100) is None
    assert check_payment(None, 100, None, 0, 100) == "no_date"
    assert check_payment(lock, 100, lock, 100, 100) == "locked"
    assert check_payment(day, 0.004, None, 0.004, 100) == "not_positive"
    assert check_payment(day, 100.01, None, 100.01, 100) == "above_due"
    assert check_payment(day, 100.004, None, 100.004, 100) is None  # within the cent
    assert check_payment(day, 5, None, 5, 10, decimals=0) is None
