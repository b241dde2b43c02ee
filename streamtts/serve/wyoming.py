"""The Wyoming door (Home Assistant): events over TCP or a Unix socket.

A Wyoming event is one JSON header line (``type``, optional ``data``,
``data_length``, ``payload_length``), then ``data_length`` bytes of JSON
merged into ``data``, then ``payload_length`` bytes of payload. The event
types come from the ``wyoming`` package, which defines the protocol;
:class:`WyomingReader` frames bytes into its :class:`~wyoming.event.Event`
objects without I/O, with limits on every length, and :func:`encode_event`
does the reverse. :func:`serve_connection` is the thin trio shell.

Served: ``describe`` → ``info``; ``synthesize`` → ``audio-start``,
``audio-chunk``… (as each chunk is decoded), ``audio-stop``; the streaming
form ``synthesize-start`` → ``synthesize-chunk``… → ``synthesize-stop``,
answered the same way and then ``synthesize-stopped`` (the compatibility
``synthesize`` a client sends inside a stream is ignored); ``ping`` →
``pong``. Anything else gets an ``error`` event.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import trio
from wyoming.audio import AudioChunk as WyomingAudioChunk
from wyoming.audio import AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Attribution, Describe, Info, TtsProgram, TtsVoice
from wyoming.ping import Ping, Pong
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
)

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

from .. import __version__
from ..sinks.wav import float_to_s16
from .session import AtCapacity, ServerState, Session, open_session

__all__ = ["ProtocolError", "WyomingLimits", "WyomingReader", "encode_event", "serve_connection"]

_log = logging.getLogger(__name__)


class ProtocolError(Exception):
    """Bytes that are not a Wyoming event within the limits."""


@dataclass(frozen=True)
class WyomingLimits:
    header_bytes: int = 64 * 1024  # one JSON line
    data_bytes: int = 1024 * 1024  # a synthesize event's text lives here
    payload_bytes: int = 1024 * 1024  # a TTS server is sent no audio
    text_chars: int = 100_000  # per synthesize, or per stream in total
    idle_s: float = 120.0  # no event for this long: the connection is closed
    event_s: float = 10.0  # an event must arrive whole within this (slow drips)


class WyomingReader:
    """Bytes in, :class:`~wyoming.event.Event` objects out (sans-IO)."""

    def __init__(self, limits: WyomingLimits | None = None) -> None:
        self.limits = limits or WyomingLimits()
        self._buffer = bytearray()
        self._header: dict[str, Any] | None = None
        self._need_data = 0
        self._need_payload = 0

    @property
    def partial(self) -> bool:
        """Part of an event has arrived, not all of it."""
        return bool(self._buffer) or self._header is not None

    def feed(self, data: bytes | bytearray) -> list[Event]:
        self._buffer += data
        events: list[Event] = []
        while True:
            event = self._next()
            if event is None:
                return events
            events.append(event)

    def _next(self) -> Event | None:
        limits = self.limits
        if self._header is None:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > limits.header_bytes:
                    raise ProtocolError(f"header line longer than {limits.header_bytes} bytes")
                return None
            if end > limits.header_bytes:
                raise ProtocolError(f"header line longer than {limits.header_bytes} bytes")
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            try:
                header = json.loads(line)
            except (UnicodeDecodeError, ValueError) as err:
                raise ProtocolError(f"header is not JSON: {err}") from err
            if not isinstance(header, dict) or not isinstance(header.get("type"), str):
                raise ProtocolError('header must be a JSON object with a string "type"')
            if not isinstance(header.get("data", {}), dict):
                raise ProtocolError('"data" must be a JSON object')
            self._need_data = _length(header, "data_length", limits.data_bytes)
            self._need_payload = _length(header, "payload_length", limits.payload_bytes)
            self._header = header
        if len(self._buffer) < self._need_data + self._need_payload:
            return None
        header, self._header = self._header, None
        data = dict(header.get("data") or {})
        if self._need_data:
            raw = bytes(self._buffer[: self._need_data])
            try:
                extra = json.loads(raw)
            except (UnicodeDecodeError, ValueError) as err:
                raise ProtocolError(f"data is not JSON: {err}") from err
            if not isinstance(extra, dict):
                raise ProtocolError("data must be a JSON object")
            data.update(extra)
        start = self._need_data
        payload = bytes(self._buffer[start : start + self._need_payload]) or None
        del self._buffer[: start + self._need_payload]
        self._need_data = self._need_payload = 0
        return Event(type=header["type"], data=data, payload=payload)


def _length(header: dict[str, Any], name: str, limit: int) -> int:
    value = header.get(name) or 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolError(f"{name} must be a non-negative integer, got {value!r}")
    if value > limit:
        raise ProtocolError(f"{name} {value} is over the limit of {limit} bytes")
    return value


def encode_event(event: Event) -> bytes:
    """One event as bytes on the wire (data sent inline in the header)."""
    header: dict[str, Any] = {"type": event.type, "version": _wyoming_version()}
    if event.data:
        data = json.dumps(event.data, ensure_ascii=False).encode()
        header["data_length"] = len(data)
    else:
        data = b""
    if event.payload:
        header["payload_length"] = len(event.payload)
    line = json.dumps(header, ensure_ascii=False).encode() + b"\n"
    return line + data + (event.payload or b"")


def _wyoming_version() -> str:
    from wyoming.version import __version__ as version

    return version


def describe(state: ServerState) -> Info:
    voice = state.voice
    attribution = Attribution(name="streamtts", url="https://pypi.org/project/streamtts/")
    language = voice.config.language or voice.config.espeak_voice
    return Info(
        tts=[
            TtsProgram(
                name="streamtts",
                attribution=attribution,
                installed=True,
                description="On-device streaming TTS: audio starts inside the first sentence",
                version=__version__,
                supports_synthesize_streaming=True,
                voices=[
                    TtsVoice(
                        name=voice.name,
                        attribution=attribution,
                        installed=True,
                        description=f"Piper voice {voice.name}",
                        version=None,
                        languages=[language],
                    )
                ],
            )
        ]
    )


class _Connection:
    """One client: events in, audio and events out, through one writer."""

    def __init__(self, stream: trio.abc.Stream, state: ServerState, limits: WyomingLimits):
        self.stream = stream
        self.state = state
        self.limits = limits
        self.reader = WyomingReader(limits)
        self._write_lock = trio.Lock()
        self.text_stream: Any = None  # the open streaming utterance, if any
        self.stream_chars = 0
        self.speaking = False

    async def send(self, event: Event) -> None:
        async with self._write_lock:
            await self.stream.send_all(encode_event(event))

    async def deliver(self, samples: np.ndarray) -> None:
        rate = self.state.voice.sample_rate_hz
        chunk = WyomingAudioChunk(rate=rate, width=2, channels=1, audio=float_to_s16(samples))
        await self.send(chunk.event())

    async def error(self, text: str, code: str) -> None:
        await self.send(Error(text=text, code=code).event())

    async def events(self) -> Any:
        """Events from the socket; closes on idle, slow drips and bad bytes."""
        while True:
            timeout = self.limits.event_s if self.reader.partial else self.limits.idle_s
            if self.speaking and not self.reader.partial:
                timeout = float("inf")  # a client waits quietly for its audio
            with trio.move_on_after(timeout) as waited:
                data = await self.stream.receive_some(65536)
            if waited.cancelled_caught:
                what = "an event arrived too slowly" if self.reader.partial else "idle"
                raise ProtocolError(f"closing the connection: {what}")
            if not data:
                return
            for event in self.reader.feed(data):
                yield event


async def serve_connection(
    stream: trio.abc.Stream, state: ServerState, limits: WyomingLimits | None = None
) -> None:
    """Serve one Wyoming client until it goes away (its work is cancelled)."""
    connection = _Connection(stream, state, limits or WyomingLimits())
    try:
        async with (
            open_session(state, "wyoming", connection.deliver) as session,
            trio.open_nursery() as nursery,
        ):
            try:
                async for event in connection.events():
                    await _handle(connection, session, nursery, event)
            except ProtocolError as err:
                _log.info("wyoming: %s", err)
                await connection.error(str(err), "protocol-error")
            nursery.cancel_scope.cancel()  # the client is gone: so is its work
    except Exception as err:  # one client's trouble never reaches the listener
        if not _only_gone_client(err):
            _log.exception("wyoming: a connection failed")
    finally:
        with trio.CancelScope(shield=True), trio.move_on_after(1):
            await stream.aclose()


async def _handle(
    connection: _Connection, session: Session, nursery: trio.Nursery, event: Event
) -> None:
    state = connection.state
    if Describe.is_type(event.type):
        await connection.send(describe(state).event())
    elif Ping.is_type(event.type):
        await connection.send(Pong(text=Ping.from_event(event).text).event())
    elif Synthesize.is_type(event.type):
        if connection.text_stream is not None:
            return  # the compatibility copy of a streamed text: ignored
        if connection.speaking:
            await connection.error("one synthesize at a time per connection", "busy")
            return
        request = _parse(Synthesize, event)
        if request is None or not _voice_ok(connection, request.voice):
            await connection.error("synthesize needs a text and a known voice", "bad-request")
            return
        if len(request.text) > connection.limits.text_chars:
            await connection.error(
                f"text of {len(request.text)} characters is over the limit of "
                f"{connection.limits.text_chars}",
                "too-long",
            )
            return
        connection.speaking = True
        text_format = (
            "ssml"
            if str(request.text_format) in ("ssml", "SynthesizeTextFormat.SSML")
            else "markdown"
        )
        nursery.start_soon(_speak_whole, connection, session, request.text, text_format)
    elif SynthesizeStart.is_type(event.type):
        if connection.text_stream is not None or connection.speaking:
            await connection.error("a synthesis is already running", "busy")
            return
        start = _parse(SynthesizeStart, event)
        if start is None or not _voice_ok(connection, start.voice):
            await connection.error("unknown voice", "bad-request")
            return
        send, receive = trio.open_memory_channel[str](16)
        connection.text_stream = send
        connection.stream_chars = 0
        connection.speaking = True
        nursery.start_soon(_speak_stream, connection, session, receive)
    elif SynthesizeChunk.is_type(event.type):
        chunk = _parse(SynthesizeChunk, event)
        if connection.text_stream is None or chunk is None:
            await connection.error("synthesize-chunk outside a stream", "bad-request")
            return
        connection.stream_chars += len(chunk.text)
        if connection.stream_chars > connection.limits.text_chars:
            await connection.error("streamed text is over the limit", "too-long")
            return
        await connection.text_stream.send(chunk.text)
    elif SynthesizeStop.is_type(event.type):
        if connection.text_stream is None:
            await connection.error("synthesize-stop outside a stream", "bad-request")
            return
        await connection.text_stream.aclose()
        connection.text_stream = None
    else:
        await connection.error(f"unknown event type {event.type!r}", "unknown-event")


def _only_gone_client(error: BaseException) -> bool:
    """True when every leaf of ``error`` says the client went away."""
    if isinstance(error, BaseExceptionGroup):
        return all(_only_gone_client(e) for e in error.exceptions)
    if isinstance(error, (trio.BrokenResourceError, trio.ClosedResourceError)):
        return True
    # The engine reports a sink that broke as a speaking failure, from the cause.
    return error.__cause__ is not None and _only_gone_client(error.__cause__)


def _parse(kind: Any, event: Event) -> Any:
    try:
        parsed = kind.from_event(event)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    text = getattr(parsed, "text", "")
    return parsed if isinstance(text, str) else None


def _voice_ok(connection: _Connection, voice: Any) -> bool:
    name = getattr(voice, "name", None)
    return name is None or name == connection.state.voice.name


async def _speak_whole(
    connection: _Connection, session: Session, text: str, text_format: str
) -> None:
    try:
        await _utterance(connection, session, [text], text_format)
    finally:
        connection.speaking = False


async def _speak_stream(
    connection: _Connection, session: Session, receive: trio.MemoryReceiveChannel[str]
) -> None:
    try:
        with receive:
            await _utterance(connection, session, receive)
        await connection.send(SynthesizeStopped().event())
    finally:
        connection.speaking = False


async def _utterance(
    connection: _Connection, session: Session, pieces: Any, text_format: str = "markdown"
) -> None:
    rate = connection.state.voice.sample_rate_hz
    try:
        async with session.utterance(text_format) as stream:
            await connection.send(AudioStart(rate=rate, width=2, channels=1).event())
            if isinstance(pieces, list):
                for piece in pieces:
                    await stream.send(piece)
            else:
                async for piece in pieces:
                    await stream.send(piece)
    except AtCapacity as err:
        await connection.error(str(err), "at-capacity")
        if not isinstance(pieces, list):
            async for _ in pieces:  # the client may still be sending its text
                pass
        return
    await connection.send(AudioStop().event())
