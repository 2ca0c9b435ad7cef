"""Changes made in Xero after an export, against the proxy playing Xero (allocations, void,
edit, their webhook events) and the pure comparison (``casemgr_xero_core.changes``)."""

import json
from decimal import Decimal

import pytest

from casemgr_xero_core.changes import (
    CREDIT,
    EDIT,
    VOID,
    credit_change,
    credits_to_read,
    invoice_changes,
)
from casemgr_xero_core.errors import XeroError
from casemgr_xero_core.export import send_invoice_batch
from casemgr_xero_core.mapping import invoice_payload

from helpers import make_invoice


@pytest.fixture
def sent(make_client, xero, xero_proxy):
    """(client, exported payload, Xero invoice) of one invoice exported through the proxy."""
    client = make_client(xero_proxy.url)
    payload = invoice_payload(make_invoice(1))
    [result] = send_invoice_batch(client, [dict(payload)], "k-1")
    assert result.ok, result.messages
    return client, payload, client.get_invoice(result.xero_id)


def _credit_note(client, total=Decimal("50.00")):
    body = {
        "CreditNotes": [
            {
                "Type": "ACCRECCREDIT",
                "Status": "AUTHORISED",
                "CreditNoteNumber": "CN-0042",
                "Contact": {"Name": "ACME Ltd"},
                "Date": "2024-06-10",
                "LineAmountTypes": "Exclusive",
                "LineItems": [
                    {
                        "Description": "Goodwill",
                        "Quantity": 1,
                        "UnitAmount": float(total),
                        "LineAmount": float(total),
                        "AccountCode": "200",
                        "TaxType": "NONE",
                    }
                ],
                "Total": float(total),
            }
        ]
    }
    return client.request("PUT", "/CreditNotes", body=body)["CreditNotes"][0]


def test_nothing_changed(sent):
    _client, payload, invoice = sent
    assert invoice_changes(payload, invoice) == []
    assert credits_to_read(invoice, {}, set()) == []


def test_allocation_credits_the_invoice_and_is_one_change(sent, xero_proxy):
    client, payload, invoice = sent
    note = _credit_note(client)
    xero_proxy.webhook_events.clear()
    client.allocate_credit_note(note["CreditNoteID"], invoice["InvoiceID"], 30, "2024-06-10")
    after = client.get_invoice(invoice["InvoiceID"])
    assert Decimal(str(after["AmountCredited"])) == 30
    assert Decimal(str(after["AmountDue"])) == Decimal(str(invoice["AmountDue"])) - 30
    cn = client.request("GET", f"/CreditNotes/{note['CreditNoteID']}")["CreditNotes"][0]
    assert cn["RemainingCredit"] == 20.0
    events = {(e["eventCategory"], e["resourceId"]) for e in xero_proxy.webhook_events}
    assert events == {("INVOICE", invoice["InvoiceID"]), ("CREDITNOTE", note["CreditNoteID"])}
    [(cn_id, number, applied)] = credits_to_read(after, {}, set())
    assert (cn_id, number, applied) == (note["CreditNoteID"], "CN-0042", Decimal("30.00"))
    change = credit_change(after["InvoiceID"], cn, applied, applied)
    assert change.kind == CREDIT and change.amount == 30
    assert [line.description for line in change.lines] == ["Goodwill"]
    # seen again: nothing new; Odoo's own credit notes are not changes
    assert credits_to_read(after, {cn_id: Decimal(30)}, set()) == []
    assert credits_to_read(after, {}, {cn_id}) == []
    # more than what is left: refused as Xero does
    with pytest.raises(XeroError):
        client.allocate_credit_note(note["CreditNoteID"], invoice["InvoiceID"], 25, "2024-06-11")


def test_void_and_refused_when_paid(sent, xero_proxy):
    client, payload, invoice = sent
    inv_id = invoice["InvoiceID"]
    client.request("POST", f"/Invoices/{inv_id}", body={"Invoices": [{"Status": "VOIDED"}]})
    [change] = invoice_changes(payload, client.get_invoice(inv_id))
    assert change.kind == VOID
    assert change.amount == Decimal(str(payload["_expected_total"]))
    assert ("INVOICE", inv_id) in {
        (e["eventCategory"], e["resourceId"]) for e in xero_proxy.webhook_events
    }
    # a paid invoice cannot be voided
    [r2] = send_invoice_batch(client, [invoice_payload(make_invoice(2))], "k-2")
    client.create_payment(
        {
            "Invoice": {"InvoiceID": r2.xero_id},
            "Account": {"Code": "090"},
            "Date": "2024-06-02",
            "Amount": 10,
        }
    )
    with pytest.raises(XeroError):
        client.request("POST", f"/Invoices/{r2.xero_id}", body={"Invoices": [{"Status": "VOIDED"}]})


def test_edit_line_by_line(sent):
    client, payload, invoice = sent
    inv_id = invoice["InvoiceID"]
    items = json.loads(json.dumps(invoice["LineItems"], default=float))
    money = [i for i in items if i.get("LineAmount")]
    money[0]["LineAmount"] = 250.25
    money[0]["UnitAmount"] = 125.125
    client.request("POST", f"/Invoices/{inv_id}", body={"Invoices": [{"LineItems": items}]})
    [change] = invoice_changes(payload, client.get_invoice(inv_id))
    assert change.kind == EDIT
    assert sorted(line.line_amount for line in change.lines) == [
        Decimal("-300.25"),
        Decimal("250.25"),
    ]
    assert change.amount == Decimal("-50.00")
    again = invoice_changes(payload, client.get_invoice(inv_id))
    assert again[0].fingerprint == change.fingerprint


def test_a_cent_of_rounding_on_a_line_is_no_edit():
    sent = {
        "LineItems": [
            {
                "Description": "Fee",
                "Quantity": 3,
                "UnitAmount": 33.3333,
                "LineAmount": 100.00,
                "AccountCode": "200",
                "TaxType": "OUTPUT",
            }
        ],
        "_expected_total": 115,
    }
    now = {
        "InvoiceID": "i1",
        "Status": "AUTHORISED",
        "LineItems": [{**sent["LineItems"][0], "LineAmount": 99.99}],
    }
    assert invoice_changes(sent, now) == []
    now["LineItems"][0]["LineAmount"] = 90.00
    [change] = invoice_changes(sent, now)
    assert change.kind == EDIT


def test_an_invoice_updated_only_by_its_export_is_not_a_change_to_read():
    from datetime import datetime, timedelta, timezone

    from casemgr_xero_core.changes import EXPORT_SETTLE, changed_after_export

    sent_at = datetime(2026, 12, 6, 10, 0, 0)  # naive UTC, Odoo's stamp (whole seconds)
    created = sent_at.replace(tzinfo=timezone.utc) + timedelta(milliseconds=700)
    assert not changed_after_export(created, sent_at)  # Xero's stamp of the export itself
    later = sent_at.replace(tzinfo=timezone.utc) + EXPORT_SETTLE + timedelta(seconds=1)
    assert changed_after_export(later, sent_at)
    assert changed_after_export(created, None)  # no stamp in Odoo: look


def test_the_first_poll_lists_no_history():
    from casemgr_xero_core.changes import updated_invoices

    class NoCalls:
        def request(self, *args, **kwargs):
            raise AssertionError("a never-polled connection must not list every invoice")

    assert updated_invoices(NoCalls(), None) == {}
