"""Exactly-once export of one batch of invoices (≤ 50), pure: no database, no Odoo.

The caller persists ``sending`` + the idempotency key *before* calling, and the per-item results
after. If a previous attempt's outcome is unknown, call again with ``check_existing=True``: what
Xero already holds is bound by InvoiceNumber instead of being sent twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from .batching import MAX_INVOICES_PER_REQUEST
from .errors import TransientError, ValidationError, XeroError
from .mapping import META_EXPECTED_TOTAL
from .results import ItemResult, Reason, TotalMismatch, to_decimal

_logger = logging.getLogger(__name__)

MAX_ROUNDS = 3
DEAD_STATUSES = ("DELETED", "VOIDED")


@dataclass(frozen=True)
class DocumentKind:
    """What differs between exporting invoices and credit notes."""

    document: str  # "invoice" / "credit_note": in a ``Reason``'s params, the addon words it
    number_field: str  # InvoiceNumber / CreditNoteNumber
    put: str  # client method: put_invoices / put_credit_notes
    find: str  # client method: find_invoices_by_number / find_credit_notes_by_number


INVOICES = DocumentKind("invoice", "InvoiceNumber", "put_invoices", "find_invoices_by_number")
CREDIT_NOTES = DocumentKind(
    "credit_note", "CreditNoteNumber", "put_credit_notes", "find_credit_notes_by_number"
)


def _expected_total(
    payload: dict, expected_totals: dict | None, kind: DocumentKind = INVOICES
) -> Decimal | None:
    num = payload.get(kind.number_field)
    if expected_totals and num in expected_totals:
        return to_decimal(expected_totals[num])
    return to_decimal(payload.get(META_EXPECTED_TOTAL))


def _check_total(
    result: ItemResult, expected: Decimal | None, kind: DocumentKind = INVOICES
) -> ItemResult:
    if not result.ok or expected is None or result.total is None:
        return result
    q = Decimal("0.01")
    if result.total.quantize(q) != expected.quantize(q):
        result.mismatch = TotalMismatch(result.total.quantize(q), expected.quantize(q))
    return result


def _bound(index: int, invoice: dict, kind: DocumentKind = INVOICES) -> ItemResult:
    status = invoice.get("Status")
    number = invoice.get(kind.number_field)
    if status in DEAD_STATUSES:
        return ItemResult(
            index=index,
            key=number,
            ok=False,
            status=status,
            total=to_decimal(invoice.get("Total")),
            reason=Reason(
                "dead_in_xero", {"document": kind.document, "number": number, "status": status}
            ),
            data=invoice,
            bound=True,
        )
    return ItemResult(
        index=index,
        key=number,
        ok=True,
        xero_id=invoice.get("InvoiceID") or invoice.get("CreditNoteID"),
        total=to_decimal(invoice.get("Total")),
        status=status,
        data=invoice,
        bound=True,
    )


def _same_contact(payload: dict, found: dict) -> bool:
    """False only when both sides name a ContactID and they differ."""
    ours = (payload.get("Contact") or {}).get("ContactID")
    theirs = (found.get("Contact") or {}).get("ContactID")
    return not (ours and theirs and ours != theirs)


def send_invoice_batch(
    client,
    payloads: list[dict],
    idempotency_key: str,
    check_existing: bool = False,
    expected_totals: dict | None = None,
    max_rounds: int = MAX_ROUNDS,
    kind: DocumentKind = INVOICES,
) -> list[ItemResult]:
    """Send ≤ 50 invoice payloads; one ItemResult per payload, in input order.

    - ok=True: Xero holds it (xero_id). ``bound=True`` when found by lookup, not created now;
      ``mismatch`` (outcome TOTAL_MISMATCH) when its total is not the expected one.
    - ok=False, retryable=False: Xero's judgement (messages) — fix the data.
    - ok=False, retryable=True (unknown=True): outcome not confirmed — requeue, and send the
      next attempt with ``check_existing=True``.
    RateLimited / AuthError / TransientError (nothing sent) propagate; when some items were
    already resolved the exception carries them in ``partial_results``.
    """
    n = len(payloads)
    if n > MAX_INVOICES_PER_REQUEST:
        raise ValueError(f"At most {MAX_INVOICES_PER_REQUEST} invoices per batch, got {n}")
    numbers = [p.get(kind.number_field) for p in payloads]
    if any(not num for num in numbers):
        raise ValueError(f"Every payload needs a {kind.number_field} (used to find it again)")
    results: list[ItemResult | None] = [None] * n

    def finish() -> list[ItemResult]:
        out = []
        for i, r in enumerate(results):
            assert r is not None
            r.index = i
            out.append(_check_total(r, _expected_total(payloads[i], expected_totals, kind), kind))
        return out

    def lookup_and_bind(indexes: list[int]) -> list[int]:
        """Bind those Xero already holds; return the indexes still unresolved."""
        if not indexes:
            return []
        found = getattr(client, kind.find)([numbers[i] for i in indexes])
        rest = []
        for i in indexes:
            inv = found.get(numbers[i])
            if inv is not None and not _same_contact(payloads[i], inv):
                # Someone else's document carries this number: never bind it to ours.
                results[i] = ItemResult(
                    index=i,
                    key=numbers[i],
                    ok=False,
                    reason=Reason(
                        "number_taken", {"document": kind.document, "number": numbers[i]}
                    ),
                    data=inv,
                )
            elif inv is not None:
                results[i] = _bound(i, inv, kind)
            else:
                rest.append(i)
        return rest

    def with_partial(err: XeroError) -> XeroError:
        err.partial_results = [r for r in results if r is not None]
        return err

    pending = list(range(n))
    if check_existing:
        pending = lookup_and_bind(pending)

    key = idempotency_key
    for round_no in range(max_rounds):
        if not pending:
            break
        if round_no:
            # a different body must not reuse the key (Xero would answer the cached response)
            key = f"{idempotency_key}-r{round_no}"
        body = [payloads[i] for i in pending]  # the client drops our metadata keys
        try:
            answered = getattr(client, kind.put)(body, key)
        except ValidationError as err:
            # xero-local style 400: only the failing element(s); others may or may not be stored
            failed_by_number = {it.key: it for it in err.items if it.key}
            matched = False
            for i in pending:
                it = failed_by_number.get(numbers[i])
                if it is not None:
                    matched = True
                    results[i] = ItemResult(
                        index=i,
                        key=numbers[i],
                        ok=False,
                        status=it.status,
                        messages=list(it.messages) or [err.message],
                        data=it.data,
                    )
            rest = [i for i in pending if results[i] is None]
            try:
                rest = lookup_and_bind(rest)
            except XeroError as lookup_err:
                raise with_partial(lookup_err) from err
            if not matched:
                # a 400 about the request as a whole: Xero's word, not retryable
                for i in rest:
                    results[i] = ItemResult(i, numbers[i], ok=False, messages=[err.message])
                rest = []
            pending = rest
            continue
        except TransientError as err:
            if not err.outcome_unknown and round_no == 0:
                raise with_partial(err) from err
            try:
                rest = lookup_and_bind(pending)
            except XeroError as lookup_err:
                raise with_partial(lookup_err) from err
            for i in rest:
                results[i] = ItemResult(
                    i,
                    numbers[i],
                    ok=False,
                    retryable=True,
                    unknown=True,
                    messages=[err.message],
                    reason=Reason(
                        "outcome_unknown", {"document": kind.document, "number": numbers[i]}
                    ),
                )
            return finish()
        except XeroError as err:
            raise with_partial(err) from err

        by_number = {}
        if len(answered) == len(pending):
            pairs = list(zip(pending, answered, strict=True))
        else:
            for r in answered:
                by_number.setdefault(r.key, r)
            pairs = [(i, by_number.get(numbers[i])) for i in pending]
        still = []
        for i, r in pairs:
            if r is None:
                still.append(i)
                continue
            r.key = r.key or numbers[i]
            results[i] = r
        pending = lookup_and_bind(still) if still else []

    for i in pending:
        results[i] = ItemResult(
            i,
            numbers[i],
            ok=False,
            retryable=True,
            unknown=True,
            reason=Reason(
                "not_confirmed",
                {"document": kind.document, "number": numbers[i], "tries": max_rounds},
            ),
        )
    return finish()


def send_credit_note_batch(client, payloads: list[dict], idempotency_key: str, **kwargs):
    """``send_invoice_batch`` for credit notes (CreditNoteNumber, PUT /CreditNotes)."""
    return send_invoice_batch(client, payloads, idempotency_key, kind=CREDIT_NOTES, **kwargs)
