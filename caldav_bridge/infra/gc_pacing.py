"""The garbage collector's pace: fewer passes during bulk work (imports), and a server's start-up heap left out of
its full passes.

A serving process holds ~half a million long-lived objects once its app is built (Flask, Radicale, SQLAlchemy's
mappers, pydantic's validators); every full (generation-2) collection walked them all: 70-90 ms with every
thread stopped, a few times a minute under load, each one the slowest request of its moment (the API list's p99
under wrk; bench/README.md, eighth session). :func:`freeze_startup_heap` moves what exists after start-up into the
permanent generation (``gc.freeze``), which collections skip: a full pass then took ~4 ms. What start-up made is
kept for the process's life anyway; objects made later are collected as before.

CPython runs a generation-0 collection every 700 net container allocations; a bulk import allocates
millions (converted items, row tuples, JSON payloads), almost none of them in reference cycles, and
the collections cost about a fifth of the import's CPU (measured on 10k Calendly records: 2.8 s with
the default threshold, 2.2 s with 50,000). :func:`fewer_collections` raises the threshold for the
duration and puts the previous one back; collections still run, only less often, so memory stays
bounded (bench/import_bench.py compares peak RSS of 10k and 100k imports).

The threshold is process-wide: another thread running meanwhile is collected less often too, which
changes nothing but timing.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["BULK_GEN0_THRESHOLD", "fewer_collections", "freeze_startup_heap"]

BULK_GEN0_THRESHOLD = 50_000


@contextmanager
def fewer_collections(gen0: int = BULK_GEN0_THRESHOLD) -> Iterator[None]:
    """Run the body with the generation-0 threshold at least ``gen0``; restore the thresholds after."""
    before = gc.get_threshold()
    if before[0] >= gen0 or before[0] == 0:  # already as high (an outer bulk job), or collection is off
        yield
        return
    gc.set_threshold(gen0, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def freeze_startup_heap() -> None:
    """Collect once, then leave every object alive now out of later collections (call once the app is built and
    before serving: a forked worker calls it after building its own)."""
    gc.collect()
    gc.freeze()
