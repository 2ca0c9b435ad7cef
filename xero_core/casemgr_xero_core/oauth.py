"""OAuth2 with Xero's identity service, all HTTP through the SDK's ApiClient (retries off)."""

from __future__ import annotations

import base64
import time
from urllib.parse import urlencode

from .endpoints import XeroEndpoints
from .errors import ReconnectRequired, XeroError, error_from_response, map_exception
from .transport import new_api_client, raw_call, read_response

#: accounting.attachments: the invoice's PDF in Xero (``attachments.py``); a connection signed
#: in before it was asked for gets it when reconnected.
SCOPES = (
    "offline_access openid profile email accounting.invoices accounting.payments "
    "accounting.contacts accounting.settings accounting.attachments"
)
#: client_credentials (custom connections) must not ask for offline_access/openid scopes, nor
#: for a scope the custom connection was not set up with (Xero refuses the token): no
#: accounting.attachments here, which a custom connection that attaches PDFs must include.
CLIENT_CREDENTIALS_SCOPES = (
    "accounting.invoices accounting.payments accounting.contacts accounting.settings"
)
TOKEN_KEYS = ("access_token", "refresh_token", "expires_at", "token_type", "scope", "id_token")
DEFAULT_TIMEOUT = (5, 30)


def authorization_url(
    endpoints: XeroEndpoints, client_id: str, redirect_uri: str, state: str, scopes: str = SCOPES
) -> str:
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": scopes,
            "state": state,
        }
    )
    sep = "&" if "?" in endpoints.authorize_url else "?"
    return f"{endpoints.authorize_url}{sep}{query}"


def normalize_token(raw: dict, now: float | None = None) -> dict:
    """Plain token dict: known keys only, ``expires_at`` as epoch seconds (float)."""
    now = time.time() if now is None else now
    token = {k: raw[k] for k in TOKEN_KEYS if raw.get(k) is not None}
    if "expires_at" in token:
        token["expires_at"] = float(token["expires_at"])
    elif raw.get("expires_in") is not None:
        token["expires_at"] = now + float(raw["expires_in"])
    token.setdefault("token_type", "Bearer")
    return token


def token_expired(token: dict | None, now: float | None = None, leeway: float = 60) -> bool:
    """True when there is no usable access token or it expires within ``leeway`` seconds."""
    if not token or not token.get("access_token"):
        return True
    expires_at = token.get("expires_at")
    if expires_at is None:
        return False
    now = time.time() if now is None else now
    return float(expires_at) - leeway <= now


def still_valid(current: dict | None, stale: dict | None) -> bool:
    """Token rotation policy, under the caller's row lock: ``current`` (the stored pair, read
    again) is usable as is when it is not the one the caller found stale and has not expired:
    another worker rotated it meanwhile, and the refresh token must not be spent twice."""
    stale_access = (stale or {}).get("access_token")
    return bool(
        current
        and current.get("access_token")
        and current["access_token"] != stale_access
        and not token_expired(current)
    )


def renew(
    endpoints: XeroEndpoints, client_id: str, client_secret: str, current: dict, custom: bool
) -> dict:
    """A new token: client credentials for a custom connection, else the refresh token
    (none stored: ReconnectRequired, someone must connect again)."""
    if custom:
        return client_credentials_token(endpoints, client_id, client_secret)
    if not current.get("refresh_token"):
        raise ReconnectRequired(message="No refresh token: connect to Xero again.", status=None)
    return refresh_token(endpoints, client_id, client_secret, current["refresh_token"])


def _basic(client_id: str, client_secret: str) -> str:
    raw = f"{client_id}:{client_secret}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def _token_request(
    endpoints: XeroEndpoints, client_id, client_secret, form: list, *, refreshing=False
) -> dict:
    api_client, _auth = new_api_client()
    try:
        resp = raw_call(
            api_client,
            endpoints.token_url,
            "POST",
            form=form,
            headers={"Authorization": _basic(client_id, client_secret)},
            timeout=DEFAULT_TIMEOUT,
            auth=False,
        )
        status, headers, body = read_response(resp)
    except Exception as exc:
        err = map_exception(exc)
        if refreshing and err.status == 400:
            raise ReconnectRequired(
                status=400, body=err.body, headers=err.headers, detail=err.detail
            ) from exc
        raise err from exc
    if not isinstance(body, dict) or not body.get("access_token"):
        err = error_from_response(status if status >= 400 else 502, body, headers)
        raise err
    return normalize_token(body)


def exchange_code(
    endpoints: XeroEndpoints, client_id: str, client_secret: str, code: str, redirect_uri: str
) -> dict:
    form = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect_uri)]
    return _token_request(endpoints, client_id, client_secret, form)


def refresh_token(
    endpoints: XeroEndpoints, client_id: str, client_secret: str, refresh_token: str
) -> dict:
    """Refresh (Xero rotates the refresh token: persist the new pair at once).

    Raises ReconnectRequired when Xero refuses the grant (invalid_grant / any 400).
    """
    if not refresh_token:
        raise ReconnectRequired(detail="no refresh token")
    form = [("grant_type", "refresh_token"), ("refresh_token", refresh_token)]
    return _token_request(endpoints, client_id, client_secret, form, refreshing=True)


def client_credentials_token(
    endpoints: XeroEndpoints, client_id: str, client_secret: str, scopes: str | None = None
) -> dict:
    form = [("grant_type", "client_credentials")]
    if scopes:
        form.append(("scope", scopes))
    return _token_request(endpoints, client_id, client_secret, form)


def list_connections(endpoints: XeroEndpoints, access_token: str) -> list[dict]:
    """Tenants this token may access: [{tenantId, tenantName, tenantType, ...}]."""
    api_client, _auth = new_api_client()
    try:
        resp = raw_call(
            api_client,
            endpoints.connections_url,
            "GET",
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=DEFAULT_TIMEOUT,
            auth=False,
        )
        _status, _headers, body = read_response(resp)
    except Exception as exc:
        raise map_exception(exc) from exc
    if not isinstance(body, list):
        raise XeroError("Xero's list of connected organisations could not be read.")
    return [dict(c) for c in body if isinstance(c, dict)]


def revoke_token(endpoints: XeroEndpoints, client_id: str, client_secret: str, token: str) -> None:
    """Revoke a refresh token (disconnect): Xero ends the grant, removes the organisations
    connected through it and refuses that refresh token from then on. Raises a ``XeroError``
    whenever Xero did not confirm it (the caller decides what a disconnect does then)."""
    api_client, _auth = new_api_client()
    try:
        resp = raw_call(
            api_client,
            endpoints.revocation_url,
            "POST",
            form=[("token", token)],
            headers={"Authorization": _basic(client_id, client_secret)},
            timeout=DEFAULT_TIMEOUT,
            auth=False,
        )
        read_response(resp)
    except Exception as exc:
        raise map_exception(exc, is_write=True) from exc
