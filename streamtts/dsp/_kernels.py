"""The ring stage's kernels, compiled by numba (the source: ``_kernel_source.py``).

Two ways, the same code: ahead of time (``aot.py`` compiles them once,
at install, into a small extension kept in the cut cache; loading it
takes half a millisecond and brings neither numba nor LLVM into the
process: about 150 MB and half a second of a cold start saved), or, where
no such build exists, just in time (``njit(nogil=True, cache=True)``,
compiled at engine start by :func:`compile_for_production` and cached on
disk). Never at import, never in the audio callback.

``STREAMTTS_KERNELS=jit`` (or ``NUMBA_DISABLE_JIT=1``, the tests' plain
Python run) ignores an ahead-of-time build.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import logging
import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from . import _kernel_source as source
from ._kernel_source import (
    ACTIVE,
    BLOCKS,
    CLEAR_DONE,
    CLEAR_REQUESTED,
    READ,
    STATE_SIZE,
    UNDERRUNS,
    WRITTEN,
)

__all__ = [
    "ACTIVE",
    "BLOCKS",
    "CLEAR_DONE",
    "CLEAR_REQUESTED",
    "COMPILED",
    "READ",
    "STATE_SIZE",
    "UNDERRUNS",
    "WRITTEN",
    "apply_gain_ramps",
    "compile_for_production",
    "first_audible",
    "limiter_gains",
    "ring_read",
    "ring_write",
]

_log = logging.getLogger(__name__)


def _ahead_of_time() -> ModuleType | None:
    """This machine's ahead-of-time build of these kernels, if one was made."""
    if os.environ.get("STREAMTTS_KERNELS") == "jit" or os.environ.get("NUMBA_DISABLE_JIT"):
        return None
    from .aot import built_module_path

    path = built_module_path()
    if path is None:
        return None
    try:
        loader = importlib.machinery.ExtensionFileLoader("_streamtts_kernels", str(path))
        spec = importlib.util.spec_from_file_location("_streamtts_kernels", path, loader=loader)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
    except (ImportError, OSError) as err:  # a build for another machine: compile instead
        _log.info("ahead-of-time kernels at %s do not load (%s); compiling", path, err)
        return None
    return module


def _just_in_time() -> dict[str, Callable[..., Any]]:
    from numba import njit

    compile_lazily: Callable[[Any], Callable[..., Any]] = njit(nogil=True, cache=True)
    return {name: compile_lazily(function) for name, (function, _) in source.KERNELS.items()}


_built = _ahead_of_time()
COMPILED = "ahead of time" if _built is not None else "just in time"
_found: dict[str, Callable[..., Any]] = (
    {name: getattr(_built, name) for name in source.KERNELS}
    if _built is not None
    else _just_in_time()
)

ring_write = _found["ring_write"]
ring_read = _found["ring_read"]
apply_gain_ramps = _found["apply_gain_ramps"]
first_audible = _found["first_audible"]
limiter_gains = _found["limiter_gains"]


def compile_for_production() -> None:
    """Compile every kernel for float32 audio and int64 state (nothing left
    to do for an ahead-of-time build but this check that it runs)."""
    ring = np.zeros(16, dtype=np.float32)
    state = np.zeros(STATE_SIZE, dtype=np.int64)
    block = np.ones(4, dtype=np.float32)
    ring_write(ring, state, block)
    ring_read(ring, state, block, 2)
    apply_gain_ramps(block, 1.0, 1, 1)
    first_audible(block, 0.5)
    limiter_gains(block, block.copy(), np.ones(1, dtype=np.float64), 0.5, 0.999)
