"""Per-element results of a Xero batch write: typed outcomes, never positional tuples."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import Enum


class Outcome(str, Enum):
    """What one answer makes of a document."""

    SENT = "sent"  # Xero holds it, with the total we expected (or none to compare)
    TOTAL_MISMATCH = "total_mismatch"  # Xero holds it (never send it again), another total
    QUEUED = "queued"  # not Xero's judgement (outcome unknown): send again, after a lookup
    FAILED = "failed"  # Xero's messages or ``reason`` say why


#: Codes of ``Reason``, with the names of their params (``document``: "invoice" or
#: "credit_note"). The addon words each one; a code without a text there fails its test_i18n.
REASON_PARAMS: dict[str, tuple[str, ...]] = {
    # Xero flagged the element and gave no message
    "refused_without_reason": (),
    # found by its number, but DELETED or VOIDED there: not sent again
    "dead_in_xero": ("document", "number", "status"),
    # the number is another contact's document there: not sent
    "number_taken": ("document", "number"),
    # Xero confirmed nothing after ``tries`` rounds
    "not_confirmed": ("document", "number", "tries"),
    # the answer was lost and a lookup did not find it: send again
    "outcome_unknown": ("document", "number"),
}
DOCUMENTS = ("invoice", "credit_note")


@dataclass(frozen=True)
class Reason:
    """Why the core did not send a document or cannot say it was sent, in a code (a key of
    ``REASON_PARAMS``) and its values; the addon holds the words. Xero's own words, when it
    gave some, are ``ItemResult.messages``."""

    code: str
    params: dict = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class TotalMismatch:
    """Xero holds the document with another total than the one expected."""

    xero_total: Decimal
    expected: Decimal

    @property
    def difference(self) -> Decimal:
        return self.xero_total - self.expected


@dataclass
class ItemResult:
    """Outcome of one element (invoice / contact) of a batch.

    ``ok``        Xero holds the element (``xero_id`` set); ``mismatch`` when its total differs.
    ``retryable`` not ok, but not Xero's judgement either: requeue it (e.g. outcome unknown).
    ``unknown``   the write may or may not have reached Xero and a lookup did not find it.
    ``messages``  Xero's own words; ``reason`` the core's, as a code.
    """

    index: int
    key: str | None
    ok: bool
    xero_id: str | None = None
    total: Decimal | None = None
    status: str | None = None
    messages: list[str] = field(default_factory=list)
    data: dict = field(default_factory=dict)
    retryable: bool = False
    unknown: bool = False
    bound: bool = False  # found by lookup (already in Xero) rather than created by this call
    reason: Reason | None = None
    mismatch: TotalMismatch | None = None

    @property
    def message(self) -> str:
        return "; ".join(self.messages)

    @property
    def outcome(self) -> Outcome:
        if self.ok:
            return Outcome.TOTAL_MISMATCH if self.mismatch is not None else Outcome.SENT
        return Outcome.QUEUED if self.retryable else Outcome.FAILED


def to_decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def element_messages(element: dict) -> list[str]:
    """Xero's validation messages of one element, including line-item ones, de-duplicated."""
    msgs: list[str] = []
    for err in element.get("ValidationErrors") or []:
        m = (err or {}).get("Message")
        if m and m not in msgs:
            msgs.append(m)
    for li in element.get("LineItems") or []:
        for err in (li or {}).get("ValidationErrors") or []:
            m = (err or {}).get("Message")
            if m and m not in msgs:
                msgs.append(m)
    return msgs


def element_failed(element: dict) -> bool:
    return bool(
        element.get("HasErrors")
        or element.get("HasValidationErrors")
        or element.get("ValidationErrors")
        or element.get("StatusAttributeString") == "ERROR"
    )


_ID_FIELDS = ("InvoiceID", "CreditNoteID", "ContactID", "PaymentID")
_KEY_FIELDS = ("InvoiceNumber", "CreditNoteNumber", "Name")


def result_from_element(index: int, element: dict) -> ItemResult:
    """Build an ItemResult from one element of Xero's response."""
    key = next((element.get(k) for k in _KEY_FIELDS if element.get(k)), None)
    failed = element_failed(element)
    xero_id = next((element.get(k) for k in _ID_FIELDS if element.get(k)), None)
    msgs = element_messages(element) if failed else []
    return ItemResult(
        index=index,
        key=key,
        ok=not failed,
        xero_id=None if failed else xero_id,
        total=to_decimal(element.get("Total")),
        status=element.get("Status") or element.get("ContactStatus"),
        messages=msgs,
        data=element,
        reason=Reason("refused_without_reason") if failed and not msgs else None,
    )
