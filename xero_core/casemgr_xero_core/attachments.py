"""An invoice's document in Xero: attach a file to a Xero invoice, read its online-invoice URL.

Xero's endpoints (``xero_accounting.yaml``):

- ``PUT /Invoices/{InvoiceID}/Attachments/{FileName}`` (``createInvoiceAttachmentByFileName``):
  the file's bytes as the body, ``IncludeOnline=true`` to show it with the online invoice; an
  attachment of the same name is replaced (linx.software's Xero reference, CreateAttachment), so
  sending it again never adds a second one; the idempotency key covers a retried call.
- ``GET /Invoices/{InvoiceID}/OnlineInvoice`` (``getOnlineInvoice``): ``OnlineInvoices[0].
  OnlineInvoiceUrl`` (sales invoices Xero has approved; a draft has none).

Both go through the client's ``_call`` (token, one refresh on 401, rate headers, typed errors)
with xero-python's own methods for these endpoints.

The size limit: 10 MB per file and 10 attachments per document through the API. Xero's own
attachments page (developer.xero.com/documentation/api/accounting/attachments) is not in the
sources searched here; what was found: Codat's Xero integration notes raised Xero's per-file
limit from 3 MB to 10 MB in April 2026 (codatio/codat-docs PR #1802), Workato's Xero connector
documents 10 MB per attachment and 10 per record (docs.workato.com/en/connectors/xero/
upload-attachment), and Xero's developer-community announcement of API attachments
(community.xero.com/developer/discussion/3095073) gave 3 MB and 10 files.
A bigger file is refused here, before any call; Xero answers 413 to one that gets through.

No user text: results are codes with values (``AttachResult``), worded by the addon.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .errors import NotFound, PermanentError, ValidationError

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS_PER_DOCUMENT = 10
TOO_LARGE_STATUS = 413


class AttachOutcome(str, Enum):
    ATTACHED = "attached"
    TOO_LARGE = "too_large"  # over MAX_ATTACHMENT_BYTES (not sent), or Xero's 413
    REFUSED = "refused"  # Xero refused it (a 4xx other than 413, a validation error)


@dataclass(frozen=True)
class AttachResult:
    outcome: AttachOutcome
    size: int
    limit: int = MAX_ATTACHMENT_BYTES
    attachment_id: str | None = None
    status: int | None = None  # Xero's HTTP status when it refused
    detail: str | None = None  # Xero's own message when it refused

    @property
    def attached(self) -> bool:
        return self.outcome is AttachOutcome.ATTACHED


def content_type(content: bytes) -> tuple[str, str]:
    """(MIME type, file extension) of a rendered document, from its bytes: a PDF starts with
    ``%PDF-``; anything else a report engine gives back is its HTML (e.g. without
    wkhtmltopdf)."""
    if content[:5] == b"%PDF-":
        return "application/pdf", "pdf"
    return "text/html", "html"


def attach_to_invoice(
    client,
    invoice_id: str,
    file_name: str,
    content: bytes,
    *,
    include_online: bool = True,
    idempotency_key: str | None = None,
    limit: int = MAX_ATTACHMENT_BYTES,
) -> AttachResult:
    """Attach ``content`` to the Xero invoice ``invoice_id`` under ``file_name``.

    Returns an ``AttachResult``; raises what a retry may cure (``RateLimited``,
    ``TransientError``, ``AuthError``)."""
    size = len(content)
    if size > limit:
        return AttachResult(AttachOutcome.TOO_LARGE, size, limit)
    extra = {"idempotency_key": idempotency_key} if idempotency_key else {}
    try:
        body, _headers = client._call(
            lambda: client.api.create_invoice_attachment_by_file_name(
                client.tenant_id,
                invoice_id,
                file_name,
                content,
                include_online=include_online,
                _preload_content=False,
                _request_timeout=client.timeout,
                **extra,
            ),
            is_write=True,
        )
    except (ValidationError, PermanentError, NotFound) as exc:  # 400, 404, 413, other 4xx
        outcome = (
            AttachOutcome.TOO_LARGE if exc.status == TOO_LARGE_STATUS else AttachOutcome.REFUSED
        )
        return AttachResult(outcome, size, limit, status=exc.status, detail=exc.message)
    items = (body or {}).get("Attachments") if isinstance(body, dict) else None
    attachment_id = (items[0] or {}).get("AttachmentID") if items else None
    return AttachResult(AttachOutcome.ATTACHED, size, limit, attachment_id=attachment_id)


def online_invoice_url(client, invoice_id: str) -> str | None:
    """Xero's online-invoice URL of ``invoice_id``; None when Xero has none for it (a draft,
    a bill: Xero answers with a validation error or no URL)."""
    try:
        body, _headers = client._call(
            lambda: client.api.get_online_invoice(
                client.tenant_id,
                invoice_id,
                _preload_content=False,
                _request_timeout=client.timeout,
            ),
            is_write=False,
        )
    except (ValidationError, NotFound):
        return None
    items = (body or {}).get("OnlineInvoices") if isinstance(body, dict) else None
    return ((items or [{}])[0] or {}).get("OnlineInvoiceUrl") or None
