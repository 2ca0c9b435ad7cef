"""XeroClient: one tenant, plain dicts in and out (Xero's PascalCase JSON), typed errors.

The Xero resources (invoices, credit notes, contacts, payments, the organisation and its
settings); the plumbing under them (token, rate limits, errors, paging, ``request``) is
``session.XeroSession``.

Not thread-safe: use one client per worker/thread.
"""

from __future__ import annotations

from collections.abc import Iterable

from .batching import MAX_INVOICES_PER_REQUEST, chunks, chunks_by_url_length
from .errors import NotFound
from .oauth import list_connections
from .pacing import RateInfo
from .results import ItemResult
from .session import (
    LOOKUP_CHUNK,
    LOOKUP_URL_BUDGET,
    XeroSession,
    _quote_where,
    _strip_meta,
)

__all__ = ["ItemResult", "RateInfo", "XeroClient"]


class XeroClient(XeroSession):
    # ------------------------------------------------------------------ invoices

    def put_invoices(self, invoices: list[dict], idempotency_key: str) -> list[ItemResult]:
        """PUT /Invoices (create only), summarizeErrors=false, unitdp=4. One result per element,
        in order. Raises ValidationError (400 with elements), RateLimited, AuthError, Transient…"""
        return self._put_documents(
            self.api.create_invoices, "Invoices", "InvoiceNumber", invoices, idempotency_key
        )

    def put_credit_notes(self, credit_notes: list[dict], idempotency_key: str) -> list[ItemResult]:
        """PUT /CreditNotes, like ``put_invoices``."""
        return self._put_documents(
            self.api.create_credit_notes,
            "CreditNotes",
            "CreditNoteNumber",
            credit_notes,
            idempotency_key,
        )

    def _put_documents(self, create, resource, key_field, documents, idempotency_key):
        if len(documents) > MAX_INVOICES_PER_REQUEST:
            raise ValueError(
                f"At most {MAX_INVOICES_PER_REQUEST} documents per request, got {len(documents)}"
            )
        if not documents:
            return []
        body, _h = self._call(
            lambda: create(
                self.tenant_id,
                {resource: [_strip_meta(d) for d in documents]},
                summarize_errors=False,
                unitdp=4,
                idempotency_key=idempotency_key,
                _preload_content=False,
                _request_timeout=self.timeout,
            ),
            is_write=True,
        )
        return self._results(body, resource, documents, key_field)

    def _list_invoices(self, **kwargs) -> list[dict]:
        return self._all_pages(
            self._get_list(self.api.get_invoices, "Invoices", unitdp=4, **kwargs)
        )

    def find_invoices_by_number(self, numbers: Iterable[str]) -> dict[str, dict]:
        """{InvoiceNumber: invoice} for those that exist (DELETED/VOIDED ones included)."""
        wanted = [n for n in dict.fromkeys(numbers) if n]
        found: dict[str, dict] = {}
        for group in chunks_by_url_length(wanted, LOOKUP_URL_BUDGET):
            wanted_set = set(group)
            for inv in self._list_invoices(invoice_numbers=group):
                num = inv.get("InvoiceNumber")
                if num in wanted_set and num not in found:
                    found[num] = inv
        return found

    def find_credit_notes_by_number(self, numbers: Iterable[str]) -> dict[str, dict]:
        """{CreditNoteNumber: credit note} for those that exist (where-clause, filtered here)."""
        wanted = [n for n in dict.fromkeys(numbers) if n]
        found: dict[str, dict] = {}
        for group in chunks(wanted, LOOKUP_CHUNK):
            wanted_set = set(group)
            where = " OR ".join(f"CreditNoteNumber=={_quote_where(n)}" for n in group)

            def fetch(page, where=where):
                body = self.request("GET", "/CreditNotes", query=[("where", where), ("page", page)])
                return (body or {}).get("CreditNotes") or []

            for cn in self._all_pages(fetch):
                num = cn.get("CreditNoteNumber")
                if num in wanted_set and num not in found:
                    found[num] = cn
        return found

    def allocate_credit_note(
        self, credit_note_id: str, invoice_id: str, amount, on_date: str
    ) -> dict:
        """PUT /CreditNotes/{id}/Allocations: apply a credit note to an invoice."""
        body = {
            "Allocations": [
                {"Invoice": {"InvoiceID": invoice_id}, "Amount": float(amount), "Date": on_date}
            ]
        }
        return self.request(
            "PUT", f"/CreditNotes/{credit_note_id}/Allocations", body=body, is_write=True
        )

    def get_invoice(self, invoice_id: str) -> dict:
        body, _h = self._call(
            lambda: self.api.get_invoice(
                self.tenant_id,
                invoice_id,
                unitdp=4,
                _preload_content=False,
                _request_timeout=self.timeout,
            ),
            is_write=False,
        )
        items = (body or {}).get("Invoices") or []
        if not items:
            raise NotFound()
        return items[0]

    def get_invoices_by_ids(self, ids: Iterable[str]) -> dict[str, dict]:
        """{InvoiceID: invoice} for those that exist."""
        wanted = [i for i in dict.fromkeys(ids) if i]
        found: dict[str, dict] = {}
        for group in chunks(wanted, LOOKUP_CHUNK):
            wanted_set = set(group)
            for inv in self._list_invoices(i_ds=group):
                if inv.get("InvoiceID") in wanted_set:
                    found[inv["InvoiceID"]] = inv
        return found

    # ------------------------------------------------------------------ contacts

    def _list_contacts(self, **kwargs) -> list[dict]:
        return self._all_pages(self._get_list(self.api.get_contacts, "Contacts", **kwargs))

    def list_contacts(self, if_modified_since=None) -> list[dict]:
        """Every contact (summary) created or changed since ``if_modified_since``, all pages."""
        kwargs = {"summary_only": True}
        if if_modified_since is not None:
            kwargs["if_modified_since"] = if_modified_since
        return self._list_contacts(**kwargs)

    def find_contacts(
        self,
        names: Iterable[str] = (),
        emails: Iterable[str] = (),
        contact_numbers: Iterable[str] = (),
        ids: Iterable[str] = (),
    ) -> list[dict]:
        """Contacts matching any of the given names (case-insensitive), e-mails
        (case-insensitive), contact numbers or IDs. Filtered client-side as well."""
        names_l = {n.strip().lower() for n in names if n and n.strip()}
        emails_l = {e.strip().lower() for e in emails if e and e.strip()}
        numbers_s = {c for c in contact_numbers if c}
        ids_s = {i for i in ids if i}

        def matches(c: dict) -> bool:
            return (
                (c.get("Name") or "").strip().lower() in names_l
                or (c.get("EmailAddress") or "").strip().lower() in emails_l
                or (c.get("ContactNumber") or "") in numbers_s
                or c.get("ContactID") in ids_s
            )

        found: dict[str, dict] = {}
        for group in chunks(sorted(ids_s), LOOKUP_CHUNK):
            for c in self._list_contacts(i_ds=group):
                if matches(c):
                    found.setdefault(c["ContactID"], c)
        clauses = (
            [f"Name.ToLower()=={_quote_where(n)}" for n in sorted(names_l)]
            + [f"EmailAddress.ToLower()=={_quote_where(e)}" for e in sorted(emails_l)]
            + [f"ContactNumber=={_quote_where(c)}" for c in sorted(numbers_s)]
        )
        for group in chunks(clauses, 20):
            for c in self._list_contacts(where=" OR ".join(group)):
                if matches(c):
                    found.setdefault(c["ContactID"], c)
        return list(found.values())

    def create_contacts(self, contacts: list[dict]) -> list[ItemResult]:
        """POST /Contacts, summarizeErrors=false. One result per element, in order."""
        if not contacts:
            return []
        body, _h = self._call(
            lambda: self.api.update_or_create_contacts(
                self.tenant_id,
                {"Contacts": list(contacts)},
                summarize_errors=False,
                _preload_content=False,
                _request_timeout=self.timeout,
            ),
            is_write=True,
        )
        return self._results(body, "Contacts", contacts, "Name")

    # ------------------------------------------------------------------ payments

    def list_payments(self, if_modified_since=None) -> list[dict]:
        """Every page of GET /Payments (If-Modified-Since sent when given; some servers ignore
        it, so callers filter on UpdatedDateUTC as well: see payments.invoices_to_look_at)."""
        kwargs = {}
        if if_modified_since is not None:
            kwargs["if_modified_since"] = if_modified_since
        return self._all_pages(self._get_list(self.api.get_payments, "Payments", **kwargs))

    def get_payment(self, payment_id: str) -> dict:
        """GET /Payments/{id}; raises NotFound when Xero does not know it."""
        body, _h = self._call(
            lambda: self.api.get_payment(
                self.tenant_id,
                payment_id,
                _preload_content=False,
                _request_timeout=self.timeout,
            ),
            is_write=False,
        )
        items = (body or {}).get("Payments") or [] if isinstance(body, dict) else []
        if not items:
            raise NotFound()
        return items[0]

    def create_payment(self, payment: dict, idempotency_key: str | None = None) -> dict:
        kwargs = {"idempotency_key": idempotency_key} if idempotency_key else {}
        body, _h = self._call(
            lambda: self.api.create_payment(
                self.tenant_id,
                dict(payment),
                _preload_content=False,
                _request_timeout=self.timeout,
                **kwargs,
            ),
            is_write=True,
        )
        return self._single(body, "Payments")

    def delete_payment(self, payment_id: str) -> dict:
        body, _h = self._call(
            lambda: self.api.delete_payment(
                self.tenant_id,
                payment_id,
                {"Status": "DELETED"},
                _preload_content=False,
                _request_timeout=self.timeout,
            ),
            is_write=True,
        )
        return self._single(body, "Payments")

    # ------------------------------------------------------------------ organisation

    def get_organisation(self) -> dict:
        """The organisation record; falls back to the /connections entry when /Organisation
        is not available (e.g. xero-local answers 404)."""
        try:
            body, _h = self._call(
                lambda: self.api.get_organisations(
                    self.tenant_id, _preload_content=False, _request_timeout=self.timeout
                ),
                is_write=False,
            )
            orgs = (body or {}).get("Organisations") or []
            if orgs:
                return orgs[0]
        except NotFound:
            pass
        token = self._current_token()
        for conn in list_connections(self.endpoints, token["access_token"]):
            if conn.get("tenantId") == self.tenant_id:
                return {
                    "Name": conn.get("tenantName"),
                    "OrganisationID": conn.get("tenantId"),
                    "TenantType": conn.get("tenantType"),
                }
        raise NotFound("This Xero organisation is no longer connected.")

    # ------------------------------------------------------------------ settings

    def get_accounts(self) -> list[dict] | None:
        return self._optional_list("/Accounts", "Accounts")

    def get_tax_rates(self) -> list[dict] | None:
        """The organisation's tax rates (``TaxType``, display ``Name``, ``Status`` …) through
        the SDK's ``get_tax_rates``; None when the peer has no such endpoint (404)."""
        try:
            body, _h = self._call(
                lambda: self.api.get_tax_rates(
                    self.tenant_id, _preload_content=False, _request_timeout=self.timeout
                ),
                is_write=False,
            )
        except NotFound:
            return None
        return list((body or {}).get("TaxRates") or [])

    def get_tracking_categories(self) -> list[dict] | None:
        return self._optional_list("/TrackingCategories", "TrackingCategories")

    # ------------------------------------------------------------------ escape hatch
