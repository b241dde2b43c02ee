"""The remote form: the same conversation with ``streamtts serve`` over its
WebSocket door (``/v1/stream``; the protocol is in
:mod:`streamtts.serve.websocket`).

:class:`RemoteChannel` is a :class:`~.speech.SpeechChannel` over one
connection: the conversation's inputs become the door's messages
(``text``, ``flush``, ``end``, ``interrupt``) and its messages become the
same reports a local session makes. The door's messages carry no
utterance id; it speaks a connection's utterances in order, so the
channel keeps the same count the server does: audio, segments and words
belong to the oldest unfinished utterance, ``done`` and ``interrupted``
end it. ``sample`` positions count from the connection's first sample,
as a local session's do.

What the wire cannot say: an interrupt stops every unfinished utterance
of the connection (the door has no interrupt for one), and the reading
(``text_format``) and ``speed`` are the connection's, set when it opens.
:func:`connect` retries a failed connection as the frameworks' websocket
services do (three attempts, growing waits), never an authentication
refusal; a connection lost later ends the utterances on it with an
error, and the plugin opens a new one for the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import numpy as np

from ..conversation import outputs
from ..conversation.inputs import ClientInput, End, Flush, Interrupt, Speak, StartStream, Text
from ..conversation.refusals import AT_CAPACITY, BAD_INPUT, INTERNAL, Refusal
from ..errors import StreamTTSError
from ..events import SegmentStarted, WordStarted

__all__ = ["RemoteChannel", "RemoteUnavailable", "connect", "stream_url"]

_log = logging.getLogger(__name__)

RETRY_WAITS_S = (0.5, 1.0, 2.0)  # before the 2nd, 3rd, 4th attempt
_FAILURES = frozenset({BAD_INPUT, INTERNAL})  # end the utterance speaking (the oldest)


class RemoteUnavailable(StreamTTSError, ConnectionError):
    """``streamtts serve`` could not be reached (or refused the connection)."""


def stream_url(url: str, *, text_format: str, speed: float) -> str:
    """The door's address from what a user gives: ``ws://host:8000``,
    ``http://host:8000`` or the full ``.../v1/stream``; with the query."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss"):
        raise ValueError(f"url must be ws://, wss://, http:// or https://, got {url!r}")
    path = parts.path if parts.path not in ("", "/") else "/v1/stream"
    query = urlencode({"text_format": text_format, "speed": f"{speed:g}"})
    if parts.query:
        query = f"{parts.query}&{query}"
    return urlunsplit((scheme, parts.netloc, path, query, ""))


async def connect(
    url: str,
    *,
    token: str | None = None,
    text_format: str = "markdown",
    speed: float = 1.0,
    open_timeout_s: float = 5.0,
) -> RemoteChannel:
    """A channel to ``streamtts serve``, after its ``ready`` message."""
    from websockets.asyncio.client import connect as ws_connect
    from websockets.exceptions import InvalidStatus

    address = stream_url(url, text_format=text_format, speed=speed)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    failure: BaseException | None = None
    for attempt, wait_s in enumerate((0.0, *RETRY_WAITS_S)):
        if attempt:
            _log.info("streamtts: reconnecting to %s in %.1f s (%s)", url, wait_s, failure)
            await asyncio.sleep(wait_s)
        try:
            ws = await ws_connect(
                address, additional_headers=headers, open_timeout=open_timeout_s, max_size=2**20
            )
            try:
                ready = json.loads(await asyncio.wait_for(ws.recv(), open_timeout_s))
            except BaseException:
                await ws.close()
                raise
            return RemoteChannel(ws, int(ready["sample_rate_hz"]))
        except InvalidStatus as err:
            status = err.response.status_code
            if status in (401, 403):
                raise RemoteUnavailable(
                    f"{url} refused the connection ({status}): give the server's --token"
                ) from err
            failure = err
        except (OSError, TimeoutError, ValueError, KeyError) as err:
            failure = err
    raise RemoteUnavailable(f"cannot reach streamtts serve at {url}: {failure}") from failure


class RemoteChannel:
    """One WebSocket connection to ``streamtts serve`` (see the module docstring)."""

    def __init__(self, websocket: Any, sample_rate_hz: int) -> None:
        self.websocket = websocket
        self.sample_rate_hz = sample_rate_hz
        self._uids = 0
        self._unfinished: deque[int] = deque()  # oldest first, as the server speaks them
        self._ended = False

    @property
    def ended(self) -> bool:
        return self._ended

    async def send(self, item: ClientInput) -> None:
        if self._ended:
            raise RemoteUnavailable("the connection to streamtts serve is closed")
        messages: list[dict[str, str]]
        if isinstance(item, (StartStream, Speak)):
            self._uids += 1
            self._unfinished.append(self._uids)
            text = item.text if isinstance(item, Speak) else ""
            messages = [{"type": "text", "text": text}]  # text opens the next utterance
            if isinstance(item, Speak):
                messages.append({"type": "end"})
        elif isinstance(item, Text):
            messages = [{"type": "text", "text": item.text}]
        elif isinstance(item, Flush):
            messages = [{"type": "flush"}]
        elif isinstance(item, End):
            messages = [{"type": "end"}]
        elif isinstance(item, Interrupt):
            messages = [{"type": "interrupt"}]  # every unfinished one: the door's only kind
        else:
            return  # nothing else reaches a framework's channel
        try:
            for message in messages:
                await self.websocket.send(json.dumps(message))
        except Exception as err:
            self._ended = True
            raise RemoteUnavailable(f"the connection to streamtts serve was lost: {err}") from err

    def __aiter__(self) -> RemoteChannel:
        return self

    async def __anext__(self) -> outputs.ClientReport:
        from websockets.exceptions import ConnectionClosed

        while not self._ended:
            try:
                message = await self.websocket.recv()
            except ConnectionClosed:
                self._ended = True
                break
            report = self.report(message)
            if report is not None:
                return report
        raise StopAsyncIteration

    def report(self, message: str | bytes) -> outputs.ClientReport | None:
        """One server message as the conversation's report (None: nothing to report)."""
        head = self._unfinished[0] if self._unfinished else None
        if isinstance(message, bytes):
            if head is None:
                return None
            samples = np.frombuffer(message, "<i2").astype(np.float32) / 32767.0
            return outputs.Audio(head, samples)
        event = json.loads(message)
        kind = event.get("type")
        if kind == "error":
            return self._error(event)
        if head is None:
            return None
        if kind == "word":
            word = WordStarted(
                0, -1, event["word"], event["text_start"], event["text_end"], 0.0, event["sample"]
            )
            return outputs.HeardWord(head, word)
        if kind == "segment":
            segment = SegmentStarted(
                0, event["index"], event["text"], event["text_start"], 0.0, event["sample"]
            )
            return outputs.HeardSegment(head, segment)
        if kind == "mark":
            return outputs.HeardMark(head, event["name"])
        if kind == "done":
            self._unfinished.popleft()
            return outputs.Done(head, True, float(event["audio_s"]), event.get("ttfa_s"))
        if kind == "interrupted":
            self._unfinished.popleft()
            return outputs.Stopped(head, True, "interrupt", None)
        return None

    def _error(self, event: dict[str, Any]) -> outputs.Error:
        refusal = Refusal(str(event.get("code", INTERNAL)), str(event.get("message", "")))
        uid = None
        if refusal.code == AT_CAPACITY and self._unfinished:
            uid = self._unfinished.pop()  # refused as it opened: the newest
        elif refusal.code in _FAILURES and self._unfinished:
            uid = self._unfinished.popleft()  # failed while speaking: the oldest
        return outputs.Error(refusal, uid)

    async def aclose(self) -> None:
        self._ended = True
        with contextlib.suppress(asyncio.TimeoutError, OSError):
            await asyncio.wait_for(self.websocket.close(), 2.0)
