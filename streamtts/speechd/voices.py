"""The voices the module offers speech-dispatcher, and which one a message
asks for.

The catalogue is every installed voice package (``*-piper-voice``) and
every Piper voice (``name.onnx`` with ``name.onnx.json``) in the folder
``STREAMTTS_VOICE_DIR`` names, if any. A voice's language comes from its
name, as Piper names them (``en_US-joe-medium`` → ``en-US``).

speech-dispatcher sends ``synthesis_voice`` (a name from ``LIST VOICES``,
what Orca's voice menu picks) and ``language`` with every message. A named
voice wins; otherwise the session's own voice (``STREAMTTS_VOICE``, or the
default) if it speaks the language, else the first voice that does (the
default voice first); a language no voice speaks gets the session's voice,
so the message is still spoken. Each message is chosen for afresh: a
client that stops asking for a voice is back on the session's own.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ModuleVoice", "catalogue", "choose", "language_of"]

_PIPER_CODE = re.compile(r"[a-z]{2,3}_[A-Z]{2}")


@dataclass(frozen=True)
class ModuleVoice:
    name: str
    language: str  # BCP 47 as speech-dispatcher writes it: "en-US"
    source: str  # what load_voice takes: an installed voice's name or a model path
    is_default: bool = False


def language_of(name: str) -> str:
    """``en_US-joe-medium`` → ``en-US``; a name not in Piper's form → ``und``."""
    code = name.split("-", 1)[0]
    if _PIPER_CODE.fullmatch(code) is None:
        return "und"
    language, region = code.split("_")
    return f"{language}-{region}"


def catalogue(voice_dir: str | None = None) -> list[ModuleVoice]:
    """Installed voice packages, then the Piper voices in ``voice_dir``
    (default: ``STREAMTTS_VOICE_DIR``), each name once."""
    from ..voices.registry import installed_voices

    found: dict[str, ModuleVoice] = {}
    for voice in installed_voices():
        found[voice.name] = ModuleVoice(
            voice.name, language_of(voice.name), voice.name, voice.is_default
        )
    folder = voice_dir if voice_dir is not None else os.environ.get("STREAMTTS_VOICE_DIR")
    if folder and Path(folder).expanduser().is_dir():
        for model in sorted(Path(folder).expanduser().glob("*.onnx")):
            name = model.name.removesuffix(".onnx")
            if name not in found and model.with_name(model.name + ".json").is_file():
                found[name] = ModuleVoice(name, language_of(name), str(model))
    return list(found.values())


def _speaks(voice: ModuleVoice, language: str) -> bool:
    """Does ``voice`` speak ``language`` ("en" matches en-US; "en-GB" only en-GB)?"""
    wanted = language.replace("_", "-").lower().split("-")
    have = voice.language.lower().split("-")
    return have[: len(wanted)] == wanted


def choose(
    voices: list[ModuleVoice], home: str, synthesis_voice: str | None, language: str | None
) -> str:
    """The name of the voice to speak the next message with; ``home`` is
    the session's own voice."""
    by_name = {voice.name: voice for voice in voices}
    if synthesis_voice and synthesis_voice in by_name:
        return synthesis_voice
    if not language or (home in by_name and _speaks(by_name[home], language)):
        return home
    speaking = sorted(
        (voice for voice in voices if _speaks(voice, language)),
        key=lambda voice: not voice.is_default,
    )
    return speaking[0].name if speaking else home
