"""Xero's "Import invoices" CSV template (fallback when the API is not used)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

from .batching import chunks
from .mapping import InvoiceData, _dec

COLUMNS = [
    "*ContactName", "EmailAddress", "POAddressLine1", "POAddressLine2", "POAddressLine3",
    "POAddressLine4", "POCity", "PORegion", "POPostalCode", "POCountry", "*InvoiceNumber",
    "Reference", "*InvoiceDate", "*DueDate", "InventoryItemCode", "*Description", "*Quantity",
    "*UnitAmount", "Discount", "*AccountCode", "*TaxType", "TrackingName1", "TrackingOption1",
    "TrackingName2", "TrackingOption2", "Currency", "BrandingTheme",
]  # fmt: skip


def _fmt_date(value, date_format: str) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, (date, datetime)):
        return value.strftime(date_format)
    return datetime.strptime(str(value)[:10], "%Y-%m-%d").strftime(date_format)


def _num(value) -> str:
    d = _dec(value)
    if d is None:
        return ""
    s = format(d.normalize(), "f")
    return s


def invoice_rows(inv: InvoiceData, date_format: str = "%d/%m/%Y") -> list[dict]:
    """One row per line; note/section lines become description-only rows."""
    c = inv.contact
    head = {col: "" for col in COLUMNS}
    head.update(
        {
            "*ContactName": (c.name or "").strip() if c else "",
            "EmailAddress": (c.email or "") if c else "",
            "POAddressLine1": (c.street or "") if c else "",
            "POAddressLine2": (c.street2 or "") if c else "",
            "POAddressLine3": (c.street3 or "") if c else "",
            "POAddressLine4": (c.street4 or "") if c else "",
            "POCity": (c.city or "") if c else "",
            "PORegion": (c.state or "") if c else "",
            "POPostalCode": (c.zip or "") if c else "",
            "POCountry": (c.country or "") if c else "",
            "*InvoiceNumber": inv.number,
            "Reference": inv.reference or "",
            "*InvoiceDate": _fmt_date(inv.date, date_format),
            "*DueDate": _fmt_date(inv.due_date, date_format),
            "Currency": (inv.currency or "").upper(),
        }
    )
    rows = []
    for li in inv.lines:
        row = dict(head)
        row["*Description"] = li.description or ""
        if li.kind not in ("note", "section"):
            row.update(
                {
                    "InventoryItemCode": li.item_code or "",
                    "*Quantity": _num(li.quantity),
                    "*UnitAmount": _num(li.unit_amount),
                    "Discount": _num(li.discount_rate) if _dec(li.discount_rate) else "",
                    "*AccountCode": li.account_code or "",
                    "*TaxType": li.tax_type or "",
                }
            )
            for n, (cat, opt) in enumerate((li.tracking or [])[:2], start=1):
                row[f"TrackingName{n}"] = cat
                row[f"TrackingOption{n}"] = opt
        rows.append(row)
    return rows


def write_csv_files(
    invoices: list[InvoiceData],
    max_per_file: int = 500,
    date_format: str = "%d/%m/%Y",
    prefix: str = "xero-invoices",
) -> list[tuple[str, bytes]]:
    """[(filename, UTF-8 CSV bytes)], at most ``max_per_file`` invoices per file (Xero's
    import limit is 500 invoices per file)."""
    files = []
    groups = list(chunks(list(invoices), max_per_file)) or []
    for n, group in enumerate(groups, start=1):
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        for inv in group:
            writer.writerows(invoice_rows(inv, date_format))
        name = f"{prefix}-{n:03d}.csv" if len(groups) > 1 else f"{prefix}.csv"
        files.append((name, buf.getvalue().encode("utf-8")))
    return files
