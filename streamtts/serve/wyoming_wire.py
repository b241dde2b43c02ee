"""The Wyoming protocol on the wire, without I/O.

A Wyoming event is one JSON header line (``type``, optional ``data``,
``data_length``, ``payload_length``), then ``data_length`` bytes of JSON
merged into ``data``, then ``payload_length`` bytes of payload. The event
types come from the ``wyoming`` package, which defines the protocol.

- :class:`WyomingReader`: bytes → :class:`~wyoming.event.Event` objects,
  with limits on every length; :func:`encode_event` does the reverse.
- :class:`WyomingTranslator`: events → the conversation's inputs (or a
  direct answer: ``describe``, ``ping``), and the conversation's reports →
  events (``audio-start``, ``audio-chunk``, ``audio-stop``,
  ``synthesize-stopped``, ``error``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from wyoming.audio import AudioChunk as WyomingAudioChunk
from wyoming.audio import AudioStart, AudioStop
from wyoming.error import Error as WyomingError
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.ping import Ping, Pong
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
)

from ..conversation import outputs
from ..conversation.inputs import ClientInput, End, Malformed, Speak, StartStream, Text
from ..conversation.refusals import BAD_REQUEST, PROTOCOL_ERROR, UNKNOWN_EVENT, Refusal
from ..conversation.requests import UtteranceRequest
from ..sinks.wav import float_to_s16
from ..text.frontend import TextOptions

__all__ = [
    "ProtocolError",
    "WyomingLimits",
    "WyomingReader",
    "WyomingTranslator",
    "encode_event",
]


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
        while (event := self._next()) is not None:
            events.append(event)
        return events

    def _next(self) -> Event | None:
        if self._header is None:
            header = self._header_line()
            if header is None:
                return None
            self._need_data = _length(header, "data_length", self.limits.data_bytes)
            self._need_payload = _length(header, "payload_length", self.limits.payload_bytes)
            self._header = header
        if len(self._buffer) < self._need_data + self._need_payload:
            return None
        header, self._header = self._header, None
        data = dict(header.get("data") or {})
        if self._need_data:
            data.update(_json_object(bytes(self._buffer[: self._need_data]), "data"))
        start = self._need_data
        payload = bytes(self._buffer[start : start + self._need_payload]) or None
        del self._buffer[: start + self._need_payload]
        self._need_data = self._need_payload = 0
        return Event(type=header["type"], data=data, payload=payload)

    def _header_line(self) -> dict[str, Any] | None:
        limit = self.limits.header_bytes
        end = self._buffer.find(b"\n")
        if end < 0 and len(self._buffer) <= limit:
            return None
        if end < 0 or end > limit:
            raise ProtocolError(f"header line longer than {limit} bytes")
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
        return header


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as err:
        raise ProtocolError(f"{what} is not JSON: {err}") from err
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} must be a JSON object")
    return value


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


class WyomingTranslator:
    """Wyoming events ⇄ the conversation (sans-IO).

    ``info`` is the server's ``describe`` answer; ``rate_hz`` the voice's.
    Text is read as markdown (network clients are mostly LLM front ends;
    plain prose sounds the same) unless the client says ``ssml``.
    """

    def __init__(self, info: Event, rate_hz: int) -> None:
        self.info = info
        self.rate_hz = rate_hz

    def inputs(self, event: Event) -> list[ClientInput] | Event:
        """What ``event`` asks of the conversation, or a direct answer to send."""
        if Describe.is_type(event.type):
            return self.info
        if Ping.is_type(event.type):
            return Pong(text=Ping.from_event(event).text).event()
        if Synthesize.is_type(event.type):
            request = _parse(Synthesize, event)
            if request is None:
                return [Malformed(Refusal(BAD_REQUEST, "synthesize needs a text"))]
            return [Speak(request.text, _request(request))]
        if SynthesizeStart.is_type(event.type):
            start = _parse(SynthesizeStart, event)
            if start is None:
                return [Malformed(Refusal(BAD_REQUEST, "synthesize-start is malformed"))]
            return [StartStream(_request(start))]
        if SynthesizeChunk.is_type(event.type):
            chunk = _parse(SynthesizeChunk, event)
            if chunk is None:
                return [Malformed(Refusal(BAD_REQUEST, "synthesize-chunk needs a text"))]
            return [Text(chunk.text)]
        if SynthesizeStop.is_type(event.type):
            return [End()]
        refusal = Refusal(UNKNOWN_EVENT, f"unknown event type {event.type!r}")
        return [Malformed(refusal)]

    def events(self, report: outputs.ClientReport) -> list[Event]:
        """The events that carry ``report`` to the client."""
        rate = self.rate_hz
        if isinstance(report, outputs.Started):
            return [AudioStart(rate=rate, width=2, channels=1).event()]
        if isinstance(report, outputs.Audio):
            audio = float_to_s16(report.samples)
            return [WyomingAudioChunk(rate=rate, width=2, channels=1, audio=audio).event()]
        if isinstance(report, (outputs.Done, outputs.Stopped)):
            stop = [AudioStop().event()]
            return [*stop, SynthesizeStopped().event()] if report.streamed else stop
        if isinstance(report, outputs.Error):
            return [WyomingError(text=report.refusal.message, code=report.refusal.code).event()]
        return []  # segments, words and marks: Wyoming has no events for them


def protocol_refusal(error: ProtocolError) -> Refusal:
    """Bytes that are not Wyoming: reported, then the connection ends."""
    return Refusal(PROTOCOL_ERROR, str(error), fatal=True)


def _parse(kind: Any, event: Event) -> Any:
    try:
        parsed = kind.from_event(event)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    text = getattr(parsed, "text", "")
    return parsed if isinstance(text, str) else None


def _request(parsed: Synthesize | SynthesizeStart) -> UtteranceRequest:
    text_format = getattr(parsed.text_format, "value", parsed.text_format)
    reading = TextOptions(format="ssml" if text_format == "ssml" else "markdown")
    voice = getattr(parsed.voice, "name", None)
    return UtteranceRequest(reading=reading, voice=voice)
