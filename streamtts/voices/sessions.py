"""onnxruntime sessions tuned for each part of a cut voice.

Threads, spinning and memory arenas were measured per part (encoder, flow,
decoder, or the whole graph of a voice that cannot be cut) on a 2-core
machine; the reasons sit beside each choice.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["new_session", "shrinking_run_options"]


def _session_options(arena: bool, spin: bool = False) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    # Two intra-op threads nearly halve the decoder's time on a 2-core
    # machine (measured: 0.65 -> 0.36 ms a frame), first chunk included.
    options.intra_op_num_threads = int(
        os.environ.get("STREAMTTS_ORT_THREADS", str(min(2, os.cpu_count() or 1)))
    )
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


def new_session(model: bytes | Path, part: str = "whole") -> Any:
    import onnxruntime as ort

    from .._memory import limit_allocator_retention

    limit_allocator_retention()
    source = str(model) if isinstance(model, Path) else model
    options = _session_options(arena=part in _ARENA_PARTS, spin=part in _SPINNING_PARTS)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
