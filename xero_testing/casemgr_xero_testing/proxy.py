"""FaultProxy: a threaded HTTP forwarder in front of xero-local that counts calls and injects
faults (dropped connections, canned answers, delays, a per-minute rate limiter, and Xero's own
per-organisation limits: ``limits.py``), and adds what xero-local lacks as Xero documents it
(``xero_additions.py``: tax maths, unique numbers…; ``xero_changes.py``: credit-note
allocations, voiding, edits and their webhook events; ``identity.py``: token revocation;
``attachments.py``: invoice attachments and the online-invoice URL)."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from .attachments import AttachmentAdditions
from .faults import Faults
from .identity import IdentityAdditions
from .limits import RateLimits
from .xero_additions import XeroAdditions, with_tax_maths
from .xero_changes import XeroChanges

_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "host",
}


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict
    body: bytes
    action: str = "forward"
    forwarded: bool = False  # upstream (xero-local) answered it: it stored what was sent
    tenant: str = ""
    started: float = 0.0  # time.monotonic() when the request arrived
    upstream_s: float = 0.0  # seconds spent waiting on the upstream (xero-local)
    ended: float = 0.0  # time.monotonic() when the answer was sent


class FaultProxy(
    Faults, RateLimits, XeroAdditions, XeroChanges, IdentityAdditions, AttachmentAdditions
):
    def __init__(
        self,
        upstream_url: str,
        day_limit: int = 5000,
        tax_maths: bool = False,
        port: int = 0,
        unique_numbers: bool = False,
        organisations: dict[str, str] | None = None,
        tax_rates: dict[str, float] | list[dict] | None = None,
        accounts: list[dict] | None = None,
    ):
        """``tax_maths``: fill SubTotal/TotalTax/Total/AmountDue of invoices from their lines
        (LineAmount, TaxAmount) as Xero does; xero-local does no tax maths of its own.
        ``unique_numbers``: refuse a sales invoice whose InvoiceNumber the organisation already
        has ("Invoice # must be unique.", per element), as Xero does; xero-local accepts
        duplicates. ``organisations``: {tenant id: name}; answer ``GET …/Organisation`` for
        those tenants (xero-local has no such endpoint). ``tax_rates``: either {TaxType: percent}
        (with ``tax_maths`` a line of such a type gets Xero's tax from that rate) or a list of
        Xero TaxRate dicts (``TaxType``, ``Name``, ``Status``, optionally ``EffectiveRate``),
        served as given; either way ``GET …/TaxRates`` lists them (settable later:
        ``proxy.tax_rates = …``). ``accounts``: Xero Account dicts ``GET …/Accounts`` lists
        (xero-local has neither). ``port``: 0 picks a free one."""
        self.tax_rates = tax_rates
        self.accounts = list(accounts or [])
        self._initial_settings = (self.tax_rates, list(self.accounts))
        self._references: dict[str, str] = {}
        self.tax_maths = tax_maths
        self.unique_numbers = unique_numbers
        self.organisations = dict(organisations or {})
        parts = urlsplit(upstream_url)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.requests: list[Recorded] = []
        self._rules = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # a request arrived or was forwarded
        self._init_limits(day_limit)
        self._init_identity()
        self._init_changes()
        self._init_attachments()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # silence
                pass

            def _handle(self):
                proxy._serve(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fault-proxy", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        with self._lock:
            self.tax_rates = self._initial_settings[0]
            self.accounts = list(self._initial_settings[1])
            self._rules.clear()
            self.requests.clear()
            self._reset_limits()
            self.revoked_tokens.clear()
            self._reset_changes()
            self._reset_attachments()

    def count(self, method: str | None = None, path_prefix: str = "/") -> int:
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (method is None or r.method == method) and r.path.startswith(path_prefix)
            )

    def wait_for(
        self,
        method: str | None = None,
        path_prefix: str = "/",
        count: int = 1,
        forwarded: bool = False,
        timeout: float = 30.0,
    ) -> bool:
        """Block until ``count`` matching requests have arrived (``forwarded``: and xero-local
        has answered them, i.e. stored what they sent). False if ``timeout`` passes first."""

        def enough() -> bool:
            return (
                sum(
                    1
                    for r in self.requests
                    if (method is None or r.method == method)
                    and r.path.startswith(path_prefix)
                    and (r.forwarded or not forwarded)
                )
                >= count
            )

        with self._changed:
            return self._changed.wait_for(enough, timeout)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:  # noqa: PYI034
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ serving

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        tenant = next((v for k, v in h.headers.items() if k.lower() == "xero-tenant-id"), "")
        counted = None
        if tenant and self._tenant_limits is not None:
            counted = self._tenant_check(tenant)
        if counted is not None and counted[0] is None:
            try:
                self._serve_one(h, tenant, counted[2:])
            finally:
                self._tenant_done(tenant)
        else:
            self._serve_one(h, tenant, None, refused=counted)

    def _serve_one(self, h: BaseHTTPRequestHandler, tenant="", remaining=None, refused=None):
        started = time.monotonic()
        method = h.command
        parts = urlsplit(h.path)
        path, query = parts.path, parts.query
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        headers = {k: v for k, v in h.headers.items()}
        rec = Recorded(method, path, query, headers, body, tenant=tenant, started=started)
        with self._changed:
            self.requests.append(rec)
            self._changed.notify_all()
        try:
            self._answer(h, rec, remaining, refused)
        finally:
            rec.ended = time.monotonic()

    def _answer(self, h, rec, remaining, refused_by_limit) -> None:
        method, path, query, headers, body = rec.method, rec.path, rec.query, rec.headers, rec.body
        if refused_by_limit is not None:
            retry_after, problem, min_rem, day_rem = refused_by_limit
            rec.action = f"429 {problem}"
            self._reply(
                h,
                429,
                {
                    "Retry-After": str(int(retry_after)),
                    "X-Rate-Limit-Problem": problem,
                    "X-MinLimit-Remaining": str(min_rem),
                    "X-DayLimit-Remaining": str(day_rem),
                },
                b"",
            )
            return
        rules = {r.action: r for r in self._take_rules(method, path)}

        if "delay" in rules:
            time.sleep(rules["delay"].seconds)
        if "drop_before" in rules:
            rec.action = "drop_before"
            self._drop(h)
            return
        if "respond" in rules:
            r = rules["respond"]
            rec.action = f"respond {r.status}"
            self._reply(h, r.status, r.headers, r.body)
            return
        if remaining is not None:  # counted by the per-tenant limits
            retry_after, (min_rem, day_rem) = None, remaining
        else:
            retry_after, min_rem, day_rem = self._limit_check()
        if retry_after is not None:
            rec.action = "rate_limited"
            self._reply(
                h,
                429,
                {
                    "Retry-After": str(int(retry_after)),
                    "X-Rate-Limit-Problem": "minute",
                    "X-MinLimit-Remaining": "0",
                    "X-DayLimit-Remaining": str(day_rem),
                },
                b"",
            )
            return
        tenant = rec.tenant
        if (
            method == "GET"
            and path.rstrip("/").endswith("/Organisation")
            and (tenant in self.organisations)
        ):
            rec.action = "organisation"
            org = {
                "OrganisationID": tenant,
                "Name": self.organisations[tenant],
                "OrganisationType": "COMPANY",
                "Version": "GLOBAL",
            }
            self._reply(
                h,
                200,
                {"Content-Type": "application/json"},
                json.dumps({"Organisations": [org]}).encode(),
            )
            return
        identity = self._identity_answer(method, path, headers, body)
        if identity is not None:
            rec.action = "identity"
            self._reply(h, *identity)
            return
        settings = self._settings_list(method, path)
        if settings is not None:
            rec.action = "settings"
            self._reply(h, 200, {"Content-Type": "application/json"}, settings)
            return
        attachment = self._attachment_answer(method, path, query, headers, body, tenant)
        if attachment is not None:
            rec.action = "attachments"
            self._reply(h, *attachment)
            return
        refused: dict[int, dict] = {}
        try:
            changed = self._change_answer(method, path, headers, body, tenant)
        except OSError as exc:
            changed = (502, {}, f"upstream unavailable {exc!r}".encode())
        if changed is not None:
            rec.action = "xero change"
            with self._changed:
                rec.forwarded = True
                self._changed.notify_all()
            self._reply(h, *changed)
            return
        try:
            if self.unique_numbers and method in ("PUT", "POST") and path.endswith("/Invoices"):
                body, refused = self._refuse_duplicates(path, headers, body)
            target = path + (f"?{query}" if query else "")
            if refused and body is None:
                status, resp_headers = 200, {"Content-Type": "application/json"}
                resp_body = json.dumps({"Invoices": []}).encode()
            else:
                t_up = time.monotonic()
                try:
                    status, resp_headers, resp_body = self._upstream(method, target, headers, body)
                finally:
                    rec.upstream_s += time.monotonic() - t_up
            if refused and status == 200:
                resp_body = self._merge_refused(resp_body, refused)
        except OSError as exc:
            rec.action = f"upstream error {exc!r}"
            self._reply(h, 502, {}, b"upstream unavailable")
            return
        with self._changed:
            rec.forwarded = True
            self._changed.notify_all()
        if "delay_after" in rules:
            time.sleep(rules["delay_after"].seconds)
        if "drop_after" in rules:
            rec.action = "drop_after"
            self._drop(h)
            return
        if status == 200 and "/Payments" in path:
            resp_body = self._payment_references(method, body, resp_body)
        if self.tax_maths and status == 200 and ("/Invoices" in path or "/CreditNotes" in path):
            resp_body = with_tax_maths(resp_body, self._tax_percent())
        if status == 200:
            resp_body = self._changes_in_answer(method, path, resp_body, tenant)
        resp_headers["X-MinLimit-Remaining"] = str(min_rem)
        resp_headers["X-DayLimit-Remaining"] = str(day_rem)
        resp_headers["X-AppMinLimit-Remaining"] = "9999"
        self._reply(h, status, resp_headers, resp_body)

    def _upstream(self, method, target, headers, body):
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=60)
        fwd_headers = {k: v for k, v in headers.items() if k.lower() not in _HOP}
        fwd_headers["Host"] = f"{self.upstream_host}:{self.upstream_port}"
        fwd_headers["Connection"] = "close"
        conn.request(
            method, target, body=body if body or method != "GET" else None, headers=fwd_headers
        )
        resp = conn.getresponse()
        resp_body = resp.read()
        resp_headers = {k: v for k, v in resp.getheaders() if k.lower() not in _HOP}
        conn.close()
        return resp.status, resp_headers, resp_body

    @staticmethod
    def _reply(h, status, headers, body: bytes) -> None:
        h.close_connection = True
        try:
            h.send_response(status)
            for k, v in headers.items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(body)))
            h.send_header("Connection", "close")
            h.end_headers()
            if body and h.command != "HEAD":
                h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client is gone (a killed worker): nothing to answer

    @staticmethod
    def _drop(h) -> None:
        h.close_connection = True
        try:
            h.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            h.connection.close()
        except OSError:
            pass
