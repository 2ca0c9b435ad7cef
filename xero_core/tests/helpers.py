import datetime as dt
from decimal import Decimal

from casemgr_xero_core.mapping import ContactData, InvoiceData, LineData, invoice_payload


def make_invoice(n, *, prefix="INV-", bad_discount=False, contact_id=None, lines=None):
    disc = LineData(
        "Discounted service",
        quantity=Decimal(3),
        unit_amount=Decimal("33.3333"),
        line_amount=Decimal("90.00") if not bad_discount else Decimal("89.50"),
        discount_rate=Decimal(10),
        account_code="200",
        tax_type="OUTPUT",
    )
    lines = lines or [
        LineData("Section A", kind="section"),
        LineData(
            "Consulting",
            quantity=Decimal(2),
            unit_amount=Decimal("150.1234"),
            line_amount=Decimal("300.25"),
            account_code="200",
            tax_type="OUTPUT",
            tracking=[("Region", "North")],
        ),
        disc,
        LineData("Thanks for your business", kind="note"),
    ]
    return InvoiceData(
        key=n,
        number=f"{n:05d}",
        date=dt.date(2024, 6, 1),
        due_date=dt.date(2024, 7, 1),
        currency="NZD",
        lines=lines,
        contact=ContactData(
            key=1, name="ACME Ltd", email="ap@acme.test", xero_contact_id=contact_id
        ),
        reference=f"REF{n}",
        total=Decimal("390.25"),
    )


def payloads(count, start=1, **kw):
    prefix = kw.pop("prefix", "INV-")
    return [
        invoice_payload(make_invoice(i, **kw), number_prefix=prefix)
        for i in range(start, start + count)
    ]
