"""Changes made in Xero to an exported invoice: what Odoo exported (its payload, plain data)
against what Xero holds now (its invoice, its credit notes) -> typed changes, no user text.

- ``credit``: a credit note Odoo did not make was allocated to the invoice (its lines, the
  amount applied);
- ``void``: the invoice was voided in Xero;
- ``edit``: its lines were edited in Xero (the lines gone, the lines new, the total's
  difference).

Each change has a ``fingerprint``: the same change seen twice (webhook and poll) has the same
one, a later different change another. Reads: the invoice (already read for its payments) and
one ``GET /CreditNotes/{id}`` per credit note not yet recorded (``get_credit_note``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from .errors import NotFound
from .payments import POLL_OVERLAP, parse_xero_datetime
from .results import to_decimal

CENT = Decimal("0.01")
Q4 = Decimal("0.0001")
CREDIT, VOID, EDIT = "credit", "void", "edit"
KINDS = (CREDIT, VOID, EDIT)


def money(value) -> Decimal:
    return (to_decimal(value) or Decimal(0)).quantize(CENT)


def _q4(value) -> Decimal | None:
    dec = to_decimal(value)
    return None if dec is None else dec.quantize(Q4)


@dataclass(frozen=True)
class ChangeLine:
    """One line of a change, in Xero's terms (amount signed: negative = taken away)."""

    description: str
    line_amount: Decimal
    quantity: Decimal | None = None
    unit_amount: Decimal | None = None
    account_code: str | None = None
    tax_type: str | None = None
    tax_amount: Decimal = Decimal(0)

    def key(self) -> tuple:
        return (
            self.description,
            self.account_code or "",
            self.tax_type or "",
            str(self.line_amount),
            str(self.quantity),
            str(self.unit_amount),
        )

    def to_dict(self) -> dict:
        return {
            "description": self.description,
            "line_amount": str(self.line_amount),
            "quantity": None if self.quantity is None else str(self.quantity),
            "unit_amount": None if self.unit_amount is None else str(self.unit_amount),
            "account_code": self.account_code,
            "tax_type": self.tax_type,
            "tax_amount": str(self.tax_amount),
        }

    @classmethod
    def from_dict(cls, data: dict) -> ChangeLine:
        return cls(
            description=data.get("description") or "",
            line_amount=money(data.get("line_amount")),
            quantity=_q4(data.get("quantity")),
            unit_amount=_q4(data.get("unit_amount")),
            account_code=data.get("account_code"),
            tax_type=data.get("tax_type"),
            tax_amount=money(data.get("tax_amount")),
        )

    def negated(self) -> ChangeLine:
        return ChangeLine(
            self.description,
            -self.line_amount,
            self.quantity,
            None if self.unit_amount is None else -self.unit_amount,
            self.account_code,
            self.tax_type,
            -self.tax_amount,
        )


@dataclass(frozen=True)
class XeroChange:
    kind: str  # CREDIT / VOID / EDIT
    invoice_id: str  # the exported invoice's InvoiceID
    source_id: str  # the credit note's id (CREDIT), else the InvoiceID
    source_number: str  # the credit note's number (CREDIT), else the invoice's
    amount: Decimal  # applied (CREDIT), the total (VOID), Xero's total less Odoo's (EDIT)
    fingerprint: str
    lines: tuple[ChangeLine, ...] = field(default_factory=tuple)
    line_amount_types: str = "Exclusive"
    date: str | None = None


def line_of(item: dict) -> ChangeLine | None:
    """A Xero (or exported) LineItem as a ChangeLine; None for a note or section (no money)."""
    amount = money(item.get("LineAmount"))
    if amount == 0 and not to_decimal(item.get("UnitAmount")):
        return None
    tax_type = item.get("TaxType") or None
    return ChangeLine(
        description=(item.get("Description") or "").strip(),
        line_amount=amount,
        quantity=_q4(item.get("Quantity")),
        unit_amount=_q4(item.get("UnitAmount")),
        account_code=item.get("AccountCode") or None,
        tax_type=tax_type,
        tax_amount=money(item.get("TaxAmount")),
    )


def lines_of(items) -> list[ChangeLine]:
    return [line for line in (line_of(i) for i in items or () if isinstance(i, dict)) if line]


def _digest(*parts) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]


def credits_to_read(invoice: dict, recorded: dict[str, Decimal], ours: set[str]):
    """[(CreditNoteID, number, amount newly applied)] of the credit notes allocated to
    ``invoice`` that Odoo did not make (``ours``: the ids of credit notes exported from or
    made by Odoo), less what is already ``recorded`` per credit note."""
    applied: dict[str, list] = {}
    for stub in invoice.get("CreditNotes") or ():
        cn_id = stub.get("CreditNoteID") if isinstance(stub, dict) else None
        if not cn_id or cn_id in ours:
            continue
        amount = money(stub.get("AppliedAmount", stub.get("Total")))
        entry = applied.setdefault(cn_id, [stub.get("CreditNoteNumber") or cn_id, Decimal(0)])
        entry[1] += amount
    out = []
    for cn_id, (number, amount) in applied.items():
        new = amount - recorded.get(cn_id, Decimal(0))
        if new > 0:
            out.append((cn_id, number, new))
    return out


def credit_change(
    invoice_id: str, credit_note: dict, applied: Decimal, total_applied
) -> XeroChange:
    """The change of one credit note allocated to ``invoice_id`` (``applied``: the new part;
    ``total_applied``: all of it so far, which makes the fingerprint)."""
    cn_id = credit_note.get("CreditNoteID") or ""
    return XeroChange(
        kind=CREDIT,
        invoice_id=invoice_id,
        source_id=cn_id,
        source_number=credit_note.get("CreditNoteNumber") or cn_id,
        amount=money(applied),
        fingerprint=_digest(CREDIT, cn_id, money(total_applied)),
        lines=tuple(lines_of(credit_note.get("LineItems"))),
        line_amount_types=credit_note.get("LineAmountTypes") or "Exclusive",
        date=credit_note.get("DateString") or credit_note.get("Date") or None,
    )


def invoice_changes(exported: dict, invoice: dict) -> list[XeroChange]:
    """VOID or EDIT of ``invoice`` (Xero's) against ``exported`` (the payload Odoo sent:
    ``mapping.invoice_payload``; only its ``LineItems`` and ``_expected_total`` are read)."""
    inv_id = invoice.get("InvoiceID") or ""
    number = invoice.get("InvoiceNumber") or exported.get("InvoiceNumber") or inv_id
    amount_types = invoice.get("LineAmountTypes") or exported.get("LineAmountTypes") or "Exclusive"
    sent = lines_of(exported.get("LineItems"))
    if invoice.get("Status") == "VOIDED":
        total = money(exported.get("_expected_total", invoice.get("Total")))
        return [
            XeroChange(
                VOID,
                inv_id,
                inv_id,
                number,
                total,
                _digest(VOID, inv_id),
                tuple(sent),
                amount_types,
            )
        ]
    if invoice.get("Status") == "DELETED":
        return []
    now = lines_of(invoice.get("LineItems"))
    gone, new = _difference(sent, now)
    if not gone and not new:
        return []
    before = sum((line.line_amount + line.tax_amount for line in sent), Decimal(0))
    after = sum((line.line_amount + line.tax_amount for line in now), Decimal(0))
    if amount_types == "Inclusive":
        before = sum((line.line_amount for line in sent), Decimal(0))
        after = sum((line.line_amount for line in now), Decimal(0))
    lines = tuple([line.negated() for line in gone] + new)
    fingerprint = _digest(EDIT, inv_id, *sorted("|".join(line.key()) for line in now))
    return [
        XeroChange(EDIT, inv_id, inv_id, number, after - before, fingerprint, lines, amount_types)
    ]


def _same(a: ChangeLine, b: ChangeLine) -> bool:
    """The same line, but for a cent on its amount (Xero computes a line's amount from its
    quantity, price and discount itself and may round it otherwise than Odoo)."""
    ka, kb = a.key(), b.key()  # (description, account, tax type, amount, quantity, price)
    return ka[:3] == kb[:3] and ka[4:] == kb[4:] and abs(a.line_amount - b.line_amount) <= CENT


def _difference(sent: list[ChangeLine], now: list[ChangeLine]):
    """(lines sent that Xero no longer has, lines Xero has that were not sent): a multiset
    difference on the whole line (description, account, tax type, quantity, price, amount)."""
    left = list(now)
    gone = []
    for line in sent:
        match = next((i for i, other in enumerate(left) if _same(other, line)), None)
        if match is None:
            gone.append(line)
        else:
            left.pop(match)
    return gone, left


# ------------------------------------------------------------------ the reads (client.request)


def get_credit_note(client, credit_note_id: str) -> dict | None:
    """``GET /CreditNotes/{id}`` (None when Xero has no such credit note)."""
    try:
        body = client.request("GET", f"/CreditNotes/{credit_note_id}") or {}
    except NotFound:
        return None
    notes = body.get("CreditNotes") or []
    return notes[0] if notes else None


def allocated_invoice_ids(credit_note: dict | None) -> list[str]:
    """The InvoiceIDs a credit note is allocated to."""
    out = []
    for alloc in (credit_note or {}).get("Allocations") or ():
        inv_id = (alloc.get("Invoice") or {}).get("InvoiceID")
        if inv_id and inv_id not in out:
            out.append(inv_id)
    return out


def _where_updated_since(when) -> str:
    return "UpdatedDateUTC>=DateTime(%d,%02d,%02d,%02d,%02d,%02d)" % (
        when.year,
        when.month,
        when.day,
        when.hour,
        when.minute,
        when.second,
    )


# Xero stamps an invoice's UpdatedDateUTC when our export creates it, and when our own
# credit-note allocation changes it. An invoice whose last update is no later than this after
# Odoo recorded it sent was changed by the export itself: the poll does not read it again
# (otherwise every invoice exported since the last poll costs one GET of the day's budget).
# Clocks: Xero's answer comes before Odoo's stamp, so only skew beyond this margin reads one
# invoice too many, which is harmless.
EXPORT_SETTLE = timedelta(seconds=60)


def updated_invoices(client, since) -> dict[str, datetime]:
    """{InvoiceID: UpdatedDateUTC} of the sales invoices updated in Xero since ``since`` (a
    naive UTC datetime), every page of ``GET /Invoices?where=UpdatedDateUTC>=…&summaryOnly``
    (checked here too, less ``POLL_OVERLAP`` for clock skew: looking twice is harmless).
    ``since`` None (never polled): nothing — the first poll only sets the mark; listing an
    organisation's whole history would spend its budget on invoices Odoo never sent."""
    if since is None:
        return {}
    aware = since.replace(tzinfo=timezone.utc) - POLL_OVERLAP
    out: dict[str, datetime] = {}
    for page in range(1, 10_000):
        query = [("page", page), ("summaryOnly", "true"), ("where", _where_updated_since(aware))]
        items = (client.request("GET", "/Invoices", query=query) or {}).get("Invoices") or []
        for inv in items:
            updated = parse_xero_datetime(inv.get("UpdatedDateUTC"))
            if inv.get("Type", "ACCREC") != "ACCREC" or not inv.get("InvoiceID"):
                continue
            if updated is not None and updated >= aware:
                out[inv["InvoiceID"]] = updated
        if len(items) < 100:
            break
    return out


def changed_after_export(updated: datetime, sent_at: datetime | None) -> bool:
    """Whether an invoice updated in Xero at ``updated`` (aware) was changed after Odoo sent it
    at ``sent_at`` (naive UTC; None: unknown, look)."""
    if sent_at is None:
        return True
    return updated > sent_at.replace(tzinfo=timezone.utc) + EXPORT_SETTLE
