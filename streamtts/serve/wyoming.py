"""The Wyoming door (Home Assistant): a thin trio shell over the conversation.

Bytes from the socket go through :class:`~.wyoming_wire.WyomingReader` and
:class:`~.wyoming_wire.WyomingTranslator` into the conversation's inputs;
its reports go back as Wyoming events through one writer. The rules
(one utterance at a time, the compatibility ``synthesize`` ignored inside a
stream, text limits, voices) are the conversation's (:func:`wyoming_rules`).

Served: ``describe`` → ``info``; ``synthesize`` → ``audio-start``,
``audio-chunk``… (as each chunk is decoded), ``audio-stop``; the streaming
form ``synthesize-start`` → ``synthesize-chunk``… → ``synthesize-stop``,
answered the same way and then ``synthesize-stopped``; ``ping`` → ``pong``.
Anything else gets an ``error`` event.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import trio
from wyoming.event import Event
from wyoming.info import Attribution, Info, TtsProgram, TtsVoice

from .. import __version__
from ..conversation import outputs
from ..conversation.core import Conversation, Rules
from ..conversation.idle import IdleWatch
from ..conversation.inputs import ClientInput, Malformed
from ..conversation.shell import ConversationShell
from .session import ServerState, open_session
from .wyoming_wire import (
    ProtocolError,
    WyomingLimits,
    WyomingReader,
    WyomingTranslator,
    encode_event,
    protocol_refusal,
)

__all__ = ["describe", "serve_connection", "wyoming_rules"]

_log = logging.getLogger(__name__)


def wyoming_rules(state: ServerState, limits: WyomingLimits) -> Rules:
    """One utterance at a time; a streaming client's compatibility
    ``synthesize`` (the whole text again) is dropped inside a stream."""
    return Rules(
        overlap="refuse",
        ignore_speak_in_stream=True,
        text_opens_stream=False,
        refuse_end_outside_stream=True,
        max_text_chars=limits.text_chars,
        voices=frozenset({state.voice.name}),
    )


def describe(state: ServerState) -> Info:
    voice = state.voice
    attribution = Attribution(name="streamtts", url="https://pypi.org/project/streamtts/")
    language = voice.config.language or voice.config.espeak_voice
    program_voice = TtsVoice(
        name=voice.name,
        attribution=attribution,
        installed=True,
        description=f"Piper voice {voice.name}",
        version=None,
        languages=[language],
    )
    program = TtsProgram(
        name="streamtts",
        attribution=attribution,
        installed=True,
        description="On-device streaming TTS: audio starts inside the first sentence",
        version=__version__,
        supports_synthesize_streaming=True,
        voices=[program_voice],
    )
    return Info(tts=[program])


class _Connection:
    """One client's socket: events in (with time limits), events out."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        translator: WyomingTranslator,
        conversation: Conversation,
        limits: WyomingLimits,
    ) -> None:
        self.stream = stream
        self.translator = translator
        self.conversation = conversation
        self.limits = limits
        self.reader = WyomingReader(limits)
        self._write_lock = trio.Lock()

    async def send(self, event: Event) -> None:
        async with self._write_lock:
            await self.stream.send_all(encode_event(event))

    async def write(self, report: outputs.ClientReport) -> None:
        for event in self.translator.events(report):
            await self.send(event)

    async def inputs(self) -> AsyncIterator[ClientInput]:
        """The conversation's inputs from the socket; direct answers are sent
        here. Ends when the client closes; bad bytes and an idle or
        dripping client end it with an error first."""
        try:
            async for event in self._events():
                translated = self.translator.inputs(event)
                if isinstance(translated, Event):
                    await self.send(translated)
                else:
                    for item in translated:
                        yield item
        except ProtocolError as err:
            _log.info("wyoming: %s", err)
            yield Malformed(protocol_refusal(err))

    async def _events(self) -> AsyncIterator[Event]:
        watch = IdleWatch(self.limits.idle_s, trio.current_time())
        event_due: float | None = None  # an event begun must end within event_s
        while True:
            now = trio.current_time()
            partial = self.reader.partial
            if not partial:
                event_due = None
            elif event_due is None:
                # From its first byte, not from the last: a client dripping a
                # byte at a time would otherwise hold the connection forever.
                event_due = now + self.limits.event_s
            due = now + watch.wait_s(now) if event_due is None else event_due
            with trio.move_on_at(due) as tick:
                data = await self.stream.receive_some(65536)
            if tick.cancelled_caught:
                if partial:
                    raise ProtocolError("closing the connection: an event arrived too slowly")
                if watch.expired(trio.current_time(), self.conversation.busy):
                    raise ProtocolError("closing the connection: idle")
                continue
            watch.heard(trio.current_time())
            if not data:
                return
            for event in self.reader.feed(data):
                yield event


async def serve_connection(
    stream: trio.abc.Stream, state: ServerState, limits: WyomingLimits | None = None
) -> None:
    """Serve one Wyoming client until it goes away (its work is cancelled)."""
    limits = limits or WyomingLimits()
    conversation = Conversation(wyoming_rules(state, limits))
    translator = WyomingTranslator(describe(state).event(), state.voice.sample_rate_hz)
    connection = _Connection(stream, translator, conversation, limits)
    shell = ConversationShell(conversation, connection.write)
    try:
        async with open_session(state, "wyoming", shell) as session:
            await shell.run(session, connection.inputs())
    except Exception:  # one client's trouble never reaches the listener
        _log.exception("wyoming: a connection failed")
    finally:
        with trio.CancelScope(shield=True), trio.move_on_after(1):
            await stream.aclose()
