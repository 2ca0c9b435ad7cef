"""Xero's rate limits as the test proxy plays them: a plain per-minute limiter, and Xero's own
per-organisation limits (calls per sliding minute, calls per day, concurrent calls)."""

from __future__ import annotations

import math
import time
from collections import deque


class RateLimits:
    """Mixed into ``FaultProxy``: its ``_lock`` guards the counters set up by
    ``_init_limits``."""

    def _init_limits(self, day_limit: int) -> None:
        self._per_minute: int | None = None
        self._window: deque[float] = deque()
        self._day_count = 0
        self._day_limit = day_limit
        self._tenant_limits: dict | None = None
        self._tenant_windows: dict[str, deque[float]] = {}
        self._tenant_days: dict[str, deque[float]] = {}  # call times in the rolling day
        self._tenant_inflight: dict[str, int] = {}

    def _reset_limits(self) -> None:
        """Under ``_lock``: no limit, counters at zero."""
        self._per_minute = None
        self._window.clear()
        self._day_count = 0
        self._tenant_limits = None
        self._tenant_windows.clear()
        self._tenant_days.clear()
        self._tenant_inflight.clear()

    def rate_limit(self, calls_per_minute: int | None) -> RateLimits:
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
    ) -> RateLimits:
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
