"""The one place that builds xero-python ApiClients (retries off) and turns raw answers into dicts.

Why raw JSON instead of SDK models: requests are plain PascalCase dicts (the SDK serializer passes
dicts, lists, Decimals and strings straight through), and answers are parsed as JSON with Decimal
numbers. This keeps Xero's exact shape, avoids float rounding of money, and avoids the SDK
deserializer failing on answers it cannot parse (e.g. ``DueDate: ""``) *after* a write was stored,
which would look like a lost response.
"""

from __future__ import annotations

import json
import ssl
import threading
from decimal import Decimal

import certifi
import urllib3
from xero_python.accounting import AccountingApi
from xero_python.api_client import ApiClient
from xero_python.api_client.configuration import Configuration

_config_lock = threading.Lock()


class _BearerAuth:
    """Stands in for the SDK's OAuth2Token: supplies the bearer header, never refreshes."""

    def __init__(self):
        self.access_token: str | None = None

    def get_auth_settings(self):
        if not self.access_token:
            return None
        return {
            "in": "header",
            "key": "Authorization",
            "value": f"Bearer {self.access_token}",
        }


def _no_retry_pool(maxsize: int = 4) -> urllib3.PoolManager:
    return urllib3.PoolManager(
        num_pools=4,
        maxsize=maxsize,
        cert_reqs=ssl.CERT_REQUIRED,
        ca_certs=certifi.where(),
        retries=False,  # never resend anything behind our back (PUT after a dropped connection)
    )


def new_api_client() -> tuple[ApiClient, _BearerAuth]:
    """An ApiClient whose pool never retries and whose auth is a plain bearer holder.

    ``Configuration`` is a metaclass singleton handing out shallow copies of the first instance;
    we therefore only *set attributes on our copy* and never rely on constructor arguments.
    """
    with _config_lock:
        cfg = Configuration()
    auth = _BearerAuth()
    cfg.oauth2_token = auth
    cfg.debug = False
    api_client = ApiClient(configuration=cfg, pool_threads=1)
    api_client.rest_client.pool_manager = _no_retry_pool()
    return api_client, auth


def accounting_api(api_client: ApiClient, api_url: str) -> AccountingApi:
    return AccountingApi(api_client, base_url=api_url)


def parse_json(data: bytes | str | None):
    if data is None:
        return None
    if isinstance(data, (bytes, bytearray)):
        data = data.decode("utf-8")
    data = data.strip()
    if not data:
        return None
    return json.loads(data, parse_float=Decimal)


def read_response(resp) -> tuple[int, dict, object]:
    """(status, headers, parsed JSON body) of a raw urllib3 response (no preloaded content)."""
    try:
        raw = resp.data
    finally:
        try:
            resp.release_conn()
        except Exception:  # noqa: BLE001,S110 - pragma: no cover
            pass
    headers = {str(k): v for k, v in dict(resp.headers).items()}
    try:
        body = parse_json(raw)
    except ValueError:
        body = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return resp.status, headers, body


def raw_call(
    api_client: ApiClient,
    url: str,
    method: str,
    *,
    query: list | None = None,
    headers: dict | None = None,
    body=None,
    form: list | None = None,
    timeout=None,
    auth: bool = True,
):
    """Any HTTP call through the SDK's ``ApiClient.call_api``; returns the raw urllib3 response."""
    header_params = {"Accept": "application/json"}
    if form is not None:
        header_params["Content-Type"] = "application/x-www-form-urlencoded"
    else:
        header_params["Content-Type"] = "application/json"
    header_params.update(headers or {})
    return api_client.call_api(
        url,
        method,
        {},
        query or [],
        header_params,
        body=body,
        post_params=form or [],
        files={},
        response_type=None,
        auth_settings=["OAuth2"] if auth else [],
        _return_http_data_only=True,
        _preload_content=False,
        _request_timeout=timeout,
        collection_formats={},
    )
