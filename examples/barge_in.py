"""Barge-in: interrupt speech mid-word, hear what was said last, go on.

python examples/barge_in.py [out.wav]
"""

from __future__ import annotations

import sys

import trio

from streamtts import FileSink, open_engine

STORY = (
    "Once upon a time, in a village at the edge of a great forest, there lived an old "
    "clockmaker who could fix anything but his own clock. Every morning he wound it, and "
    "every evening it stopped again, always at the same minute."
)


async def main() -> None:
    sink = FileSink(sys.argv[1]) if len(sys.argv) > 1 else None
    async with open_engine(sink=sink) as engine:
        async with trio.open_nursery() as nursery:
            results = []

            async def tell() -> None:
                results.append(await engine.say(STORY))

            nursery.start_soon(tell)
            await trio.sleep(3.0)  # the user starts talking
            await engine.interrupt()
        result = results[0]
        heard = result.last_word.word if result.last_word else "(nothing)"
        print(
            f"interrupted={result.interrupted}; last word heard: {heard!r}; "
            f"cancel latency {result.stats.cancel_latency_s}"
        )
        await engine.say("Sorry, go ahead.")


if __name__ == "__main__":
    trio.run(main)
