"""Build and POST signed Xero webhook payloads (stdlib only)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import string
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone


def build_event(
    resource_id: str | None = None,
    *,
    tenant_id: str | None = None,
    category: str = "INVOICE",
    event_type: str = "UPDATE",
    resource_url: str | None = None,
    event_date_utc: str | None = None,
    tenant_type: str = "ORGANISATION",
) -> dict:
    resource_id = resource_id or str(uuid.uuid4())
    plural = {"INVOICE": "Invoices", "CONTACT": "Contacts", "CREDITNOTE": "CreditNotes"}
    kind = plural.get(category, category.title())
    return {
        "resourceUrl": resource_url or f"https://api.xero.com/api.xro/2.0/{kind}/{resource_id}",
        "resourceId": resource_id,
        "eventDateUtc": event_date_utc
        or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
        "eventType": event_type,
        "eventCategory": category,
        "tenantId": tenant_id or str(uuid.uuid4()),
        "tenantType": tenant_type,
    }


def build_payload(events: list[dict] | None = None, first_sequence: int = 1) -> dict:
    events = list(events or [])
    return {
        "events": events,
        "firstEventSequence": first_sequence,
        "lastEventSequence": first_sequence + max(0, len(events) - 1),
        "entropy": "".join(secrets.choice(string.ascii_uppercase) for _ in range(20)),
    }


def sign(body: bytes, key: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def signed_post(
    url: str, payload: dict | bytes, key: str | None, timeout: float = 10.0, signature=None
) -> tuple[int, bytes]:
    """POST a payload with x-xero-signature (computed from ``key`` unless ``signature`` is
    given; no header when both are None). Returns (status, body)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if signature is None and key is not None:
        signature = sign(body, key)
    if signature is not None:
        headers["x-xero-signature"] = signature
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
