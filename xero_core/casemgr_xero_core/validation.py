"""Pre-flight validation of invoices: one rule, one place, one message.

``invoice_problems`` returns typed problems (a code, its parameters, the field it concerns);
the Odoo addon holds their words, in the user's language. No text here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from .results import to_decimal

LINE_AMOUNT_TYPES = ("Exclusive", "Inclusive", "NoTax")
SENDABLE_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED")
MAX_DESCRIPTION = 4000
MAX_NUMBER = 255
MAX_NAME = 255
MAX_TRACKING = 2
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
Q2 = Decimal("0.01")

#: Every problem code, with the names of the params it carries. The addon words each one (in
#: the user's language); a code here without a text there fails the addon's test_i18n.
PROBLEM_PARAMS: dict[str, tuple[str, ...]] = {
    "number_missing": (),
    "number_too_long": ("max",),
    "contact_no_name": (),
    "contact_name_too_long": ("max",),
    "date_missing": (),
    "due_date_missing": (),
    "currency_invalid": ("currency",),
    "currency_rate_invalid": (),
    "amount_types_invalid": ("value", "allowed"),
    "mixed_tax_inclusion": (),
    "status_invalid": ("status",),
    "no_lines": (),
    "total_zero": (),
    "description_too_long": ("max",),
    "note_empty": (),
    "description_empty": (),
    "account_code_missing": (),
    "several_taxes": (),
    "tax_unmapped": ("tax",),
    "tax_type_missing": (),
    "not_a_number": ("what", "value"),
    "too_many_decimals": ("what", "value", "places"),
    "discount_out_of_range": ("rate",),
    "too_many_tracking": ("max",),
    "amount_mismatch": ("amount", "expected"),
    "amount_mismatch_discount": ("amount", "rate", "expected"),
}
#: ``not_a_number`` / ``too_many_decimals``: which value (``what``)
WHAT_VALUES = ("quantity", "unit price", "line amount", "discount")


@dataclass(frozen=True)
class Problem:
    """Why a document cannot be sent: ``code`` (a key of PROBLEM_PARAMS), its ``params``, the
    ``field`` it concerns (number, partner, date, due_date, currency, lines, taxes, total,
    name, account, quantity, price_unit, discount, analytic), where it is (``invoice`` number,
    ``line`` number from 1 and its ``description``)."""

    code: str
    field: str
    invoice: str
    line: int | None = None
    description: str = ""
    params: dict = field(default_factory=dict, hash=False, compare=True)


def _dec(value) -> Decimal | None:
    return to_decimal(value)


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _text(value) -> str:
    return str(value).strip() if value is not None else ""


def _has_date(value) -> bool:
    return bool(value) and bool(str(value).strip())


def invoice_problems(inv) -> list[Problem]:
    """Every reason Xero would reject ``inv`` (a ``mapping.InvoiceData``) or the export would
    be ambiguous. Empty list = good to send."""
    number = _text(inv.number)
    out: list[Problem] = []

    def add(code, fname, line=None, desc="", **params):
        out.append(Problem(code, fname, number, line, desc, params))

    if not number:
        add("number_missing", "name")
    elif len(number) > MAX_NUMBER:
        add("number_too_long", "name", max=MAX_NUMBER)
    contact = inv.contact
    if contact is None or (not _text(contact.name) and not contact.xero_contact_id):
        add("contact_no_name", "partner")
    elif len(_text(contact.name)) > MAX_NAME:
        add("contact_name_too_long", "partner", max=MAX_NAME)
    if not _has_date(inv.date):
        add("date_missing", "date")
    if not _has_date(inv.due_date):
        add("due_date_missing", "due_date")
    if not inv.currency or not _CURRENCY_RE.match(str(inv.currency).upper()):
        add("currency_invalid", "currency", currency=inv.currency)
    if inv.currency_rate is not None and (_dec(inv.currency_rate) or 0) <= 0:
        add("currency_rate_invalid", "currency")
    if inv.line_amount_types not in LINE_AMOUNT_TYPES:
        add(
            "amount_types_invalid",
            "taxes",
            value=inv.line_amount_types,
            allowed=", ".join(LINE_AMOUNT_TYPES),
        )
    if inv.mixed_tax_inclusion:
        add("mixed_tax_inclusion", "taxes")
    if inv.status not in SENDABLE_STATUSES:
        add("status_invalid", "state", status=inv.status)
    if not [li for li in inv.lines if li.kind not in ("note", "section")]:
        add("no_lines", "lines")
    total = _dec(inv.total)
    if total is not None and total == 0:
        add("total_zero", "total")
    for n, li in enumerate(inv.lines, start=1):
        desc = _text(li.description)[:40]

        def line(code, fname, n=n, desc=desc, **params):
            add(code, fname, n, desc, **params)

        if len(li.description or "") > MAX_DESCRIPTION:
            line("description_too_long", "name", max=MAX_DESCRIPTION)
        if li.kind in ("note", "section"):
            if not desc:
                line("note_empty", "name")
            continue
        if not desc and not li.item_code:
            line("description_empty", "name")
        if not li.account_code and not li.item_code:
            line("account_code_missing", "account")
        if li.tax_count is not None and li.tax_count > 1:
            line("several_taxes", "taxes")
        elif not li.tax_type and li.tax_label:
            line("tax_unmapped", "taxes", tax=li.tax_label)
        elif not li.tax_type and inv.line_amount_types != "NoTax":
            line("tax_type_missing", "taxes")
        for what, fname, val, places in (
            ("quantity", "quantity", li.quantity, 4),
            ("unit price", "price_unit", li.unit_amount, 4),
            ("line amount", "price_subtotal", li.line_amount, 2),
            ("discount", "discount", li.discount_rate, 4),
        ):
            d = _dec(val)
            if val is not None and d is None:
                line("not_a_number", fname, what=what, value=val)
            elif d is not None and _decimals(d) > places:
                line("too_many_decimals", fname, what=what, value=d, places=places)
        rate = _dec(li.discount_rate)
        if rate is not None and not (0 <= rate <= 100):
            line("discount_out_of_range", "discount", rate=rate)
        if len(li.tracking or []) > MAX_TRACKING:
            line("too_many_tracking", "analytic_distribution", max=MAX_TRACKING)
        qty, unit, amount = _dec(li.quantity), _dec(li.unit_amount), _dec(li.line_amount)
        if qty is not None and unit is not None and amount is not None:
            expected = qty * unit * (1 - (rate or Decimal(0)) / 100)
            expected = expected.quantize(Q2, rounding=ROUND_HALF_UP)
            if abs(expected - amount) > Decimal("0.005"):
                if rate:
                    line(
                        "amount_mismatch_discount",
                        "price_subtotal",
                        amount=amount,
                        rate=rate,
                        expected=expected,
                    )
                else:
                    line("amount_mismatch", "price_subtotal", amount=amount, expected=expected)
    return out
