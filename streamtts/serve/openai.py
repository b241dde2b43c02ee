"""OpenAI's speech API, ``POST /v1/audio/speech``: a thin shell over the
conversation.

- :func:`parse_speech_request` is the HTTP request model (sans-IO): a body
  → the request's wire choices and the conversation's :class:`Speak`, or a
  :class:`Refusal`. OpenAI's voice names all mean the loaded voice.
- :class:`SpeechResponse` turns the conversation's reports into ASGI
  messages (sans-IO): headers once admitted, audio as ``pcm`` (24 kHz s16le
  mono, as OpenAI defines it) or ``wav``, as bytes or as server-sent events
  (``speech.audio.delta``, ``speech.audio.done``).
- :class:`AudioEndpoint` is the ASGI app that reads the body, runs one
  conversation, and cancels it when the client disconnects; the captioned
  speech door (``captioned.py``) is the same app with its own request
  model and response.

Errors take OpenAI's shape; the status comes from the refusal's code
(:func:`status_for`), never from its message.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import trio
from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from ..conversation import outputs
from ..conversation.core import Conversation, Rules
from ..conversation.inputs import ClientInput, Speak
from ..conversation.refusals import (
    AT_CAPACITY,
    BAD_REQUEST,
    BODY_TOO_LARGE,
    INTERNAL,
    Refusal,
)
from ..conversation.requests import UtteranceRequest, delivery, speaking_rate, text_format
from ..conversation.shell import ConversationShell
from ..text.frontend import TextOptions
from .formats import OPENAI_RATE_HZ, RESPONSE_FORMATS, AudioEncoder, sse_delta, sse_event
from .limits import HttpLimits
from .session import ServerState, open_session

__all__ = [
    "OPENAI_VOICES",
    "AudioEndpoint",
    "HttpResponse",
    "SpeechRequest",
    "SpeechResponse",
    "body_message",
    "json_body",
    "loudness_field",
    "openai_error",
    "parse_speech_request",
    "speak_fields",
    "speech_endpoint",
    "status_for",
]

# OpenAI's stock voice names: a client written for OpenAI sends one of these;
# they all mean the voice this server has loaded.
OPENAI_VOICES = frozenset(
    {
        "alloy",
        "ash",
        "ballad",
        "coral",
        "echo",
        "fable",
        "onyx",
        "nova",
        "sage",
        "shimmer",
        "verse",
        "marin",
        "cedar",
    }
)

_STATUS = {BAD_REQUEST: 400, BODY_TOO_LARGE: 413, AT_CAPACITY: 503, INTERNAL: 500}


def status_for(refusal: Refusal) -> int:
    """The HTTP status of a refusal (400 unless its code says otherwise)."""
    return _STATUS.get(refusal.code, 400)


def openai_error(refusal: Refusal, status: int | None = None) -> JSONResponse:
    status = status or status_for(refusal)
    kind = "invalid_request_error" if status < 500 else "server_error"
    code = refusal.code.replace("-", "_") if status >= 500 else None
    body = {"error": {"message": refusal.message, "type": kind, "param": refusal.param}}
    body["error"]["code"] = code
    headers = {}
    if refusal.retry_after_s is not None:
        headers["Retry-After"] = str(max(1, math.ceil(refusal.retry_after_s)))
    return JSONResponse(body, status_code=status, headers=headers)


@dataclass(frozen=True)
class SpeechRequest:
    """What a client asked for on the wire, beside what it asked to be said."""

    response_format: str
    stream_format: str
    speak: Speak
    loudness_lufs: float | None = None  # this response's own loudness target


def _bad(message: str, param: str | None = None) -> Refusal:
    return Refusal(BAD_REQUEST, message, param=param)


def json_body(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or a refusal."""
    try:
        fields = json.loads(body)
    except ValueError as err:
        raise _bad(f"the body is not JSON: {err}") from err
    if not isinstance(fields, dict):
        raise _bad("the body must be a JSON object")
    return fields


def speak_fields(fields: dict[str, Any], voice_name: str, default_format: str) -> tuple[Speak, str]:
    """What OpenAI-style speech requests share: ``input``, ``model``,
    ``voice`` (OpenAI's names mean the loaded voice), ``speed``,
    ``response_format`` and our ``text_format`` and ``delivery``; the
    utterance and the audio format, or a refusal."""
    text = fields.get("input")
    if not isinstance(text, str) or not text.strip():
        raise _bad("'input' must be a non-empty string", "input")
    if not isinstance(fields.get("model", "streamtts"), str):
        raise _bad("'model' must be a string", "model")
    voice = fields.get("voice", voice_name)
    if isinstance(voice, dict):  # newer SDKs may send {"id": ...}
        voice = voice.get("id")
    if voice in OPENAI_VOICES:
        voice = voice_name
    if not isinstance(voice, str):
        raise _bad("'voice' must be a voice's name", "voice")
    response_format = fields.get("response_format", default_format)
    if response_format not in RESPONSE_FORMATS:
        choices = " or ".join(repr(f) for f in RESPONSE_FORMATS)
        raise _bad(
            f"response_format {response_format!r} is not supported; use {choices}",
            "response_format",
        )
    reading = TextOptions(format=text_format(fields.get("text_format", "markdown")))
    rate = speaking_rate(fields.get("speed", 1.0))
    chosen = None if fields.get("delivery") is None else delivery(fields["delivery"])
    request = UtteranceRequest(reading=reading, rate=rate, voice=voice, delivery=chosen)
    return Speak(text, request), response_format


def parse_speech_request(body: bytes, voice_name: str) -> SpeechRequest:
    """The request model of ``/v1/audio/speech``; raises a :class:`Refusal`."""
    fields = json_body(body)
    speak, response_format = speak_fields(fields, voice_name, default_format="pcm")
    stream_format = fields.get("stream_format", "audio")
    if stream_format not in ("audio", "sse"):
        raise _bad("stream_format must be 'audio' or 'sse'", "stream_format")
    return SpeechRequest(response_format, stream_format, speak, loudness_field(fields))


def loudness_field(fields: dict[str, Any]) -> float | None:
    """Our extra field ``loudness`` (LUFS, -70 to -5): the response's
    loudness target; None for the server's."""
    value = fields.get("loudness")
    if value is None:
        return None
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or not -70.0 <= value <= -5.0
    ):
        raise _bad("loudness must be a number of LUFS from -70 to -5 (e.g. -16)", "loudness")
    return float(value)


class SpeechResponse:
    """The conversation's reports → ASGI response messages (sans-IO)."""

    def __init__(self, request: SpeechRequest, voice_rate_hz: int) -> None:
        self.sse = request.stream_format == "sse"
        self.encoder = AudioEncoder(voice_rate_hz, request.response_format)
        self.started = False
        self.ended = False

    def messages(self, report: outputs.ClientReport) -> list[Message]:
        if isinstance(report, outputs.Started):
            self.started = True
            content_type = "text/event-stream" if self.sse else self.encoder.content_type
            headers = [(b"content-type", content_type.encode()), (b"cache-control", b"no-store")]
            start = {"type": "http.response.start", "status": 200, "headers": headers}
            return [start] if self.sse else [start, body_message(self.encoder.start())]
        if isinstance(report, outputs.Audio):
            pcm = self.encoder.encode(report.samples)
            return [body_message(sse_delta(pcm) if self.sse else pcm)] if pcm else []
        if isinstance(report, (outputs.Done, outputs.Stopped)):
            return self._finish()
        if isinstance(report, outputs.Error) and self.started:
            # Too late for a status: the stream ends (with an error event in SSE).
            self.ended = True
            error = {"type": "error", "error": {"message": report.refusal.message}}
            return [body_message(sse_event(error) if self.sse else b"", more=False)]
        return []

    def _finish(self) -> list[Message]:
        self.ended = True
        tail = self.encoder.finish()
        if not self.sse:
            return [body_message(tail, more=False)]
        seconds = self.encoder.samples_out / OPENAI_RATE_HZ
        done = {"type": "speech.audio.done", "usage": {"audio_seconds": round(seconds, 3)}}
        delta = [body_message(sse_delta(tail))] if tail else []
        return [*delta, body_message(sse_event(done), more=False)]


def body_message(data: bytes, more: bool = True) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": more}


async def _read_body(receive: Receive, limit: int) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise trio.BrokenResourceError("the client went away")
        body += message.get("body", b"")
        if len(body) > limit:
            raise Refusal(BODY_TOO_LARGE, f"the request body is over {limit} bytes")
        if not message.get("more_body", False):
            return bytes(body)


class HttpResponse(Protocol):
    """One response's reports → ASGI messages (sans-IO)."""

    started: bool
    ended: bool

    def messages(self, report: outputs.ClientReport) -> list[Message]: ...


class AudioEndpoint:
    """An OpenAI-style audio request as a raw ASGI app, so one conversation
    (and its session) runs for as long as the response streams: ``parse``
    reads the body into a request with a ``speak``; ``respond`` makes the
    request's :class:`HttpResponse`. A refusal before the response started
    is an error response with its status; a client that disconnects
    cancels its work at once."""

    def __init__(
        self,
        state: ServerState,
        limits: HttpLimits,
        parse: Callable[[bytes, str], Any],
        respond: Callable[[Any, int], HttpResponse],
        door: str = "http",
    ) -> None:
        self.state = state
        self.limits = limits
        self.parse = parse
        self.respond = respond
        self.door = door
        self.rules = Rules(
            overlap="refuse",
            max_text_chars=limits.input_chars,
            text_param="input",
            voices=frozenset({state.voice.name}),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.state.responses += 1  # a drain waits for this response's end
        try:
            await self._respond(scope, receive, send)
        finally:
            self.state.responses -= 1

    async def _respond(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await _read_body(receive, self.limits.body_bytes)
            request = self.parse(body, self.state.voice.name)
        except Refusal as refusal:
            await openai_error(refusal)(scope, receive, send)
            return
        except trio.BrokenResourceError:
            return
        response = self.respond(request, self.state.voice.sample_rate_hz)
        refused: list[Refusal] = []

        async def write(report: outputs.ClientReport) -> None:
            if isinstance(report, outputs.Error) and not response.started:
                refused.append(report.refusal)
                return
            for message in response.messages(report):
                await send(message)

        async def inputs() -> AsyncIterator[ClientInput]:
            yield request.speak

        async with trio.open_nursery() as nursery:
            nursery.start_soon(_cancel_on_disconnect, receive, nursery.cancel_scope)
            shell = ConversationShell(Conversation(self.rules), write)
            loudness = getattr(request, "loudness_lufs", None)
            async with open_session(
                self.state, self.door, shell, loudness_lufs=loudness
            ) as session:
                await shell.run(session, inputs(), linger=True)
            nursery.cancel_scope.cancel()
        if refused:
            await openai_error(refused[0])(scope, receive, send)
        elif not response.ended and response.started:
            await send(body_message(b"", more=False))


def speech_endpoint(state: ServerState, limits: HttpLimits) -> AudioEndpoint:
    """``POST /v1/audio/speech``."""
    return AudioEndpoint(state, limits, parse_speech_request, SpeechResponse)


async def _cancel_on_disconnect(receive: Receive, scope: trio.CancelScope) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            scope.cancel()
            return
