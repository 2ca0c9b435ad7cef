"""The demo's always-on proxy: Xero-like refusals xero-local does not make, /Organisation."""

from casemgr_xero_testing.proxy import FaultProxy

from casemgr_xero_core.export import send_invoice_batch

from helpers import payloads


def test_unique_numbers_refuses_only_the_duplicate(make_client, xero):
    with FaultProxy(xero.url, tax_maths=True, unique_numbers=True) as proxy:
        client = make_client(proxy.url)
        first = payloads(1, start=2)
        assert all(r.ok for r in send_invoice_batch(client, first, "k1"))
        results = send_invoice_batch(client, payloads(3), "k2")
        assert [r.ok for r in results] == [True, False, True]
        assert results[1].messages == ["Invoice # must be unique."]
        assert not results[1].retryable
        numbers = sorted(i["InvoiceNumber"] for i in xero.invoices())
        assert numbers == ["INV-00001", "INV-00002", "INV-00003"]


def test_organisation_answered_for_known_tenants(make_client, xero):
    tenant = xero.tenant_id()
    with FaultProxy(xero.url, organisations={tenant: "Harbour Law LLP"}) as proxy:
        assert make_client(proxy.url).get_organisation()["Name"] == "Harbour Law LLP"


def test_tax_rates_answered_through_the_sdk(make_client, xero):
    rates = [{"TaxType": "OUTPUT2", "Name": "15% GST on Income", "Status": "ACTIVE"}]
    with FaultProxy(xero.url) as proxy:
        client = make_client(proxy.url)
        assert client.get_tax_rates() is None, "xero-local has no /TaxRates"
        proxy.tax_rates = rates
        assert client.get_tax_rates() == rates
        assert proxy.requests[-1].path.endswith("/TaxRates")
