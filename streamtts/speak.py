"""A plain, blocking call for scripts: ``streamtts.speak("Hello.")``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import trio

from .config import EngineOptions, SynthesisOptions
from .engine import UtteranceResult, open_engine
from .events import Event

__all__ = ["speak"]


def speak(
    text: str,
    *,
    voice: Any = None,
    out: str | Path | None = None,
    options: SynthesisOptions | None = None,
    captions: str | Path | None = None,
    loudness_lufs: float | None = None,
    true_peak_dbtp: float = EngineOptions.true_peak_dbtp,
) -> UtteranceResult:
    """Speak ``text`` and return when it has been heard.

    ``out`` None plays on the default sound card; a path writes a WAV file.
    ``captions``: a ``.vtt`` (WebVTT) or ``.srt`` (SubRip) file of cues
    timed by the words as the voice says them (see
    :mod:`streamtts.captions`), written as each cue completes.
    ``loudness_lufs`` (e.g. -16): a WAV file is measured and normalized to
    it after, with no true peak over ``true_peak_dbtp``; the sound card
    gets the voice's calibrated gain and a limiter. Blocks the calling
    thread (it runs its own trio event loop), so call it from scripts, not
    from inside an event loop.
    """
    from .caption_files import LiveCaptions, caption_format
    from .sinks.files import FileSink

    if captions is not None:
        caption_format(captions)  # a bad suffix fails before the voice loads
    engine_options = EngineOptions(
        synthesis=options or SynthesisOptions(),
        trim_lead_in=out is None,  # heard live, the voice's quiet lead-in is only latency
        loudness_lufs=loudness_lufs,
        true_peak_dbtp=true_peak_dbtp,
    )
    if out is not None:  # a file rendered whole: normalized after, not as a stream
        engine_options = replace(engine_options, loudness_lufs=None)

    async def main() -> UtteranceResult:
        sink = FileSink(out) if out is not None else None
        track = LiveCaptions(captions) if captions is not None else None

        def on_event(event: Event) -> None:
            if track is not None:
                track.feed(event)

        try:
            async with open_engine(
                voice, sink, options=engine_options, on_event=on_event
            ) as engine:
                if track is not None:
                    track.start(engine.sink.sample_rate_hz)
                    track.add_text(text)
                return await engine.say(text)
        finally:
            if track is not None:
                track.close()

    result = trio.run(main)
    if out is not None and loudness_lufs is not None and result.stats.audio_s > 0:
        from .loudness import normalize_file

        normalize_file(out, loudness_lufs, true_peak_dbtp)
    return result
