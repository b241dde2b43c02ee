"""Using the engine from asyncio (trio guest mode), and the blocking speak()."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import wave
from pathlib import Path

import pytest

import streamtts
from streamtts import AsyncioEngine, NullSink
from streamtts.testing import FakeBackend

from .conftest import ROOT


def test_asyncio_app_says_and_interrupts() -> None:
    async def main() -> tuple[object, object, dict[str, object]]:
        backend = FakeBackend(encode_s=0.002, first_chunk_s=0.002, chunk_s=0.002)
        async with AsyncioEngine(backend=backend, sink=NullSink(realtime=True)) as tts:
            first = await tts.say("Hello from asyncio.")
            task = asyncio.create_task(tts.say("A much longer sentence that we cut off early."))
            await asyncio.sleep(0.3)
            await tts.interrupt()
            second = await task
            stats = await tts.statistics()
        return first, second, stats

    first, second, stats = asyncio.run(asyncio.wait_for(main(), 30))
    assert not first.interrupted and second.interrupted  # type: ignore[attr-defined]
    assert stats["utterances"] == 2


def test_asyncio_errors_reach_the_asyncio_caller() -> None:
    async def main() -> None:
        async with AsyncioEngine(backend=FakeBackend(fail_on="bad"), sink=NullSink()) as tts:
            with pytest.raises(streamtts.StreamTTSError, match="no segment of the text could"):
                await tts.say("A bad sentence.")
            assert not (await tts.say("A good one.")).interrupted

    asyncio.run(asyncio.wait_for(main(), 30))


def test_blocking_speak_writes_a_file(tmp_path: Path, cache_dir: Path) -> None:
    result = streamtts.speak("Blocking call.", out=tmp_path / "b.wav")
    assert not result.interrupted
    with wave.open(str(tmp_path / "b.wav")) as wav:
        assert wav.getframerate() == 22050 and wav.getnframes() > 10000


@pytest.mark.parametrize("script", ["asyncio_app.py", "barge_in.py", "llm_stream.py"])
def test_examples_run(script: str, tmp_path: Path, cache_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), str(tmp_path / "out.wav")],
        capture_output=True,
        timeout=180,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.wav").stat().st_size > 10000


def test_speak_stdin_example(tmp_path: Path, cache_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "speak_stdin.py"), str(tmp_path / "o.wav")],
        input="Hello world. This is a test of the sound card.\n",
        capture_output=True,
        timeout=180,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    # Every word is named as it is heard, "card" too ("of the" is one sound).
    assert result.stderr.split() == [
        "Hello",
        "world",
        "This",
        "is",
        "a",
        "test",
        "of",
        "the",
        "sound",
        "card",
    ]
