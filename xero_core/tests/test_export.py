import json
from collections import Counter
from decimal import Decimal

from casemgr_xero_testing.openapi import require_spec, validate

from casemgr_xero_core.batching import chunks
from casemgr_xero_core.export import send_invoice_batch
from casemgr_xero_core.results import Outcome, Reason, TotalMismatch

from helpers import payloads

INV = "/api.xro/2.0/Invoices"


def _sent_invoices(proxy):
    out = []
    for r in proxy.requests:
        if r.method == "PUT" and r.path == INV:
            out.extend(json.loads(r.body)["Invoices"])
    return out


def _assert_no_meta(proxy):
    sent = _sent_invoices(proxy)
    assert sent
    for inv in sent:
        assert not any(k.startswith("_") for k in inv)


def test_120_invoices_three_puts(make_client, xero, xero_proxy):
    client = make_client(xero_proxy.url)
    all_payloads = payloads(120)
    results = []
    for n, batch in enumerate(chunks(all_payloads, 50)):
        results += send_invoice_batch(client, batch, f"attempt-{n}")
    assert xero_proxy.count("PUT", INV) == 3
    assert all(r.ok and r.xero_id and not r.bound for r in results), [
        r.messages for r in results if not r.ok
    ]
    assert [r.key for r in results] == [p["InvoiceNumber"] for p in all_payloads]
    assert results[0].total == Decimal("390.25")
    assert len(xero.invoices()) == 120
    puts = [r for r in xero_proxy.requests if r.method == "PUT"]
    assert {r.headers["Idempotency-Key"] for r in puts} == {"attempt-0", "attempt-1", "attempt-2"}
    assert all("summarizeErrors=False" in r.query and "unitdp=4" in r.query for r in puts)
    _assert_no_meta(xero_proxy)


def test_dropped_connection_then_check_existing(make_client, xero, xero_proxy):
    client = make_client(xero_proxy.url)
    all_payloads = payloads(120)
    batches = list(chunks(all_payloads, 50))
    xero_proxy.drop_after_forward(method="PUT", path_prefix=INV)  # first batch stored, no answer
    first = send_invoice_batch(client, batches[0], "a-0")
    # the lookup already bound what Xero stored: nothing left unknown, nothing resent
    assert all(r.ok and r.bound for r in first)
    assert xero_proxy.count("PUT", INV) == 1
    for n, batch in enumerate(batches[1:], start=1):
        send_invoice_batch(client, batch, f"a-{n}")
    # a later run (e.g. after a crash) re-sends everything with check_existing: all bound
    again = []
    for n, batch in enumerate(batches):
        again += send_invoice_batch(client, batch, f"b-{n}", check_existing=True)
    assert all(r.ok and r.bound and r.xero_id for r in again)
    assert xero_proxy.count("PUT", INV) == 3
    numbers = Counter(i["InvoiceNumber"] for i in xero.invoices())
    assert len(numbers) == 120 and set(numbers.values()) == {1}


def test_unknown_outcome_not_stored_is_requeued(make_client, xero, xero_proxy):
    client = make_client(xero_proxy.url)
    xero_proxy.drop_before_forward(method="PUT", path_prefix=INV)
    res = send_invoice_batch(client, payloads(3), "u-1")
    assert all(not r.ok and r.retryable and r.unknown for r in res)
    assert xero.invoices() == [] and xero_proxy.count("PUT", INV) == 1
    res = send_invoice_batch(client, payloads(3), "u-2", check_existing=True)
    assert all(r.ok and not r.bound for r in res) and len(xero.invoices()) == 3


def test_one_invalid_among_50(make_client, xero, xero_proxy):
    client = make_client(xero_proxy.url)
    batch = payloads(50)
    bad = payloads(1, start=31, bad_discount=True)[0]
    batch[30] = bad
    res = send_invoice_batch(client, batch, "v-1")
    assert [r.index for r in res] == list(range(50))
    failed = [r for r in res if not r.ok]
    assert len(failed) == 1 and failed[0].key == "INV-00031" and not failed[0].retryable
    assert any("does not match the expected line total" in m for m in failed[0].messages)
    assert sum(r.ok for r in res) == 49
    numbers = Counter(i["InvoiceNumber"] for i in xero.invoices())
    assert len(numbers) == 49 and set(numbers.values()) == {1} and "INV-00031" not in numbers
    # 1st PUT stored 30 then failed; the rest was looked up and resent once with a new key
    puts = [r for r in xero_proxy.requests if r.method == "PUT"]
    assert len(puts) == 2 and puts[1].headers["Idempotency-Key"] == "v-1-r1"
    assert len(json.loads(puts[1].body)["Invoices"]) == 19
    _assert_no_meta(xero_proxy)


def test_sent_bodies_match_published_schema(make_client, xero, xero_proxy):
    """What goes over the wire follows Xero's OpenAPI contract (skipped without the spec)."""
    from casemgr_xero_core.mapping import credit_note_payload

    from helpers import make_invoice

    require_spec()
    client = make_client(xero_proxy.url)
    batch = payloads(50)
    batch[30] = payloads(1, start=31, bad_discount=True)[0]
    send_invoice_batch(client, batch, "s-1")
    sent = _sent_invoices(xero_proxy)
    assert len(sent) >= 50
    for inv in sent:
        validate(inv, "Invoice")
    for n in range(1, 4):
        note = credit_note_payload(make_invoice(n, prefix="RINV-"), with_meta=False)
        validate({k: v for k, v in note.items() if not k.startswith("_")}, "CreditNote")


def test_total_mismatch_flagged(make_client, xero):
    client = make_client()
    batch = payloads(2)
    batch[1]["_expected_total"] = Decimal("390.26")
    res = send_invoice_batch(client, batch, "t-1")
    assert res[0].outcome is Outcome.SENT and res[0].mismatch is None
    assert res[1].outcome is Outcome.TOTAL_MISMATCH  # an outcome of its own
    assert res[1].ok and res[1].xero_id and not res[1].messages  # it IS in Xero
    assert res[1].mismatch == TotalMismatch(Decimal("390.25"), Decimal("390.26"))
    assert res[1].mismatch.difference == Decimal("-0.01")


def test_rate_limited_propagates(make_client, xero_proxy):
    import pytest

    from casemgr_xero_core.errors import RateLimited

    client = make_client(xero_proxy.url)
    xero_proxy.respond(
        429,
        b"",
        {"Retry-After": "3", "X-Rate-Limit-Problem": "minute"},
        method="PUT",
        path_prefix=INV,
    )
    with pytest.raises(RateLimited) as ei:
        send_invoice_batch(client, payloads(2), "r-1")
    assert ei.value.retry_after == 3 and ei.value.partial_results == []


def test_credit_notes_batch_and_rebind(make_client, xero, xero_proxy):
    from casemgr_xero_core.export import send_credit_note_batch
    from casemgr_xero_core.mapping import credit_note_payload

    from helpers import make_invoice

    client = make_client(xero_proxy.url)
    notes = [
        credit_note_payload(make_invoice(n, prefix="RINV-"), with_meta=False) for n in range(1, 4)
    ]
    assert all("CreditNoteNumber" in p and "InvoiceNumber" not in p for p in notes)
    xero_proxy.drop_after_forward(method="PUT", path_prefix="/api.xro/2.0/CreditNotes")
    first = send_credit_note_batch(client, notes, "cn-1")
    assert all(r.ok and r.bound and r.xero_id for r in first), [r.messages for r in first]
    again = send_credit_note_batch(client, notes, "cn-2", check_existing=True)
    assert [r.xero_id for r in again] == [r.xero_id for r in first]
    assert xero_proxy.count("PUT", "/api.xro/2.0/CreditNotes") == 1
    assert len(xero.state()["credit_notes"]) == 3


def test_number_taken_by_another_contact_is_not_bound(make_client, xero, xero_proxy):
    from helpers import make_invoice

    client = make_client(xero_proxy.url)
    theirs = invoice_payload_for(make_invoice(7, contact_id=None))
    [other] = client.create_contacts([{"Name": "Someone Else"}])
    [mine] = client.create_contacts([{"Name": "Our Client"}])
    theirs["Contact"] = {"ContactID": other.xero_id}
    send_invoice_batch(client, [theirs], "theirs")
    ours = dict(theirs, Contact={"ContactID": mine.xero_id})
    [result] = send_invoice_batch(client, [ours], "ours", check_existing=True)
    assert not result.ok and not result.xero_id and not result.retryable
    assert result.outcome is Outcome.FAILED and not result.messages
    assert result.reason == Reason("number_taken", {"document": "invoice", "number": "00007"})
    assert len(xero.invoices()) == 1


def invoice_payload_for(inv):
    from casemgr_xero_core.mapping import invoice_payload

    return invoice_payload(inv, with_meta=False)


def test_item_outcome_classification():
    from casemgr_xero_core.results import ItemResult

    mismatch = TotalMismatch(Decimal(2), Decimal(1))
    assert ItemResult(0, "A", ok=True, xero_id="x").outcome is Outcome.SENT
    assert ItemResult(0, "A", ok=True, xero_id="x", mismatch=mismatch).outcome is (
        Outcome.TOTAL_MISMATCH
    )
    assert ItemResult(0, "A", ok=False, retryable=True).outcome is Outcome.QUEUED
    assert ItemResult(0, "A", ok=False, messages=["Xero's words"]).outcome is Outcome.FAILED


def test_element_without_message_has_a_reason_code():
    from casemgr_xero_core.results import result_from_element

    refused = result_from_element(0, {"InvoiceNumber": "A", "HasErrors": True})
    assert refused.outcome is Outcome.FAILED and not refused.messages
    assert refused.reason == Reason("refused_without_reason")


def test_unknown_batch_of_50_is_looked_up_in_one_call(make_client, xero, xero_proxy):
    """A batch whose answer was lost is looked up by its numbers in one GET, not two: each
    call counts against the organisation's 60 a minute."""
    client = make_client(xero_proxy.url)
    batch = payloads(50)
    xero_proxy.drop_after_forward(method="PUT", path_prefix=INV)  # stored, answer lost
    results = send_invoice_batch(client, batch, "one-lookup")
    assert all(r.ok and r.bound for r in results)
    assert xero_proxy.count("PUT", INV) == 1
    lookups = [r for r in xero_proxy.requests if r.method == "GET" and r.path == INV]
    assert len(lookups) == 1, [r.query for r in lookups]


def test_lookup_groups_stay_within_the_url_budget():
    from urllib.parse import quote

    from casemgr_xero_core.batching import chunks_by_url_length

    typical = [f"INV/2026/{i:05d}" for i in range(50)]
    assert list(chunks_by_url_length(typical, 1500)) == [typical]
    assert [len(g) for g in chunks_by_url_length(typical * 2, 1500)] == [50, 50]
    long = [f"{'ACME-LEGAL-PRACTICE/' * 3}{i:05d}" for i in range(50)]
    groups = list(chunks_by_url_length(long, 1500))
    assert [v for g in groups for v in g] == long and len(groups) > 1
    for group in groups:
        assert len(quote(",".join(group), safe="")) <= 1500
    assert list(chunks_by_url_length(["x" * 2000, "y"], 1500)) == [["x" * 2000], ["y"]]
