"""Xero's sales-invoice import file ("Import invoices" CSV), for firms that import by hand.

What Xero's importer asks for (read 2026-12-02; sources in ``docs/NOTES.md``, section "Xero's
invoice import file"): Xero's instructions as reproduced in the *sblive Xero Guide*
(https://online.flippingbook.com/view/399081/31/), the header row of Xero's
``SalesInvoiceTemplate.csv`` as quoted verbatim in public code, tax-rate names as ``GET /TaxRates``
returns them (https://docs.zynk.com/workflow/documentation/xero/export-tax-rates.html), credit
notes as negative values (Workbench, *Sales Import*,
https://workbenchdoc.atlassian.net/wiki/spaces/XI/pages/20316164/Sales+Import):

- The columns of Xero's own template ``SalesInvoiceTemplate.csv``, in its order, headings
  unchanged (``COLUMNS``, 29 columns; the starred ones are required).
- One row per invoice line; the invoice's own fields (contact, number, dates, total) repeated on
  each of its rows. Dates DD/MM/YYYY (MM/DD/YYYY for US organisations).
- ``*TaxType``: the tax rate's *display name* as the organisation shows it, e.g.
  ``20% (VAT on Income)`` or ``15% GST on Income`` (the ``Name`` beside each ``TaxType`` in
  ``GET /TaxRates``), not the API code (``OUTPUT2``).
- All prices of one file either tax exclusive or tax inclusive (chosen when importing), never a
  mixture: exclusive and inclusive invoices go to separate files whose names say which.
- ``Total`` and ``TaxAmount`` are computed by Xero on import; we fill them from Odoo so the
  import can be checked against Odoo's figures.
- At most 500 invoices a file.
- Credit notes go through the same import as negative amounts: Xero turns a negative document
  into a credit note. We write a credit note's unit prices, tax and total negated (quantities
  stay as they are), its number in ``*InvoiceNumber``.

Plain data in (``mapping.InvoiceData`` whose ``tax_type`` already holds the display name, or
``None``/``"NONE"`` on lines without tax), CSV bytes out. No Odoo here.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from .batching import chunks
from .mapping import InvoiceData, _dec

# Verbatim, in order, the header row of Xero's SalesInvoiceTemplate.csv.
COLUMNS = [
    "*ContactName", "EmailAddress", "POAddressLine1", "POAddressLine2", "POAddressLine3",
    "POAddressLine4", "POCity", "PORegion", "POPostalCode", "POCountry", "*InvoiceNumber",
    "Reference", "*InvoiceDate", "*DueDate", "Total", "InventoryItemCode", "*Description",
    "*Quantity", "*UnitAmount", "Discount", "*AccountCode", "*TaxType", "TaxAmount",
    "TrackingName1", "TrackingOption1", "TrackingName2", "TrackingOption2", "Currency",
    "BrandingTheme",
]  # fmt: skip
REQUIRED = [c for c in COLUMNS if c.startswith("*")]

MAX_INVOICES_PER_FILE = 500  # Xero's limit for one import file
EXCLUSIVE = "exclusive"
INCLUSIVE = "inclusive"
NO_TAX_CODE = "NONE"  # Xero's TaxType for "no tax"; its display name differs by country
CREDIT_NOTE = "ACCRECCREDIT"
_CENT = Decimal("0.01")


def amount_type(inv: InvoiceData) -> str:
    """``inclusive`` for tax-inclusive prices, else ``exclusive`` (invoices without tax too:
    their amounts are the same either way)."""
    return INCLUSIVE if inv.line_amount_types == "Inclusive" else EXCLUSIVE


def _fmt_date(value, date_format: str) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, (date, datetime)):
        return value.strftime(date_format)
    return datetime.strptime(str(value)[:10], "%Y-%m-%d").strftime(date_format)


def _num(value, sign: int = 1) -> str:
    d = _dec(value)
    if d is None:
        return ""
    d = d * sign
    if d == d.to_integral():
        return str(d.quantize(Decimal(1)))
    return format(d.normalize(), "f")


def _money(value, sign: int = 1) -> str:
    d = _dec(value)
    if d is None:
        return ""
    return str((d * sign).quantize(_CENT))


def _is_untaxed(tax_type) -> bool:
    return not tax_type or tax_type == NO_TAX_CODE


def untaxed_lines(inv: InvoiceData, no_tax_name: str = "") -> list[int]:
    """Line numbers (from 1) with no tax when no name of the no-tax rate is given: Xero's
    importer would guess their tax rate (the caller words the problem)."""
    if (no_tax_name or "").strip():
        return []
    out = []
    for n, li in enumerate(inv.lines, start=1):
        if li.kind in ("note", "section"):
            continue
        if li.tax_label and not li.tax_type:
            continue  # a tax with no Xero rate: the validation names it (tax_unmapped)
        if _is_untaxed(li.tax_type):
            out.append(n)
    return out


def problems(inv: InvoiceData, no_tax_name: str = "") -> list[str]:
    """What would make Xero's importer guess (or refuse): in plain words, naming the invoice."""
    return [
        f"Invoice {inv.number}, line {n}: the line has no tax, and Xero's import needs the name "
        "of the organisation's no-tax rate (e.g. 'No GST', 'No VAT', 'Tax Exempt')."
        for n in untaxed_lines(inv, no_tax_name)
    ]


def invoice_rows(
    inv: InvoiceData, date_format: str = "%d/%m/%Y", no_tax_name: str = ""
) -> list[dict]:
    """One row per line (note and section lines: description-only rows)."""
    sign = -1 if inv.type == CREDIT_NOTE else 1
    c = inv.contact
    head = dict.fromkeys(COLUMNS, "")
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
            "Total": _money(inv.total, sign),
            "Currency": (inv.currency or "").upper(),
        }
    )
    rows = []
    for li in inv.lines:
        row = dict(head)
        row["*Description"] = li.description or ""
        if li.kind not in ("note", "section"):
            untaxed = _is_untaxed(li.tax_type)
            row.update(
                {
                    "InventoryItemCode": li.item_code or "",
                    "*Quantity": _num(li.quantity),
                    "*UnitAmount": _num(li.unit_amount, sign),
                    "Discount": _num(li.discount_rate) if _dec(li.discount_rate) else "",
                    "*AccountCode": li.account_code or "",
                    "*TaxType": no_tax_name if untaxed else li.tax_type,
                    "TaxAmount": _money(0 if untaxed else (li.tax_amount or 0), sign),
                }
            )
            for n, (cat, opt) in enumerate((li.tracking or [])[:2], start=1):
                row[f"TrackingName{n}"] = cat
                row[f"TrackingOption{n}"] = opt
        rows.append(row)
    return rows


@dataclass
class CsvFile:
    name: str
    amount_type: str  # EXCLUSIVE | INCLUSIVE
    invoices: list[InvoiceData]
    content: bytes = b""


def split(
    invoices: list[InvoiceData],
    max_per_file: int = MAX_INVOICES_PER_FILE,
    prefix: str = "xero-invoices",
) -> list[CsvFile]:
    """Exclusive files first, then inclusive ones, each of at most ``max_per_file`` invoices,
    in the order given; named ``<prefix>-<exclusive|inclusive>-<nnn>.csv``."""
    files = []
    for kind in (EXCLUSIVE, INCLUSIVE):
        group = [inv for inv in invoices if amount_type(inv) == kind]
        for n, part in enumerate(chunks(group, max_per_file), start=1):
            files.append(CsvFile(f"{prefix}-{kind}-{n:03d}.csv", kind, part))
    return files


def render(invoices: list[InvoiceData], date_format: str = "%d/%m/%Y", no_tax_name="") -> bytes:
    """One CSV file (UTF-8, CRLF, the template's header row first)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for inv in invoices:
        writer.writerows(invoice_rows(inv, date_format, no_tax_name))
    return buf.getvalue().encode("utf-8")


def write_csv_files(
    invoices: list[InvoiceData],
    max_per_file: int = MAX_INVOICES_PER_FILE,
    date_format: str = "%d/%m/%Y",
    prefix: str = "xero-invoices",
    no_tax_name: str = "",
) -> list[CsvFile]:
    """The files to import, one amount type each, ≤ ``max_per_file`` invoices each."""
    files = split(invoices, max_per_file, prefix)
    for f in files:
        f.content = render(f.invoices, date_format, no_tax_name)
    return files
