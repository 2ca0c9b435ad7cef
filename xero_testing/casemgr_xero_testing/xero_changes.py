"""Changes made in Xero after an export, played by the test proxy as Xero documents them
(``xero_accounting.yaml``, ``xero-webhooks.yaml``) where xero-local lacks them:

- ``PUT /CreditNotes/{id}/Allocations``: the credit note is applied to an invoice (its
  ``RemainingCredit`` goes down; the invoice's ``AmountCredited`` up, its ``AmountDue`` down, the
  credit note listed in its ``CreditNotes``); refused above what is left on either side;
- ``POST /Invoices/{id}`` with ``Status: VOIDED``: refused while the invoice has payments, as
  Xero does; an invoice's ``LineItems`` edited the same way (not once paid);
- a credit note's ``RemainingCredit`` is its total less its allocations in every answer;
- the ``INVOICE`` and ``CREDITNOTE`` webhook events Xero would send for each change are recorded
  (``webhook_events``); ``deliver_events`` POSTs them signed, as Xero does.
"""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal

from .webhook import build_event, build_payload, signed_post

_ALLOCATIONS = re.compile(r"/CreditNotes/([^/]+)/Allocations/?$")
_ONE_INVOICE = re.compile(r"/Invoices/([^/]+)/?$")
_DOCS = re.compile(r"/(Invoices|CreditNotes)(?:/([^/]+))?/?$")
_CATEGORY = {"Invoices": ("INVOICE", "InvoiceID"), "CreditNotes": ("CREDITNOTE", "CreditNoteID")}
CENT = Decimal("0.01")


def _money(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


def _refusal(message: str, element: dict | None = None) -> tuple[int, dict, bytes]:
    body = {
        "ErrorNumber": 10,
        "Type": "ValidationException",
        "Message": "A validation exception occurred",
        "Elements": [{**(element or {}), "ValidationErrors": [{"Message": message}]}],
    }
    return 400, {"Content-Type": "application/json"}, json.dumps(body).encode()


class XeroChanges:
    """Mixed into ``FaultProxy`` (uses its ``_upstream`` and ``_tax_percent``)."""

    def _init_changes(self) -> None:
        self.webhook_events: list[dict] = []

    def _reset_changes(self) -> None:
        self.webhook_events.clear()

    # ------------------------------------------------------------------ reading upstream
    def _get_doc(self, kind: str, doc_id: str, headers: dict) -> dict | None:
        from .xero_additions import with_tax_maths

        status, _h, raw = self._upstream("GET", f"/api.xro/2.0/{kind}/{doc_id}", headers, b"")
        if status != 200:
            return None
        raw = with_tax_maths(raw, self._tax_percent())
        docs = json.loads(raw).get(kind) or []
        return docs[0] if docs else None

    def _post_doc(self, kind: str, doc_id: str, headers: dict, data: dict) -> None:
        body = json.dumps({kind: [data]}, default=str).encode()
        self._upstream("POST", f"/api.xro/2.0/{kind}/{doc_id}", headers, body)

    # ------------------------------------------------------------------ answering
    def _change_answer(self, method: str, path: str, headers: dict, body: bytes, tenant: str):
        """(status, headers, body) for what xero-local cannot do, or None: forward."""
        if method not in ("PUT", "POST"):
            return None
        match = _ALLOCATIONS.search(path)
        if match:
            return self._allocate(match.group(1), headers, body, tenant)
        match = _ONE_INVOICE.search(path)
        if match and method == "POST":
            return self._refuse_invoice_change(match.group(1), headers, body)
        return None

    def _allocate(self, cn_id: str, headers: dict, body: bytes, tenant: str):
        try:
            wanted = json.loads(body).get("Allocations") or []
        except (ValueError, AttributeError):
            return _refusal("The request body is not valid JSON.")
        note = self._get_doc("CreditNotes", cn_id, headers)
        if note is None:
            return (
                404,
                {"Content-Type": "text/plain"},
                b"The resource you're looking for cannot be found",
            )
        if note.get("Status") not in ("AUTHORISED", "PAID"):
            return _refusal("Credit note must be AUTHORISED to be allocated.")
        remaining = _money(note.get("Total")) - sum(
            (_money(a.get("Amount")) for a in note.get("Allocations") or ()), Decimal(0)
        )
        made = []
        for asked in wanted:
            invoice_id = (asked.get("Invoice") or {}).get("InvoiceID")
            amount = _money(asked.get("Amount"))
            invoice = self._get_doc("Invoices", invoice_id, headers) if invoice_id else None
            if invoice is None:
                return _refusal("Invoice could not be found.", asked)
            if invoice.get("Status") != "AUTHORISED":
                return _refusal("Invoice must be AUTHORISED to allocate a credit note to.", asked)
            if amount <= 0 or amount > remaining or amount > _money(invoice.get("AmountDue")):
                return _refusal(
                    "The amount allocated is more than the remaining credit or the amount due.",
                    asked,
                )
            remaining -= amount
            allocation = {
                "AllocationID": str(uuid.uuid4()),
                "Amount": float(amount),
                "Date": asked.get("Date") or "",
                "Invoice": {"InvoiceID": invoice_id, "InvoiceNumber": invoice.get("InvoiceNumber")},
            }
            credited = _money(invoice.get("AmountCredited")) + amount
            stub = {
                "CreditNoteID": cn_id,
                "CreditNoteNumber": note.get("CreditNoteNumber"),
                "Total": float(_money(note.get("Total"))),
                "AppliedAmount": float(amount),
            }
            self._post_doc(
                "Invoices",
                invoice_id,
                headers,
                {
                    "AmountCredited": float(credited),
                    "AmountDue": float(
                        max(
                            Decimal(0),
                            _money(invoice.get("Total"))
                            - credited
                            - _money(invoice.get("AmountPaid")),
                        )
                    ),
                    "CreditNotes": [*(invoice.get("CreditNotes") or ()), stub],
                },
            )
            self._record(tenant, "INVOICE", invoice_id, "UPDATE")
            note_allocs = [*(note.get("Allocations") or ()), allocation]
            note["Allocations"] = note_allocs
            made.append({**allocation, "CreditNote": {"CreditNoteID": cn_id}})
        self._post_doc(
            "CreditNotes",
            cn_id,
            headers,
            {
                "Allocations": note.get("Allocations") or [],
                "RemainingCredit": float(remaining),
                "Status": "PAID" if remaining == 0 else note.get("Status"),
            },
        )
        self._record(tenant, "CREDITNOTE", cn_id, "UPDATE")
        return 200, {"Content-Type": "application/json"}, json.dumps({"Allocations": made}).encode()

    def _refuse_invoice_change(self, invoice_id: str, headers: dict, body: bytes):
        """Xero refuses to void or edit the lines of an invoice that has payments."""
        try:
            data = json.loads(body)
            data = (data.get("Invoices") or [data])[0]
        except (ValueError, AttributeError, IndexError, TypeError):
            return None
        if data.get("Status") != "VOIDED" and "LineItems" not in data:
            return None
        invoice = self._get_doc("Invoices", invoice_id, headers)
        if invoice is None:
            return None
        paid = any(p.get("Status") != "DELETED" for p in invoice.get("Payments") or ()) and (
            _money(invoice.get("AmountPaid")) > 0
        )
        if paid or invoice.get("CreditNotes"):
            what = "voided" if data.get("Status") == "VOIDED" else "edited"
            return _refusal(
                f"This document cannot be {what} as it has a payment or credit note allocated "
                "to it.",
                {"InvoiceID": invoice_id},
            )
        if data.get("Status") == "VOIDED" and invoice.get("Status") not in (
            "AUTHORISED",
            "SUBMITTED",
            "DRAFT",
        ):
            return _refusal(
                "Invoice not of valid status for modification", {"InvoiceID": invoice_id}
            )
        return None

    # ------------------------------------------------------------------ answers and events
    def _changes_in_answer(self, method: str, path: str, resp_body: bytes, tenant: str) -> bytes:
        """After a 200 answer: RemainingCredit as Xero computes it; the events of a write."""
        match = _DOCS.search(path)
        if not match:
            return resp_body
        try:
            data = json.loads(resp_body)
        except ValueError:
            return resp_body
        kind, one = match.group(1), match.group(2)
        docs = data.get(kind) if isinstance(data, dict) else None
        if not isinstance(docs, list):
            return resp_body
        category, id_field = _CATEGORY[kind]
        for doc in docs:
            if kind == "CreditNotes" and isinstance(doc, dict):
                total = _money(doc.get("Total"))
                allocated = sum(
                    (_money(a.get("Amount")) for a in doc.get("Allocations") or ()), Decimal(0)
                )
                doc["RemainingCredit"] = float(max(Decimal(0), total - allocated))
            if method in ("PUT", "POST") and isinstance(doc, dict) and doc.get(id_field):
                if not doc.get("HasErrors"):
                    self._record(tenant, category, doc[id_field], "UPDATE" if one else "CREATE")
        return json.dumps(data, default=str).encode()

    def _record(self, tenant: str, category: str, resource_id: str, event_type: str) -> None:
        self.webhook_events.append(
            build_event(resource_id, tenant_id=tenant, category=category, event_type=event_type)
        )

    def deliver_events(self, url: str, key: str, categories=("INVOICE", "CREDITNOTE")) -> int:
        """POST the events recorded so far (of ``categories``), signed with ``key``, to ``url``
        in one payload, as Xero does; forget them. Returns the HTTP status."""
        events = [e for e in self.webhook_events if e["eventCategory"] in categories]
        self.webhook_events.clear()
        status, _body = signed_post(url, build_payload(events), key)
        return status
