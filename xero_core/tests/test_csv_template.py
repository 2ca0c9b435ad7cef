import csv
import io
from dataclasses import replace
from decimal import Decimal

from casemgr_xero_core.csv_template import (
    COLUMNS,
    REQUIRED,
    invoice_rows,
    problems,
    split,
    write_csv_files,
)
from casemgr_xero_core.mapping import ContactData, LineData
from casemgr_xero_core.validation import invoice_problems

from helpers import make_invoice

# The header row of Xero's SalesInvoiceTemplate.csv, as Xero's "Import invoices" page gives it.
TEMPLATE = (
    "*ContactName,EmailAddress,POAddressLine1,POAddressLine2,POAddressLine3,POAddressLine4,"
    "POCity,PORegion,POPostalCode,POCountry,*InvoiceNumber,Reference,*InvoiceDate,*DueDate,Total,"
    "InventoryItemCode,*Description,*Quantity,*UnitAmount,Discount,*AccountCode,*TaxType,TaxAmount,"
    "TrackingName1,TrackingOption1,TrackingName2,TrackingOption2,Currency,BrandingTheme"
)


def _named(inv, **kw):
    """The invoice with display names in TaxType (as the addon hands them over)."""
    lines = [
        replace(li, tax_type="15% GST on Income") if li.tax_type == "OUTPUT" else li
        for li in inv.lines
    ]
    return replace(inv, lines=lines, **kw)


def _parse(content: bytes) -> list[dict]:
    reader = csv.reader(io.StringIO(content.decode("utf-8"), newline=""))
    header = next(reader)
    assert ",".join(header) == TEMPLATE
    return [dict(zip(header, row, strict=True)) for row in reader]


def test_columns_are_xeros_template_in_order():
    assert ",".join(COLUMNS) == TEMPLATE and len(COLUMNS) == 29
    assert REQUIRED == [
        "*ContactName", "*InvoiceNumber", "*InvoiceDate", "*DueDate", "*Description",
        "*Quantity", "*UnitAmount", "*AccountCode", "*TaxType",
    ]  # fmt: skip


def test_rows_carry_names_totals_tax_and_address():
    inv = _named(make_invoice(3))
    inv.contact = ContactData(
        key=1,
        name="ACME Ltd",
        email="ap@acme.test",
        street="1 Queen St",
        street2="Level 2",
        city="Auckland",
        state="AUK",
        zip="1010",
        country="New Zealand",
    )
    inv.lines[1].tax_amount = Decimal("45.04")
    inv.lines[2].tax_amount = Decimal("13.5")
    rows = invoice_rows(inv)
    assert len(rows) == 4 and rows[0]["*InvoiceDate"] == "01/06/2024"
    assert {r["Total"] for r in rows} == {"390.25"}
    assert rows[1]["*Quantity"] == "2" and rows[1]["*UnitAmount"] == "150.1234"
    assert rows[1]["*TaxType"] == "15% GST on Income" and rows[1]["TaxAmount"] == "45.04"
    assert rows[2]["TaxAmount"] == "13.50" and rows[2]["Discount"] == "10"
    assert rows[1]["TrackingName1"] == "Region" and rows[1]["TrackingOption1"] == "North"
    assert rows[3]["*AccountCode"] == "" and rows[3]["*Description"] == "Thanks for your business"
    for row in rows:
        assert (row["POAddressLine1"], row["POAddressLine2"], row["POCity"]) == (
            "1 Queen St",
            "Level 2",
            "Auckland",
        )
        assert (row["PORegion"], row["POPostalCode"], row["POCountry"]) == (
            "AUK",
            "1010",
            "New Zealand",
        )


def test_untaxed_lines_need_the_no_tax_rate_name():
    inv = make_invoice(1, lines=[LineData("Disbursement", 1, 10, 10, account_code="200")])
    inv.line_amount_types = "NoTax"
    assert problems(inv) and "no-tax rate" in problems(inv)[0]
    assert problems(inv, "No GST") == []
    (row,) = invoice_rows(inv, no_tax_name="No GST")
    assert row["*TaxType"] == "No GST" and row["TaxAmount"] == "0.00"
    # An untaxed line in a taxed invoice carries Xero's code NONE: same name.
    inv = make_invoice(2, lines=[LineData("Fee", 1, 10, 10, account_code="200", tax_type="NONE")])
    assert invoice_rows(inv, no_tax_name="No VAT")[0]["*TaxType"] == "No VAT"


def test_credit_note_is_written_negative():
    inv = _named(make_invoice(4), type="ACCRECCREDIT")
    inv.lines[1].tax_amount = Decimal("45.04")
    rows = invoice_rows(inv)
    assert rows[1]["*Quantity"] == "2" and rows[1]["*UnitAmount"] == "-150.1234"
    assert rows[1]["TaxAmount"] == "-45.04" and rows[1]["Total"] == "-390.25"
    assert rows[2]["Discount"] == "10", "a discount rate stays a rate"


def test_files_split_by_amount_type_then_500():
    invoices = [make_invoice(i) for i in range(1, 1202)]
    for inv in invoices[::3]:
        inv.line_amount_types = "Inclusive"
    files = split(invoices)
    inclusive = len(invoices[::3])
    assert [(f.name, len(f.invoices)) for f in files] == [
        ("xero-invoices-exclusive-001.csv", 500),
        ("xero-invoices-exclusive-002.csv", 1201 - inclusive - 500),
        ("xero-invoices-inclusive-001.csv", inclusive),
    ]
    assert {inv.line_amount_types for inv in files[2].invoices} == {"Inclusive"}
    assert "Inclusive" not in {inv.line_amount_types for f in files[:2] for inv in f.invoices}


def test_written_files_parse_back():
    invoices = [_named(make_invoice(i)) for i in range(1, 6)]
    invoices[4].line_amount_types = "Inclusive"
    files = write_csv_files(invoices, max_per_file=2, date_format="%Y-%m-%d")
    assert [f.name for f in files] == [
        "xero-invoices-exclusive-001.csv",
        "xero-invoices-exclusive-002.csv",
        "xero-invoices-inclusive-001.csv",
    ]
    rows = _parse(files[0].content)
    assert len(rows) == 8 and {r["*InvoiceNumber"] for r in rows} == {"00001", "00002"}
    assert rows[0]["*InvoiceDate"] == "2024-06-01"
    assert {r["*TaxType"] for r in rows if r["*Quantity"]} == {"15% GST on Income"}
    assert files[0].content.count(b"\r\n") == 9


def test_unmapped_tax_is_not_reported_as_untaxed():
    """A line whose tax has no Xero rate is the validation's problem (tax_unmapped), named
    once: the file's no-tax check leaves it out."""
    from casemgr_xero_core.csv_template import untaxed_lines

    unmapped = LineData("Fee", 1, 10, 10, account_code="200", tax_label="GST 15%", tax_key=7)
    untaxed = LineData("Disbursement", 1, 10, 10, account_code="200", tax_type="NONE")
    inv = make_invoice(3, lines=[unmapped, untaxed])
    assert untaxed_lines(inv) == [2]
    assert untaxed_lines(inv, "No GST") == []
    assert [p.code for p in invoice_problems(inv)] == ["tax_unmapped"]
