"""Xero webhooks: signature check and payload parsing (no I/O)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

MAX_BODY_BYTES = 1_048_576
_REQUIRED = ("resourceId", "eventType", "eventCategory", "tenantId")


class WebhookPayloadError(ValueError):
    """The body is not a Xero webhook payload (malformed, oversized, missing fields)."""


def sign(body: bytes, key: str) -> str:
    """base64(HMAC-SHA256(raw body, webhook key)) — the x-xero-signature value."""
    return base64.b64encode(hmac.new(key.encode("utf-8"), body, hashlib.sha256).digest()).decode()


def verify_signature(body: bytes, signature: str | None, key: str | None) -> bool:
    """Constant-time check of x-xero-signature. False on a missing signature or empty key."""
    if not signature or not key or body is None:
        return False
    if isinstance(body, str):
        body = body.encode("utf-8")
    expected = sign(body, key)
    return hmac.compare_digest(
        expected.encode("ascii"), signature.strip().encode("ascii", "replace")
    )


@dataclass(frozen=True)
class WebhookEvent:
    resource_id: str
    event_type: str
    event_category: str
    tenant_id: str
    tenant_type: str | None = None
    resource_url: str | None = None
    event_date_utc: str | None = None
    data: dict | None = None

    def dedupe_key(self) -> str:
        """Same event delivered twice -> same key."""
        return "|".join(
            (
                self.tenant_id,
                self.event_category,
                self.resource_id,
                self.event_type,
                self.event_date_utc or "",
            )
        )


def parse_events(body: bytes, max_bytes: int = MAX_BODY_BYTES) -> list[WebhookEvent]:
    """Events of a webhook body. Xero's intent-to-receive check sends ``events: []``."""
    if body is None:
        raise WebhookPayloadError("empty body")
    if len(body) > max_bytes:
        raise WebhookPayloadError(f"body larger than {max_bytes} bytes")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookPayloadError(f"not JSON: {exc}") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise WebhookPayloadError("no 'events' list")
    events = []
    for n, ev in enumerate(payload["events"]):
        if not isinstance(ev, dict):
            raise WebhookPayloadError(f"event {n} is not an object")
        missing = [k for k in _REQUIRED if not isinstance(ev.get(k), str) or not ev.get(k)]
        if missing:
            raise WebhookPayloadError(f"event {n} lacks {', '.join(missing)}")
        events.append(
            WebhookEvent(
                resource_id=ev["resourceId"],
                event_type=ev["eventType"].upper(),
                event_category=ev["eventCategory"].upper(),
                tenant_id=ev["tenantId"],
                tenant_type=ev.get("tenantType"),
                resource_url=ev.get("resourceUrl"),
                event_date_utc=ev.get("eventDateUtc"),
                data=ev.get("data") if isinstance(ev.get("data"), dict) else None,
            )
        )
    return events
