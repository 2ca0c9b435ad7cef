"""XeroSession: one tenant's plumbing under ``XeroClient`` — the token (one refresh and retry
on 401), rate-limit headers, error mapping, paging and single-record answers, and ``request``
for any other call. The Xero resources are in ``client.py``.

Not thread-safe: use one session (client) per worker/thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from .endpoints import XeroEndpoints
from .errors import (
    AuthError,
    NotFound,
    ReconnectRequired,
    TransientError,
    ValidationError,
    XeroError,
    error_from_response,
    map_exception,
)
from .oauth import token_expired
from .pacing import RateInfo, parse_rate_headers
from .results import ItemResult, element_messages, result_from_element
from .transport import accounting_api, new_api_client, raw_call, read_response

_logger = logging.getLogger(__name__)

PAGE_SIZE = 100
MAX_PAGES = 200
LOOKUP_CHUNK = 40  # IDs / where-clauses per GET (keeps the URL short)
# Invoice numbers per GET /Invoices?InvoiceNumbers=…: as many as fit this many URL-encoded
# characters, at most a batch (50): a batch whose outcome is unknown (a killed worker, a
# dropped answer) is looked up in one call, which counts against Xero's 60 calls a minute.
LOOKUP_URL_BUDGET = 1500


def _quote_where(value: str) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _strip_meta(payload: dict) -> dict:
    """Drop payload-side metadata keys (``_expected_total`` …) before sending."""
    return {k: v for k, v in payload.items() if not str(k).startswith("_")}


class XeroSession:
    def __init__(
        self,
        endpoints: XeroEndpoints,
        tenant_id: str,
        get_token: Callable[[], dict],
        refresh: Callable[[dict], dict] | None = None,
        timeout=(5, 60),
        on_rate_info: Callable[[RateInfo], None] | None = None,
    ):
        self.endpoints = endpoints
        self.tenant_id = tenant_id
        self.get_token = get_token
        self.refresh = refresh
        self.timeout = timeout
        self.on_rate_info = on_rate_info
        self.last_rate_info: RateInfo | None = None
        self._api_client, self._auth = new_api_client()
        self.api = accounting_api(self._api_client, endpoints.api_url)

    # ------------------------------------------------------------------ plumbing

    def _current_token(self) -> dict:
        token = self.get_token() or {}
        if token_expired(token) and self.refresh is not None:
            token = self.refresh(token) or {}
        if not token.get("access_token"):
            raise ReconnectRequired(detail="no access token")
        return token

    def _rate(self, headers) -> None:
        if not headers:
            return
        info = parse_rate_headers(headers)
        self.last_rate_info = info
        if self.on_rate_info is not None:
            try:
                self.on_rate_info(info)
            except Exception:  # pragma: no cover - a hook must never break a call
                _logger.exception("on_rate_info hook failed")

    def _call(self, fn: Callable[[], object], *, is_write: bool) -> tuple[object, dict]:
        """Run one SDK call: token, one refresh+retry on 401, one retry of a read on a dropped
        connection, rate-header reporting, error mapping. Returns (parsed body, headers)."""
        token = self._current_token()
        refreshed = False
        read_retried = False
        while True:
            self._auth.access_token = token["access_token"]
            try:
                resp = fn()
                status, headers, body = read_response(resp)
            except Exception as exc:
                err = map_exception(exc, is_write=is_write)
                self._rate(err.headers)
                if (
                    err.status == 401
                    and isinstance(err, AuthError)
                    and not refreshed
                    and self.refresh is not None
                ):
                    refreshed = True
                    token = self.refresh(token) or {}
                    if not token.get("access_token"):
                        raise ReconnectRequired(detail="refresh gave no access token") from exc
                    continue
                if (
                    not is_write
                    and not read_retried
                    and isinstance(err, TransientError)
                    and err.status is None
                ):
                    read_retried = True  # e.g. a stale pooled keep-alive connection
                    continue
                raise err from exc
            self._rate(headers)
            if status >= 300:
                raise error_from_response(status, body, headers, is_write=is_write)
            return body, headers

    # ------------------------------------------------------------------ answers, paging

    @staticmethod
    def _results(body, resource: str, sent: list[dict], key_field: str) -> list[ItemResult]:
        elements = (body or {}).get(resource) or [] if isinstance(body, dict) else []
        results = []
        for i, el in enumerate(elements):
            r = result_from_element(i, el)
            if i < len(sent) and not r.key:
                r.key = sent[i].get(key_field)
            results.append(r)
        if len(elements) != len(sent):
            _logger.warning("Xero answered %d elements for %d sent", len(elements), len(sent))
        return results

    @staticmethod
    def _all_pages(fetch: Callable[[int], list[dict]]) -> list[dict]:
        """Every item of a paged GET: ``fetch(page)`` for page 1, 2, … until a short page."""
        out: list[dict] = []
        for page in range(1, MAX_PAGES + 1):
            items = fetch(page)
            out.extend(items)
            if len(items) < PAGE_SIZE:
                break
        return out

    def _get_list(self, api_method: Callable, key: str, **kwargs) -> Callable[[int], list[dict]]:
        """A ``fetch(page)`` for one of the SDK's list methods (raw JSON, our timeout)."""

        def fetch(page):
            body, _h = self._call(
                lambda: api_method(
                    self.tenant_id,
                    page=page,
                    _preload_content=False,
                    _request_timeout=self.timeout,
                    **kwargs,
                ),
                is_write=False,
            )
            return list((body or {}).get(key) or [])

        return fetch

    @staticmethod
    def _single(body, resource: str) -> dict:
        items = (body or {}).get(resource) or [] if isinstance(body, dict) else []
        if not items:
            raise XeroError("Xero's answer did not contain the record.")
        el = items[0]
        msgs = element_messages(el)
        if el.get("HasValidationErrors") or el.get("HasErrors") or msgs:
            raise ValidationError(
                "Xero rejected the data: " + "; ".join(msgs or ["no reason given"]),
                items=[result_from_element(0, el)],
                status=200,
            )
        return el

    def _optional_list(self, path: str, key: str) -> list[dict] | None:
        """GET a settings list; None when the peer does not provide it (404)."""
        try:
            body = self.request("GET", path)
        except NotFound:
            return None
        return list((body or {}).get(key) or [])

    # ------------------------------------------------------------------ escape hatch

    def request(self, method: str, path: str, *, query=None, body=None, is_write=None):
        """Any other API call (path relative to api_url). Returns the parsed JSON body."""
        is_write = method.upper() != "GET" if is_write is None else is_write
        headers = {"xero-tenant-id": self.tenant_id}
        data, _h = self._call(
            lambda: raw_call(
                self._api_client,
                self.endpoints.api_url + path,
                method.upper(),
                query=query,
                headers=headers,
                body=body,
                timeout=self.timeout,
            ),
            is_write=is_write,
        )
        return data
