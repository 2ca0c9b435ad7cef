import datetime as dt
from decimal import Decimal

from casemgr_xero_testing.openapi import require_spec, validate

from casemgr_xero_core.mapping import (
    ContactData,
    InvoiceData,
    LineData,
    contact_payload,
    invoice_payload,
)
from casemgr_xero_core.validation import invoice_problems

from helpers import make_invoice


def test_payload_shape():
    p = invoice_payload(make_invoice(7), number_prefix="OD-")
    assert p["InvoiceNumber"] == "OD-00007"
    assert p["Date"] == "2024-06-01" and p["DueDate"] == "2024-07-01"
    assert p["Contact"]["Name"] == "ACME Ltd" and "ContactID" not in p["Contact"]
    assert "CurrencyRate" not in p and p["CurrencyCode"] == "NZD"
    li = p["LineItems"]
    assert li[0] == {"Description": "Section A"} and li[3] == {
        "Description": "Thanks for your business"
    }
    assert li[1]["UnitAmount"] == Decimal("150.1234") and li[1]["LineAmount"] == Decimal("300.25")
    assert li[1]["Tracking"] == [{"Name": "Region", "Option": "North"}]
    assert li[2]["DiscountRate"] == Decimal(10)
    assert p["_expected_total"] == Decimal("390.25")
    with_id = invoice_payload(make_invoice(7, contact_id="c-1"))
    assert with_id["Contact"] == {"ContactID": "c-1"}


def _contact():
    return ContactData(
        key=1,
        name=" Jane Co ",
        email="j@co.test",
        contact_number="C42",
        street="1 Main St",
        city="Wellington",
        zip="6011",
        country="NZ",
        phone="123",
    )


def test_payloads_match_published_schema():
    """Skipped (not passed) when Xero's OpenAPI spec cannot be had."""
    require_spec()
    p = invoice_payload(make_invoice(7), number_prefix="OD-")
    validate({k: v for k, v in p.items() if not k.startswith("_")}, "Invoice")
    validate(contact_payload(_contact()), "Contact")


def test_contact_payload():
    p = contact_payload(_contact())
    assert p["Name"] == "Jane Co" and p["Addresses"][0]["City"] == "Wellington"


def test_validation_problems():
    assert invoice_problems(make_invoice(1)) == []
    inv = InvoiceData(
        key=1,
        number="INV/9",
        date=dt.date(2024, 1, 1),
        due_date=None,
        currency="euro",
        lines=[],
        contact=ContactData(key=1, name=" "),
    )
    problems = invoice_problems(inv)
    assert {p.invoice for p in problems} == {"INV/9"}
    assert [(p.code, p.field, p.params) for p in problems] == [
        ("contact_no_name", "partner", {}),
        ("due_date_missing", "due_date", {}),
        ("currency_invalid", "currency", {"currency": "euro"}),
        ("no_lines", "lines", {}),
    ]

    inv = make_invoice(
        2,
        lines=[
            LineData(
                "Widget",
                quantity=Decimal("1.12345"),
                unit_amount=Decimal(2),
                line_amount=Decimal("2.25"),
                account_code=None,
                tax_type=None,
            ),
            LineData(
                "x" * 4001,
                quantity=1,
                unit_amount=1,
                line_amount=1,
                account_code="200",
                tax_type="OUTPUT",
            ),
            LineData(
                "Disc",
                quantity=3,
                unit_amount=Decimal("33.3333"),
                line_amount=Decimal("89.50"),
                discount_rate=10,
                account_code="200",
                tax_type="OUTPUT",
            ),
        ],
    )
    found = [(p.line, p.description, p.code, p.params) for p in invoice_problems(inv)]
    assert (1, "Widget", "account_code_missing", {}) in found
    assert (1, "Widget", "tax_type_missing", {}) in found
    assert (
        1,
        "Widget",
        "too_many_decimals",
        {"what": "quantity", "value": Decimal("1.12345"), "places": 4},
    ) in found
    assert (2, "x" * 40, "description_too_long", {"max": 4000}) in found
    disc = [f for f in found if f[0] == 3]
    assert [(f[2], f[3]["amount"]) for f in disc] == [
        ("amount_mismatch_discount", Decimal("89.50"))
    ]


def test_check_settings_names_what_xero_lacks():
    from casemgr_xero_core.mapping import SETTING_CODES, check_settings

    problems = check_settings(
        {"400000 Sales": "200", "400100 Fees": "999"},
        {"VAT 15%": "OUTPUT", "Old tax": "GONE"},
        {"Matters": "Matter"},
        [{"Code": "200", "Status": "ACTIVE"}, {"Code": "999", "Status": "ARCHIVED"}],
        [{"TaxType": "OUTPUT", "Status": "ACTIVE"}],
        None,
    )
    assert [(p.code, p.label, p.value) for p in problems] == [
        ("account_inactive", "400100 Fees", "999"),
        ("tax_inactive", "Old tax", "GONE"),
    ]
    assert {p.code for p in problems} <= set(SETTING_CODES)


def test_check_settings_skips_what_the_peer_cannot_tell():
    from casemgr_xero_core.mapping import check_settings

    assert check_settings({"a": "1"}, {"t": "X"}, {"p": "C"}, None, None, None) == []
