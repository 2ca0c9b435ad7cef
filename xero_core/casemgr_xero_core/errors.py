"""Typed Xero errors with plain-words messages, and the single exception mapper."""

from __future__ import annotations

import json
import socket
from decimal import Decimal

from .pacing import parse_rate_headers
from .results import ItemResult, element_messages, result_from_element


class XeroError(Exception):
    """Base of every error this package raises about Xero.

    ``message``        plain words for an accountant
    ``status``         HTTP status (None when no answer came back)
    ``retryable``      trying again later may work
    ``outcome_unknown`` a write may have reached Xero (look it up before resending)
    """

    default_message = "Xero returned an error."
    retryable = False

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        retryable: bool | None = None,
        outcome_unknown: bool = False,
        body=None,
        headers=None,
        detail: str | None = None,
    ):
        self.message = message or self.default_message
        self.status = status
        if retryable is not None:
            self.retryable = retryable
        self.outcome_unknown = outcome_unknown
        self.body = body
        self.headers = headers
        self.detail = detail
        super().__init__(self.message)

    def __str__(self):
        s = self.message
        if self.status:
            s = f"{s} (HTTP {self.status})"
        return s


class AuthError(XeroError):
    default_message = (
        "Xero did not accept the connection's credentials. Check the Xero connection settings."
    )


class ReconnectRequired(AuthError):
    default_message = (
        "The Xero connection has expired or was revoked. An administrator must reconnect to Xero."
    )


class RateLimited(XeroError):
    retryable = True

    def __init__(self, message=None, *, retry_after: float | None = None, problem=None, **kw):
        self.retry_after = retry_after
        self.problem = problem
        if message is None:
            per = f" per {problem}" if problem else ""
            wait = f"; retrying in {retry_after:g} seconds" if retry_after is not None else ""
            message = f"Xero's limit on the number of calls{per} was reached{wait}."
        super().__init__(message, **kw)


class ValidationError(XeroError):
    default_message = "Xero rejected the data."

    def __init__(self, message=None, *, items: list[ItemResult] | None = None, **kw):
        self.items = items or []
        super().__init__(message, **kw)


class TransientError(XeroError):
    retryable = True
    default_message = "Xero could not be reached or is temporarily unavailable. It will be retried."


class NotFound(XeroError):
    default_message = "Xero could not find this record."


class PermanentError(XeroError):
    default_message = "Xero refused the request."


# --------------------------------------------------------------------------------------------
# Mapping
# --------------------------------------------------------------------------------------------


def _decode_body(body):
    if body is None:
        return None
    if isinstance(body, (bytes, bytearray)):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if isinstance(body, str):
        text = body.strip()
        if not text:
            return None
        try:
            return json.loads(text, parse_float=Decimal)
        except ValueError:
            return text
    return body


def _headers_dict(headers) -> dict:
    if not headers:
        return {}
    try:
        return {str(k): v for k, v in dict(headers).items()}
    except (TypeError, ValueError):
        return {}


def _short(text, limit=300) -> str:
    text = str(text or "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_from_response(status: int, body, headers, *, is_write: bool = False) -> XeroError:
    """Map an HTTP error answer (status, raw body, headers) to a typed XeroError."""
    data = _decode_body(body)
    hdrs = _headers_dict(headers)
    kw = {"status": status, "body": data, "headers": hdrs}
    xero_msg = None
    if isinstance(data, dict):
        xero_msg = data.get("Message") or data.get("Detail") or data.get("error_description")
    if status == 400 and isinstance(data, dict):
        oauth_error = data.get("error")
        if oauth_error in ("invalid_grant", "invalid_client", "unauthorized_client"):
            return ReconnectRequired(detail=str(oauth_error), **kw)
        elements = data.get("Elements") or []
        items = [result_from_element(i, el) for i, el in enumerate(elements)]
        msgs: list[str] = []
        for el in elements:
            for m in element_messages(el):
                if m not in msgs:
                    msgs.append(m)
        if msgs:
            message = "Xero rejected the data: " + "; ".join(msgs)
        elif oauth_error:
            message = f"Xero's sign-in service refused the request ({oauth_error})."
        else:
            message = "Xero rejected the data: " + _short(xero_msg or "bad request")
        return ValidationError(message, items=items, detail=data.get("Type"), **kw)
    if status == 400:
        return ValidationError("Xero rejected the data: " + _short(data or "bad request"), **kw)
    if status == 401:
        detail = _short(xero_msg or data) if data else None
        if isinstance(data, dict) and data.get("error") == "invalid_grant":
            return ReconnectRequired(detail=detail, **kw)
        return AuthError(detail=detail, **kw)
    if status == 403:
        return AuthError(
            "Xero refused access: this connection is not allowed to do that for this "
            "organisation (missing permission or the organisation was disconnected).",
            detail=_short(xero_msg or data) if data else None,
            **kw,
        )
    if status == 404:
        return NotFound(detail=_short(data) if data else None, **kw)
    if status == 429:
        info = parse_rate_headers(hdrs)
        return RateLimited(retry_after=info.retry_after, problem=info.problem, **kw)
    if status in (408, 500, 502, 503, 504) or status >= 500:
        # A 5xx on a write: Xero may have processed part of it (e.g. 504 from a gateway).
        unknown = is_write and status in (500, 502, 504, 408)
        return TransientError(
            f"Xero is temporarily unavailable (HTTP {status}). It will be retried.",
            outcome_unknown=unknown,
            **kw,
        )
    return PermanentError(
        "Xero refused the request: " + _short(xero_msg or data or f"HTTP {status}"), **kw
    )


def _urllib3_exc():
    import urllib3.exceptions as ue

    return ue


def _map_network(exc: BaseException, is_write: bool) -> XeroError | None:
    ue = _urllib3_exc()
    if isinstance(exc, ue.MaxRetryError) and exc.reason is not None:
        inner = _map_network(exc.reason, is_write)
        if inner is not None:
            return inner
    not_sent = (ue.NewConnectionError, ue.ConnectTimeoutError, ConnectionRefusedError)
    if isinstance(exc, not_sent):
        return TransientError(
            "Xero could not be reached (connection failed). Nothing was sent; it will be retried.",
            detail=_short(repr(exc)),
        )
    if isinstance(exc, ue.SSLError):
        return TransientError(
            "A secure connection to Xero could not be established. It will be retried.",
            detail=_short(repr(exc)),
        )
    sent_maybe = (
        ue.ReadTimeoutError,
        ue.ProtocolError,
        ue.TimeoutError,
        ue.HTTPError,
        socket.timeout,
        ConnectionError,
        TimeoutError,
    )
    if isinstance(exc, sent_maybe):
        if is_write:
            msg = (
                "The connection to Xero was lost before Xero answered. Xero may or may not "
                "have recorded the change; it will be checked before anything is resent."
            )
        else:
            msg = "The connection to Xero was lost before Xero answered. It will be retried."
        return TransientError(msg, outcome_unknown=is_write, detail=_short(repr(exc)))
    return None


def map_exception(exc: BaseException, *, is_write: bool = False) -> XeroError:
    """Map any exception raised while talking to Xero to a typed XeroError."""
    if isinstance(exc, XeroError):
        return exc
    try:
        from xero_python.exceptions import ApiException
    except ImportError:  # pragma: no cover
        ApiException = ()  # type: ignore[assignment]
    if ApiException and isinstance(exc, ApiException):
        http_resp = getattr(exc, "http_resp", None)
        status = getattr(http_resp, "status", None) if http_resp is not None else None
        if status:
            body = getattr(http_resp, "data", None)
            try:
                headers = http_resp.getheaders()
            except Exception:  # noqa: BLE001 - headers are a nicety
                headers = None
            err = error_from_response(int(status), body, headers, is_write=is_write)
            err.__cause__ = exc
            return err
        # status 0: SSL errors or a response the SDK could not parse (it *was* answered).
        reason = str(getattr(exc, "_reason", None) or getattr(exc, "reason", "") or exc)
        if "SSL" in reason:
            err = TransientError(
                "A secure connection to Xero could not be established. It will be retried.",
                detail=_short(reason),
            )
        else:
            err = PermanentError(
                "Xero's answer could not be read: " + _short(reason),
                outcome_unknown=is_write,
                detail=_short(reason),
            )
        err.__cause__ = exc
        return err
    mapped = _map_network(exc, is_write)
    if mapped is not None:
        mapped.__cause__ = exc
        return mapped
    err = PermanentError("Unexpected error while talking to Xero: " + _short(repr(exc)))
    err.__cause__ = exc
    return err
