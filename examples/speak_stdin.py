"""Speak standard input as it arrives, sentence by sentence.

    some-program | python examples/speak_stdin.py            # sound card
    some-program | python examples/speak_stdin.py out.wav    # a file

Audio starts as soon as the first sentence is complete, long before the
input ends; a pause in the input speaks the words already received.
"""

from __future__ import annotations

import sys

import trio

from streamtts import FileSink, WordStarted, open_engine


async def main() -> None:
    sink = FileSink(sys.argv[1]) if len(sys.argv) > 1 else None
    stdin = trio.lowlevel.FdStream(sys.stdin.fileno())

    def show(event: object) -> None:
        if isinstance(event, WordStarted):
            print(event.word, end=" ", flush=True, file=sys.stderr)

    async with open_engine(sink=sink, on_event=show) as engine, engine.stream() as stream:
        while block := await stdin.receive_some(4096):
            await stream.send(block.decode("utf-8", errors="replace"))
    print(file=sys.stderr)


if __name__ == "__main__":
    trio.run(main)
