"""What Ray's HTTP proxy adds to the fleet's doors (an ASGI middleware).

A replica that dies mid-stream can say nothing: the proxy serving its
client only sees the replica's stream end. Without help, a WebSocket
client sees its connection drop (1006) and an SSE client a cut body. And
Ray's router queues a request that no replica has room for, without a
time limit. :class:`FleetErrors` runs in every proxy and fixes both:

- a WebSocket whose replica stopped (accepted, not closed by the replica,
  not left by its client) gets ``{"type": "error", "code":
  "replica-lost", ...}`` on ``/v1/stream`` and then close code 1011 (the
  Wyoming door turns that close into a Wyoming ``error``);
- an SSE response cut the same way gets an ``error`` event before the cut;
  an audio response is cut as it is (a client sees an incomplete body: a
  clean end would pass half an utterance off as whole);
- a request on ``/v1/`` (or a WebSocket) that no replica has started
  answering within ``STREAMTTS_FLEET_QUEUE_S`` (1 s) is taken out of Ray's
  queue and refused: 503 with ``Retry-After``. A replica answers at once
  (it admits or refuses an utterance without waiting), so only a request
  waiting for a replica with a free connection waits that long;
- Ray's own refusal (its queue full: 503 in plain text) is said in
  OpenAI's error shape on ``/v1/`` routes, and as an HTTP 503 to a
  WebSocket handshake (which Ray would otherwise turn into a 500).

Every node's proxy loads it from the environment of ``ray start``::

    RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH=streamtts.fleet.proxy:middlewares

It needs only Starlette of its own (it runs in the proxy, not in a replica).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from typing import Any

from starlette.middleware import Middleware

__all__ = ["REPLICA_LOST", "FleetErrors", "middlewares"]

REPLICA_LOST = "replica-lost"
_LOST = "the replica serving this session stopped; start again (the fleet has others)"
_RETRY_AFTER = "2"  # seconds, told with a refusal made here (a typical utterance)

Scope = dict[str, Any]
Message = dict[str, Any]

# Messages by which a replica has started to answer.
_ANSWERED = frozenset(
    {"http.response.start", "websocket.accept", "websocket.close", "websocket.http.response.start"}
)


def middlewares() -> list[Middleware]:
    """What ``RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH`` names."""
    return [Middleware(FleetErrors)]


def _path(scope: Scope) -> str:
    return str(scope.get("path", ""))


def _header(message: Message, name: bytes) -> str:
    for key, value in message.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return ""


def _at_capacity(retry_after: str, websocket: bool = False) -> list[Message]:
    """A refusal in OpenAI's error shape (as the replicas answer theirs)."""
    wait = f"; retry in {retry_after} s" if retry_after else ""
    error = {
        "message": f"the fleet is at capacity{wait}",
        "type": "server_error",
        "param": None,
        "code": "at_capacity",
    }
    body = json.dumps({"error": error}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if retry_after:
        headers.append((b"retry-after", retry_after.encode()))
    prefix = "websocket." if websocket else ""
    return [
        {"type": prefix + "http.response.start", "status": 503, "headers": headers},
        {"type": prefix + "http.response.body", "body": body},
    ]


class FleetErrors:
    """See the module docstring."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.queue_s = float(os.environ.get("STREAMTTS_FLEET_QUEUE_S", "1.0"))

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        elif scope["type"] == "http" and "/v1/" in _path(scope):
            await self._http(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _answered_soon(self, scope: Scope, receive: Any, send: Any) -> bool:
        """Run the proxy's app; False (it cancelled, nothing sent) when no
        replica started answering within ``queue_s``."""
        answered = asyncio.Event()

        async def watch(message: Message) -> None:
            if message["type"] in _ANSWERED:
                answered.set()
            await send(message)

        app = asyncio.ensure_future(self.app(scope, receive, watch))
        waiter = asyncio.ensure_future(answered.wait())
        try:
            await asyncio.wait(
                {app, waiter}, timeout=self.queue_s, return_when=asyncio.FIRST_COMPLETED
            )
            if not (app.done() or answered.is_set()):
                app.cancel()  # out of Ray's queue
                with contextlib.suppress(asyncio.CancelledError):
                    await app
                return False
            await app
            return True
        finally:
            waiter.cancel()
            app.cancel()

    async def _websocket(self, scope: Scope, receive: Any, send: Any) -> None:
        seen = {"accepted": False, "closed": False, "gone": False}

        async def watch_receive() -> Message:
            message: Message = await receive()
            if message["type"] == "websocket.disconnect":
                seen["gone"] = True
            return message

        async def watch_send(message: Message) -> None:
            kind = message["type"]
            if kind == "websocket.accept":
                seen["accepted"] = True
            elif kind == "websocket.close":
                seen["closed"] = True
            elif kind in ("http.response.start", "http.response.body"):
                # Ray refusing the handshake: an HTTP response, said the way
                # a WebSocket handshake can be refused.
                seen["closed"] = True
                message = {**message, "type": "websocket." + kind}
            await send(message)

        try:
            if not await self._answered_soon(scope, watch_receive, watch_send):
                for message in _at_capacity(_RETRY_AFTER, websocket=True):
                    await send(message)
        finally:
            if seen["accepted"] and not (seen["closed"] or seen["gone"]):
                await self._replica_lost(scope, send)

    async def _replica_lost(self, scope: Scope, send: Any) -> None:
        if _path(scope).endswith("/v1/stream"):
            event = {"type": "error", "code": REPLICA_LOST, "message": _LOST}
            await send({"type": "websocket.send", "text": json.dumps(event)})
        await send({"type": "websocket.close", "code": 1011, "reason": REPLICA_LOST})

    async def _http(self, scope: Scope, receive: Any, send: Any) -> None:
        seen = {"started": False, "sse": False, "ended": False, "refused": False}

        async def watch_send(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                seen["started"] = True
                content_type = _header(message, b"content-type")
                seen["sse"] = content_type.startswith("text/event-stream")
                if message.get("status") == 503 and content_type.startswith("text/plain"):
                    seen["refused"] = True  # Ray's own: its queue is full
                    for refusal in _at_capacity(_header(message, b"retry-after")):
                        await send(refusal)
                    return
            elif kind == "http.response.body":
                if seen["refused"]:
                    return  # said above, in OpenAI's shape
                seen["ended"] = not message.get("more_body", False)
            await send(message)

        if not await self._answered_soon(scope, receive, watch_send):
            for message in _at_capacity(_RETRY_AFTER):
                await send(message)
        elif seen["started"] and seen["sse"] and not seen["ended"]:
            event = {"type": "error", "error": {"message": _LOST, "code": REPLICA_LOST}}
            data = f"data: {json.dumps(event)}\n\n".encode()
            await send({"type": "http.response.body", "body": data, "more_body": True})
