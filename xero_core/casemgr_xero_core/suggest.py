"""Mapping suggestions from the organisation's own lists (GET /TaxRates, GET /Accounts).

Plain data in, plain proposals out; a person confirms them before anything is saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

REVENUE_ACCOUNT_TYPES = ("REVENUE", "SALES", "OTHERINCOME")


@dataclass
class Proposal:
    key: object  # the caller's id of the Odoo record
    value: str  # Xero TaxType or account Code
    label: str  # Xero's name for it
    alternatives: list[str] = field(default_factory=list)  # other values that fit as well


def _rate(value) -> Decimal | None:
    try:
        return Decimal(str(value)).quantize(Decimal("0.0001")) if value is not None else None
    except (InvalidOperation, ValueError):
        return None


def suggest_tax_types(taxes: list[tuple], xero_tax_rates: list[dict]) -> dict:
    """``taxes``: [(key, percent)] of unmapped sales taxes. Returns {key: Proposal}: an active
    Xero tax rate that applies to revenue with the same effective rate (EffectiveRate, else
    DisplayTaxRate). Several fit: the output (sales) types first, then by TaxType; the others
    are listed as alternatives. No fit: no proposal."""
    candidates = []
    for rate in xero_tax_rates or ():
        if (rate.get("Status") or "ACTIVE") != "ACTIVE" or not rate.get("TaxType"):
            continue
        if rate.get("CanApplyToRevenue") is False:
            continue
        effective = _rate(rate.get("EffectiveRate", rate.get("DisplayTaxRate")))
        if effective is not None:
            candidates.append((effective, rate))
    candidates.sort(
        key=lambda c: (not c[1]["TaxType"].upper().startswith("OUTPUT"), c[1]["TaxType"])
    )
    out = {}
    for key, percent in taxes:
        wanted = _rate(percent)
        fits = [r for eff, r in candidates if eff == wanted]
        if fits:
            best = fits[0]
            out[key] = Proposal(
                key=key,
                value=best["TaxType"],
                label=best.get("Name") or best["TaxType"],
                alternatives=[r["TaxType"] for r in fits[1:]],
            )
    return out


def suggest_account_codes(accounts: list[tuple], xero_accounts: list[dict]) -> dict:
    """``accounts``: [(key, code, name)] of income accounts without a mapping. Returns
    {key: Proposal} for those whose code Xero does not have: the active revenue account of the
    same name (case and spaces ignored), else none. An account whose code Xero has needs no
    mapping (the code is sent as is)."""
    active = [
        a
        for a in xero_accounts or ()
        if (a.get("Status") or "ACTIVE") == "ACTIVE" and a.get("Code")
    ]
    codes = {a["Code"] for a in active}
    by_name: dict[str, list[dict]] = {}
    for a in active:
        if (a.get("Type") or "REVENUE") in REVENUE_ACCOUNT_TYPES:
            by_name.setdefault(" ".join((a.get("Name") or "").lower().split()), []).append(a)
    out = {}
    for key, code, name in accounts:
        if code and code in codes:
            continue
        fits = by_name.get(" ".join((name or "").lower().split()), [])
        if fits:
            out[key] = Proposal(
                key=key,
                value=fits[0]["Code"],
                label=fits[0].get("Name") or fits[0]["Code"],
                alternatives=[a["Code"] for a in fits[1:]],
            )
    return out
