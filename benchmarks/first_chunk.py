"""First audio inside a sentence: streamtts's first chunk vs piper-tts's sentence.

Real model, real clock, both engines interleaved in one run on the same
voice and scales. For each sentence: the time from handing over the text
to the first audio samples (streamtts: phonemize, encode, first decoder
chunk; piper-tts: phonemize and the whole graph), and the total compute
of streamtts's chunked path vs its own whole-segment path.

    .venv/bin/python benchmarks/first_chunk.py [--repeats N]

Writes benchmarks/results/first_chunk.json and .md (medians and ratios).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import onnxruntime
from piper import PiperVoice as ReferenceVoice
from piper import SynthesisConfig
from report import save
from sentences import GROUPS

import streamtts
from streamtts import SynthesisOptions, Synthesizer, load_voice

SCALES = {"noise_scale": 0.667, "noise_w_scale": 0.8}


def timed(action) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    voice = load_voice()
    ours = Synthesizer(voice, SynthesisOptions(seed=0, **SCALES))
    reference = ReferenceVoice.load(str(voice.model_path))
    config = SynthesisConfig(length_scale=1.0, **SCALES)

    def ours_first(text: str) -> None:
        next(iter(ours.speak([text])))

    def ours_all(text: str, whole: bool) -> None:
        for _ in ours.speak([text], whole=whole):
            pass

    def reference_first(text: str) -> None:
        next(iter(reference.synthesize(text, config)))

    for text in GROUPS["short"][:2]:  # warm up both (first calls allocate)
        ours_first(text), reference_first(text), ours_all(text, False), ours_all(text, True)

    samples: dict[str, dict[str, list[float]]] = {}
    for group, texts in GROUPS.items():
        rows = samples.setdefault(group, {k: [] for k in ("ours", "piper", "chunked", "whole")})
        for _ in range(args.repeats):
            for text in texts:
                rows["ours"].append(timed(lambda t=text: ours_first(t)))
                rows["piper"].append(timed(lambda t=text: reference_first(t)))
                rows["chunked"].append(timed(lambda t=text: ours_all(t, False)))
                rows["whole"].append(timed(lambda t=text: ours_all(t, True)))

    summary = {}
    for group, rows in samples.items():
        med = {k: statistics.median(v) for k, v in rows.items()}
        summary[group] = {
            "first_audio_ms_streamtts": 1000 * med["ours"],
            "first_audio_ms_piper": 1000 * med["piper"],
            "speedup": med["piper"] / med["ours"],
            "chunked_over_whole_compute": statistics.median(
                c / w for c, w in zip(rows["chunked"], rows["whole"], strict=True)
            ),
        }
    result = {
        "benchmark": "first_chunk",
        "machine": {
            "python": platform.python_version(),
            "cpu": platform.processor(),
            "cores": __import__("os").cpu_count(),
        },
        "versions": {
            "streamtts": streamtts.__version__,
            "onnxruntime": onnxruntime.__version__,
            "numpy": np.__version__,
        },
        "settings": {"repeats": args.repeats, **SCALES, "schedule": repr(ours.schedule)},
        "summary": summary,
        "samples_s": samples,
    }
    lines = [
        "| sentences | streamtts first audio (p50) | piper-tts first audio (p50) | ratio "
        "| chunked / whole compute (p50) |",
        "|---|---|---|---|---|",
    ]
    for group, row in summary.items():
        lines.append(
            f"| {group} | {row['first_audio_ms_streamtts']:.0f} ms | "
            f"{row['first_audio_ms_piper']:.0f} ms | {row['speedup']:.1f}x "
            f"| {row['chunked_over_whole_compute']:.2f} |"
        )
    lines.append(
        "\nGoals: first chunk >= 5x sooner than piper-tts on 20+ word sentences; "
        "chunked compute <= 1.25x whole-segment."
    )
    save("first_chunk", result, lines)


if __name__ == "__main__":
    main()
