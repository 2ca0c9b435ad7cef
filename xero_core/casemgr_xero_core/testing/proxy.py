"""FaultProxy: a threaded HTTP forwarder in front of xero-local that counts calls and injects
faults (dropped connections, canned answers, delays, a per-minute rate limiter, and Xero's own
per-organisation limits: calls per sliding minute, calls per day, concurrent calls)."""

from __future__ import annotations

import http.client
import json
import math
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

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


@dataclass
class _Rule:
    action: str
    method: str | None
    prefix: str
    times: int
    status: int = 0
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    seconds: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and path.startswith(self.prefix)


def _line_tax(line: dict, rate, inclusive: bool) -> Decimal:
    """Xero's tax of one line from its tax type's rate (per line, half up)."""
    amount = Decimal(str(line.get("LineAmount") or 0))
    rate = Decimal(str(rate)) / 100
    tax = amount * rate / (1 + rate) if inclusive else amount * rate
    return tax.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _with_tax_maths(body: bytes, tax_rates: dict | None = None) -> bytes:
    try:
        data = json.loads(body, parse_float=Decimal)
    except ValueError:
        return body
    if not isinstance(data, dict):
        return body
    docs = data.get("Invoices") or data.get("CreditNotes")
    if not isinstance(docs, list):
        return body
    cent = Decimal("0.01")
    for inv in docs:
        lines = inv.get("LineItems") or []
        inclusive = inv.get("LineAmountTypes") == "Inclusive"
        for li in lines:
            if tax_rates and li.get("TaxType") in tax_rates:
                # Xero computes the tax from the tax type's rate, whatever the client sent.
                li["TaxAmount"] = _line_tax(li, tax_rates[li["TaxType"]], inclusive)
        amounts = sum((Decimal(str(li.get("LineAmount") or 0)) for li in lines), Decimal(0))
        tax = sum((Decimal(str(li.get("TaxAmount") or 0)) for li in lines), Decimal(0))
        if inv.get("LineAmountTypes") == "Inclusive":
            total, subtotal = amounts, amounts - tax
        else:
            total, subtotal = amounts + tax, amounts
        paid = Decimal(str(inv.get("AmountPaid") or 0)) + Decimal(
            str(inv.get("AmountCredited") or 0)
        )
        inv["SubTotal"] = subtotal.quantize(cent)
        inv["TotalTax"] = tax.quantize(cent)
        inv["Total"] = total.quantize(cent)
        inv["AmountDue"] = max(Decimal(0), total - paid).quantize(cent)
    return json.dumps(data, default=str).encode()


class FaultProxy:
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
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # a request arrived or was forwarded
        self._per_minute: int | None = None
        self._window: deque[float] = deque()
        self._day_count = 0
        self._day_limit = day_limit
        self._tenant_limits: dict | None = None
        self._tenant_windows: dict[str, deque[float]] = {}
        self._tenant_days: dict[str, deque[float]] = {}  # call times in the rolling day
        self._tenant_inflight: dict[str, int] = {}
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

    # ------------------------------------------------------------------ rules

    def _add(self, rule: _Rule) -> FaultProxy:
        with self._lock:
            self._rules.append(rule)
        return self

    def drop_after_forward(self, method=None, path_prefix="/", times=1) -> FaultProxy:
        """Forward (upstream stores it), then close the client socket without an answer."""
        return self._add(_Rule("drop_after", method, path_prefix, times))

    def drop_before_forward(self, method=None, path_prefix="/", times=1) -> FaultProxy:
        return self._add(_Rule("drop_before", method, path_prefix, times))

    def respond(
        self, status, body=b"", headers=None, method=None, path_prefix="/", times=1
    ) -> FaultProxy:
        if isinstance(body, str):
            body = body.encode()
        return self._add(
            _Rule("respond", method, path_prefix, times, status, body, dict(headers or {}))
        )

    def delay(
        self, seconds, method=None, path_prefix="/", times=1, after_forward=False
    ) -> FaultProxy:
        """Sleep before forwarding (use with a client read timeout to simulate a timeout).

        ``after_forward=True``: forward first (upstream stores it), then hold the answer back
        for ``seconds`` (e.g. to kill the client between Xero storing and the answer)."""
        action = "delay_after" if after_forward else "delay"
        return self._add(_Rule(action, method, path_prefix, times, seconds=float(seconds)))

    def rate_limit(self, calls_per_minute: int | None) -> FaultProxy:
        with self._lock:
            self._per_minute = calls_per_minute
            self._window.clear()
        return self

    def tenant_limits(
        self,
        per_minute: int | None = 60,
        per_day: int | None = 5000,
        concurrent: int | None = 5,
        day_seconds: float = 86400,
    ) -> FaultProxy:
        """Xero's limits, per organisation (``Xero-Tenant-Id``): ``per_minute`` calls in any
        sliding 60 s, ``per_day`` calls in any sliding day (``day_seconds``, 24 h as Xero's; a
        bench may shorten it to see a day's pause end), ``concurrent`` calls in flight. Beyond
        them: 429 with Retry-After (until the window lets a call go) and X-Rate-Limit-Problem
        minute / day / concurrent, as Xero answers. Answers carry X-MinLimit-Remaining /
        X-DayLimit-Remaining of that tenant."""
        with self._lock:
            self._tenant_limits = {
                "minute": per_minute,
                "day": per_day,
                "concurrent": concurrent,
                "day_seconds": float(day_seconds),
            }
            self._tenant_windows.clear()
            self._tenant_days.clear()
            self._tenant_inflight.clear()
        return self

    def reset(self) -> None:
        with self._lock:
            self.tax_rates = self._initial_settings[0]
            self.accounts = list(self._initial_settings[1])
            self._rules.clear()
            self.requests.clear()
            self._per_minute = None
            self._window.clear()
            self._day_count = 0
            self._tenant_limits = None
            self._tenant_windows.clear()
            self._tenant_days.clear()
            self._tenant_inflight.clear()

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

    def _take_rules(self, method: str, path: str) -> list[_Rule]:
        taken = []
        with self._lock:
            seen_actions = set()
            for rule in self._rules:
                if (
                    rule.times > 0
                    and rule.matches(method, path)
                    and rule.action not in seen_actions
                ):
                    rule.times -= 1
                    taken.append(rule)
                    seen_actions.add(rule.action)
            self._rules = [r for r in self._rules if r.times > 0]
        return taken

    def _limit_check(self) -> tuple[float | None, int | None, int]:
        """(retry_after if limited, minute remaining, day remaining)."""
        now = time.monotonic()
        with self._lock:
            while self._window and now - self._window[0] >= 60:
                self._window.popleft()
            limit = self._per_minute
            if limit is not None and len(self._window) >= limit:
                retry = max(1, math.ceil(60 - (now - self._window[0])))
                return float(retry), 0, max(0, self._day_limit - self._day_count)
            self._window.append(now)
            self._day_count += 1
            cap = limit if limit is not None else 60
            return None, max(0, cap - len(self._window)), max(0, self._day_limit - self._day_count)

    def _tenant_check(self, tenant: str):
        """None when the call may go (and is counted: minute, day, in flight), else
        (retry_after, problem, minute remaining, day remaining)."""
        lim = self._tenant_limits
        now = time.monotonic()
        with self._lock:
            window = self._tenant_windows.setdefault(tenant, deque())
            while window and now - window[0] >= 60:
                window.popleft()
            days = self._tenant_days.setdefault(tenant, deque())
            while days and now - days[0] >= lim["day_seconds"]:
                days.popleft()
            day = len(days)
            minute_cap = lim["minute"] if lim["minute"] is not None else 60
            day_cap = lim["day"] if lim["day"] is not None else 5000
            if lim["concurrent"] is not None and (
                self._tenant_inflight.get(tenant, 0) >= lim["concurrent"]
            ):
                return 1.0, "concurrent", max(0, minute_cap - len(window)), max(0, day_cap - day)
            if lim["day"] is not None and day >= lim["day"]:
                retry = max(1, math.ceil(lim["day_seconds"] - (now - days[0])))
                return float(retry), "day", max(0, minute_cap - len(window)), 0
            if lim["minute"] is not None and len(window) >= lim["minute"]:
                retry = max(1, math.ceil(60 - (now - window[0])))
                return float(retry), "minute", 0, max(0, day_cap - day)
            window.append(now)
            days.append(now)
            self._tenant_inflight[tenant] = self._tenant_inflight.get(tenant, 0) + 1
            return None, None, max(0, minute_cap - len(window)), max(0, day_cap - day - 1)

    def _tenant_done(self, tenant: str) -> None:
        with self._lock:
            self._tenant_inflight[tenant] = max(0, self._tenant_inflight.get(tenant, 0) - 1)

    def per_tenant(self, since: float = 0.0) -> dict[str, dict[str, int]]:
        """{tenant: {"METHOD /path-root": calls, "429 minute": n, ...}} of requests since
        ``since`` (monotonic)."""
        out: dict[str, dict[str, int]] = {}
        with self._lock:
            reqs = list(self.requests)
        for r in reqs:
            if not r.tenant or r.started < since:
                continue
            bucket = out.setdefault(r.tenant, {})
            key = r.action if r.action.startswith("429") else f"{r.method} {r.path}"
            bucket[key] = bucket.get(key, 0) + 1
        return out

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
        settings = self._settings_list(method, path)
        if settings is not None:
            rec.action = "settings"
            self._reply(h, 200, {"Content-Type": "application/json"}, settings)
            return
        refused: dict[int, dict] = {}
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
            resp_body = _with_tax_maths(resp_body, self._tax_percent())
        resp_headers["X-MinLimit-Remaining"] = str(min_rem)
        resp_headers["X-DayLimit-Remaining"] = str(day_rem)
        resp_headers["X-AppMinLimit-Remaining"] = "9999"
        self._reply(h, status, resp_headers, resp_body)

    def _payment_references(self, method: str, req_body: bytes, resp_body: bytes) -> bytes:
        """xero-local drops a payment's Reference: remember the one sent with a new payment
        and put it back in every answer about that payment, as Xero does."""
        try:
            sent = json.loads(req_body) if method in ("PUT", "POST") and req_body else None
            data = json.loads(resp_body)
        except ValueError:
            return resp_body
        payments = data.get("Payments") if isinstance(data, dict) else None
        if not isinstance(payments, list):
            return resp_body
        if isinstance(sent, dict):
            sent_list = sent.get("Payments") if "Payments" in sent else [sent]
            if isinstance(sent_list, list) and len(sent_list) == len(payments):
                for asked, made in zip(sent_list, payments, strict=True):
                    if isinstance(asked, dict) and asked.get("Reference") and made.get("PaymentID"):
                        self._references[made["PaymentID"]] = asked["Reference"]
        for payment in payments:
            ref = self._references.get(payment.get("PaymentID"))
            if ref and not payment.get("Reference"):
                payment["Reference"] = ref
        return json.dumps(data).encode()

    @property
    def tax_rates(self) -> list[dict] | None:
        """Xero TaxRate dicts ``GET …/TaxRates`` answers (None: forwarded to xero-local)."""
        return self._tax_rates

    @tax_rates.setter
    def tax_rates(self, value) -> None:
        if isinstance(value, dict):
            value = [
                {
                    "Name": f"{tax_type} ({rate}%)",
                    "TaxType": tax_type,
                    "Status": "ACTIVE",
                    "CanApplyToRevenue": True,
                    "DisplayTaxRate": float(rate),
                    "EffectiveRate": float(rate),
                }
                for tax_type, rate in value.items()
            ]
        self._tax_rates = [dict(r) for r in value] if value else None

    def _tax_percent(self) -> dict[str, float]:
        """{TaxType: percent} of the rates that carry an EffectiveRate (for the tax maths)."""
        return {
            r["TaxType"]: r["EffectiveRate"]
            for r in self._tax_rates or ()
            if r.get("EffectiveRate") is not None
        }

    def _settings_list(self, method: str, path: str) -> bytes | None:
        """``GET …/TaxRates`` and ``GET …/Accounts`` from ``tax_rates`` / ``accounts`` (None
        when not configured: forwarded, and xero-local answers 404)."""
        if method != "GET":
            return None
        tail = path.rstrip("/")
        if tail.endswith("/TaxRates") and self.tax_rates:
            return json.dumps({"TaxRates": self.tax_rates}).encode()
        if tail.endswith("/Accounts") and self.accounts:
            return json.dumps({"Accounts": self.accounts}).encode()
        return None

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

    def _refuse_duplicates(self, path, headers, body):
        """(body to forward or None when nothing is left, {index: refused element})."""
        try:
            data = json.loads(body)
            invoices = data["Invoices"]
        except (ValueError, KeyError, TypeError):
            return body, {}
        if not isinstance(invoices, list):
            return body, {}
        taken = set()
        for page in range(1, 1000):
            status, _h, raw = self._upstream("GET", f"{path}?page={page}", headers, b"")
            items = json.loads(raw).get("Invoices") or [] if status == 200 else []
            taken.update(
                i.get("InvoiceNumber")
                for i in items
                if i.get("Type") == "ACCREC" and i.get("Status") not in ("DELETED", "VOIDED")
            )
            if len(items) < 100:
                break
        refused, keep = {}, []
        for index, inv in enumerate(invoices):
            number = inv.get("InvoiceNumber")
            if inv.get("Type", "ACCREC") == "ACCREC" and number and number in taken:
                refused[index] = {
                    **inv,
                    "HasErrors": True,
                    "StatusAttributeString": "ERROR",
                    "ValidationErrors": [{"Message": "Invoice # must be unique."}],
                }
            else:
                keep.append(inv)
                if number:
                    taken.add(number)
        if not refused:
            return body, {}
        data["Invoices"] = keep
        return (json.dumps(data).encode() if keep else None), refused

    @staticmethod
    def _merge_refused(resp_body: bytes, refused: dict[int, dict]) -> bytes:
        """Put the refused elements back at their places in the answer (summarizeErrors=false)."""
        data = json.loads(resp_body)
        accepted = iter(data.get("Invoices") or [])
        total = len(data.get("Invoices") or []) + len(refused)
        data["Invoices"] = [
            refused[i] if i in refused else next(accepted, None) for i in range(total)
        ]
        return json.dumps(data).encode()

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


def main(argv=None) -> int:
    """``python -m casemgr_xero_core.testing.proxy --upstream URL --port N [--tax-maths]``:
    an always-on proxy (the demo puts one between Odoo and xero-local)."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(prog="casemgr_xero_core.testing.proxy")
    parser.add_argument("--upstream", required=True, help="xero-local URL")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tax-maths", action="store_true", help="fill totals as Xero does")
    parser.add_argument(
        "--unique-numbers", action="store_true", help="refuse duplicate invoice numbers"
    )
    parser.add_argument(
        "--organisation",
        action="append",
        default=[],
        metavar="TENANT_ID=NAME",
        help="answer GET /Organisation for this tenant (repeatable)",
    )
    parser.add_argument(
        "--tax-rate",
        action="append",
        default=[],
        metavar="TAXTYPE=NAME",
        help="answer GET /TaxRates with this active rate (repeatable)",
    )
    args = parser.parse_args(argv)
    orgs = dict(item.split("=", 1) for item in args.organisation)
    rates = [
        {"TaxType": t, "Name": n, "Status": "ACTIVE"}
        for t, n in (item.split("=", 1) for item in args.tax_rate)
    ]
    proxy = FaultProxy(
        args.upstream,
        tax_maths=args.tax_maths,
        port=args.port,
        unique_numbers=args.unique_numbers,
        organisations=orgs,
        tax_rates=rates or None,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_a: stop.set())
    print(f"proxy {proxy.url} -> {args.upstream}", flush=True)
    stop.wait()
    proxy.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
