"""Xero's identity service where xero-local lacks it, played by the test proxy as Xero documents
it (developer.xero.com, OAuth 2.0 auth flow, "Revoking tokens"):

- ``POST /connect/revocation`` with the app's Basic credentials and ``token=<refresh token>``
  (form-encoded) revokes the grant and answers 200 with an empty body; without client
  credentials 400 ``invalid_client``, without a token 400 ``invalid_request``;
- afterwards ``POST /connect/token`` with ``grant_type=refresh_token`` and that token answers
  400 ``invalid_grant``, as Xero does for a revoked or spent refresh token.

xero-local answers every token request with a new pair and has no revocation endpoint.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

JSON = {"Content-Type": "application/json"}


def _form(body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return {}
    return {k: v[0] for k, v in pairs.items()}


def _error(code: str) -> tuple[int, dict, bytes]:
    return 400, dict(JSON), json.dumps({"error": code}).encode()


class IdentityAdditions:
    """Mixed into ``FaultProxy``: ``revoked_tokens`` holds the refresh tokens revoked since the
    last ``reset``."""

    def _init_identity(self) -> None:
        self.revoked_tokens: set[str] = set()

    def _identity_answer(self, method: str, path: str, headers: dict, body: bytes):
        """(status, headers, body) for an identity call the proxy answers itself, else None
        (forwarded to xero-local)."""
        tail = path.rstrip("/")
        if method != "POST" or not tail.endswith(("/connect/revocation", "/connect/token")):
            return None
        form = _form(body)
        if tail.endswith("/connect/token"):
            if (
                form.get("grant_type") == "refresh_token"
                and form.get("refresh_token") in self.revoked_tokens
            ):
                return _error("invalid_grant")
            return None
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        if not auth.startswith("Basic ") or len(auth) <= len("Basic "):
            return _error("invalid_client")
        token = form.get("token")
        if not token:
            return _error("invalid_request")
        with self._lock:
            self.revoked_tokens.add(token)
        return 200, {}, b""
