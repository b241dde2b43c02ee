"""The engine end to end with the real voice and the real clock."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import trio

from streamtts import PiperVoice, SynthesisOptions, Synthesizer
from streamtts.backend import ThreadedBackend
from streamtts.engine import open_engine
from streamtts.events import Event, SegmentStarted, UtteranceDone, WordStarted
from streamtts.sinks.files import FileSink
from streamtts.sinks.iterator import AudioStreamSink

TIMEOUT_S = 120


def test_piped_text_is_spoken_before_the_input_ends(cache_dir: Path) -> None:
    speaker = subprocess.Popen(
        [sys.executable, "-m", "streamtts", "speak", "--out", "-", "--format", "raw", "--stats"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ},
    )
    assert speaker.stdin is not None and speaker.stdout is not None
    try:
        for token in ["The first ", "sentence is ", "complete. ", "The second "]:
            speaker.stdin.write(token.encode())
            speaker.stdin.flush()
            time.sleep(0.03)
        # The input is still open: audio for the first sentence must come.
        ready, _, _ = select.select([speaker.stdout], [], [], 60)
        assert ready, "no audio while the input was still open"
        early = os.read(speaker.stdout.fileno(), 1 << 16)
        assert len(early) > 0 and speaker.poll() is None
        speaker.stdin.write(b"one ends here.")
        speaker.stdin.close()
        rest = speaker.stdout.read()
        assert speaker.stderr is not None
        err = speaker.stderr.read()
        speaker.wait(timeout=TIMEOUT_S)
    finally:
        speaker.kill()
    assert speaker.returncode == 0, err.decode()
    audio = np.frombuffer(early + rest, "<i2")
    assert audio.size / 22050 > 2.0
    stats = json.loads(err.decode().strip().splitlines()[-1])
    assert 0 < stats["ttfa_s"] < 5 and stats["audio_s"] > 2.0
    assert stats["underruns"] == 0 and stats["rtf"] > 0
    assert set(stats["peak_buffers"]) >= {"segments", "plans", "chunks"}


async def test_engine_streams_the_same_audio_as_the_synthesizer(voice: PiperVoice) -> None:
    options = SynthesisOptions(seed=11)
    text = "Streaming through the actor graph. Word events fire when heard!"
    expected = np.concatenate([c.samples for c in Synthesizer(voice, options).speak([text])])
    events: list[Event] = []
    sink = AudioStreamSink(max_blocks=2)
    got: list[np.ndarray] = []
    with trio.fail_after(TIMEOUT_S):
        async with (
            open_engine(
                backend=ThreadedBackend.for_voice(voice, options), sink=sink, on_event=events.append
            ) as engine,
            trio.open_nursery() as nursery,
        ):

            async def read() -> None:
                async for block in sink:
                    got.append(block)

            nursery.start_soon(read)
            result = await engine.say(text)
            await sink.aclose()
    audio = np.concatenate(got)
    assert audio.shape == expected.shape and np.max(np.abs(audio - expected)) < 1e-5
    words = [e.word for e in events if isinstance(e, WordStarted)]
    assert words == [
        "Streaming",
        "through",
        "the",
        "actor",
        "graph",
        "Word",
        "events",
        "fire",
        "when",
        "heard",
    ]
    assert [type(e) for e in events if not isinstance(e, WordStarted)] == [
        SegmentStarted,
        SegmentStarted,
        UtteranceDone,
    ]
    assert result.stats.ttfa_s is not None and result.stats.rtf is not None
    assert sink.peak_fill <= 2


async def test_engine_writes_a_file_and_reuses_itself(voice: PiperVoice, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT_S):
        async with open_engine(voice, FileSink(tmp_path / "out.wav")) as engine:
            first = await engine.say("One utterance.")
            second = await engine.say("And another one.")
    assert not first.interrupted and not second.interrupted
    import wave

    with wave.open(str(tmp_path / "out.wav")) as wav:
        seconds = wav.getnframes() / wav.getframerate()
    assert abs(seconds - (first.stats.audio_s + second.stats.audio_s)) < 0.01
