"""The HTTP and WebSocket doors: an ASGI app (Starlette) served by hypercorn
on trio.

- ``POST /v1/audio/speech``: OpenAI's speech API. ``response_format`` ``pcm``
  (24 kHz s16le mono, as OpenAI defines it) or ``wav``; ``stream_format``
  ``audio`` (bytes as they are made) or ``sse`` (``speech.audio.delta`` /
  ``speech.audio.done`` events). Errors in OpenAI's shape.
- ``GET /v1/models``, ``GET /v1/voices``, ``GET /healthz``, ``GET /metrics``.
- ``/v1/stream``: a duplex WebSocket (see :func:`stream_endpoint`).

Every request is one session (its own pipeline on the shared voice). A
client that stops reading pauses its session; one that disconnects
cancels it.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
from dataclasses import dataclass
from typing import Any

import numpy as np
import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..engine import TextStream
from ..events import (
    Event,
    Interrupted,
    MarkReached,
    SegmentStarted,
    UtteranceDone,
    WordStarted,
)
from ..sinks.wav import float_to_s16
from .formats import OPENAI_RATE_HZ, RESPONSE_FORMATS, AudioEncoder, sse_delta, sse_event
from .page import page_routes
from .session import AtCapacity, ServerState, Session, open_session

__all__ = ["HttpLimits", "build_app"]

_log = logging.getLogger(__name__)

# OpenAI's stock voice names: a client written for OpenAI sends one of these;
# they all mean the voice this server has loaded.
OPENAI_VOICES = frozenset(
    [
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
    ]
)


@dataclass(frozen=True)
class HttpLimits:
    body_bytes: int = 64 * 1024
    input_chars: int = 4096  # OpenAI's limit for /v1/audio/speech
    message_bytes: int = 64 * 1024  # one WebSocket message
    stream_chars: int = 200_000  # all the text of one WebSocket utterance
    idle_s: float = 120.0  # a WebSocket with no message for this long is closed


def openai_error(
    status: int,
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


class _BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class SpeechRequest:
    text: str
    response_format: str
    stream_format: str
    speed: float
    text_format: str

    @classmethod
    def parse(cls, body: Any, state: ServerState, limits: HttpLimits) -> SpeechRequest:
        if not isinstance(body, dict):
            raise _BadRequest("the body must be a JSON object")
        text = body.get("input")
        if not isinstance(text, str) or not text.strip():
            raise _BadRequest("'input' must be a non-empty string", "input")
        if len(text) > limits.input_chars:
            raise _BadRequest(
                f"'input' is {len(text)} characters; the limit is {limits.input_chars}", "input"
            )
        if not isinstance(body.get("model", "streamtts"), str):
            raise _BadRequest("'model' must be a string", "model")
        voice = body.get("voice", state.voice.name)
        if isinstance(voice, dict):  # newer SDKs may send {"id": ...}
            voice = voice.get("id")
        if voice not in OPENAI_VOICES and voice != state.voice.name:
            raise _BadRequest(
                f"unknown voice {voice!r}; this server speaks {state.voice.name!r} "
                "(OpenAI's voice names map to it too)",
                "voice",
            )
        response_format = body.get("response_format", "pcm")
        if response_format not in RESPONSE_FORMATS:
            raise _BadRequest(
                f"response_format {response_format!r} is not supported; use "
                + " or ".join(repr(f) for f in RESPONSE_FORMATS),
                "response_format",
            )
        stream_format = body.get("stream_format", "audio")
        if stream_format not in ("audio", "sse"):
            raise _BadRequest("stream_format must be 'audio' or 'sse'", "stream_format")
        speed = body.get("speed", 1.0)
        if (
            not isinstance(speed, (int, float))
            or isinstance(speed, bool)
            or not math.isfinite(speed)
            or not 0.25 <= speed <= 4.0
        ):
            raise _BadRequest("speed must be a number from 0.25 to 4.0", "speed")
        text_format = body.get("text_format", "markdown")  # an extension of OpenAI's API
        if text_format not in ("markdown", "plain", "ssml"):
            raise _BadRequest("text_format must be 'markdown', 'plain' or 'ssml'", "text_format")
        return cls(text, response_format, stream_format, float(speed), text_format)


async def _read_body(receive: Receive, limit: int) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise trio.BrokenResourceError("the client went away")
        body += message.get("body", b"")
        if len(body) > limit:
            raise _BadRequest(f"the request body is over {limit} bytes")
        if not message.get("more_body", False):
            return bytes(body)


class SpeechEndpoint:
    """``POST /v1/audio/speech`` as a raw ASGI app, so it can run a session
    (and its nurseries) for as long as the response streams."""

    def __init__(self, state: ServerState, limits: HttpLimits) -> None:
        self.state = state
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await _read_body(receive, self.limits.body_bytes)
            try:
                parsed = json.loads(body)
            except ValueError as err:
                raise _BadRequest(f"the body is not JSON: {err}") from err
            request = SpeechRequest.parse(parsed, self.state, self.limits)
        except _BadRequest as err:
            status = 413 if "body is over" in str(err) else 400
            await openai_error(status, str(err), param=err.param)(scope, receive, send)
            return
        except trio.BrokenResourceError:
            return
        async with trio.open_nursery() as nursery:
            # A client that disconnects cancels its work at once.
            nursery.start_soon(_cancel_on_disconnect, receive, nursery.cancel_scope)
            await self._respond(request, scope, receive, send)
            nursery.cancel_scope.cancel()

    async def _respond(
        self, request: SpeechRequest, scope: Scope, receive: Receive, send: Send
    ) -> None:
        encoder = AudioEncoder(self.state.voice.sample_rate_hz, request.response_format)
        sse = request.stream_format == "sse"
        started = False

        async def body(data: bytes, more: bool = True) -> None:
            await send({"type": "http.response.body", "body": data, "more_body": more})

        async def deliver(samples: np.ndarray) -> None:
            pcm = encoder.encode(samples)
            if pcm:
                await body(sse_delta(pcm) if sse else pcm)

        async with open_session(self.state, "http", deliver, rate=request.speed) as session:
            try:
                async with session.utterance(request.text_format) as stream:
                    content_type = "text/event-stream" if sse else encoder.content_type
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 200,
                            "headers": [
                                (b"content-type", content_type.encode()),
                                (b"cache-control", b"no-store"),
                            ],
                        }
                    )
                    started = True
                    if not sse:
                        await body(encoder.start())
                    await stream.send(request.text)
            except AtCapacity as err:
                if not started:
                    retry = str(math.ceil(err.retry_after_s))
                    response = openai_error(
                        503, str(err), code="at_capacity", headers={"Retry-After": retry}
                    )
                    await response(scope, receive, send)
                return
        tail = encoder.finish()
        if sse:
            if tail:
                await body(sse_delta(tail))
            seconds = encoder.samples_out / OPENAI_RATE_HZ
            done = {"type": "speech.audio.done", "usage": {"audio_seconds": round(seconds, 3)}}
            await body(sse_event(done), more=False)
        else:
            await body(tail, more=False)


async def _cancel_on_disconnect(receive: Receive, scope: trio.CancelScope) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            scope.cancel()
            return


class _Guarded:
    """An ASGI app behind the bearer token (Starlette runs a plain function
    as a request handler; this class is run as an ASGI app)."""

    def __init__(self, app: SpeechEndpoint, auth: _Authorizer) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.auth.allows(Request(scope).headers):
            await self.app(scope, receive, send)
        else:
            await _unauthorized()(scope, receive, send)


class _Authorizer:
    def __init__(self, token: str | None) -> None:
        self.token = token

    def allows(self, headers: Any, query: Any = None) -> bool:
        if self.token is None:
            return True
        given = headers.get("authorization", "")
        if given.lower().startswith("bearer "):
            given = given[7:]
        elif query is not None:  # browsers cannot set headers on a WebSocket
            given = query.get("token", "")
        return secrets.compare_digest(given.encode(), self.token.encode())


def build_app(state: ServerState, token: str | None, limits: HttpLimits | None = None) -> Any:
    """The ASGI app of the HTTP and WebSocket doors."""
    limits = limits or HttpLimits()
    auth = _Authorizer(token)
    speech = SpeechEndpoint(state, limits)

    speech_route = _Guarded(speech, auth)

    async def models(request: Request) -> Response:
        if not auth.allows(request.headers):
            return _unauthorized()
        return JSONResponse(
            {
                "object": "list",
                "data": [{"id": "streamtts", "object": "model", "created": 0, "owned_by": "local"}],
            }
        )

    async def voices(request: Request) -> Response:
        if not auth.allows(request.headers):
            return _unauthorized()
        voice = state.voice
        return JSONResponse(
            {
                "voices": [
                    {
                        "id": voice.name,
                        "language": voice.config.language,
                        "sample_rate_hz": voice.sample_rate_hz,
                        "aliases": sorted(OPENAI_VOICES),
                    }
                ]
            }
        )

    async def healthz(request: Request) -> Response:
        body = {
            "status": "draining" if state.draining else "ok",
            "voice": state.voice.name,
            "active": state.admission.active,
            "capacity": state.admission.capacity,
            "connections": state.sessions,
            "model_calls": state.scheduler.granted,
            **_process_health(),
        }
        return JSONResponse(body, status_code=503 if state.draining else 200)

    async def metrics(request: Request) -> Response:
        if not auth.allows(request.headers):
            return _unauthorized()
        return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")

    async def stream(websocket: WebSocket) -> None:
        if not auth.allows(websocket.headers, websocket.query_params):
            await websocket.close(code=1008, reason="missing or wrong token")
            return
        await stream_endpoint(websocket, state, limits)

    routes = [
        Route("/v1/audio/speech", speech_route, methods=["POST"]),
        Route("/v1/models", models),
        Route("/v1/voices", voices),
        Route("/healthz", healthz),
        Route("/metrics", metrics),
        WebSocketRoute("/v1/stream", stream),
        *page_routes(token_required=token is not None),
    ]
    return Starlette(routes=routes)


def _process_health() -> dict[str, float]:
    """Threads, trio tasks and resident memory: what a leak would grow."""
    import os
    import threading

    tasks = 0
    root = trio.lowlevel.current_root_task()
    pending = [] if root is None else [root]
    while pending:
        task = pending.pop()
        tasks += 1
        for nursery in task.child_nurseries:
            pending.extend(nursery.child_tasks)
    with open(f"/proc/{os.getpid()}/statm") as statm:
        rss_pages = int(statm.read().split()[1])
    return {
        "threads": threading.active_count(),
        "tasks": tasks,
        "rss_mb": round(rss_pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1),
    }


def _unauthorized() -> JSONResponse:
    return openai_error(401, "missing or wrong bearer token (Authorization: Bearer TOKEN)")


# -- the WebSocket ---------------------------------------------------------------


async def stream_endpoint(websocket: WebSocket, state: ServerState, limits: HttpLimits) -> None:
    """Duplex speech: text in as it comes, audio and events out.

    Client → server, JSON text messages: ``{"type": "text", "text": ...}``,
    ``{"type": "flush"}`` (speak the words so far), ``{"type": "end"}`` (the
    utterance's text is complete), ``{"type": "interrupt"}``. Text after an
    end or an interrupt starts the next utterance.

    Server → client: first ``{"type": "ready", "sample_rate_hz", "format":
    "s16le"}``; then binary messages of audio (s16le mono at that rate) as
    it is made, and JSON events: ``segment`` and ``word`` (with ``sample``,
    their first sample counted from the connection's first), ``done`` (an
    utterance spoken), ``interrupted`` (with ``samples_sent`` and the last
    word sent), ``error``.
    """
    await websocket.accept()
    out_send, out_receive = trio.open_memory_channel[bytes | str](64)
    rate = state.voice.sample_rate_hz

    async def deliver(samples: np.ndarray) -> None:
        await out_send.send(float_to_s16(samples))

    def on_event(event: Event) -> None:
        message = _event_message(event)
        if message is not None:
            try:
                out_send.send_nowait(json.dumps(message))
            except trio.WouldBlock:  # only marks; audio has its own backpressure
                _log.warning("websocket: dropped a %s event for a slow client", message["type"])

    async def writer() -> None:
        async for message in out_receive:
            if isinstance(message, bytes):
                await websocket.send_bytes(message)
            else:
                await websocket.send_text(message)

    try:
        async with (
            trio.open_nursery() as nursery,
            open_session(state, "websocket", deliver, on_event) as session,
        ):
            nursery.start_soon(writer)
            await out_send.send(
                json.dumps({"type": "ready", "sample_rate_hz": rate, "format": "s16le"})
            )
            await _serve_messages(websocket, session, nursery, out_send, limits)
            nursery.cancel_scope.cancel()
    except (WebSocketDisconnect, trio.BrokenResourceError, trio.ClosedResourceError):
        pass


def _event_message(event: Event) -> dict[str, Any] | None:
    if isinstance(event, WordStarted):
        return {
            "type": "word",
            "word": event.word,
            "text_start": event.text_start,
            "text_end": event.text_end,
            "sample": event.position,
        }
    if isinstance(event, SegmentStarted):
        return {
            "type": "segment",
            "index": event.segment_index,
            "text": event.text,
            "text_start": event.text_start,
            "sample": event.position,
        }
    if isinstance(event, UtteranceDone):
        return {"type": "done", "audio_s": event.stats.audio_s, "ttfa_s": event.stats.ttfa_s}
    if isinstance(event, MarkReached):
        return {"type": "mark", "name": event.name}
    if isinstance(event, Interrupted):
        last = event.last_word
        return {
            "type": "interrupted",
            "last_word": None
            if last is None
            else {"word": last.word, "text_start": last.text_start, "sample": last.position},
        }
    return None


class _Utterance:
    """The WebSocket's current utterance: its text stream and its task."""

    def __init__(self) -> None:
        self.stream: TextStream | None = None
        self.ready = trio.Event()
        self.finished = trio.Event()
        self.chars = 0
        self.end = trio.Event()


async def _serve_messages(
    websocket: WebSocket,
    session: Session,
    nursery: trio.Nursery,
    out: trio.MemorySendChannel[bytes | str],
    limits: HttpLimits,
) -> None:
    current: _Utterance | None = None

    async def error(message: str) -> None:
        await out.send(json.dumps({"type": "error", "message": message}))

    text_format = websocket.query_params.get("text_format", "markdown")
    if text_format not in ("markdown", "plain", "ssml"):
        await error("text_format must be markdown, plain or ssml; using markdown")
        text_format = "markdown"

    async def run(utterance: _Utterance) -> None:
        try:
            async with session.utterance(text_format) as stream:
                utterance.stream = stream
                utterance.ready.set()
                await utterance.end.wait()
        except AtCapacity as err:
            await error(str(err))
        finally:
            utterance.ready.set()
            utterance.finished.set()

    while True:
        with trio.move_on_after(limits.idle_s if current is None else math.inf) as idle:
            message = await websocket.receive()
        if idle.cancelled_caught:
            await error("closing: idle")
            return
        if message["type"] == "websocket.disconnect":
            return
        raw = message.get("text")
        if raw is None:
            await error("send JSON text messages, not binary")
            continue
        if len(raw) > limits.message_bytes:
            await error(f"message over {limits.message_bytes} bytes")
            continue
        try:
            request = json.loads(raw)
            kind = request["type"]
        except (ValueError, TypeError, KeyError):
            await error('each message must be a JSON object with a "type"')
            continue
        if current is not None and current.finished.is_set():
            current = None
        if kind == "text":
            text = request.get("text")
            if not isinstance(text, str):
                await error('"text" must be a string')
                continue
            if current is None:
                current = _Utterance()
                nursery.start_soon(run, current)
                await current.ready.wait()
            current.chars += len(text)
            if current.chars > limits.stream_chars:
                await error(f"the utterance's text is over {limits.stream_chars} characters")
                continue
            if current.stream is not None:
                await current.stream.send(text)
        elif kind == "flush":
            if current is not None and current.stream is not None:
                await current.stream.flush()
        elif kind == "end":
            if current is not None:
                current.end.set()
                current = None
        elif kind == "interrupt":
            if current is not None:
                current.end.set()
                await session.interrupt()
                current = None
        else:
            await error(f"unknown message type {kind!r}")
