"""Invoice attachments and the online-invoice URL, which xero-local lacks, played by the test
proxy as Xero documents them (``xero_accounting.yaml``):

- ``PUT`` / ``POST /Invoices/{InvoiceID}/Attachments/{FileName}`` (create / update by file
  name): the body is the file; the answer is ``{"Attachments": [Attachment]}``; an attachment
  of the same name is replaced. A file over ``max_bytes`` is refused with 413, as Xero does;
  an 11th file on one invoice with a 400 ValidationException.
- ``GET /Invoices/{InvoiceID}/Attachments``: the list; ``GET …/Attachments/{FileName}``: the
  file's bytes with its content type.
- ``GET /Invoices/{InvoiceID}/OnlineInvoice``: ``{"OnlineInvoices": [{"OnlineInvoiceUrl"}]}``
  for an approved sales invoice; a draft gets Xero's validation error.

An unknown invoice gets 404. The invoice is read from xero-local (through ``_upstream``)."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from urllib.parse import unquote

# Xero's API limits on attachments (sources in casemgr_xero_core/attachments.py): the proxy
# plays Xero on its own, without the client's constants.
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS_PER_DOCUMENT = 10
_JSON = {"Content-Type": "application/json"}
_PATH = re.compile(
    r"^(?P<api>.*)/Invoices/(?P<invoice>[0-9a-fA-F-]{36})/"
    r"(?:(?P<online>OnlineInvoice)|Attachments(?:/(?P<name>[^/]+))?)/?$"
)


def _validation(message: str) -> tuple[int, dict, bytes]:
    body = {"ErrorNumber": 10, "Type": "ValidationException", "Message": message}
    return 400, dict(_JSON), json.dumps(body).encode()


class AttachmentAdditions:
    """Mixed into ``FaultProxy`` (uses its ``_upstream``); state per tenant and invoice."""

    max_attachment_bytes: int = MAX_ATTACHMENT_BYTES

    def _init_attachments(self) -> None:
        # {(tenant, invoice id): {file name: (Attachment dict, bytes)}}
        self.attachments: dict[tuple[str, str], dict[str, tuple[dict, bytes]]] = {}

    def _reset_attachments(self) -> None:
        self.attachments.clear()
        self.max_attachment_bytes = MAX_ATTACHMENT_BYTES

    def invoice_attachments(self, invoice_id: str, tenant: str | None = None) -> list[dict]:
        """The Attachment dicts the proxy holds for ``invoice_id`` (any tenant by default)."""
        return [
            att
            for (t, inv), files in self.attachments.items()
            if inv == invoice_id and (tenant is None or t == tenant)
            for att, _content in files.values()
        ]

    def attachment_content(self, invoice_id: str, file_name: str) -> bytes | None:
        for (_t, inv), files in self.attachments.items():
            if inv == invoice_id and file_name in files:
                return files[file_name][1]
        return None

    def _attachment_answer(self, method, path, query, headers, body, tenant):
        """(status, headers, body) for the endpoints above, None for any other request."""
        m = _PATH.match(path)
        if not m:
            return None
        invoice_id = m["invoice"]
        invoice = self._xero_invoice(m["api"], invoice_id, headers)
        if invoice is None:
            return 404, {}, b"The resource you're looking for cannot be found"
        if m["online"]:
            if method != "GET":
                return None
            return self._online_invoice(invoice)
        files = self.attachments.setdefault((tenant, invoice_id), {})
        name = unquote(m["name"]) if m["name"] else None
        if name is None:
            if method != "GET":
                return None
            listed = [att for att, _c in files.values()]
            return 200, dict(_JSON), json.dumps({"Attachments": listed}).encode()
        if method == "GET":
            if name not in files:
                return 404, {}, b"The resource you're looking for cannot be found"
            att, content = files[name]
            return 200, {"Content-Type": att["MimeType"]}, content
        if method not in ("PUT", "POST"):
            return None
        if len(body) > self.max_attachment_bytes:
            return 413, {"Content-Type": "text/html"}, b"<h1>413 Request Entity Too Large</h1>"
        if name not in files and len(files) >= MAX_ATTACHMENTS_PER_DOCUMENT:
            return _validation(
                f"The maximum number of attachments ({MAX_ATTACHMENTS_PER_DOCUMENT}) has been "
                "reached for this document."
            )
        include_online = "includeonline=true" in (query or "").lower()
        att = {
            "AttachmentID": str(uuid.uuid4()),
            "FileName": name,
            "Url": f"https://api.xero.com/api.xro/2.0/Invoices/{invoice_id}/Attachments/{name}",
            "MimeType": self._mime_type(name, headers),
            "ContentLength": len(body),
            "IncludeOnline": include_online,
        }
        files[name] = (att, bytes(body))
        return 200, dict(_JSON), json.dumps({"Attachments": [att]}).encode()

    @staticmethod
    def _mime_type(name: str, headers: dict) -> str:
        sent = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        if sent and sent != "application/octet-stream":
            return sent
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        return {"pdf": "application/pdf", "html": "text/html", "htm": "text/html"}.get(
            ext, "application/octet-stream"
        )

    @staticmethod
    def _online_invoice(invoice: dict):
        if invoice.get("Type") != "ACCREC" or invoice.get("Status") in ("DRAFT", "SUBMITTED"):
            return _validation("Online invoices are only available for approved sales invoices.")
        token = hashlib.sha256(invoice["InvoiceID"].encode()).hexdigest()[:40]
        body = {"OnlineInvoices": [{"OnlineInvoiceUrl": f"https://in.xero.com/{token}"}]}
        return 200, dict(_JSON), json.dumps(body).encode()

    def _xero_invoice(self, api: str, invoice_id: str, headers: dict) -> dict | None:
        """The invoice as xero-local holds it (None when it does not)."""
        fwd = {k: v for k, v in headers.items() if k.lower() in ("authorization", "xero-tenant-id")}
        fwd["Accept"] = "application/json"
        status, _h, raw = self._upstream("GET", f"{api}/Invoices/{invoice_id}", fwd, b"")
        if status != 200:
            return None
        try:
            items = json.loads(raw).get("Invoices") or []
        except (ValueError, AttributeError):
            return None
        return items[0] if items and items[0].get("InvoiceID") == invoice_id else None
