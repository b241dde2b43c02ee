"""Talk to ``streamtts serve`` the way Home Assistant does: the Wyoming protocol.

    streamtts serve &                                   # tcp://127.0.0.1:10200
    python examples/wyoming_client.py "Text to say." out.wav

Sends the text as a stream (``synthesize-start``, a chunk per word,
``synthesize-stop``), as Home Assistant does with an LLM's reply, and
writes the audio chunks to a WAV file as they arrive.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import wave

from wyoming.audio import AudioChunk, AudioStart
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop


async def main(text: str, path: str) -> None:
    # STREAMTTS_WYOMING=host:port for a server elsewhere.
    host, port = os.environ.get("STREAMTTS_WYOMING", "127.0.0.1:10200").rsplit(":", 1)
    async with AsyncTcpClient(host, int(port)) as client:
        await client.write_event(Describe().event())
        info = Info.from_event(await client.read_event())
        program = info.tts[0]
        print(f"{program.name}: voices {[v.name for v in program.voices]}, "
              f"streaming {program.supports_synthesize_streaming}")  # fmt: skip

        started = time.perf_counter()
        await client.write_event(SynthesizeStart().event())
        for word in text.split(" "):
            await client.write_event(SynthesizeChunk(word + " ").event())
        await client.write_event(Synthesize(text).event())  # for old servers; ignored here
        await client.write_event(SynthesizeStop().event())

        with wave.open(path, "wb") as out:
            while (event := await client.read_event()) is not None:
                if AudioStart.is_type(event.type):
                    start = AudioStart.from_event(event)
                    out.setframerate(start.rate)
                    out.setsampwidth(start.width)
                    out.setnchannels(start.channels)
                elif AudioChunk.is_type(event.type):
                    if out.getnframes() == 0:
                        print(f"first audio after {1000 * (time.perf_counter() - started):.0f} ms")
                    out.writeframes(AudioChunk.from_event(event).audio)
                elif event.type == "synthesize-stopped":
                    break
                elif event.type == "error":
                    sys.exit(f"server error: {event.data.get('text')}")
    print(f"wrote {path}")


if __name__ == "__main__":
    words = sys.argv[1] if len(sys.argv) > 1 else "Hello from Home Assistant's protocol."
    asyncio.run(main(words, sys.argv[2] if len(sys.argv) > 2 else "wyoming.wav"))
