"""The duplex WebSocket, ``/v1/stream``: a thin shell over the conversation.

Client → server, JSON text messages: ``{"type": "text", "text": ...}``,
``{"type": "flush"}`` (speak the words so far), ``{"type": "end"}`` (the
utterance's text is complete), ``{"type": "interrupt"}``. Text after an
end or an interrupt starts the next utterance (queued behind the one
speaking). The query may set ``text_format`` (markdown, plain, ssml),
``speed`` (0.25-4) and ``delivery`` (calm, lively).

Server → client: first ``{"type": "ready", "sample_rate_hz", "format":
"s16le"}``; then binary messages of audio (s16le mono at that rate) as
it is made, and JSON events: ``segment`` and ``word`` (with ``sample``,
their first sample counted from the connection's first), ``mark``,
``done`` (an utterance spoken), ``interrupted`` (with the last word
heard), ``error``.

:func:`parse_message` and :func:`report_messages` are the sans-IO halves;
:func:`stream_endpoint` is the shell.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import trio
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..conversation import outputs
from ..conversation.core import Conversation, Rules
from ..conversation.idle import IdleWatch
from ..conversation.inputs import ClientInput, End, Flush, Interrupt, Malformed, Text
from ..conversation.refusals import BAD_REQUEST, IDLE, UNKNOWN_EVENT, Refusal
from ..conversation.requests import UtteranceRequest, delivery, speaking_rate, text_format
from ..conversation.shell import ConversationShell
from ..sinks.wav import float_to_s16
from ..text.frontend import TextOptions
from .limits import HttpLimits
from .session import ServerState, open_session

__all__ = ["parse_message", "report_messages", "stream_endpoint", "websocket_request"]

_log = logging.getLogger(__name__)

_SIMPLE: dict[str, ClientInput] = {"flush": Flush(), "end": End(), "interrupt": Interrupt()}


def _malformed(message: str, code: str = BAD_REQUEST) -> Malformed:
    return Malformed(Refusal(code, message))


def parse_message(text: str | None, limits: HttpLimits) -> ClientInput:
    """One client message (``None``: a binary one) → the conversation's input."""
    if text is None:
        return _malformed("send JSON text messages, not binary")
    if len(text) > limits.message_bytes:
        return _malformed(f"message over {limits.message_bytes} bytes")
    try:
        message = json.loads(text)
        kind = message["type"]
    except (ValueError, TypeError, KeyError):
        return _malformed('each message must be a JSON object with a "type"')
    if kind == "text":
        piece = message.get("text")
        if not isinstance(piece, str):
            return _malformed('"text" must be a string')
        return Text(piece)
    if isinstance(kind, str) and kind in _SIMPLE:
        return _SIMPLE[kind]
    return _malformed(f"unknown message type {kind!r}", UNKNOWN_EVENT)


def websocket_request(query: Mapping[str, str]) -> tuple[UtteranceRequest, list[Refusal]]:
    """The utterances' settings from the query; what was wrong is said, and
    the default used instead."""
    problems = []
    try:
        reading = TextOptions(format=text_format(query.get("text_format", "markdown")))
    except Refusal as refusal:
        problems.append(Refusal(refusal.code, f"{refusal.message}; using markdown"))
        reading = TextOptions(format="markdown")
    try:
        rate = speaking_rate(float(query.get("speed", "1")))
    except (Refusal, ValueError):
        problems.append(Refusal(BAD_REQUEST, "speed must be a number from 0.25 to 4; using 1"))
        rate = 1.0
    chosen = None
    try:
        chosen = None if query.get("delivery") is None else delivery(query["delivery"])
    except Refusal as refusal:
        problems.append(Refusal(refusal.code, f"{refusal.message}; using the server's"))
    voice = query.get("voice")
    return UtteranceRequest(reading=reading, rate=rate, voice=voice, delivery=chosen), problems


def report_messages(report: outputs.ClientReport) -> list[bytes | str]:
    """What the client is sent for a report (binary audio, JSON events)."""
    if isinstance(report, outputs.Audio):
        return [float_to_s16(report.samples)]
    message: dict[str, Any] | None = None
    if isinstance(report, outputs.HeardWord):
        word = report.event
        message = {"type": "word", "word": word.word, "text_start": word.text_start}
        message |= {"text_end": word.text_end, "sample": word.position}
    elif isinstance(report, outputs.HeardSegment):
        segment = report.event
        message = {"type": "segment", "index": segment.segment_index, "text": segment.text}
        message |= {"text_start": segment.text_start, "sample": segment.position}
    elif isinstance(report, outputs.HeardMark):
        message = {"type": "mark", "name": report.name}
    elif isinstance(report, outputs.Done):
        message = {"type": "done", "audio_s": report.audio_s, "ttfa_s": report.ttfa_s}
    elif isinstance(report, outputs.Stopped):
        last = report.last_word
        heard = None
        if last is not None:
            heard = {"word": last.word, "text_start": last.text_start, "sample": last.position}
        message = {"type": "interrupted", "last_word": heard}
    elif isinstance(report, outputs.Error):
        message = {"type": "error", "message": report.refusal.message}
        message["code"] = report.refusal.code
    return [] if message is None else [json.dumps(message)]


async def _inputs(
    websocket: WebSocket, conversation: Conversation, limits: HttpLimits
) -> AsyncIterator[ClientInput]:
    watch = IdleWatch(limits.idle_s, trio.current_time())
    while True:
        with trio.move_on_after(watch.wait_s(trio.current_time())) as tick:
            message = await websocket.receive()
        if tick.cancelled_caught:
            if watch.expired(trio.current_time(), conversation.busy):
                yield Malformed(Refusal(IDLE, "closing: idle", fatal=True))
                return
            continue
        watch.heard(trio.current_time())
        if message["type"] == "websocket.disconnect":
            return
        yield parse_message(message.get("text"), limits)


async def stream_endpoint(websocket: WebSocket, state: ServerState, limits: HttpLimits) -> None:
    """Serve one WebSocket client until it goes away (see the module docstring)."""
    await websocket.accept()
    request, problems = websocket_request(websocket.query_params)
    rules = Rules(
        overlap="queue",
        text_opens_stream=True,
        refuse_end_outside_stream=False,
        max_text_chars=limits.stream_chars,
        voices=frozenset({state.voice.name}),
        stream_request=request,
    )
    conversation = Conversation(rules)

    async def write(report: outputs.ClientReport) -> None:
        for message in report_messages(report):
            if isinstance(message, bytes):
                await websocket.send_bytes(message)
            else:
                await websocket.send_text(message)

    rate = state.voice.sample_rate_hz
    try:
        await websocket.send_text(
            json.dumps({"type": "ready", "sample_rate_hz": rate, "format": "s16le"})
        )
        for problem in problems:
            await write(outputs.Error(problem))
        shell = ConversationShell(conversation, write)
        async with open_session(state, "websocket", shell) as session:
            await shell.run(session, _inputs(websocket, conversation, limits))
    except (WebSocketDisconnect, trio.BrokenResourceError, trio.ClosedResourceError):
        _log.debug("websocket: the client went away")
