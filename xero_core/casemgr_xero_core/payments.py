"""Payments reconcile: Xero is the truth; compute what Odoo must create / cancel."""

from __future__ import annotations

from collections.abc import Iterable

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
