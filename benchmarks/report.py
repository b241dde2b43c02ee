"""Where each benchmark leaves what it measured: benchmarks/results/NAME.json
(every number) and NAME.md (the table the README quotes), also printed."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def save(name: str, results: Any, lines: list[str]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=1))
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def first_audio_of(command: list[str], stdin: bytes | None, audible: float = 1e-3) -> float:
    """Seconds from launching ``command`` (raw 16-bit PCM on its stdout) to
    its first sample above ``audible`` (full scale 1); NaN if none came."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert process.stdin is not None and process.stdout is not None
    if stdin is not None:
        process.stdin.write(stdin)
    process.stdin.close()
    elapsed = float("nan")
    while block := process.stdout.read1(4096):  # type: ignore[attr-defined]
        samples = np.frombuffer(block[: len(block) // 2 * 2], "<i2")
        if np.any(np.abs(samples) > 32767 * audible):
            elapsed = time.perf_counter() - start
            break
    process.kill()
    process.wait()
    return elapsed
