"""Payments reconcile: Xero is the truth; compute what Odoo must create / cancel."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

LIVE = "AUTHORISED"
GONE = ("DELETED", "VOIDED")
ODOO_ACTIVE = ("posted", "in_process", "paid", "draft", "sent")


def diff_payments(
    xero_payments: Iterable[dict], odoo_payments: dict[str, str]
) -> tuple[list[dict], list[str]]:
    """``xero_payments``: Xero Payment dicts (PaymentID, Status, …) for the invoice(s) looked at.
    ``odoo_payments``: {xero_payment_id: odoo state} of payments bound in Odoo.

    Returns (to_create: Xero payments Xero has AUTHORISED and Odoo lacks,
             to_cancel: xero_payment_ids Odoo has active but Xero shows DELETED/VOIDED or no
             longer lists). Running it on its own output's result changes nothing.
    """
    by_id: dict[str, dict] = {}
    for p in xero_payments or ():
        pid = p.get("PaymentID")
        if pid:
            by_id[pid] = p
    to_create = [
        p
        for pid, p in by_id.items()
        if (p.get("Status") or LIVE).upper() == LIVE and pid not in odoo_payments
    ]
    to_cancel = []
    for pid, state in odoo_payments.items():
        if (state or "").lower() not in ODOO_ACTIVE:
            continue  # already cancelled/rejected in Odoo
        xp = by_id.get(pid)
        if xp is None or (xp.get("Status") or "").upper() in GONE:
            to_cancel.append(pid)
    return to_create, sorted(to_cancel)


# ---------------------------------------------------------------------------
# Xero Payment dict -> plain values
# ---------------------------------------------------------------------------

_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def parse_xero_datetime(value) -> datetime | None:
    """Xero's ``/Date(1546646400000+0000)/`` or an ISO string -> aware UTC datetime (or None)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    text = str(value).strip()
    m = _MS_DATE.match(text)
    if m:
        # The offset only says which local time Xero shows; the milliseconds are UTC.
        return datetime.fromtimestamp(int(m.group(1)) / 1000.0, tz=timezone.utc)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def parse_xero_date(value) -> date | None:
    """The calendar date of a Xero date field (payment Date is a date, sent at midnight UTC)."""
    dt = parse_xero_datetime(value)
    return dt.date() if dt else None


@dataclass(frozen=True)
class PaymentData:
    """What Odoo needs to know about one Xero payment, as plain values."""

    payment_id: str
    invoice_id: str | None
    status: str
    date: date | None
    amount: float
    currency: str | None
    currency_rate: float | None
    reference: str | None
    account_code: str | None
    account_id: str | None
    updated: datetime | None
    payment_type: str | None = None

    @property
    def live(self) -> bool:
        return self.status == LIVE


def _float(value) -> float | None:
    try:
        return float(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def payment_data(payment: dict, invoice: dict | None = None) -> PaymentData:
    """Plain values of a Xero Payment dict. The currency is the invoice's (a Xero payment is
    always in its invoice's currency); ``invoice`` supplies it when the payment's embedded
    Invoice lacks it."""
    inv = payment.get("Invoice") or {}
    account = payment.get("Account") or {}
    currency = inv.get("CurrencyCode") or (invoice or {}).get("CurrencyCode")
    if isinstance(currency, dict):  # SDK-style enum serialisation
        currency = currency.get("value")
    return PaymentData(
        payment_id=payment.get("PaymentID") or "",
        invoice_id=inv.get("InvoiceID") or (invoice or {}).get("InvoiceID"),
        status=(payment.get("Status") or LIVE).upper(),
        date=parse_xero_date(payment.get("Date")),
        amount=_float(payment.get("Amount")) or 0.0,
        currency=(str(currency).upper() if currency else None),
        currency_rate=_float(payment.get("CurrencyRate")),
        reference=(payment.get("Reference") or "").strip() or None,
        account_code=(account.get("Code") or "").strip() or None,
        account_id=account.get("AccountID") or None,
        updated=parse_xero_datetime(payment.get("UpdatedDateUTC")),
        payment_type=payment.get("PaymentType"),
    )


# ---------------------------------------------------------------------------
# Poll: which invoices to look at
# ---------------------------------------------------------------------------

POLL_OVERLAP = timedelta(minutes=5)


def invoices_to_look_at(
    payments: Iterable[dict],
    since: datetime | None,
    bound_active_ids: Iterable[str] = (),
    overlap: timedelta = POLL_OVERLAP,
) -> list[str]:
    """InvoiceIDs (first-seen order) of the payments changed since ``since``.

    Filters client-side on UpdatedDateUTC (with ``overlap`` to absorb clock skew; the reconcile
    is idempotent, so looking twice is harmless) because not every server honours
    If-Modified-Since. A payment Odoo still has active (``bound_active_ids``) that Xero now
    shows DELETED/VOIDED is included whatever its UpdatedDateUTC says.
    """
    bound = set(bound_active_ids or ())
    cutoff = None
    if since is not None:
        cutoff = since if since.tzinfo else since.replace(tzinfo=timezone.utc)
        cutoff -= overlap
    seen: dict[str, None] = {}
    for p in payments or ():
        inv_id = (p.get("Invoice") or {}).get("InvoiceID")
        if not inv_id:
            continue
        status = (p.get("Status") or LIVE).upper()
        updated = parse_xero_datetime(p.get("UpdatedDateUTC"))
        changed = cutoff is None or updated is None or updated >= cutoff
        gone_but_bound = status in GONE and p.get("PaymentID") in bound
        if changed or gone_but_bound:
            seen.setdefault(inv_id, None)
    return list(seen)


def is_locked(on: date | None, lock_date: date | None) -> bool:
    """A payment dated ``on`` falls in a period locked until ``lock_date`` (inclusive)."""
    return bool(on and lock_date and on <= lock_date)


def check_payment(
    on: date | None,
    amount,
    lock_date: date | None,
    amount_in_invoice_currency,
    amount_due,
    decimals: int = 2,
) -> str | None:
    """Why a Xero payment cannot be registered against its invoice as it is, or None:
    ``no_date``, ``locked`` (dated in a locked period), ``not_positive``, ``above_due`` (more
    than the invoice still owes: its other payments or credit notes differ from Xero's).
    Amounts are compared at the currency's ``decimals``, rounded half up."""
    if not on:
        return "no_date"
    if is_locked(on, lock_date):
        return "locked"
    quantum = Decimal(1).scaleb(-decimals)

    def q(value):
        return Decimal(str(value or 0)).quantize(quantum, rounding=ROUND_HALF_UP)

    if q(amount) <= 0:
        return "not_positive"
    if q(amount_in_invoice_currency) > q(amount_due):
        return "above_due"
    return None
