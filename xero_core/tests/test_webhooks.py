import json

import pytest

from casemgr_xero_core.webhooks import (
    WebhookPayloadError,
    parse_events,
    sign,
    verify_signature,
)

KEY = "y6Xa8eGx2S9+z3WxQ1uQ0lS3Ncl8aT9xXlU8z0Yk5cQpJ0F1dYm9y7h3WcL4x2Q/3nZ4kV9nE1J2xR6lM=="

# Xero's published example shape (xero-webhooks.yaml, creditNoteCreate)
EXAMPLE = {
    "events": [
        {
            "resourceUrl": "https://api.xero.com/api.xro/2.0/CreditNotes/55d84274-a3da-4829-a7c0-0cab601b95cc",
            "resourceId": "55d84274-a3da-4829-a7c0-0cab601b95cc",
            "tenantId": "aef86862-2015-4b6b-88bc-d89032cecc50",
            "tenantType": "ORGANISATION",
            "eventCategory": "CREDITNOTE",
            "eventType": "CREATE",
            "eventDateUtc": "2025-12-02T00:44:09.923",
            "data": {"Type": "ACCPAYCREDIT", "Status": "DRAFT"},
        }
    ],
    "firstEventSequence": 76,
    "lastEventSequence": 76,
    "entropy": "FXNGWLCCGVANWHKILRUB",
}


def body():
    return json.dumps(EXAMPLE, separators=(",", ":")).encode()


def test_signature_good_bad_missing_emptykey():
    b = body()
    sig = sign(b, KEY)
    assert verify_signature(b, sig, KEY)
    assert not verify_signature(b + b" ", sig, KEY)  # body changed
    assert not verify_signature(b, sign(b, "other-key"), KEY)
    assert not verify_signature(b, None, KEY)
    assert not verify_signature(b, "", KEY)
    assert not verify_signature(b, sig, "")
    assert not verify_signature(b, sig, None)
    assert not verify_signature(b, "not base64 ü", KEY)


def test_known_vector():
    # HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), base64
    assert sign(b"The quick brown fox jumps over the lazy dog", "key") == (
        "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="
    )


def test_parse_example_and_dedupe():
    (ev,) = parse_events(body())
    assert ev.event_category == "CREDITNOTE" and ev.event_type == "CREATE"
    assert ev.resource_id == "55d84274-a3da-4829-a7c0-0cab601b95cc"
    assert ev.tenant_id == "aef86862-2015-4b6b-88bc-d89032cecc50"
    assert ev.data == {"Type": "ACCPAYCREDIT", "Status": "DRAFT"}
    (ev2,) = parse_events(body())
    assert ev.dedupe_key() == ev2.dedupe_key()


def test_intent_to_receive_is_empty_list():
    payload = {"events": [], "firstEventSequence": 0, "lastEventSequence": 0, "entropy": "X"}
    assert parse_events(json.dumps(payload).encode()) == []


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[]",
        b'{"events": 3}',
        b'{"events": [1]}',
        b'{"events": [{"resourceId": "x"}]}',
    ],
)
def test_malformed(raw):
    with pytest.raises(WebhookPayloadError):
        parse_events(raw)


def test_oversize():
    big = json.dumps({"events": [], "pad": "x" * 2000}).encode()
    with pytest.raises(WebhookPayloadError):
        parse_events(big, max_bytes=1000)
    assert parse_events(big, max_bytes=10_000) == []


def test_example_matches_published_schema():
    from casemgr_xero_testing.openapi import require_spec, validate

    require_spec("xero-webhooks.yaml")
    validate(EXAMPLE, "WebhookEvent", spec_name="xero-webhooks.yaml", strict=False)
