"""Speak a (simulated) LLM token stream as it is generated.

    python examples/llm_stream.py [out.wav]

Tokens arrive every 20-40 ms, as from a chat model; speech starts after the
first clause, words are printed as they are *heard*, and the statistics
show the time to first audio.
"""

from __future__ import annotations

import json
import random
import sys

import trio

from streamtts import FileSink, WordStarted, open_engine

REPLY = (
    "Sure, here is a quick summary. The meeting moved to Thursday at 3:30 p.m., "
    "and Dr. Patel will present the results. Please bring the Q3 report; it is "
    "about 12 pages long."
)


async def tokens() -> object:
    rng = random.Random(1)
    for word in REPLY.split(" "):
        await trio.sleep(rng.uniform(0.02, 0.04))
        yield word + " "


async def main() -> None:
    sink = FileSink(sys.argv[1]) if len(sys.argv) > 1 else None

    def show(event: object) -> None:
        if isinstance(event, WordStarted):
            print(event.word, end=" ", flush=True)

    async with open_engine(sink=sink, on_event=show) as engine:
        async with engine.stream() as stream:
            async for token in tokens():  # type: ignore[attr-defined]
                await stream.send(token)
        print("\n" + json.dumps({k: engine.statistics()[k] for k in ("ttfa_s", "rtf", "audio_s")}))


if __name__ == "__main__":
    trio.run(main)
