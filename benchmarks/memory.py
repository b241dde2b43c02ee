"""Where a small device's memory goes: RSS step by step, fp32 and int8.

    .venv/bin/python benchmarks/memory.py

For each setting (fp32 on two threads, as published; ``--small-device``:
int8 on one thread) a fresh process takes the steps of a one-shot
``streamtts speak`` and reports its resident memory (VmRSS) after each,
and its peak (VmHWM) at the end: the interpreter; numpy; onnxruntime;
streamtts and trio; the ring kernels; the voice's sessions; a paragraph
rendered (three paragraphs: the arenas and buffers of synthesis). Each step's MB is what it
added. Writes benchmarks/results/memory.json and memory.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from corpus import PARAGRAPHS
from report import save

SETTINGS = {"fp32, 2 threads": ("fp32", 2), "int8, 1 thread (--small-device)": ("int8", 1)}


def status(field: str) -> float:
    """A /proc/self/status field in MB."""
    with open("/proc/self/status") as lines:
        for line in lines:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


def child(precision: str, threads: int) -> list[tuple[str, float]]:
    steps = [("Python", status("VmRSS"))]
    import numpy  # noqa: F401

    steps.append(("numpy", status("VmRSS")))
    import onnxruntime  # noqa: F401

    steps.append(("onnxruntime", status("VmRSS")))
    import trio

    import streamtts
    from streamtts.backend import ThreadedBackend
    from streamtts.dsp.ring import warm_up

    steps.append(("streamtts, trio, soxr", status("VmRSS")))
    warm_up()
    steps.append(("ring kernels", status("VmRSS")))
    voice = streamtts.load_voice(precision=precision, threads=threads)  # type: ignore[arg-type]
    steps.append(("the voice's sessions", status("VmRSS")))

    async def speak() -> None:
        backend = ThreadedBackend.for_voice(voice, streamtts.SynthesisOptions(seed=1))
        async with streamtts.open_engine(backend=backend, sink=streamtts.NullSink()) as engine:
            await engine.say(" ".join(PARAGRAPHS))

    trio.run(speak)
    steps.append(("three paragraphs rendered", status("VmRSS")))
    steps.append(("peak (VmHWM)", status("VmHWM")))
    return steps


def table(results: dict[str, Any]) -> list[str]:
    names = list(results)
    lines = [
        "| step | " + " | ".join(f"{n}: RSS (added)" for n in names) + " |",
        "|---|" + "---|" * len(names),
    ]
    columns = [results[n] for n in names]
    for row, (step, _) in enumerate(columns[0]):
        cells = []
        for steps in columns:
            rss = steps[row][1]
            added = rss - steps[row - 1][1] if 0 < row < len(steps) - 1 else None
            cells.append(f"{rss:.0f} MB" + (f" (+{added:.0f})" if added is not None else ""))
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(child(sys.argv[2], int(sys.argv[3]))))
        return
    results = {}
    for name, (precision, threads) in SETTINGS.items():
        out = subprocess.run(
            [sys.executable, __file__, "--child", precision, str(threads)],
            capture_output=True, text=True, check=True, timeout=600,
        )  # fmt: skip
        results[name] = json.loads(out.stdout.splitlines()[-1])
    save("memory", results, table(results))


if __name__ == "__main__":
    main()
