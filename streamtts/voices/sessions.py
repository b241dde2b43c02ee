"""onnxruntime sessions tuned for each part of a cut voice.

Threads, spinning and memory arenas were measured per part (encoder, flow,
decoder, or the whole graph of a voice that cannot be cut) on a 2-core
machine; the reasons sit beside each choice.

Building a session is most of a cold start: onnxruntime spent ~0.8 s
optimizing the encoder's ~2,000-node graph at every start. So the first
build of a part saves the optimized graph (``optimized``), and later
starts load that with graph optimization off: the encoder's session in
0.35 s instead of 0.8-1.2 s (5 interleaved fresh processes), the same
kernels, the same outputs. The saved graph holds this CPU's layouts, so
its path names the onnxruntime version and the CPU (``machine_key``).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import platform
from pathlib import Path
from typing import Any

from .options import default_threads

__all__ = ["machine_key", "new_session", "shrinking_run_options"]

_log = logging.getLogger(__name__)


def _session_options(arena: bool, spin: bool = False, threads: int | None = None) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    # Two intra-op threads nearly halve the decoder's time on an idle 2-core
    # machine (measured: 0.65 -> 0.36 ms a frame), first chunk included; one
    # keeps a part on one core (VoiceOptions.threads).
    options.intra_op_num_threads = default_threads() if threads is None else threads
    # See _SPINNING_PARTS. A part that does not spin lets its idle pool
    # thread sleep between operators; waking it costs tens of microseconds.
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    # Spinning, if any, stops the moment a run returns: between runs the
    # audio path and the other parts need the cores.
    options.add_session_config_entry("session.force_spinning_stop", "1")
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # See _ARENA_PARTS for which parts get onnxruntime's arena and why.
    options.enable_cpu_mem_arena = arena
    return options


# Parts that run with onnxruntime's arena, shrunk back to its first block
# after every run (_shrinking_run_options); kept, an arena would hold the
# largest run's buffers for good. The encoder runs twice as fast with one
# (a 313-id sentence: 53 ms, 105 ms without); shrunk, the encoder's and the
# flow's leave RSS flat. The decoder runs without (about 20% slower): kept,
# its arena held tens of megabytes (RSS 355 MB instead of 240 MB), and
# shrunk it was no faster than none. With glibc tamed (_memory.py), memory
# stays flat however long the text.
_ARENA_PARTS = frozenset({"encoder", "flow", "whole"})

# Parts whose pool thread spins between operators while a run lasts. The
# encoder runs ~2,000 mostly small operators and the flow ~300, so sleeping
# and waking the second thread between them dominated their short runs:
# with spinning, warm TTFA p50 fell from 48.2 to 43.4 ms on the sentence
# corpus (6 interleaved rounds), with the same CPU seconds per audio second
# (0.144). The decoder's operators are few and large; spinning there added
# 6% CPU and no speed.
_SPINNING_PARTS = frozenset({"encoder", "flow", "whole"})


def shrinking_run_options() -> Any:
    import onnxruntime as ort

    options = ort.RunOptions()
    options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return options


def machine_key() -> str:
    """What an optimized graph depends on: onnxruntime's version and the CPU
    (its layout transforms pick kernels by the instruction sets present)."""
    import onnxruntime as ort

    flags = platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith(("flags", "Features")):
                flags += line
                break
    digest = hashlib.sha256(flags.encode()).hexdigest()[:12]
    return f"ort{ort.__version__}-{digest}"


def new_session(
    model: bytes | Path,
    part: str = "whole",
    *,
    threads: int | None = None,
    optimized: Path | None = None,
) -> Any:
    """A session for one part. ``threads``: intra-op threads (None: the
    default). ``optimized``: where this part's optimized graph is kept; it
    is loaded from there when present, and saved there when not."""
    import onnxruntime as ort

    from .._memory import limit_allocator_retention

    limit_allocator_retention()
    options = _session_options(
        arena=part in _ARENA_PARTS, spin=part in _SPINNING_PARTS, threads=threads
    )
    if optimized is not None and optimized.is_file():
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            return ort.InferenceSession(str(optimized), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # damaged: build from the model and save it again
            _log.warning("ignoring damaged optimized graph %s (%s)", optimized, err)
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    staging = None
    if optimized is not None:
        try:
            optimized.parent.mkdir(parents=True, exist_ok=True)
            staging = optimized.with_name(f".{optimized.name}.{os.getpid()}")
            options.optimized_model_filepath = str(staging)
        except OSError as err:
            _log.debug("cannot keep the optimized graph in %s (%s)", optimized.parent, err)
    source = str(model) if isinstance(model, Path) else model
    session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    if staging is not None and optimized is not None:
        try:
            staging.replace(optimized)  # atomic: a reader sees all of it or none
        except OSError as err:
            _log.debug("cannot keep the optimized graph %s (%s)", optimized, err)
            with contextlib.suppress(OSError):
                staging.unlink()
    return session
