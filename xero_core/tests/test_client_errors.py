import json
import threading
import time

import pytest

from casemgr_xero_core import errors
from casemgr_xero_core.errors import (
    AuthError,
    NotFound,
    RateLimited,
    ReconnectRequired,
    TransientError,
    ValidationError,
    map_exception,
)

from helpers import payloads

INV = "/api.xro/2.0/Invoices"


def test_400_validation_with_element_messages(make_client, xero_proxy):
    client = make_client(xero_proxy.url)
    bad = payloads(1, bad_discount=True)
    with pytest.raises(ValidationError) as ei:
        client.put_invoices([{k: v for k, v in bad[0].items() if not k.startswith("_")}], "k")
    err = ei.value
    assert err.status == 400 and not err.retryable
    assert err.items and err.items[0].key == "INV-00001" and not err.items[0].ok
    assert any("does not match the expected line total" in m for m in err.items[0].messages)
    assert "line total" in err.message


@pytest.mark.parametrize(
    "status,body,exc_type,retryable",
    [
        (401, b'{"Title":"Unauthorized","Status":401,"Detail":"TokenExpired"}', AuthError, False),
        (
            403,
            b'{"Title":"Forbidden","Status":403,"Detail":"AuthorizationUnsuccessful"}',
            AuthError,
            False,
        ),
        (404, b"The resource you're looking for cannot be found", NotFound, False),
        (500, b"", TransientError, True),
        (502, b"<html>bad gateway</html>", TransientError, True),
        (503, b"", TransientError, True),
    ],
)
def test_status_mapping_through_proxy(make_client, xero_proxy, status, body, exc_type, retryable):
    client = make_client(xero_proxy.url)
    client.refresh = None  # no refresh: a 401 surfaces
    xero_proxy.respond(status, body, method="GET", path_prefix=INV, times=5)
    with pytest.raises(exc_type) as ei:
        client.get_invoice("00000000-0000-0000-0000-000000000000")
    assert ei.value.status == status
    assert ei.value.retryable is retryable
    assert ei.value.message and "HTTP" not in ei.value.message.split(".")[0][:4]
    assert not ei.value.outcome_unknown  # a read never has an unknown outcome


def test_429_retry_after_and_problem(make_client, xero_proxy):
    seen = []
    client = make_client(xero_proxy.url, on_rate_info=seen.append)
    xero_proxy.respond(
        429,
        b"",
        {"Retry-After": "7", "X-Rate-Limit-Problem": "minute"},
        method="PUT",
        path_prefix=INV,
    )
    with pytest.raises(RateLimited) as ei:
        client.put_invoices(payloads(1), "k429")
    assert ei.value.retry_after == 7.0 and ei.value.problem == "minute" and ei.value.retryable
    assert xero_proxy.count("PUT", INV) == 1  # urllib3 did not honour Retry-After by itself
    assert seen and seen[-1].retry_after == 7.0


def test_rate_limiter_in_proxy(make_client, xero_proxy):
    infos = []
    client = make_client(xero_proxy.url, on_rate_info=infos.append)
    xero_proxy.rate_limit(2)
    client.find_invoices_by_number(["A"])
    client.find_invoices_by_number(["B"])
    assert infos[-1].min_remaining == 0
    with pytest.raises(RateLimited) as ei:
        client.find_invoices_by_number(["C"])
    assert ei.value.problem == "minute" and ei.value.retry_after >= 1


def test_dropped_put_is_not_retried(make_client, xero, xero_proxy):
    client = make_client(xero_proxy.url)
    xero_proxy.drop_after_forward(method="PUT", path_prefix=INV)
    batch = [{k: v for k, v in p.items() if not k.startswith("_")} for p in payloads(5)]
    with pytest.raises(TransientError) as ei:
        client.put_invoices(batch, "drop-1")
    assert ei.value.outcome_unknown and ei.value.retryable and ei.value.status is None
    assert xero_proxy.count("PUT", INV) == 1
    numbers = sorted(i["InvoiceNumber"] for i in xero.invoices())
    assert numbers == [p["InvoiceNumber"] for p in batch]


def test_dropped_before_forward_on_write_is_unknown(make_client, xero, xero_proxy):
    client = make_client(xero_proxy.url)
    xero_proxy.drop_before_forward(method="PUT", path_prefix=INV)
    with pytest.raises(TransientError) as ei:
        client.put_invoices([payloads(1)[0] | {}], "drop-2")
    # the client cannot tell the two apart: it must treat it as unknown
    assert ei.value.outcome_unknown
    assert xero_proxy.count("PUT", INV) == 1 and xero.invoices() == []


def test_read_timeout_on_write_is_unknown(make_client, xero, xero_proxy):
    client = make_client(xero_proxy.url, timeout=(2, 0.3))
    xero_proxy.delay(1.0, method="PUT", path_prefix=INV)
    with pytest.raises(TransientError) as ei:
        client.put_invoices([payloads(1)[0]], "slow")
    assert ei.value.outcome_unknown
    time.sleep(0.9)
    assert len(xero.invoices()) == 1 and xero_proxy.count("PUT", INV) == 1


def test_connection_refused_is_transient_not_unknown(make_client):
    from casemgr_xero_testing.xero_local import free_port

    from casemgr_xero_core.client import XeroClient
    from casemgr_xero_core.endpoints import XeroEndpoints

    ep = XeroEndpoints.for_base(f"http://127.0.0.1:{free_port()}")
    client = XeroClient(ep, "t", lambda: {"access_token": "x"})
    with pytest.raises(TransientError) as ei:
        client.put_invoices(payloads(1), "refused")
    assert not ei.value.outcome_unknown


def test_401_refreshes_once_and_retries_once(make_client, xero_proxy):
    client = make_client(xero_proxy.url)
    old = client.box.token["access_token"]
    xero_proxy.respond(401, b'{"Title":"Unauthorized"}', method="GET", path_prefix=INV)
    assert client.find_invoices_by_number(["nope"]) == {}
    assert client.box.refresh_calls == 1
    gets = [r for r in xero_proxy.requests if r.method == "GET" and r.path.startswith(INV)]
    assert len(gets) == 2
    assert gets[0].headers["Authorization"] == f"Bearer {old}"
    assert gets[1].headers["Authorization"] == f"Bearer {client.box.token['access_token']}"
    assert gets[1].headers["Authorization"] != gets[0].headers["Authorization"]


def test_401_twice_raises_after_one_refresh(make_client, xero_proxy):
    client = make_client(xero_proxy.url)
    xero_proxy.respond(401, b"", method="PUT", path_prefix=INV, times=2)
    with pytest.raises(AuthError):
        client.put_invoices(payloads(1), "k")
    assert client.box.refresh_calls == 1 and xero_proxy.count("PUT", INV) == 2


def test_expired_token_is_refreshed_before_call(make_client, xero_proxy):
    client = make_client(xero_proxy.url)
    client.box.token = dict(client.box.token, expires_at=time.time() - 5)
    client.find_invoices_by_number(["x"])
    assert client.box.refresh_calls == 1 and xero_proxy.count("GET", INV) == 1


def test_map_exception_plain_objects():

    import urllib3.exceptions as ue

    assert map_exception(ue.ProtocolError("x"), is_write=True).outcome_unknown
    assert not map_exception(ue.ProtocolError("x")).outcome_unknown
    assert map_exception(ue.ReadTimeoutError(None, "/", "t"), is_write=True).outcome_unknown
    e = map_exception(ue.NewConnectionError(None, "refused"), is_write=True)
    assert isinstance(e, TransientError) and not e.outcome_unknown
    assert isinstance(map_exception(TimeoutError()), TransientError)
    r = errors.error_from_response(400, json.dumps({"error": "invalid_grant"}), {})
    assert isinstance(r, ReconnectRequired)
    assert isinstance(map_exception(ValueError("boom")), errors.PermanentError)


def test_organisation_falls_back_to_connections(make_client, xero):
    org = make_client().get_organisation()
    assert org["Name"] == "Test Organisation" and org["OrganisationID"] == xero.tenant_id()


def test_contacts_create_and_find(make_client, xero):
    client = make_client()
    res = client.create_contacts(
        [{"Name": "Zed Co", "EmailAddress": "z@z.test"}, {"Name": "Other"}]
    )
    assert [r.ok for r in res] == [True, True] and res[0].key == "Zed Co" and res[0].xero_id
    found = client.find_contacts(names=["zed co"])
    assert [c["Name"] for c in found] == ["Zed Co"]
    assert [c["Name"] for c in client.find_contacts(emails=["Z@Z.TEST"])] == ["Zed Co"]
    assert [c["Name"] for c in client.find_contacts(ids=[res[1].xero_id])] == ["Other"]
    assert client.find_contacts(names=["nobody"]) == []
    with pytest.raises(ValidationError) as ei:
        client.create_contacts([{"Name": ""}])
    assert "Contact name cannot be empty" in ei.value.message


def test_payments_create_list_delete(make_client, xero):
    client = make_client()
    (r,) = client.put_invoices([payloads(1)[0]], "p1")
    pay = client.create_payment(
        {
            "Invoice": {"InvoiceID": r.xero_id},
            "Account": {"Code": "090"},
            "Date": "2024-06-05",
            "Amount": 100,
        }
    )
    assert pay["Status"] == "AUTHORISED"
    listed = client.list_payments()
    assert [p["PaymentID"] for p in listed] == [pay["PaymentID"]]
    deleted = client.delete_payment(pay["PaymentID"])
    assert deleted["Status"] == "DELETED"
    assert client.list_payments()[0]["Status"] == "DELETED"
    assert client.get_invoices_by_ids([r.xero_id])[r.xero_id]["InvoiceNumber"] == "INV-00001"


def test_put_invoices_limit(make_client):
    with pytest.raises(ValueError):
        make_client().put_invoices(payloads(51), "k")


def test_proxy_wait_for_forwarded_request(make_client, xero_proxy):
    client = make_client(xero_proxy.url)
    xero_proxy.delay(2, method="PUT", path_prefix="/api.xro/2.0/Invoices", after_forward=True)
    assert not xero_proxy.wait_for("PUT", "/api.xro/2.0/Invoices", timeout=0.1)
    thread = threading.Thread(target=client.put_invoices, args=(payloads(1), "held"))
    thread.start()
    try:
        # the answer is held for 2 s, but xero-local has stored the invoice long before
        assert xero_proxy.wait_for("PUT", "/api.xro/2.0/Invoices", forwarded=True, timeout=1.5)
    finally:
        thread.join(10)
