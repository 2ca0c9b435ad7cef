"""The test proxy's faults: rules that drop a connection before or after forwarding, answer
a canned response, or delay, for requests of a method and path prefix, a number of times."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


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


class Faults:
    """Mixed into ``FaultProxy``: ``_rules`` under its ``_lock``."""

    _lock: threading.Lock
    _rules: list[_Rule]

    def _add(self, rule: _Rule) -> Faults:
        with self._lock:
            self._rules.append(rule)
        return self

    def drop_after_forward(self, method=None, path_prefix="/", times=1) -> Faults:
        """Forward (upstream stores it), then close the client socket without an answer."""
        return self._add(_Rule("drop_after", method, path_prefix, times))

    def drop_before_forward(self, method=None, path_prefix="/", times=1) -> Faults:
        return self._add(_Rule("drop_before", method, path_prefix, times))

    def respond(
        self, status, body=b"", headers=None, method=None, path_prefix="/", times=1
    ) -> Faults:
        if isinstance(body, str):
            body = body.encode()
        return self._add(
            _Rule("respond", method, path_prefix, times, status, body, dict(headers or {}))
        )

    def delay(self, seconds, method=None, path_prefix="/", times=1, after_forward=False) -> Faults:
        """Sleep before forwarding (use with a client read timeout to simulate a timeout).

        ``after_forward=True``: forward first (upstream stores it), then hold the answer back
        for ``seconds`` (e.g. to kill the client between Xero storing and the answer)."""
        action = "delay_after" if after_forward else "delay"
        return self._add(_Rule(action, method, path_prefix, times, seconds=float(seconds)))

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
