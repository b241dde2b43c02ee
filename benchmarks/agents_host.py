"""Where the plugins' trio runs: a thread of its own, or a guest in asyncio's loop.

    .venv/bin/python benchmarks/agents_host.py [--rounds N]

Two local hosts in one process, the same voice: the one the plugins use
(``LocalHost``: trio in a thread of its own) and the same host run as a
trio guest inside the asyncio loop (one guest run per loop is all a thread
can hold). Sentence by sentence, alternating, each host's session gets a
whole sentence and the time to its first audio report *on the asyncio
side* is taken, with the agent's loop idle and with it busy (a task doing
1 ms of Python in every 2 ms, as a pipeline's frame processing does).
Writes benchmarks/results/agents_host.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import SENTENCES
from report import save

from streamtts.conversation import outputs
from streamtts.conversation.inputs import Speak
from streamtts.integrations.host import LocalChannel, LocalHost


class GuestHost(LocalHost):
    """The same host, its trio run a guest of the running asyncio loop."""

    def start(self) -> None:
        if self._token is None:
            raise RuntimeError("call start_guest() first")

    async def start_guest(self) -> None:
        loop = asyncio.get_running_loop()
        trio.lowlevel.start_guest_run(
            self.serve,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            run_sync_soon_not_threadsafe=loop.call_soon,
            done_callback=lambda outcome: None,
            host_uses_signal_set_wakeup_fd=False,
        )
        while self._token is None:
            await asyncio.sleep(0.001)


async def first_audio_s(channel: LocalChannel, text: str) -> float:
    started = time.perf_counter()
    await channel.send(Speak(text))
    first = None
    async for report in channel:
        if isinstance(report, outputs.Audio) and first is None:
            first = time.perf_counter() - started
        if isinstance(report, (outputs.Done, outputs.Stopped, outputs.Error)):
            break
    assert first is not None
    return first


async def busy_loop(stop: asyncio.Event) -> None:
    """1 ms of Python in every 2 ms: a pipeline's frame processing."""
    while not stop.is_set():
        until = time.perf_counter() + 0.001
        while time.perf_counter() < until:
            pass
        await asyncio.sleep(0.001)


async def measure(rounds: int) -> dict[str, dict[str, list[float]]]:
    thread_host, guest_host = LocalHost(), GuestHost()
    await guest_host.start_guest()
    channels = {
        "thread": await thread_host.open_channel(),
        "guest": await guest_host.open_channel(),
    }
    for channel in channels.values():  # one warm utterance each
        await first_audio_s(channel, "Warming up.")
    results: dict[str, dict[str, list[float]]] = {"idle": {}, "busy": {}}
    for condition in ("idle", "busy"):
        stop = asyncio.Event()
        load = asyncio.ensure_future(busy_loop(stop)) if condition == "busy" else None
        for mode in channels:
            results[condition][mode] = []
        for n in range(rounds):
            for text in SENTENCES[:16]:
                order = list(channels) if n % 2 == 0 else list(reversed(channels))
                for mode in order:
                    seconds = await first_audio_s(channels[mode], text)
                    results[condition][mode].append(seconds)
        stop.set()
        if load is not None:
            await load
    for channel in channels.values():
        await channel.aclose()
    thread_host.stop()
    return results


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = asyncio.run(measure(args.rounds))
    lines = [
        "| agent's loop | trio in a thread: first audio p50 / p95 | trio as a guest: p50 / p95 |",
        "|---|---|---|",
    ]
    for condition, modes in results.items():
        cells = [
            f"{statistics.median(modes[m]) * 1000:.1f} / {p(modes[m], 0.95) * 1000:.1f} ms"
            for m in ("thread", "guest")
        ]
        lines.append(f"| {condition} | {cells[0]} | {cells[1]} |")
    save("agents_host", {"rounds": args.rounds, "seconds": results}, lines)


if __name__ == "__main__":
    main()
