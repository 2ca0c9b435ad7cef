"""Per-element results of a Xero batch write."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation


@dataclass
class ItemResult:
    """Outcome of one element (invoice / contact) of a batch.

    ``ok``        Xero holds the element (``xero_id`` set).
    ``retryable`` not ok, but not Xero's judgement either: requeue it (e.g. outcome unknown).
    ``unknown``   the write may or may not have reached Xero and a lookup did not find it.
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

    @property
    def message(self) -> str:
        return "; ".join(self.messages)

    @property
    def outcome(self) -> str:
        """What this answer makes of the document: ``sent`` (Xero holds it), ``queued``
        (not Xero's judgement: send again, after a lookup) or ``failed`` (Xero's messages say
        why; a total mismatch keeps ``xero_id``, the document exists there)."""
        if self.ok:
            return "sent"
        return "queued" if self.retryable else "failed"


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
    if failed and not msgs:
        msgs = ["Xero rejected this record without giving a reason."]
    return ItemResult(
        index=index,
        key=key,
        ok=not failed,
        xero_id=None if failed else xero_id,
        total=to_decimal(element.get("Total")),
        status=element.get("Status") or element.get("ContactStatus"),
        messages=msgs,
        data=element,
    )
