"""Batching helpers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

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
