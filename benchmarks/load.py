"""Speech on a busy machine: gaps heard, with 0, 1 and 2 other processes
keeping the cores busy at the same priority.

    eval "$(scripts/sound-server start)"; .venv/bin/python benchmarks/load.py
    .venv/bin/python benchmarks/load.py --minutes 1        # a short run

- the sound card path (``streamtts speak``'s engine, the default latency):
  paragraphs spoken in real time as separate utterances until ``--minutes``
  of audio, recorded at the sound server's monitor: ring underruns,
  PortAudio underflows, and gaps heard at the monitor (10 ms or more of
  digital silence that cuts speech off or brings it back abruptly: see
  :func:`gaps_heard`), and TTFA p50/p95;
- the speech-dispatcher module (``sd_streamtts``, audio through
  speech-dispatcher) and Piper through ``sd_generic`` as its users run it:
  ``--sentences`` sentences each, gaps heard at the monitor.

"Busy" is ``python -c 'while True: pass'``, one per core to take, at the
same (default) priority. Writes benchmarks/results/load.json and load.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import sounddevice as sd
import trio
from corpus import PARAGRAPHS
from report import save

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the test harness
from speechd import SENTENCES, say, start_dispatcher

from streamtts import EngineOptions, SoundCardSink, open_engine
from tests.harness import MonitorRecorder

MONITOR = os.environ.get("STREAMTTS_AUDIO_INPUT", "streamtts_monitor")
OUTPUT = os.environ.get("STREAMTTS_AUDIO_OUTPUT", "streamtts_sink")
SILENT = 2 / 32768  # at the monitor, an empty ring is exact zeros (s16 at the server)
GAP_S = 0.010
EDGE = 0.003  # -50 dBFS: speech, not the tail of a fade
PAUSE_S = 0.25  # silence between utterances, longer than any gap counted


@contextlib.contextmanager
def busy(processes: int) -> Iterator[None]:
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)
    ]
    try:
        time.sleep(0.5 if processes else 0.0)
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def gaps_heard(audio: np.ndarray, rate: int) -> list[float]:
    """Gaps heard: runs of digital silence of ``GAP_S`` or more that cut
    speech off or bring it back abruptly (louder than ``EDGE`` within 3 ms
    on either side), their lengths in seconds (see :func:`gaps_at`)."""
    return [length for _, length in gaps_at(audio, rate)]


def gaps_at(audio: np.ndarray, rate: int) -> list[tuple[int, float]]:
    """Each gap heard: its first silent sample and its length in seconds.

    At the monitor the voice's own pauses are digital silence too (below
    the server's 16 bits), but the voice fades into and out of them; an
    empty ring or a starved server stops and restarts the sound mid-word.
    """
    silent = np.abs(audio) <= SILENT
    edges = np.flatnonzero(np.diff(np.concatenate([[0], silent.view(np.int8), [0]])))
    window = int(0.003 * rate)
    found = []
    for start, end in edges.reshape(-1, 2):  # [start, end) of each silent run
        length = (end - start) / rate
        if not GAP_S <= length < PAUSE_S or start < window or end + window > audio.size:
            continue
        before = float(np.abs(audio[start - window : start]).max())
        after = float(np.abs(audio[end : end + window]).max())
        if max(before, after) > EDGE:
            found.append((int(start), round(length, 4)))
    return found


def explain_gaps(
    recorder: MonitorRecorder,
    gaps: list[tuple[int, float]],
    glitches: list[tuple[float, str]],
    starts: list[float],
) -> list[dict[str, Any]]:
    """For each gap: the sink's glitches within 0.3 s of it (a ring underrun:
    speech made too late; a PortAudio underflow: the callback came late;
    none: the sound server's side), and how far into its utterance it fell."""
    explained = []
    for start, length in gaps:
        at = recorder.time_of(start)
        near = sorted({kind for t, kind in glitches if abs(t - at) < 0.3})
        explained.append({"length_s": length, **utterance_offset(at, starts), "glitches": near})
    return explained


def sound_card(minutes: float, processes: int) -> dict[str, Any]:
    rate = int(sd.query_devices(OUTPUT, kind="output")["default_samplerate"])

    async def main() -> dict[str, Any]:
        sink = SoundCardSink(latency_s=0.1)
        options = EngineOptions(trim_lead_in=True)  # as `streamtts speak` plays live
        ttfa, audio_s, starts = [], 0.0, []
        async with open_engine(sink=sink, options=options) as engine:
            before = (sink.underruns, sink.device_underflows)
            while audio_s < minutes * 60:  # the paragraphs in turn until that much audio
                starts.append(time.perf_counter())
                result = await engine.say(PARAGRAPHS[len(ttfa) % len(PARAGRAPHS)])
                ttfa.append(result.stats.ttfa_heard_s or result.stats.ttfa_s or float("nan"))
                audio_s += result.stats.audio_s
                await trio.sleep(PAUSE_S * 2)
            underruns = sink.underruns - before[0]
            underflows = sink.device_underflows - before[1]
        return {
            "ttfa_s": ttfa,
            "audio_s": audio_s,
            "underruns": underruns,
            "underflows": underflows,
            "glitches": sink.glitches,
            "starts": starts,
        }

    with busy(processes), MonitorRecorder(sd, MONITOR, rate) as recorder:
        measured = trio.run(main)
    gaps = gaps_at(recorder.audio, rate)
    measured["gaps_s"] = [length for _, length in gaps]
    glitches, starts = measured.pop("glitches"), measured.pop("starts")
    measured["gaps"] = explain_gaps(recorder, gaps, glitches, starts)
    measured["glitches"] = [
        {"at_s": round(at - starts[0], 3), "kind": kind, **utterance_offset(at, starts)}
        for at, kind in glitches
    ]
    return measured


def utterance_offset(at: float, starts: list[float]) -> dict[str, Any]:
    """Which utterance (paragraph) a moment fell in, and how far into it."""
    index = max((k for k, t in enumerate(starts) if t <= at), default=0)
    return {"utterance": index, "into_utterance_s": round(at - starts[index], 3)}


def speech_dispatcher(sentences: int, processes: int, module: str) -> dict[str, Any]:
    rate = int(sd.query_devices(OUTPUT, kind="output")["default_samplerate"])
    with tempfile.TemporaryDirectory() as folder:
        dispatcher, env = start_dispatcher(Path(folder))
        try:
            say(env, module, "-w", "Warm up.")
            gaps: list[float] = []
            with busy(processes):
                for k in range(sentences):
                    with MonitorRecorder(sd, MONITOR, rate) as recorder:
                        say(env, module, "-w", SENTENCES[k % len(SENTENCES)])
                    gaps += gaps_heard(recorder.audio, rate)
        finally:
            dispatcher.terminate()
            dispatcher.wait(timeout=10)
    return {"sentences": sentences, "gaps_s": gaps}


CAUSES = {"ring": "a ring underrun (speech made late)", "device": "a PortAudio underflow"}


def summarize(results: dict[str, Any]) -> list[str]:
    lines = [
        "| busy processes | audio | ring underruns | PortAudio underflows | gaps heard "
        "| TTFA heard p50 / p95 |",
        "|---|---|---|---|---|---|",
    ]
    for processes, row in results["sound_card"].items():
        ttfa = [t for t in row["ttfa_s"] if t == t]
        p50, p95 = (1000 * float(np.percentile(ttfa, q)) for q in (50, 95))
        lines.append(
            f"| {processes} | {row['audio_s'] / 60:.1f} min | {row['underruns']} | "
            f"{row['underflows']} | {len(row['gaps_s'])} | {p50:.0f} / {p95:.0f} ms |"
        )
    for processes, row in results["sound_card"].items():
        for gap in row.get("gaps", []):
            cause = " and ".join(CAUSES[g] for g in gap["glitches"]) or "neither (the server's)"
            lines.append(
                f"- {processes} busy: a gap of {1000 * gap['length_s']:.0f} ms, "
                f"{gap['into_utterance_s']:.1f} s into its paragraph; {cause}"
            )
    if not results["sound_card"]:
        lines = []
    if results["speechd"]:
        lines += ["", "| busy processes | module | sentences | gaps heard |", "|---|---|---|---|"]
    for key, row in results["speechd"].items():
        processes, module = key.split(":")
        lines.append(f"| {processes} | {module} | {row['sentences']} | {len(row['gaps_s'])} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="audio per load (10)")
    parser.add_argument("--sentences", type=int, default=50, help="per module and load (50)")
    parser.add_argument("--loads", default="0,1,2", help="busy processes to try (0,1,2)")
    parser.add_argument(
        "--parts",
        default="sound_card,speechd",
        help="what to measure: sound_card, speechd or both (writes load-<part>.json/.md when one)",
    )
    args = parser.parse_args()
    parts = args.parts.split(",")
    loads = [int(n) for n in args.loads.split(",")]
    results: dict[str, Any] = {"minutes": args.minutes, "sound_card": {}, "speechd": {}}
    for processes in loads:
        if "sound_card" in parts:
            print(f"load: sound card, {processes} busy ...", file=sys.stderr, flush=True)
            results["sound_card"][processes] = sound_card(args.minutes, processes)
        for module in ("streamtts", "piper-generic") if "speechd" in parts else ():
            print(f"load: {module} via speechd, {processes} busy ...", file=sys.stderr)
            key = f"{processes}:{module}"
            results["speechd"][key] = speech_dispatcher(args.sentences, processes, module)
    save("load" if len(parts) > 1 else f"load-{parts[0]}", results, summarize(results))


if __name__ == "__main__":
    main()
