"""Batching helpers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar
from urllib.parse import quote

T = TypeVar("T")

MAX_INVOICES_PER_REQUEST = 50


def chunks(seq: Iterable[T], size: int = MAX_INVOICES_PER_REQUEST) -> Iterator[list[T]]:
    """Yield consecutive lists of at most ``size`` items."""
    if size < 1:
        raise ValueError("size must be >= 1")
    if isinstance(seq, Sequence):
        for i in range(0, len(seq), size):
            yield list(seq[i : i + size])
        return
    buf: list[T] = []
    for item in seq:
        buf.append(item)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf


def chunks_by_url_length(
    values: Iterable[str], budget: int, max_items: int = MAX_INVOICES_PER_REQUEST
) -> Iterator[list[str]]:
    """Consecutive lists of ``values`` for one comma-separated query parameter each: at most
    ``max_items`` values and ``budget`` characters once URL-encoded (separators included). A
    value longer than the budget on its own goes alone."""
    if budget < 1 or max_items < 1:
        raise ValueError("budget and max_items must be >= 1")
    sep = len(quote(",", safe=""))
    buf: list[str] = []
    used = 0
    for value in values:
        size = len(quote(str(value), safe=""))
        if buf and (used + sep + size > budget or len(buf) >= max_items):
            yield buf
            buf, used = [], 0
        used += size + (sep if buf else 0)
        buf.append(value)
    if buf:
        yield buf
