"""Attaching an invoice's document in Xero, and its online-invoice URL (xero-local + proxy)."""

import json

from casemgr_xero_testing.openapi import require_spec, validate

from casemgr_xero_core import oauth
from casemgr_xero_core.attachments import (
    MAX_ATTACHMENT_BYTES,
    AttachOutcome,
    attach_to_invoice,
    content_type,
    online_invoice_url,
)
from casemgr_xero_core.export import send_invoice_batch

from helpers import payloads

API = "/api.xro/2.0"
PDF = b"%PDF-1.4\n" + b"x" * 1000


def _invoice_id(client):
    (result,) = send_invoice_batch(client, payloads(1), "att-1")
    assert result.ok
    return result.xero_id


def test_attach_once_replaces_by_name_and_lists(make_client, xero, xero_proxy):
    client = make_client(xero_proxy.url)
    invoice_id = _invoice_id(client)
    first = attach_to_invoice(client, invoice_id, "INV_1.pdf", PDF, idempotency_key="k1")
    assert first.outcome is AttachOutcome.ATTACHED and first.attachment_id
    again = attach_to_invoice(client, invoice_id, "INV_1.pdf", PDF, idempotency_key="k2")
    assert again.attached
    (att,) = xero_proxy.invoice_attachments(invoice_id)
    assert att["FileName"] == "INV_1.pdf" and att["IncludeOnline"] is True
    assert att["ContentLength"] == len(PDF)
    assert xero_proxy.attachment_content(invoice_id, "INV_1.pdf") == PDF
    listed = client.request("GET", f"/Invoices/{invoice_id}/Attachments")["Attachments"]
    assert [a["FileName"] for a in listed] == ["INV_1.pdf"]


def test_over_the_limit_is_refused_before_any_call(make_client, xero, xero_proxy):
    client = make_client(xero_proxy.url)
    invoice_id = _invoice_id(client)
    big = b"%PDF-" + b"x" * MAX_ATTACHMENT_BYTES
    result = attach_to_invoice(client, invoice_id, "big.pdf", big)
    assert result.outcome is AttachOutcome.TOO_LARGE
    assert result.size == len(big) and result.limit == MAX_ATTACHMENT_BYTES
    assert xero_proxy.count(path_prefix=f"{API}/Invoices/{invoice_id}/Attachments") == 0


def test_xero_413_and_refusals_are_results_not_exceptions(make_client, xero, xero_proxy):
    client = make_client(xero_proxy.url)
    invoice_id = _invoice_id(client)
    xero_proxy.max_attachment_bytes = 100  # Xero's own check, the client's limit not reached
    result = attach_to_invoice(client, invoice_id, "a.pdf", PDF)
    assert result.outcome is AttachOutcome.TOO_LARGE and result.status == 413
    xero_proxy.max_attachment_bytes = MAX_ATTACHMENT_BYTES
    xero_proxy.respond(
        400,
        b'{"Type": "ValidationException", "Message": "File type not allowed"}',
        headers={"Content-Type": "application/json"},
        method="PUT",
        path_prefix=f"{API}/Invoices/{invoice_id}/Attachments",
    )
    result = attach_to_invoice(client, invoice_id, "a.pdf", PDF)
    assert result.outcome is AttachOutcome.REFUSED and result.status == 400
    assert "File type not allowed" in result.detail
    assert xero_proxy.invoice_attachments(invoice_id) == []
    missing = attach_to_invoice(client, "00000000-0000-0000-0000-000000000000", "a.pdf", PDF)
    assert missing.outcome is AttachOutcome.REFUSED and missing.status == 404


def test_online_invoice_url_of_an_approved_invoice_only(make_client, xero, xero_proxy):
    client = make_client(xero_proxy.url)
    invoice_id = _invoice_id(client)
    url = online_invoice_url(client, invoice_id)
    assert url and url.startswith("https://in.xero.com/")
    assert online_invoice_url(client, invoice_id) == url  # stable
    draft = dict(payloads(1, prefix="DRAFT-")[0], Status="DRAFT")
    (result,) = send_invoice_batch(client, [draft], "att-2")
    assert online_invoice_url(client, result.xero_id) is None


def test_the_sign_in_asks_for_the_attachments_scope():
    assert "accounting.attachments" in oauth.SCOPES.split()
    # a custom connection's token request names only scopes every such connection has
    assert "accounting.attachments" not in oauth.CLIENT_CREDENTIALS_SCOPES.split()


def test_content_type_from_the_bytes():
    assert content_type(PDF) == ("application/pdf", "pdf")
    assert content_type(b"<!DOCTYPE html><html></html>") == ("text/html", "html")


def test_the_proxy_answers_as_xero_documents_them(make_client, xero, xero_proxy):
    """The proxy's Attachments and OnlineInvoices answers follow Xero's OpenAPI schemas, and
    the request goes where Xero documents it (skipped without the spec)."""
    require_spec()
    client = make_client(xero_proxy.url)
    invoice_id = _invoice_id(client)
    attach_to_invoice(client, invoice_id, "INV 1.pdf", PDF)
    put = [r for r in xero_proxy.requests if r.method == "PUT" and "/Attachments/" in r.path]
    assert put[0].path == f"{API}/Invoices/{invoice_id}/Attachments/INV%201.pdf"
    # xero-python writes the bool as Python prints it ("True"); the proxy ignores its case
    assert "includeonline=true" in put[0].query.lower() and put[0].body == PDF
    listed = client.request("GET", f"/Invoices/{invoice_id}/Attachments")
    validate(json.loads(json.dumps(listed, default=str)), "Attachments")
    online = client.request("GET", f"/Invoices/{invoice_id}/OnlineInvoice")
    validate(online, "OnlineInvoices")
