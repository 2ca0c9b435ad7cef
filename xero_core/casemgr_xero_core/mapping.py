"""Plain invoice/contact data -> Xero JSON payloads; mappings checked against the organisation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from .results import to_decimal
from .validation import MAX_DESCRIPTION, MAX_NAME

Q2 = Decimal("0.01")
Q4 = Decimal("0.0001")
#: payload-side metadata key (never sent to Xero): the total Odoo expects Xero to compute
META_EXPECTED_TOTAL = "_expected_total"


@dataclass
class ContactData:
    key: str | int | None
    name: str
    email: str | None = None
    contact_number: str | None = None
    xero_contact_id: str | None = None
    tax_number: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    street: str | None = None
    street2: str | None = None
    street3: str | None = None
    street4: str | None = None
    city: str | None = None
    zip: str | None = None
    state: str | None = None
    country: str | None = None
    account_number: str | None = None


@dataclass
class LineData:
    description: str | None
    quantity: Decimal | float | int | None = None
    unit_amount: Decimal | float | int | None = None
    line_amount: Decimal | float | int | None = None
    discount_rate: Decimal | float | int | None = None
    account_code: str | None = None
    tax_type: str | None = None
    item_code: str | None = None
    tracking: list[tuple[str, str]] = field(default_factory=list)
    kind: str = "line"  # 'line' | 'note' | 'section'
    tax_amount: Decimal | float | int | None = None
    tax_count: int | None = None  # how many taxes the source line has (Xero takes one)
    tax_label: str | None = None  # the source tax's name, for "not mapped" messages
    tax_key: int | str | None = None  # the source tax's id (the caller's, e.g. to file a cause)


@dataclass
class InvoiceData:
    key: str | int | None
    number: str
    date: date | str | None
    due_date: date | str | None
    currency: str
    lines: list[LineData]
    contact: ContactData | None
    reference: str | None = None
    currency_rate: Decimal | float | None = None
    line_amount_types: str = "Exclusive"
    status: str = "AUTHORISED"
    type: str = "ACCREC"
    total: Decimal | float | None = None
    subtotal: Decimal | float | None = None
    total_tax: Decimal | float | None = None
    mixed_tax_inclusion: bool = False  # tax-included and tax-excluded prices on one invoice


# --------------------------------------------------------------------------------- helpers


_dec = to_decimal  # str() keeps a float's shortest repr: 0.1 -> Decimal("0.1")


def _q(value, quantum: Decimal) -> Decimal | None:
    d = _dec(value)
    if d is None:
        return None
    d = d.quantize(quantum, rounding=ROUND_HALF_UP)
    # drop trailing zeros but keep it a plain (non-exponent) number
    return d.normalize() if d != d.to_integral() else d.quantize(Decimal(1))


def _iso(value) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)[:10]


def _clean(value) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    return value or None


# --------------------------------------------------------------------------------- payloads


def contact_payload(c: ContactData) -> dict:
    """Xero Contact JSON (for POST /Contacts or inline on an invoice)."""
    out: dict = {}
    if c.xero_contact_id:
        out["ContactID"] = c.xero_contact_id
    if _clean(c.name):
        out["Name"] = _clean(c.name)[:MAX_NAME]
    for key, val in (
        ("EmailAddress", c.email),
        ("ContactNumber", c.contact_number),
        ("AccountNumber", c.account_number),
        ("TaxNumber", c.tax_number),
        ("FirstName", c.first_name),
        ("LastName", c.last_name),
    ):
        if _clean(val):
            out[key] = _clean(val)
    address = {
        "AddressLine1": _clean(c.street),
        "AddressLine2": _clean(c.street2),
        "AddressLine3": _clean(c.street3),
        "AddressLine4": _clean(c.street4),
        "City": _clean(c.city),
        "Region": _clean(c.state),
        "PostalCode": _clean(c.zip),
        "Country": _clean(c.country),
    }
    address = {k: v for k, v in address.items() if v}
    if address:
        out["Addresses"] = [{"AddressType": "POBOX", **address}]
    if _clean(c.phone):
        out["Phones"] = [{"PhoneType": "DEFAULT", "PhoneNumber": _clean(c.phone)}]
    return out


def line_payload(line: LineData) -> dict:
    if line.kind in ("note", "section"):
        return {"Description": (line.description or "").strip()[:MAX_DESCRIPTION] or "-"}
    out: dict = {}
    if line.description:
        out["Description"] = line.description[:MAX_DESCRIPTION]
    if line.quantity is not None:
        out["Quantity"] = _q(line.quantity, Q4)
    if line.unit_amount is not None:
        out["UnitAmount"] = _q(line.unit_amount, Q4)
    if line.line_amount is not None:
        out["LineAmount"] = _q(line.line_amount, Q2)
    if line.discount_rate not in (None, 0, Decimal(0)) and _dec(line.discount_rate):
        out["DiscountRate"] = _q(line.discount_rate, Q4)
    if line.account_code:
        out["AccountCode"] = line.account_code
    if line.tax_type:
        out["TaxType"] = line.tax_type
    if line.tax_amount is not None and line.tax_type:
        out["TaxAmount"] = _q(line.tax_amount, Q2)
    if line.item_code:
        out["ItemCode"] = line.item_code
    if line.tracking:
        out["Tracking"] = [{"Name": cat, "Option": opt} for cat, opt in line.tracking]
    return out


def invoice_payload(inv: InvoiceData, number_prefix: str = "", with_meta: bool = True) -> dict:
    """Xero Invoice JSON for PUT /Invoices. With ``with_meta`` and a known ``inv.total`` the
    payload also carries ``_expected_total`` (stripped by export.send_invoice_batch)."""
    out: dict = {
        "Type": inv.type,
        "InvoiceNumber": f"{number_prefix}{inv.number}",
    }
    if inv.contact is not None:
        if inv.contact.xero_contact_id:
            out["Contact"] = {"ContactID": inv.contact.xero_contact_id}
        else:
            out["Contact"] = contact_payload(inv.contact)
    if _iso(inv.date):
        out["Date"] = _iso(inv.date)
    if _iso(inv.due_date):
        out["DueDate"] = _iso(inv.due_date)
    out["CurrencyCode"] = (inv.currency or "").upper()
    if inv.currency_rate is not None:
        out["CurrencyRate"] = _q(inv.currency_rate, Decimal("0.000001"))
    out["LineAmountTypes"] = inv.line_amount_types
    out["Status"] = inv.status
    if _clean(inv.reference):
        out["Reference"] = _clean(inv.reference)
    out["LineItems"] = [line_payload(li) for li in inv.lines]
    if with_meta and inv.total is not None:
        out[META_EXPECTED_TOTAL] = _q(inv.total, Q2)
    return out


# --------------------------------------------------------------------------------- settings


#: Every setting problem code (params: the Odoo record's ``label``, the Xero ``value``); the
#: addon words each one.
SETTING_CODES = ("account_inactive", "tax_no_type", "tax_inactive", "tracking_missing")


@dataclass(frozen=True)
class SettingProblem:
    """A mapping the organisation contradicts: ``code`` (one of SETTING_CODES), the Odoo
    record's ``label`` and the mapped Xero ``value``."""

    code: str
    label: str
    value: str = ""


def check_settings(
    account_codes: dict[str, str],
    tax_types: dict[str, str],
    tracking: dict[str, str],
    xero_accounts: list[dict] | None,
    xero_tax_rates: list[dict] | None,
    xero_tracking: list[dict] | None,
) -> list[SettingProblem]:
    """Compare our mappings ({Odoo label: Xero value}) with what the organisation has.

    A ``None`` list means the organisation could not be asked (the check is skipped for it).
    Returns one problem per mapping Xero contradicts, naming the Odoo record and the Xero value.
    """
    problems: list[SettingProblem] = []
    if xero_accounts is not None:
        codes = {a.get("Code") for a in xero_accounts if a.get("Status", "ACTIVE") == "ACTIVE"}
        for label, code in sorted(account_codes.items()):
            if code not in codes:
                problems.append(SettingProblem("account_inactive", label, code))
    if xero_tax_rates is not None:
        types = {t.get("TaxType") for t in xero_tax_rates if t.get("Status", "ACTIVE") == "ACTIVE"}
        for label, tax_type in sorted(tax_types.items()):
            if not tax_type:
                problems.append(SettingProblem("tax_no_type", label))
            elif tax_type not in types:
                problems.append(SettingProblem("tax_inactive", label, tax_type))
    if xero_tracking is not None:
        names = {c.get("Name") for c in xero_tracking if c.get("Status", "ACTIVE") == "ACTIVE"}
        for label, name in sorted(tracking.items()):
            if name not in names:
                problems.append(SettingProblem("tracking_missing", label, name))
    return problems


def credit_note_payload(inv: InvoiceData, number_prefix: str = "", with_meta: bool = True) -> dict:
    """Xero CreditNote JSON (ACCRECCREDIT) for PUT /CreditNotes, from the same plain data."""
    out = invoice_payload(inv, number_prefix, with_meta)
    out["Type"] = "ACCRECCREDIT"
    out["CreditNoteNumber"] = out.pop("InvoiceNumber")
    out.pop("DueDate", None)
    return out
