"""Keep glibc from hoarding the model's freed buffers.

Each decoder run allocates tens of megabytes of intermediate tensors and
frees them. glibc's malloc raises its mmap threshold after such frees, so
later big buffers come from per-thread heaps that it rarely returns to the
system; with worker threads taking turns, each grows its own heap and RSS
climbs by hundreds of megabytes over a long text. Fixing the threshold
(big buffers are mmapped and unmapped on free) and capping the number of
heaps keeps RSS flat. A no-op where glibc is not the allocator.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

__all__ = ["limit_allocator_retention"]

_log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
_done = False


def limit_allocator_retention() -> None:
    global _done
    if _done:
        return
    _done = True
    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = (
        mallopt(_M_MMAP_THRESHOLD, 256 * 1024)
        and mallopt(_M_TRIM_THRESHOLD, 1024 * 1024)
        and mallopt(_M_ARENA_MAX, 2)
    )
    if not ok:
        _log.debug("mallopt refused a setting; memory may grow on long texts")
