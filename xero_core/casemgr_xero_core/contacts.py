"""Which Xero contact is this customer? Matching against the organisation's directory."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Who:
    """A customer or a Xero contact, as far as matching goes."""

    key: Hashable
    reference: str | None = None  # Odoo partner ref / Xero ContactNumber
    email: str | None = None
    name: str | None = None


def _norm(value: str | None) -> str:
    return (value or "").strip().lower()


def match_contacts(customers: Iterable[Who], free_contacts: Iterable[Who]) -> dict:
    """{customer key: contact key} for customers with exactly one free contact of the same
    reference, else e-mail, else name (case and surrounding spaces ignored). Never a guess
    between two; a contact is given to one customer at most. Unmatched customers are left out
    (they are to be created in Xero)."""
    free = list(free_contacts)
    tables = []
    for attr in ("reference", "email", "name"):
        table: dict[str, list[Who]] = {}
        for contact in free:
            value = _norm(getattr(contact, attr))
            if value:
                table.setdefault(value, []).append(contact)
        tables.append((attr, table))
    taken: set = set()
    out = {}
    for customer in customers:
        candidates: list[Who] = []
        for attr, table in tables:
            value = _norm(getattr(customer, attr))
            candidates = [c for c in table.get(value, []) if c.key not in taken]
            if value and candidates:
                break
        if len(candidates) == 1:
            taken.add(candidates[0].key)
            out[customer.key] = candidates[0].key
    return out
