"""Drift between Odoo and Xero for exported documents: pure comparison of plain data."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .results import to_decimal

CENT = Decimal("0.01")
#: Xero statuses that mean "this invoice no longer counts"
GONE = ("DELETED", "VOIDED")


@dataclass
class OdooDocument:
    key: int | str  # the Odoo record id
    number: str
    xero_id: str
    total: Decimal | float
    amount_due: Decimal | float
    paid: bool  # fully paid in Odoo


@dataclass
class Difference:
    key: int | str
    number: str
    field: str  # existence / total / amount_due / status
    odoo: str
    xero: str

    @property
    def message(self) -> str:
        labels = {
            "existence": "exists in Odoo as exported but Xero does not have it",
            "total": "total differs",
            "amount_due": "amount due differs",
            "status": "status differs",
        }
        what = labels.get(self.field, self.field)
        if self.field == "existence":
            return f"Invoice {self.number}: {what} (Xero ID {self.xero})."
        return f"Invoice {self.number}: {what} — Odoo {self.odoo}, Xero {self.xero}."


def _money(value) -> Decimal:
    return (to_decimal(value) or Decimal(0)).quantize(CENT)


def compare(documents: list[OdooDocument], xero_by_id: dict[str, dict]) -> list[Difference]:
    """Every difference between what Odoo believes was exported and what Xero holds."""
    out: list[Difference] = []
    for doc in documents:
        xinv = xero_by_id.get(doc.xero_id)
        if xinv is None:
            out.append(Difference(doc.key, doc.number, "existence", "exported", doc.xero_id))
            continue
        status = xinv.get("Status") or ""
        if status in GONE:
            out.append(Difference(doc.key, doc.number, "status", "posted", status))
            continue
        if _money(xinv.get("Total")) != _money(doc.total):
            out.append(
                Difference(
                    doc.key,
                    doc.number,
                    "total",
                    str(_money(doc.total)),
                    str(_money(xinv.get("Total"))),
                )
            )
        if _money(xinv.get("AmountDue")) != _money(doc.amount_due):
            out.append(
                Difference(
                    doc.key,
                    doc.number,
                    "amount_due",
                    str(_money(doc.amount_due)),
                    str(_money(xinv.get("AmountDue"))),
                )
            )
        if (status == "PAID") != bool(doc.paid):
            out.append(
                Difference(
                    doc.key, doc.number, "status", "paid" if doc.paid else "not paid", status
                )
            )
    return out
