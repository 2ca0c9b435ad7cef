"""What Xero does that xero-local does not, as Xero documents it, played by the test proxy:
tax maths on totals, unique invoice numbers, a payment's Reference kept, ``GET /TaxRates`` and
``GET /Accounts`` from given lists."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal


def _line_tax(line: dict, rate, inclusive: bool) -> Decimal:
    """Xero's tax of one line from its tax type's rate (per line, half up)."""
    amount = Decimal(str(line.get("LineAmount") or 0))
    rate = Decimal(str(rate)) / 100
    tax = amount * rate / (1 + rate) if inclusive else amount * rate
    return tax.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def with_tax_maths(body: bytes, tax_rates: dict | None = None) -> bytes:
    try:
        data = json.loads(body, parse_float=Decimal)
    except ValueError:
        return body
    if not isinstance(data, dict):
        return body
    docs = data.get("Invoices") or data.get("CreditNotes")
    if not isinstance(docs, list):
        return body
    cent = Decimal("0.01")
    for inv in docs:
        lines = inv.get("LineItems") or []
        inclusive = inv.get("LineAmountTypes") == "Inclusive"
        for li in lines:
            if tax_rates and li.get("TaxType") in tax_rates:
                # Xero computes the tax from the tax type's rate, whatever the client sent.
                li["TaxAmount"] = _line_tax(li, tax_rates[li["TaxType"]], inclusive)
        amounts = sum((Decimal(str(li.get("LineAmount") or 0)) for li in lines), Decimal(0))
        tax = sum((Decimal(str(li.get("TaxAmount") or 0)) for li in lines), Decimal(0))
        if inv.get("LineAmountTypes") == "Inclusive":
            total, subtotal = amounts, amounts - tax
        else:
            total, subtotal = amounts + tax, amounts
        paid = Decimal(str(inv.get("AmountPaid") or 0)) + Decimal(
            str(inv.get("AmountCredited") or 0)
        )
        inv["SubTotal"] = subtotal.quantize(cent)
        inv["TotalTax"] = tax.quantize(cent)
        inv["Total"] = total.quantize(cent)
        inv["AmountDue"] = max(Decimal(0), total - paid).quantize(cent)
    return json.dumps(data, default=str).encode()


class XeroAdditions:
    """Mixed into ``FaultProxy`` (uses its ``_upstream`` and ``_references``)."""

    def _payment_references(self, method: str, req_body: bytes, resp_body: bytes) -> bytes:
        """xero-local drops a payment's Reference: remember the one sent with a new payment
        and put it back in every answer about that payment, as Xero does."""
        try:
            sent = json.loads(req_body) if method in ("PUT", "POST") and req_body else None
            data = json.loads(resp_body)
        except ValueError:
            return resp_body
        payments = data.get("Payments") if isinstance(data, dict) else None
        if not isinstance(payments, list):
            return resp_body
        if isinstance(sent, dict):
            sent_list = sent.get("Payments") if "Payments" in sent else [sent]
            if isinstance(sent_list, list) and len(sent_list) == len(payments):
                for asked, made in zip(sent_list, payments, strict=True):
                    if isinstance(asked, dict) and asked.get("Reference") and made.get("PaymentID"):
                        self._references[made["PaymentID"]] = asked["Reference"]
        for payment in payments:
            ref = self._references.get(payment.get("PaymentID"))
            if ref and not payment.get("Reference"):
                payment["Reference"] = ref
        return json.dumps(data).encode()

    @property
    def tax_rates(self) -> list[dict] | None:
        """Xero TaxRate dicts ``GET …/TaxRates`` answers (None: forwarded to xero-local)."""
        return self._tax_rates

    @tax_rates.setter
    def tax_rates(self, value) -> None:
        if isinstance(value, dict):
            value = [
                {
                    "Name": f"{tax_type} ({rate}%)",
                    "TaxType": tax_type,
                    "Status": "ACTIVE",
                    "CanApplyToRevenue": True,
                    "DisplayTaxRate": float(rate),
                    "EffectiveRate": float(rate),
                }
                for tax_type, rate in value.items()
            ]
        self._tax_rates = [dict(r) for r in value] if value else None

    def _tax_percent(self) -> dict[str, float]:
        """{TaxType: percent} of the rates that carry an EffectiveRate (for the tax maths)."""
        return {
            r["TaxType"]: r["EffectiveRate"]
            for r in self._tax_rates or ()
            if r.get("EffectiveRate") is not None
        }

    def _settings_list(self, method: str, path: str) -> bytes | None:
        """``GET …/TaxRates`` and ``GET …/Accounts`` from ``tax_rates`` / ``accounts`` (None
        when not configured: forwarded, and xero-local answers 404)."""
        if method != "GET":
            return None
        tail = path.rstrip("/")
        if tail.endswith("/TaxRates") and self.tax_rates:
            return json.dumps({"TaxRates": self.tax_rates}).encode()
        if tail.endswith("/Accounts") and self.accounts:
            return json.dumps({"Accounts": self.accounts}).encode()
        return None

    def _refuse_duplicates(self, path, headers, body):
        """(body to forward or None when nothing is left, {index: refused element})."""
        try:
            data = json.loads(body)
            invoices = data["Invoices"]
        except (ValueError, KeyError, TypeError):
            return body, {}
        if not isinstance(invoices, list):
            return body, {}
        taken = set()
        for page in range(1, 1000):
            status, _h, raw = self._upstream("GET", f"{path}?page={page}", headers, b"")
            items = json.loads(raw).get("Invoices") or [] if status == 200 else []
            taken.update(
                i.get("InvoiceNumber")
                for i in items
                if i.get("Type") == "ACCREC" and i.get("Status") not in ("DELETED", "VOIDED")
            )
            if len(items) < 100:
                break
        refused, keep = {}, []
        for index, inv in enumerate(invoices):
            number = inv.get("InvoiceNumber")
            if inv.get("Type", "ACCREC") == "ACCREC" and number and number in taken:
                refused[index] = {
                    **inv,
                    "HasErrors": True,
                    "StatusAttributeString": "ERROR",
                    "ValidationErrors": [{"Message": "Invoice # must be unique."}],
                }
            else:
                keep.append(inv)
                if number:
                    taken.add(number)
        if not refused:
            return body, {}
        data["Invoices"] = keep
        return (json.dumps(data).encode() if keep else None), refused

    @staticmethod
    def _merge_refused(resp_body: bytes, refused: dict[int, dict]) -> bytes:
        """Put the refused elements back at their places in the answer (summarizeErrors=false)."""
        data = json.loads(resp_body)
        accepted = iter(data.get("Invoices") or [])
        total = len(data.get("Invoices") or []) + len(refused)
        data["Invoices"] = [
            refused[i] if i in refused else next(accepted, None) for i in range(total)
        ]
        return json.dumps(data).encode()
