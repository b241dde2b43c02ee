"""The trio side of every door: runs a :class:`~.core.Conversation`.

A door parses its wire into client inputs and writes client reports out;
this shell does the rest, the same for every door:

- engine commands are carried out in order by one task (open, feed,
  flush, close), except ``Stop``, which runs at once: a barge-in never
  waits behind text still being fed;
- reports are written in order by one task; audio waits while more than
  a few reports are unwritten, so a client that stops reading pauses its
  own utterance (backpressure), never anyone else's;
- the engine's answers (admitted, audio, heard, finished, failed) go back
  into the conversation as they happen.

Text from the client is read on as it comes, so an interrupt behind it is
seen at once; the text waiting to be fed is bounded by the door's limits.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

import numpy as np
import trio

from ..engine import UtteranceResult
from ..errors import ClientGone, InputTextError, caller_error
from ..events import Event, MarkReached, SegmentStarted, WordStarted
from .core import Conversation
from .inputs import (
    Admitted,
    AudioMade,
    ClientInput,
    Failed,
    Finished,
    Heard,
    Input,
    Refused,
)
from .outputs import (
    Audio,
    ClientReport,
    Close,
    Feed,
    FlushText,
    Hangup,
    Open,
    Stop,
)
from .refusals import BAD_INPUT, INTERNAL, Refusal
from .requests import UtteranceRequest

__all__ = ["ConversationShell", "Speaker", "UtteranceControl"]

_log = logging.getLogger(__name__)

# Unwritten reports past which audio waits: a few chunks, so a client that
# stops reading stops its utterance within a chunk or two.
_AUDIO_AHEAD = 4


class UtteranceControl(Protocol):
    """What the shell does with one utterance (an engine's utterance handle)."""

    async def send(self, piece: str) -> None: ...

    async def flush(self) -> None: ...

    def end(self) -> None: ...

    async def interrupt(self) -> None: ...

    async def wait(self) -> UtteranceResult: ...


class Speaker(Protocol):
    """Where a conversation's utterances are spoken.

    ``open`` never waits for room: it starts the utterance in ``nursery``
    and returns its control, or raises a :class:`Refusal` at once (at
    capacity, a voice that cannot load). Its audio and events come back
    through the shell's :meth:`~ConversationShell.audio` and
    :meth:`~ConversationShell.heard`.
    """

    async def open(
        self, uid: int, request: UtteranceRequest, nursery: trio.Nursery
    ) -> UtteranceControl: ...


class ConversationShell:
    """Runs one conversation between a door and a speaker."""

    def __init__(
        self,
        conversation: Conversation,
        write: Callable[[ClientReport], Awaitable[None]] | None = None,
        *,
        write_now: Callable[[ClientReport], None] | None = None,
    ) -> None:
        """``write`` a report (may wait: a socket's backpressure), or, for a
        door whose writes never wait (speech-dispatcher's pipe, bounded by
        its protocol), ``write_now`` each report the moment it is made, so
        a mark goes out between the audio messages around it."""
        if (write is None) == (write_now is None):
            raise ValueError("give write or write_now")
        self.conversation = conversation
        self._write = write
        self._write_now = write_now
        self._reports: deque[ClientReport | Hangup] = deque()
        self._reported = trio.Event()  # a report was queued
        self._written = trio.Event()  # a report was written
        self._commands: deque[Open | Feed | FlushText | Close] = deque()
        self._commanded = trio.Event()
        self._controls: dict[int, UtteranceControl] = {}
        self._nursery: trio.Nursery | None = None
        self._speaker: Speaker | None = None
        self._hung_up = trio.Event()
        self._writing = False  # a report is being written (popped, not yet out)
        self._changed = trio.Event()  # fed or written: for those waiting to settle

    # -- what the speaker calls ---------------------------------------------------------

    async def audio(self, samples: np.ndarray) -> None:
        """Samples of the utterance playing (the speaker's sink calls this);
        returns once there is room, which is the client's backpressure."""
        self.feed(AudioMade(samples))
        while sum(isinstance(r, Audio) for r in self._reports) > _AUDIO_AHEAD:
            await self._written.wait()

    def heard(self, event: Event) -> None:
        """The speaker's events (its engine's ``on_event``)."""
        if isinstance(event, (SegmentStarted, WordStarted, MarkReached)):
            self.feed(Heard(event))

    # -- running ---------------------------------------------------------------------------

    def feed(self, event: Input) -> None:
        """Tell the conversation; queue what it says to do."""
        for output in self.conversation.receive(event):
            if isinstance(output, Stop):
                self._stop(output.uid)  # at once, ahead of queued text
            elif isinstance(output, (Open, Feed, FlushText, Close)):
                self._commands.append(output)
                self._commanded.set()
            elif self._write_now is not None:
                if isinstance(output, Hangup):
                    self._hung_up.set()
                else:
                    self._write_now(output)
            else:
                self._reports.append(output)
                self._reported.set()
        self._changed.set()

    async def run(
        self, speaker: Speaker, inputs: AsyncIterator[ClientInput], *, linger: bool = False
    ) -> None:
        """Serve until the client's inputs end (then, with ``linger``, until
        what they asked for is spoken and written), or the door hangs up.
        A client that went away ends it quietly."""
        self._speaker = speaker
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                if self._write is not None:
                    nursery.start_soon(self._write_reports)
                nursery.start_soon(self._run_commands)
                nursery.start_soon(self._hang_up_when_told, nursery.cancel_scope)
                async for item in inputs:
                    self.feed(item)
                await self._until_settled(everything=linger)
                nursery.cancel_scope.cancel()
        except BaseException as err:
            error = caller_error(err)
            if not isinstance(error, ClientGone):
                raise
            _log.debug("the client went away: %s", error)

    @property
    def settled(self) -> bool:
        """Everything asked is spoken and every report written to the client."""
        return not (self.conversation.busy or self._reports or self._writing or self._commands)

    async def _until_settled(self, *, everything: bool) -> None:
        """Until what was asked is spoken and written (``everything``), or
        at least the reports made so far are written (an error before a
        hang-up), within a second: a client that left reads nothing."""
        if not everything:
            with trio.move_on_after(1.0):
                while (self._reports or self._writing) and not self._hung_up.is_set():
                    await self._wait_change()
            return
        while not self.settled:
            await self._wait_change()

    async def _wait_change(self) -> None:
        self._changed = trio.Event()
        await self._changed.wait()

    async def _hang_up_when_told(self, scope: trio.CancelScope) -> None:
        await self._hung_up.wait()
        scope.cancel()

    async def _write_reports(self) -> None:
        while True:
            while not self._reports:
                self._reported = trio.Event()
                await self._reported.wait()
            report = self._reports.popleft()
            if isinstance(report, Hangup):
                self._hung_up.set()
                return
            assert self._write is not None
            self._writing = True
            try:
                await self._write(report)
            finally:
                self._writing = False
            written, self._written = self._written, trio.Event()
            written.set()
            self._changed.set()

    async def _run_commands(self) -> None:
        while True:
            while not self._commands:
                self._commanded = trio.Event()
                await self._commanded.wait()
            command = self._commands.popleft()
            if isinstance(command, Open):
                await self._open(command)
                continue
            control = self._controls.get(command.uid)
            if control is None:
                continue  # it ended meanwhile
            if isinstance(command, Feed):
                await control.send(command.text)
            elif isinstance(command, FlushText):
                await control.flush()
            else:
                control.end()

    async def _open(self, command: Open) -> None:
        assert self._speaker is not None and self._nursery is not None
        try:
            control = await self._speaker.open(command.uid, command.request, self._nursery)
        except Refusal as refusal:
            self.feed(Refused(command.uid, refusal))
            return
        self._controls[command.uid] = control
        self._nursery.start_soon(self._watch, command.uid, control)
        self.feed(Admitted(command.uid))
        if command.text is not None:
            await control.send(command.text)
            control.end()

    async def _watch(self, uid: int, control: UtteranceControl) -> None:
        try:
            result = await control.wait()
        except Exception as err:
            refusal = _refusal_for(err)
            if refusal is None:
                raise ClientGone("the client went away") from err
            self.feed(Failed(uid, refusal))
        else:
            stats = result.stats
            self.feed(
                Finished(uid, result.interrupted, stats.audio_s, stats.ttfa_s, result.last_word)
            )
        finally:
            self._controls.pop(uid, None)

    def _stop(self, uid: int) -> None:
        control = self._controls.get(uid)
        if control is not None and self._nursery is not None:
            self._nursery.start_soon(control.interrupt)


def _refusal_for(error: BaseException) -> Refusal | None:
    """What the client hears of an utterance's failure (None: it is gone)."""
    error = caller_error(error)
    if isinstance(error, Refusal):
        return error
    if isinstance(error, ClientGone):
        return None
    if isinstance(error, InputTextError):
        return Refusal(BAD_INPUT, str(error))
    _log.error("an utterance failed: %s", error, exc_info=error)
    return Refusal(INTERNAL, str(error))
