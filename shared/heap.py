"""The garbage collector of a long-running process."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def startup_heap_frozen(enabled: bool) -> Iterator[None]:
    """While the process runs, every object alive once its startup is done is out of the collector's reach
    (``gc.freeze``); given back when it stops.

    A process's modules, routes, schemas, compiled statements and pools live as long as it does, yet each full
    collection walks all of them: about 180,000 objects and 100 ms in an API process, a pause every request in
    flight waits out (reads' p99 jumped past 100 ms while the CPU was not busy). Frozen, they are never scanned;
    what requests make is collected as before. One collection first, so no garbage is frozen.
    ``CPTED_HEAP_FREEZE=0`` turns it off: a test process starting apps hundreds of times would pay a full
    collection of its own large heap at each start."""
    if not enabled:
        yield
        return
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
