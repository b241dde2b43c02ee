"""A plain, blocking call for scripts: ``streamtts.speak("Hello.")``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

from .config import EngineOptions, SynthesisOptions
from .engine import UtteranceResult, open_engine

__all__ = ["speak"]


def speak(
    text: str,
    *,
    voice: Any = None,
    out: str | Path | None = None,
    options: SynthesisOptions | None = None,
) -> UtteranceResult:
    """Speak ``text`` and return when it has been heard.

    ``out`` None plays on the default sound card; a path writes a WAV file.
    Blocks the calling thread (it runs its own trio event loop), so call
    it from scripts, not from inside an event loop.
    """
    from .sinks.files import FileSink

    async def main() -> UtteranceResult:
        sink = FileSink(out) if out is not None else None
        engine_options = EngineOptions(
            synthesis=options or SynthesisOptions(),
            trim_lead_in=out is None,  # heard live, the voice's quiet lead-in is only latency
        )
        async with open_engine(voice, sink, options=engine_options) as engine:
            return await engine.say(text)

    return trio.run(main)
