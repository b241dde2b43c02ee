"""What a loudness target does to files and to streams, measured after the
fact with pyloudnorm (ITU-R BS.1770) and a 4x true peak (soxr).

For each text (the benchmark corpus's paragraphs, its LLM replies read as
markdown, and its sentences five at a time):

- **as the voice speaks** (no target): its own loudness, so the spread a
  calibrated stream inherits can be seen;
- **file**: rendered whole, then ``streamtts.loudness.normalized`` (what
  ``streamtts speak --out x.wav --loudness T`` does);
- **stream**: through the engine with ``EngineOptions(loudness_lufs=T)``
  (the calibrated gain and the look-ahead-free limiter), the samples kept
  as the sink received them, then measured.

    .venv/bin/python benchmarks/loudness.py          # -> results/loudness.{json,md}
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import trio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import LLM_REPLIES, PARAGRAPHS, SENTENCES
from report import save

from streamtts import EngineOptions, SynthesisOptions, Synthesizer, TextOptions, load_voice
from streamtts.backend import ThreadedBackend
from streamtts.engine import open_engine
from streamtts.loudness import integrated_lufs, normalized, true_peak_dbtp
from streamtts.sinks.base import Sink

CEILING_DBTP = -1.5


class Keeping(Sink):
    """Every sample the engine writes, as written."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[np.ndarray] = []

    async def start(self, voice_rate_hz: int) -> None:
        self.sample_rate_hz = voice_rate_hz

    async def _put(self, samples: np.ndarray) -> None:
        self.blocks.append(samples.copy())
        self.position.advance(int(samples.size))
        await trio.lowlevel.checkpoint()


def texts() -> list[tuple[str, str, str]]:
    """(name, text, format)."""
    found = [(f"paragraph {k + 1}", p, "plain") for k, p in enumerate(PARAGRAPHS)]
    found += [(f"LLM reply {k + 1}", r, "markdown") for k, r in enumerate(LLM_REPLIES)]
    for k in range(0, len(SENTENCES), 5):
        found.append((f"sentences {k + 1}-{k + 5}", " ".join(SENTENCES[k : k + 5]), "plain"))
    return found


def measured(audio: np.ndarray, rate: int) -> dict[str, float]:
    return {
        "lufs": integrated_lufs(audio, rate),
        "true_peak_dbtp": true_peak_dbtp(audio, rate),
        "sample_peak_dbfs": 20 * float(np.log10(max(1e-9, float(np.max(np.abs(audio)))))),
        "clipped": int(np.sum(np.abs(audio) >= 1.0)),
        "seconds": audio.size / rate,
    }


def streamed(voice: Any, text: str, text_format: str, target: float, seed: int) -> np.ndarray:
    sink = Keeping()
    options = EngineOptions(
        loudness_lufs=target,
        true_peak_dbtp=CEILING_DBTP,
        text=TextOptions(format=text_format),  # type: ignore[arg-type]
    )

    async def run() -> None:
        backend = ThreadedBackend.for_voice(voice, SynthesisOptions(seed=seed))
        async with open_engine(backend=backend, sink=sink, options=options) as engine:
            await engine.say(text)

    trio.run(run)
    return np.concatenate(sink.blocks)


def summary(rows: list[dict[str, Any]], key: str, target: float | None) -> dict[str, float]:
    lufs = [row[key]["lufs"] for row in rows]
    off = [value - target for value in lufs] if target is not None else lufs
    return {
        "mean": statistics.fmean(off),
        "sd": statistics.pstdev(off),
        "min": min(off),
        "max": max(off),
        "max_abs": max(abs(x) for x in off),
        "true_peak_max_dbtp": max(row[key]["true_peak_dbtp"] for row in rows),
        "clipped": sum(row[key]["clipped"] for row in rows),
    }


def run(targets: list[float]) -> dict[str, Any]:
    voice = load_voice()
    rate = voice.sample_rate_hz
    rows: list[dict[str, Any]] = []
    for seed, (name, text, text_format) in enumerate(texts()):
        synth = Synthesizer(
            voice,
            SynthesisOptions(seed=seed),
            text_options=TextOptions(format=text_format),  # type: ignore[arg-type]
        )
        whole = np.concatenate([c.samples for c in synth.speak([text])])
        row: dict[str, Any] = {"text": name, "voice": measured(whole, rate)}
        for target in targets:
            start = time.perf_counter()
            normal, _ = normalized(whole, rate, target, CEILING_DBTP)
            row[f"file {target:g}"] = measured(normal, rate)
            row[f"file {target:g}"]["normalize_s"] = time.perf_counter() - start
            row[f"stream {target:g}"] = measured(
                streamed(voice, text, text_format, target, seed), rate
            )
        rows.append(row)
        print(name, {k: round(v["lufs"], 2) for k, v in row.items() if isinstance(v, dict)})
    result: dict[str, Any] = {"texts": rows, "ceiling_dbtp": CEILING_DBTP, "targets": targets}
    result["summary"] = {"voice": summary(rows, "voice", None)}
    for target in targets:
        for kind in ("file", "stream"):
            result["summary"][f"{kind} {target:g}"] = summary(rows, f"{kind} {target:g}", target)
    return result


def table(result: dict[str, Any]) -> list[str]:
    rows = result["texts"]
    audio_s = sum(row["voice"]["seconds"] for row in rows)
    lines = [
        f"{len(rows)} texts, {audio_s:.0f} s of speech, default voice, ceiling "
        f"{result['ceiling_dbtp']} dBTP; loudness by pyloudnorm (BS.1770), true peak 4x (soxr).",
        "",
        "| output | loudness (LUFS) | off target: mean / spread (sd) / worst | "
        "true peak, highest | clipped samples |",
        "|---|---|---|---|---|",
    ]
    voice = result["summary"]["voice"]
    lines.append(
        f"| as the voice speaks | {voice['mean']:.1f} ({voice['min']:.1f} to {voice['max']:.1f}) "
        f"| – | {voice['true_peak_max_dbtp']:+.1f} dBTP | {voice['clipped']} |"
    )
    for target in result["targets"]:
        for kind, label in (("file", "file rendered whole"), ("stream", "stream")):
            s = result["summary"][f"{kind} {target:g}"]
            lines.append(
                f"| {label}, --loudness {target:g} | {target + s['mean']:.1f} "
                f"({target + s['min']:.1f} to {target + s['max']:.1f}) | {s['mean']:+.2f} / "
                f"{s['sd']:.2f} / {s['max_abs']:.2f} LU | {s['true_peak_max_dbtp']:+.2f} dBTP "
                f"| {s['clipped']} |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", type=float, nargs="+", default=[-16.0, -23.0])
    args = parser.parse_args()
    result = run(args.targets)
    save("loudness", result, table(result))


if __name__ == "__main__":
    main()
