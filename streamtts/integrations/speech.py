"""What both plugins use on the asyncio side: utterances as event streams.

A :class:`Speech` holds one conversation (a :class:`SpeechChannel`: a
local host session or a ``streamtts serve`` WebSocket) and hands out
:class:`SpeechUtterance` objects. Each utterance is fed (``send``,
``flush``, ``end``), may be ``interrupt``-ed, and is read as an async
iterator of its own events, in order:

- :class:`SpokenAudio`: float32 samples at the plugin's rate (resampled
  with soxr's stream resampler when it differs from the voice's);
- :class:`SpokenWord`: a word when it is heard (handed on: its audio is
  in the samples already given), with its start in seconds from the
  utterance's first sample, and its offsets in the utterance's text;
- :class:`SpeechEnded`: spoken to the end, interrupted, or failed.

The conversation's reports carry the utterance they belong to (its
``uid``); the reports of an utterance told to stop are dropped here, so
nothing of it reaches the framework after its interrupt. Utterances start
in the conversation in the order they were asked for, one at a time while
a stream is still taking text, and at most two unfinished (the one
speaking and the next): the engine speaks a conversation's utterances in
order, as the frameworks play theirs, and a queued one would hold a place
in the admission only to wait. Until an utterance starts, its text is
held here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..conversation import outputs
from ..conversation.inputs import ClientInput, End, Flush, Interrupt, Speak, StartStream, Text
from ..conversation.refusals import AT_CAPACITY, BAD_INPUT, INTERNAL, Refusal
from ..conversation.requests import UtteranceRequest
from ..dsp.resample import StreamResampler
from ..sinks.wav import float_to_s16

__all__ = [
    "Speech",
    "SpeechChannel",
    "SpeechEnded",
    "SpeechEvent",
    "SpeechUtterance",
    "SpokenAudio",
    "SpokenWord",
]

_log = logging.getLogger(__name__)

# Events an utterance's reader has not taken yet: beyond this the reports
# wait in the channel (whose credits then pause the session's audio).
_EVENTS_AHEAD = 16

# Utterances started in the conversation and unfinished: the one speaking
# and the next, whose first audio is then ready the moment its turn comes.
# More would each hold a place in the host's (or server's) admission while
# only waiting for their turn.
_IN_FLIGHT = 2

# Refusals that end the utterance they name (it was refused or failed);
# others (text over the limit) leave it going.
_ENDING = frozenset({AT_CAPACITY, BAD_INPUT, INTERNAL})


class SpeechChannel(Protocol):
    """One conversation's wire, as both plugins see it."""

    sample_rate_hz: int  # of the audio reports

    @property
    def ended(self) -> bool: ...

    async def send(self, item: ClientInput) -> None: ...

    def __aiter__(self) -> AsyncIterator[outputs.ClientReport]: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class SpokenAudio:
    samples: np.ndarray  # float32, mono, at the Speech's rate

    def pcm16(self) -> bytes:
        """s16le bytes, as both frameworks carry audio."""
        return float_to_s16(self.samples)

    def __repr__(self) -> str:
        return f"SpokenAudio({self.samples.size} samples)"


@dataclass(frozen=True)
class SpokenWord:
    word: str  # the written words its sound stands for ("of the" is one)
    start_s: float  # from the utterance's first sample
    text_start: int  # offsets in the utterance's text
    text_end: int


@dataclass(frozen=True)
class SpeechEnded:
    interrupted: bool
    error: Refusal | None = None
    audio_s: float = 0.0
    ttfa_s: float | None = None


SpeechEvent = SpokenAudio | SpokenWord | SpeechEnded


class SpeechUtterance:
    """One utterance of a :class:`Speech`; see the module docstring."""

    def __init__(self, speech: Speech, request: UtteranceRequest, whole: str | None) -> None:
        self._speech = speech
        self.request = request
        self.uid: int | None = None  # once started in the conversation
        self.flowing = False  # started, and what was held is sent: text goes straight on
        self.text = whole or ""  # everything sent so far: word offsets point into it
        self.whole = whole is not None
        self.held: list[ClientInput] = []  # while waiting for the stream before it
        self.ended_input = self.whole
        self.closed = False  # interrupted or ended: nothing more is delivered
        self._events: asyncio.Queue[SpeechEvent] = asyncio.Queue(_EVENTS_AHEAD)
        self._origin: int | None = None  # the first segment's sample: the utterance's start
        self._resampler = StreamResampler(speech.voice_rate_hz, speech.sample_rate_hz)

    def __repr__(self) -> str:
        return f"SpeechUtterance(uid={self.uid}, {len(self.text)} chars)"

    async def send(self, text: str) -> None:
        """More text (an LLM's token); waits only for the channel's room."""
        if self.closed or self.ended_input or not text:
            return
        self.text += text
        await self._speech.send(self, Text(text))

    async def flush(self) -> None:
        """Speak the whole words sent so far without waiting for the sentence's end."""
        if not (self.closed or self.ended_input):
            await self._speech.send(self, Flush())

    async def end(self) -> None:
        """The text is complete; it is spoken to its end."""
        if self.closed or self.ended_input:
            return
        self.ended_input = True
        await self._speech.send(self, End())
        self._speech.input_ended(self)

    async def interrupt(self) -> None:
        """Stop it now, wherever it is; its events end at once (interrupted)."""
        if self.closed:
            return
        await self._speech.stop(self)

    async def events(self) -> AsyncIterator[SpeechEvent]:
        """Its events, in order, ending with :class:`SpeechEnded`."""
        while True:
            event = await self._events.get()
            yield event
            if isinstance(event, SpeechEnded):
                return

    # -- from the router -----------------------------------------------------------------

    async def report(self, report: outputs.ClientReport) -> None:
        if isinstance(report, outputs.Audio):
            samples = self._resampler.process(report.samples)
            if samples.size:
                await self._events.put(SpokenAudio(samples))
        elif isinstance(report, outputs.HeardSegment):
            if self._origin is None:
                self._origin = report.event.position
        elif isinstance(report, outputs.HeardWord):
            word = report.event
            origin = word.position if self._origin is None else self._origin
            start_s = (word.position - origin) / self._speech.voice_rate_hz
            await self._events.put(SpokenWord(word.word, start_s, word.text_start, word.text_end))
        elif isinstance(report, outputs.Done):
            tail = self._resampler.flush()
            if tail.size:
                await self._events.put(SpokenAudio(tail))
            await self.finish(SpeechEnded(False, None, report.audio_s, report.ttfa_s))
        elif isinstance(report, outputs.Stopped):
            await self.finish(SpeechEnded(True))
        elif isinstance(report, outputs.Error) and report.refusal.code in _ENDING:
            await self.finish(SpeechEnded(False, report.refusal))
        elif isinstance(report, outputs.Error):
            _log.warning("streamtts: %s", report.refusal.message)

    async def finish(self, ended: SpeechEnded) -> None:
        if not self.closed:
            self.closed = True
            self._speech.forget(self)
            await self._events.put(ended)

    def end_now(self, ended: SpeechEnded) -> None:
        """Closed from this side (interrupt, a lost channel): deliver the end
        without waiting, dropping events not yet read."""
        self.closed = True
        while self._events.full():
            self._events.get_nowait()
        self._events.put_nowait(ended)


class Speech:
    """One conversation's utterances (see the module docstring).

    ``sample_rate_hz`` is the rate the plugin wants its audio at (None:
    the voice's own). Use from the loop that made it; ``aclose`` ends the
    conversation and everything in it.
    """

    def __init__(
        self,
        channel: SpeechChannel,
        *,
        sample_rate_hz: int | None = None,
        request: UtteranceRequest | None = None,
    ) -> None:
        self.channel = channel
        self.voice_rate_hz = channel.sample_rate_hz
        self.sample_rate_hz = sample_rate_hz or channel.sample_rate_hz
        self.request = request or UtteranceRequest()
        self._uids = 0
        self._live: dict[int, SpeechUtterance] = {}  # sent and not finished
        self._open: SpeechUtterance | None = None  # the stream taking text
        self._waiting: deque[SpeechUtterance] = deque()  # not started yet, in order
        self._starting: asyncio.Future[None] | None = None  # sending the next one's start
        self._router = asyncio.ensure_future(self._route())

    @property
    def usable(self) -> bool:
        """Its channel is alive: new utterances can start."""
        return not self.channel.ended and not self._router.done()

    @property
    def idle(self) -> bool:
        """Nothing started and unfinished (a pool may hand it out again)."""
        return not self._live and self._open is None and not self._waiting

    async def stream(self, request: UtteranceRequest | None = None) -> SpeechUtterance:
        """An utterance whose text follows (see the module docstring for when
        it starts); its text is held until then."""
        return await self._queue(SpeechUtterance(self, request or self.request, None))

    async def say(self, text: str, request: UtteranceRequest | None = None) -> SpeechUtterance:
        """A whole utterance, spoken after those started before it."""
        return await self._queue(SpeechUtterance(self, request or self.request, text))

    async def aclose(self) -> None:
        for utterance in [*self._live.values(), *self._waiting]:
            utterance.end_now(SpeechEnded(True))
        self._live.clear()
        self._waiting.clear()
        self._open = None
        self._router.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._router
        await self.channel.aclose()

    # -- for its utterances ----------------------------------------------------------------

    async def send(self, utterance: SpeechUtterance, item: ClientInput) -> None:
        if utterance.flowing:
            await self.channel.send(item)
        else:
            utterance.held.append(item)

    def input_ended(self, utterance: SpeechUtterance) -> None:
        if utterance is self._open:
            self._open = None
            self._start_next_soon()

    async def stop(self, utterance: SpeechUtterance) -> None:
        utterance.end_now(SpeechEnded(True))
        if utterance.uid is None:
            with contextlib.suppress(ValueError):
                self._waiting.remove(utterance)
            return
        self._live.pop(utterance.uid, None)
        if utterance is self._open:
            self._open = None
        if not self.channel.ended:
            await self.channel.send(Interrupt(uid=utterance.uid))
        self._start_next_soon()

    def forget(self, utterance: SpeechUtterance) -> None:
        if utterance.uid is not None:
            self._live.pop(utterance.uid, None)
        if utterance is self._open:
            self._open = None
        self._start_next_soon()

    # -- inside ------------------------------------------------------------------------------

    async def _start(self, utterance: SpeechUtterance) -> None:
        self._uids += 1
        utterance.uid = self._uids
        self._live[utterance.uid] = utterance
        if utterance.whole:
            utterance.flowing = True
            await self.channel.send(Speak(utterance.text, utterance.request))
            return
        if not utterance.ended_input:
            self._open = utterance
        await self.channel.send(StartStream(utterance.request))
        while utterance.held:  # what comes meanwhile is held too, so order is kept
            await self.channel.send(utterance.held.pop(0))
        utterance.flowing = True

    async def _queue(self, utterance: SpeechUtterance) -> SpeechUtterance:
        if self._starting is None and not self._waiting and self._may_start():
            await self._start(utterance)
        else:
            self._waiting.append(utterance)
        return utterance

    def _may_start(self) -> bool:
        return self._open is None and len(self._live) < _IN_FLIGHT

    def _start_next_soon(self) -> None:
        if self._waiting and self._may_start() and self._starting is None:
            self._starting = asyncio.ensure_future(self._start_waiting())

    async def _start_waiting(self) -> None:
        try:
            while self._waiting and self._may_start():
                await self._start(self._waiting.popleft())
        finally:
            self._starting = None

    async def _route(self) -> None:
        try:
            async for report in self.channel:
                uid = getattr(report, "uid", None)
                utterance = self._live.get(uid) if uid is not None else None
                if utterance is not None and not utterance.closed:
                    await utterance.report(report)
                elif isinstance(report, outputs.Error) and uid is None:
                    _log.warning("streamtts: %s", report.refusal.message)
        finally:
            lost = Refusal(INTERNAL, "the connection to the streamtts speaker was lost")
            for utterance in [*self._live.values(), *self._waiting]:
                utterance.end_now(SpeechEnded(False, lost))
            self._live.clear()
            self._waiting.clear()
            self._open = None
