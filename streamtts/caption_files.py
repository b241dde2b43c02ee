"""Caption files: WebVTT (``.vtt``, with webvtt-py) and SubRip (``.srt``,
with srt), written cue by cue as they complete.

:class:`CaptionFile` writes each cue as soon as it is given (and flushes),
so a caption file beside a live stream (``--out -``, a pipe) is readable
while the speech goes on; :func:`write_captions` writes a list at once.
The cues come from :class:`~streamtts.captions.CueBuilder`.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import TextIO

from .captions import CaptionOptions, Cue, CueBuilder
from .errors import ConfigError, InputTextError
from .events import Event

__all__ = ["FORMATS", "CaptionFile", "LiveCaptions", "caption_format", "write_captions"]

FORMATS = {".vtt": "vtt", ".srt": "srt"}


def caption_format(path: str | Path) -> str:
    """``"vtt"`` or ``"srt"`` by the file's suffix; any other is refused."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ConfigError(
            f"captions go to a .vtt (WebVTT) or .srt (SubRip) file, not {Path(path).name!r}"
        )
    return FORMATS[suffix]


def _vtt_time(seconds: float) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def _vtt_text(text: str) -> str:
    """Cue text as WebVTT needs it: its markup characters escaped, no "-->"."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("--&gt;", "-&gt;")


def _vtt_header() -> str:
    from webvtt.vtt import to_str

    return str(to_str([], [], [], []))


def _vtt_block(cue: Cue) -> str:
    """One cue as a WebVTT block (with the blank line before it)."""
    import webvtt
    from webvtt.vtt import to_str

    caption = webvtt.Caption(_vtt_time(cue.start_s), _vtt_time(cue.end_s), _vtt_text(cue.text))
    whole = str(to_str([caption], [], [], []))
    return whole.removeprefix(_vtt_header())


def _srt_block(cue: Cue) -> str:
    import srt

    start = datetime.timedelta(seconds=round(cue.start_s, 3))
    end = datetime.timedelta(seconds=round(cue.end_s, 3))
    return str(srt.Subtitle(cue.index, start, end, cue.text).to_srt())


class CaptionFile:
    """A caption file written as cues come: ``write`` each list of cues the
    builder hands back, ``close`` at the end (or use it as a context
    manager). ``target`` is a path (its suffix picks the format unless
    ``format`` is given) or an open text stream (``format`` required)."""

    def __init__(self, target: str | Path | TextIO, format: str | None = None) -> None:
        if isinstance(target, (str, Path)):
            self.format = format or caption_format(target)
            try:
                self._stream: TextIO = Path(target).open(  # noqa: SIM115 - closed by close()
                    "w", encoding="utf-8", newline="\n"
                )
            except OSError as err:
                raise InputTextError(f"cannot write {target}: {err.strerror or err}") from err
            self._owned = True
        else:
            if format is None:
                raise ConfigError("captions to a stream need format='vtt' or 'srt'")
            self.format, self._stream, self._owned = format, target, False
        if self.format not in FORMATS.values():
            raise ConfigError(f"caption format must be 'vtt' or 'srt', got {self.format!r}")
        self.cues = 0
        if self.format == "vtt":
            self._stream.write(_vtt_header())
            self._stream.flush()

    def write(self, cues: Iterable[Cue]) -> None:
        """Append ``cues`` and flush (a reader sees them at once)."""
        wrote = False
        for cue in cues:
            block = _vtt_block(cue) if self.format == "vtt" else _srt_block(cue)
            self._stream.write(block)
            self.cues += 1
            wrote = True
        if wrote:
            self._stream.flush()

    def close(self) -> None:
        if self._owned:
            self._stream.close()
        else:
            self._stream.flush()

    def __enter__(self) -> CaptionFile:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def write_captions(cues: Iterable[Cue], path: str | Path, format: str | None = None) -> int:
    """Write ``cues`` to ``path`` (WebVTT or SubRip by its suffix); returns how many."""
    with CaptionFile(path, format) as captions:
        captions.write(cues)
        return captions.cues


class LiveCaptions:
    """One utterance's captions, written as its words are heard.

    Open it (the file is created at once, so a bad path fails early),
    :meth:`start` it with the sink's rate once the engine is open, give it
    the text as it is sent (:meth:`add_text`) and every engine event
    (:meth:`feed`, e.g. from ``on_event``), and :meth:`close` it at the
    end: the last cue is written then. Call it from the event loop.
    """

    def __init__(
        self,
        target: str | Path | TextIO,
        format: str | None = None,
        options: CaptionOptions | None = None,
    ) -> None:
        self.file = CaptionFile(target, format)
        self.options = options
        self.builder: CueBuilder | None = None
        self._text: list[str] = []

    def start(self, sample_rate_hz: int) -> None:
        """The sink's rate is known: the events' positions count its samples."""
        self.builder = CueBuilder(sample_rate_hz, "".join(self._text), self.options)

    def add_text(self, piece: str) -> None:
        if self.builder is None:
            self._text.append(piece)
        else:
            self.builder.add_text(piece)

    def feed(self, event: Event) -> None:
        if self.builder is not None:
            self.file.write(self.builder.feed(event))

    def close(self) -> None:
        try:
            if self.builder is not None:
                self.file.write(self.builder.finish())
        finally:
            self.file.close()
