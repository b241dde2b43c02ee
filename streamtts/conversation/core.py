"""The conversation every door holds, as a state machine (sans-IO).

Feed it what happened (:mod:`.inputs`: the client's requests, parsed by a
door, and the engine's answers, passed on by the shell); it answers with
what to do (:mod:`.outputs`: commands for the engine, reports for the
client). No sockets, no clock, no trio: the rules of a TTS conversation
live here once, and each door declares only where it differs
(:class:`Rules`).

The rules:

- An utterance is whole (:class:`~.inputs.Speak`) or streamed
  (:class:`~.inputs.StartStream`, or text with none open where the door
  allows it); at most one stream takes text at a time.
- A new utterance while one is unfinished is refused (``busy``), queued
  behind it, or replaces it (the old one is stopped), as the door says.
- Text counts against a limit per utterance; text over it is refused and
  dropped, the stream goes on. Text of a refused stream is swallowed
  until its end, so the client hears one refusal, not one per piece.
- Audio and heard events belong to the oldest unfinished utterance (the
  engine speaks a conversation's utterances in order). Nothing of an
  utterance is reported after it was told to stop.
- ``Interrupt`` stops everything unfinished (or, given a ``uid``, that
  utterance only); ``PauseAtMark`` stops at the next mark heard, reported
  after the mark.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..events import MarkReached, SegmentStarted
from .inputs import (
    Admitted,
    AudioMade,
    End,
    Failed,
    Finished,
    Flush,
    Heard,
    Input,
    Interrupt,
    Malformed,
    PauseAtMark,
    Refused,
    Speak,
    StartStream,
    Text,
)
from .outputs import (
    Audio,
    Close,
    Done,
    Error,
    Feed,
    FlushText,
    Hangup,
    HeardMark,
    HeardSegment,
    HeardWord,
    Open,
    Output,
    Started,
    Stop,
    Stopped,
)
from .refusals import BUSY, OUTSIDE_STREAM, UNKNOWN_VOICE, Refusal
from .requests import UtteranceRequest

__all__ = ["Conversation", "Rules"]

_OVERLAPS = ("refuse", "queue", "replace")


@dataclass(frozen=True)
class Rules:
    """Where one door's conversation differs from another's.

    - ``overlap``: a new utterance while one is unfinished is ``refuse``d
      (one at a time: Wyoming, HTTP), ``queue``d behind it (the
      WebSocket), or ``replace``s it (a screen reader's next message).
    - ``ignore_speak_in_stream``: a whole utterance while a stream is open
      is dropped silently (Wyoming clients send a compatibility copy of
      the streamed text) instead of being refused.
    - ``text_opens_stream``: text with no stream open starts one with
      ``stream_request`` (the WebSocket) instead of being refused.
    - ``refuse_end_outside_stream``: an end with no stream open is an error.
    - ``max_text_chars``: per utterance, whole or streamed in total;
      ``text_param`` names the text field in refusals (HTTP's ``input``).
    - ``voices``: the names a request may ask for; None accepts any (the
      speaker resolves names itself).
    """

    overlap: str = "refuse"
    ignore_speak_in_stream: bool = False
    text_opens_stream: bool = False
    refuse_end_outside_stream: bool = True
    max_text_chars: int = 100_000
    text_param: str | None = None
    voices: frozenset[str] | None = None
    stream_request: UtteranceRequest = field(default_factory=UtteranceRequest)

    def __post_init__(self) -> None:
        if self.overlap not in _OVERLAPS:
            raise ValueError(f"overlap must be one of {_OVERLAPS}, got {self.overlap!r}")


@dataclass
class _Utterance:
    uid: int
    request: UtteranceRequest
    streamed: bool
    chars: int = 0
    admitted: bool = False
    refused: bool = False
    stopping: str | None = None  # why it was told to stop
    waiting: list[Output] = field(default_factory=list)  # text commands before admission


class Conversation:
    """One connection's conversation; see the module docstring."""

    def __init__(self, rules: Rules | None = None) -> None:
        self.rules = rules or Rules()
        self._live: list[_Utterance] = []  # asked for and not finished, oldest first
        self._open: _Utterance | None = None  # the stream taking text
        self._uids = 0
        self._pause_at_mark = False
        self.closed = False  # after a fatal refusal: nothing more is heard

    @property
    def busy(self) -> bool:
        """An utterance is unfinished, or a stream is open."""
        return bool(self._live) or self._open is not None

    @property
    def playing(self) -> int | None:
        """The uid whose audio is coming now, if any."""
        utterance = self._playing()
        return None if utterance is None else utterance.uid

    def receive(self, event: Input) -> list[Output]:
        """What to do now that ``event`` happened."""
        if self.closed:
            return []
        handler = getattr(self, f"_on_{type(event).__name__}")
        outputs: list[Output] = handler(event)
        return outputs

    # -- the client ---------------------------------------------------------------------

    def _on_Speak(self, event: Speak) -> list[Output]:
        if self._open is not None and self.rules.ignore_speak_in_stream:
            return []  # the compatibility copy of the streamed text
        refusal = self._check(event.request, len(event.text))
        if refusal is not None:
            return [Error(refusal)]
        outputs, refused = self._make_room()
        if refused:
            return outputs
        utterance = self._new(event.request, streamed=False)
        utterance.chars = len(event.text)
        return [*outputs, Open(utterance.uid, event.request, event.text)]

    def _on_StartStream(self, event: StartStream) -> list[Output]:
        refusal = self._check(event.request, 0)
        if refusal is not None:
            return [Error(refusal)]
        return self._start_stream(event.request)

    def _on_Text(self, event: Text) -> list[Output]:
        outputs: list[Output] = []
        if self._open is None:
            if not self.rules.text_opens_stream:
                return [Error(Refusal(OUTSIDE_STREAM, "text outside a stream: start one first"))]
            refusal = self._check(self.rules.stream_request, 0)
            if refusal is not None:
                return [Error(refusal)]
            outputs = self._start_stream(self.rules.stream_request)
            if self._open is None:  # refused at once (busy)
                return outputs
        utterance = self._open
        utterance.chars += len(event.text)
        if utterance.chars > self.rules.max_text_chars:
            utterance.chars -= len(event.text)
            refusal = Refusal.too_long(
                utterance.chars + len(event.text), self.rules.max_text_chars, self.rules.text_param
            )
            return [*outputs, Error(refusal, utterance.uid)]
        return [*outputs, *self._to_engine(utterance, Feed(utterance.uid, event.text))]

    def _on_Flush(self, event: Flush) -> list[Output]:
        if self._open is None:
            return []
        return self._to_engine(self._open, FlushText(self._open.uid))

    def _on_End(self, event: End) -> list[Output]:
        utterance, self._open = self._open, None
        if utterance is None:
            if self.rules.refuse_end_outside_stream:
                return [Error(Refusal(OUTSIDE_STREAM, "end of text outside a stream"))]
            return []
        return self._to_engine(utterance, Close(utterance.uid))

    def _on_Interrupt(self, event: Interrupt) -> list[Output]:
        if event.uid is not None:
            return self._stop_one(event.uid, event.reason)
        self._open = None
        self._pause_at_mark = False
        return self._stop_all(event.reason)

    def _on_PauseAtMark(self, event: PauseAtMark) -> list[Output]:
        self._pause_at_mark = self._playing() is not None
        return []

    def _on_Malformed(self, event: Malformed) -> list[Output]:
        if event.refusal.fatal:
            self.closed = True
            self._open = None
            return [Error(event.refusal), *self._stop_all("hangup"), Hangup()]
        return [Error(event.refusal)]

    # -- the engine -----------------------------------------------------------------------

    def _on_Admitted(self, event: Admitted) -> list[Output]:
        utterance = self._find(event.uid)
        if utterance is None:
            return []
        utterance.admitted = True
        outputs: list[Output] = [Started(utterance.uid, utterance.request, utterance.streamed)]
        outputs += utterance.waiting
        utterance.waiting = []
        if utterance.stopping is not None:
            outputs.append(Stop(utterance.uid))
        return outputs

    def _on_Refused(self, event: Refused) -> list[Output]:
        utterance = self._find(event.uid)
        if utterance is None:
            return []
        self._live.remove(utterance)
        utterance.refused = True  # an open stream swallows its text until its end
        utterance.waiting = []
        return [Error(event.refusal, event.uid)]

    def _on_AudioMade(self, event: AudioMade) -> list[Output]:
        utterance = self._playing()
        if utterance is None or utterance.stopping is not None:
            return []  # an utterance told to stop says nothing more
        return [Audio(utterance.uid, event.samples)]

    def _on_Heard(self, event: Heard) -> list[Output]:
        utterance = self._playing()
        if utterance is None or utterance.stopping is not None:
            return []
        heard = event.event
        if isinstance(heard, MarkReached):
            outputs: list[Output] = [HeardMark(utterance.uid, heard.name)]
            if self._pause_at_mark:
                self._pause_at_mark = False
                utterance.stopping = "pause"
                outputs.append(Stop(utterance.uid))
            return outputs
        if isinstance(heard, SegmentStarted):
            return [HeardSegment(utterance.uid, heard)]
        return [HeardWord(utterance.uid, heard)]

    def _on_Finished(self, event: Finished) -> list[Output]:
        utterance = self._end(event.uid)
        if utterance is None:
            return []
        if event.interrupted:
            reason = utterance.stopping or "interrupt"
            return [Stopped(utterance.uid, utterance.streamed, reason, event.last_word)]
        return [Done(utterance.uid, utterance.streamed, event.audio_s, event.ttfa_s)]

    def _on_Failed(self, event: Failed) -> list[Output]:
        utterance = self._end(event.uid)
        if utterance is None:
            return []
        return [Error(event.refusal, event.uid)]

    # -- helpers ---------------------------------------------------------------------------

    def _check(self, request: UtteranceRequest, chars: int) -> Refusal | None:
        voices = self.rules.voices
        if request.voice is not None and voices is not None and request.voice not in voices:
            known = ", ".join(repr(name) for name in sorted(voices))
            return Refusal(
                UNKNOWN_VOICE,
                f"unknown voice {request.voice!r}; this server speaks {known}",
                param="voice",
            )
        if chars > self.rules.max_text_chars:
            return Refusal.too_long(chars, self.rules.max_text_chars, self.rules.text_param)
        return None

    def _make_room(self) -> tuple[list[Output], bool]:
        """Before a new utterance: (what to do first, whether it is refused)."""
        if not self.busy or self.rules.overlap == "queue":
            return [], False
        if self.rules.overlap == "replace":
            self._open = None
            return self._stop_all("replaced"), False
        message = "one utterance at a time on this connection: wait for its end or interrupt it"
        return [Error(Refusal(BUSY, message))], True

    def _start_stream(self, request: UtteranceRequest) -> list[Output]:
        if self._open is not None:
            return [Error(Refusal(BUSY, "a stream is already open: end it first"))]
        outputs, refused = self._make_room()
        if refused:
            return outputs
        utterance = self._new(request, streamed=True)
        self._open = utterance
        return [*outputs, Open(utterance.uid, request, None)]

    def _new(self, request: UtteranceRequest, *, streamed: bool) -> _Utterance:
        self._uids += 1
        utterance = _Utterance(self._uids, request, streamed)
        self._live.append(utterance)
        return utterance

    def _to_engine(self, utterance: _Utterance, command: Output) -> list[Output]:
        """A text command for ``utterance``: now, once admitted, or never (refused)."""
        if utterance.refused or utterance.stopping is not None:
            return []
        if not utterance.admitted:
            utterance.waiting.append(command)
            return []
        return [command]

    def _stop_all(self, reason: str) -> list[Output]:
        outputs: list[Output] = []
        for utterance in self._live:
            if utterance.stopping is None:
                utterance.stopping = reason
                if utterance.admitted:
                    outputs.append(Stop(utterance.uid))
        return outputs

    def _stop_one(self, uid: int, reason: str) -> list[Output]:
        utterance = self._find(uid)
        if utterance is None or utterance.stopping is not None:
            return []
        if self._open is utterance:
            self._open = None
        utterance.stopping = reason
        return [Stop(uid)] if utterance.admitted else []

    def _playing(self) -> _Utterance | None:
        for utterance in self._live:
            if utterance.admitted:
                return utterance
        return None

    def _find(self, uid: int) -> _Utterance | None:
        return next((u for u in self._live if u.uid == uid), None)

    def _end(self, uid: int) -> _Utterance | None:
        utterance = self._find(uid)
        if utterance is None:
            return None
        self._live.remove(utterance)
        if self._open is utterance:
            self._open = None
        return utterance
