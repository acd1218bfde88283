"""The garbage collector of a long-running worker.

A worker holds about a million long-lived objects once its runtime is open (models,
the ICD-10 code tree the rules load, SQLAlchemy and pydantic machinery), and makes
thousands of short-lived ones per document. CPython's cyclic collector walks every
tracked object on each full (generation 2) collection, ~190 ms each here: measured
with `gc.callbacks` in process (bench/service.py, LLM path), collections cost 1.25 ms
of CPU per document, 0.16 ms once the heap was settled (service CPU 16.5 -> 15.4 ms).
`gc.freeze()` moves what exists once the runtime is open into a
permanent generation that collections skip; the larger first threshold makes the
young collections fewer (each finds mostly garbage, so the work per object is the
same, the fixed cost per collection is paid less often).

Frozen objects are still freed by reference counting (an old model version dropped
after a promotion goes away); only cycles among them wait, for the process's life.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)

YOUNG_THRESHOLD = 20_000
"""Allocations less deallocations between young collections (CPython's default: 700)."""


def settle_heap() -> None:
    """After start-up: collect once, freeze what survived, space the young collections."""
    gc.collect()
    gc.freeze()
    _, g1, g2 = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, g1, g2)
    log.info("heap settled: %d objects frozen", gc.get_freeze_count())
