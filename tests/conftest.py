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
