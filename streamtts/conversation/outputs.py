"""What a conversation says back: commands for the engine that speaks for
it (run by the shell) and reports for the client (written by the door).

Every output names the utterance it belongs to (``uid``, counted per
conversation from 1), so a door can tell a late report of an old
utterance from the current one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..events import SegmentStarted, WordStarted
from .refusals import Refusal
from .requests import UtteranceRequest

__all__ = [
    "Audio",
    "ClientReport",
    "Close",
    "Done",
    "EngineCommand",
    "Error",
    "Feed",
    "FlushText",
    "Hangup",
    "HeardMark",
    "HeardSegment",
    "HeardWord",
    "Open",
    "Output",
    "Started",
    "Stop",
    "Stopped",
]

# -- for the engine ------------------------------------------------------------------------


@dataclass(frozen=True)
class Open:
    """Start utterance ``uid``: admit it (or answer ``Refused``), then speak
    ``text``, or, when ``text`` is None, the pieces that follow."""

    uid: int
    request: UtteranceRequest
    text: str | None


@dataclass(frozen=True)
class Feed:
    uid: int
    text: str


@dataclass(frozen=True)
class FlushText:
    uid: int


@dataclass(frozen=True)
class Close:
    """Utterance ``uid``'s text is complete; it plays to its end."""

    uid: int


@dataclass(frozen=True)
class Stop:
    """Interrupt utterance ``uid`` wherever it is."""

    uid: int


@dataclass(frozen=True)
class Hangup:
    """End the connection once what is reported so far is written."""


EngineCommand = Open | Feed | FlushText | Close | Stop | Hangup

# -- for the client --------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    """Utterance ``uid`` is admitted: its audio follows."""

    uid: int
    request: UtteranceRequest
    streamed: bool


@dataclass(frozen=True)
class Audio:
    uid: int
    samples: np.ndarray  # float32 at the voice's rate

    def __repr__(self) -> str:
        return f"Audio({self.uid}, {self.samples.size} samples)"


@dataclass(frozen=True)
class HeardSegment:
    uid: int
    event: SegmentStarted


@dataclass(frozen=True)
class HeardWord:
    uid: int
    event: WordStarted


@dataclass(frozen=True)
class HeardMark:
    uid: int
    name: str


@dataclass(frozen=True)
class Done:
    """Utterance ``uid`` was spoken to its end."""

    uid: int
    streamed: bool
    audio_s: float
    ttfa_s: float | None


@dataclass(frozen=True)
class Stopped:
    """Utterance ``uid`` was interrupted; ``reason`` is what stopped it
    (``interrupt``, ``replaced`` by the next, ``pause`` at a mark)."""

    uid: int
    streamed: bool
    reason: str
    last_word: WordStarted | None


@dataclass(frozen=True)
class Error:
    """A refusal to report; ``uid`` when it belongs to an utterance."""

    refusal: Refusal
    uid: int | None = None


ClientReport = Started | Audio | HeardSegment | HeardWord | HeardMark | Done | Stopped | Error
Output = EngineCommand | ClientReport
