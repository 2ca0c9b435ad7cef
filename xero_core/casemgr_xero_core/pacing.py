"""Xero rate-limit headers -> when to pause.

Xero limits: 60 calls/minute and 5000/day per tenant, 5 concurrent calls, 10000/min per app.
A 429 carries ``Retry-After`` (seconds) and ``X-Rate-Limit-Problem``
(minute/day/concurrent/appminute).
Successful responses carry ``X-MinLimit-Remaining``, ``X-DayLimit-Remaining``,
``X-AppMinLimit-Remaining``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

#: Pause proactively when fewer than this many calls remain in the current minute.
MIN_REMAINING_THRESHOLD = 1
#: Without a Retry-After, a day-limit exhaustion pauses this long.
DAY_PAUSE = timedelta(hours=1)


@dataclass(frozen=True)
class RateInfo:
    min_remaining: int | None = None
    day_remaining: int | None = None
    app_min_remaining: int | None = None
    retry_after: float | None = None
    problem: str | None = None


def _header(headers, name: str):
    if headers is None:
        return None
    if isinstance(headers, Mapping) or hasattr(headers, "get"):
        val = headers.get(name)
        if val is None:
            # plain dicts are case-sensitive
            lname = name.lower()
            for k, v in headers.items():
                if str(k).lower() == lname:
                    return v
        return val
    for k, v in headers:  # list of tuples
        if str(k).lower() == name.lower():
            return v
    return None


def _int(value) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(float(str(value).strip()))
    except ValueError:
        return None


def _retry_after(value) -> float | None:
    if value is None or value == "":
        return None
    try:
        return max(0.0, float(str(value).strip()))
    except ValueError:
        pass
    # HTTP-date form
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None
    from datetime import timezone

    delta = (when - datetime.now(timezone.utc)).total_seconds()
    return max(0.0, delta)


def parse_rate_headers(headers) -> RateInfo:
    """Read Xero's rate-limit headers (any mapping / list of pairs, case-insensitive)."""
    problem = _header(headers, "X-Rate-Limit-Problem")
    return RateInfo(
        min_remaining=_int(_header(headers, "X-MinLimit-Remaining")),
        day_remaining=_int(_header(headers, "X-DayLimit-Remaining")),
        app_min_remaining=_int(_header(headers, "X-AppMinLimit-Remaining")),
        retry_after=_retry_after(_header(headers, "Retry-After")),
        problem=str(problem).strip().lower() if problem else None,
    )


#: With the minute budget spent and no Retry-After, and nothing known of the calls that spent
#: it, wait one whole window: Xero does not say whether its minute is rolling or fixed, and a
#: full window is safe for both (a fixed window has reset by then; a rolling one has let go of
#: every call of the burst that spent it).
MINUTE_WINDOW = timedelta(seconds=60)
#: Xero's published minute budget per organisation: the most answers a window remembers.
MINUTE_LIMIT = 60


def _next_window(now: datetime) -> datetime:
    return now + MINUTE_WINDOW


def not_before(
    now: datetime, info: RateInfo | None, minute_frees: datetime | None = None
) -> datetime | None:
    """When should the caller make its next call? ``None`` means: go ahead now.

    ``minute_frees``: when the spent minute budget lets the next call go, if the caller knows
    (``CallWindow``); otherwise a whole window from now."""
    if info is None:
        return None
    candidates: list[datetime] = []
    if info.retry_after is not None:
        candidates.append(now + timedelta(seconds=info.retry_after))
    elif info.problem:
        if info.problem == "day":
            candidates.append(now + DAY_PAUSE)
        elif info.problem == "concurrent":
            candidates.append(now + timedelta(seconds=1))
        else:
            candidates.append(_next_window(now))
    if info.day_remaining is not None and info.day_remaining <= 0:
        candidates.append(now + DAY_PAUSE)
    if info.min_remaining is not None and info.min_remaining < MIN_REMAINING_THRESHOLD:
        candidates.append(minute_frees or _next_window(now))
    if info.app_min_remaining is not None and info.app_min_remaining < MIN_REMAINING_THRESHOLD:
        candidates.append(_next_window(now))
    return max(candidates) if candidates else None


class CallWindow:
    """The answers of the last calls to one organisation, to pause no longer than needed.

    With L calls a minute, a spent budget (``X-MinLimit-Remaining: 0``) frees its first call
    60 s after the oldest of the last L calls -- in a sliding window that call leaves first,
    in a fixed one it opened the minute that is spent. Times are those of the answers (each
    call reached Xero before its answer). L is the most ``X-MinLimit-Remaining`` + 1 seen
    (a fresh window answers L - 1; seen lower, the pause is longer, never shorter).

    When the remembered answers cannot have spent the budget alone (fewer than L of them in
    the last minute, or the remaining count fell by more than one between two of them: someone
    else called too), the pause is a whole window, as without a memory."""

    def __init__(self, size: int = MINUTE_LIMIT):
        self._answers: deque[tuple[datetime, int]] = deque(maxlen=size)
        self._limit = 0
        self._lock = threading.Lock()

    def not_before(self, now: datetime, info: RateInfo | None) -> datetime | None:
        """Remember this answer; when may the next call go (``None``: now)."""
        if info is None or info.min_remaining is None:
            return not_before(now, info)
        with self._lock:
            self._answers.append((now, info.min_remaining))
            self._limit = max(self._limit, info.min_remaining + 1)
            frees = self._minute_frees(now)
        return not_before(now, info, frees)

    def _minute_frees(self, now: datetime) -> datetime | None:
        limit = self._limit
        if limit > len(self._answers):
            return None
        last = list(self._answers)[-limit:]
        if last[0][0] <= now - MINUTE_WINDOW:
            # Fewer than L of our calls in the last minute, yet the budget is spent: others
            # spent the rest (another process, another run), and nothing is known of theirs.
            return None
        for (_t0, before), (_t1, after) in zip(last, last[1:], strict=False):
            if after < before - 1:
                return None
        return last[0][0] + MINUTE_WINDOW


_WINDOWS: dict[object, CallWindow] = {}
_WINDOWS_LOCK = threading.Lock()


def call_window(key) -> CallWindow:
    """This process's ``CallWindow`` for ``key`` (one per organisation and database)."""
    with _WINDOWS_LOCK:
        window = _WINDOWS.get(key)
        if window is None:
            window = _WINDOWS[key] = CallWindow()
        return window
