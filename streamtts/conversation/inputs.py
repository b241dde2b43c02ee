"""What a conversation hears: from the client (through a door's parser)
and from the engine speaking for it (through the shell that runs it).

Frozen and small; a door's table test feeds lists of these.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..events import MarkReached, SegmentStarted, WordStarted
from .refusals import Refusal
from .requests import UtteranceRequest

__all__ = [
    "Admitted",
    "AudioMade",
    "ClientInput",
    "End",
    "EngineInput",
    "Failed",
    "Finished",
    "Flush",
    "Heard",
    "Input",
    "Interrupt",
    "Malformed",
    "PauseAtMark",
    "Refused",
    "Speak",
    "StartStream",
    "Text",
]

# -- from the client ------------------------------------------------------------------


@dataclass(frozen=True)
class Speak:
    """A whole utterance at once (Wyoming ``synthesize``, an HTTP request,
    speech-dispatcher's ``SPEAK``)."""

    text: str
    request: UtteranceRequest = field(default_factory=UtteranceRequest)


@dataclass(frozen=True)
class StartStream:
    """An utterance whose text follows piece by piece (Wyoming
    ``synthesize-start``)."""

    request: UtteranceRequest = field(default_factory=UtteranceRequest)


@dataclass(frozen=True)
class Text:
    """A piece of the open utterance's text (an LLM's token, a caption line)."""

    text: str


@dataclass(frozen=True)
class Flush:
    """Speak the whole words received so far without waiting for the sentence to end."""


@dataclass(frozen=True)
class End:
    """The open utterance's text is complete."""


@dataclass(frozen=True)
class Interrupt:
    """Stop what is speaking now (barge-in, ``STOP``); ``reason`` is
    reported back with the interruption. With ``uid``, stop only that
    utterance (an agent framework's context; the others go on)."""

    reason: str = "interrupt"
    uid: int | None = None


@dataclass(frozen=True)
class PauseAtMark:
    """Stop at the next mark that is heard (speech-dispatcher's ``PAUSE``)."""


@dataclass(frozen=True)
class Malformed:
    """The door could not parse what arrived; ``refusal`` says how."""

    refusal: Refusal


ClientInput = Speak | StartStream | Text | Flush | End | Interrupt | PauseAtMark | Malformed

# -- from the engine, through the shell -------------------------------------------------


@dataclass(frozen=True)
class Admitted:
    """Utterance ``uid`` has a place and is waiting for or taking its turn."""

    uid: int


@dataclass(frozen=True)
class Refused:
    """Utterance ``uid`` could not start (at capacity, an unknown voice, ...)."""

    uid: int
    refusal: Refusal


@dataclass(frozen=True)
class AudioMade:
    """Samples of the utterance playing now, at the voice's rate."""

    samples: np.ndarray

    def __repr__(self) -> str:
        return f"AudioMade({self.samples.size} samples)"


@dataclass(frozen=True)
class Heard:
    """A segment, word or mark of the utterance playing now was heard."""

    event: SegmentStarted | WordStarted | MarkReached


@dataclass(frozen=True)
class Finished:
    """Utterance ``uid`` ended: spoken, or interrupted (``interrupted``)."""

    uid: int
    interrupted: bool
    audio_s: float = 0.0
    ttfa_s: float | None = None
    last_word: WordStarted | None = None


@dataclass(frozen=True)
class Failed:
    """Utterance ``uid`` failed; ``refusal`` says what the client hears."""

    uid: int
    refusal: Refusal


EngineInput = Admitted | Refused | AudioMade | Heard | Finished | Failed
Input = ClientInput | EngineInput
