"""One replica of the fleet: the engine of ``streamtts serve`` in a Ray actor.

A replica loads and warms the voice once, makes the server's scheduler
and admission for its CPUs, and serves the doors' app (OpenAI's speech
API, the WebSocket, models, voices) under trio in the replica (see
:mod:`._guest`), plus two routes of its own:

- ``GET /healthz``: the server's health, which replica answered
  (``replica``, ``node``, ``pid``), its open Wyoming connections and when
  an utterance last ended on it (``last_utterance_end_s``, wall clock),
  without the token, as ``/healthz`` is;
- ``/v1/wyoming`` (WebSocket, token): one Wyoming connection carried as
  binary messages, served by the Wyoming door's own shell. The per-node
  Wyoming door (:mod:`._door`) forwards Home Assistant's TCP connections
  here through Ray's proxy.

Every response says which replica served it (``x-streamtts-replica``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..errors import ConfigError
from ..serve.auth import Authorizer
from ..serve.health import health
from ..serve.http import build_app
from ..serve.limits import HttpLimits
from ..serve.scheduler import Admission, ModelScheduler
from ..serve.server import SERVER_SCHEDULE
from ..serve.session import ServerState
from ..serve.wyoming import serve_connection
from ..serve.wyoming_wire import WyomingLimits
from ..voices.options import VoiceOptions
from ..voices.piper import PiperVoice
from ._guest import TrioASGI, TrioGuest
from ._health import EngineHealth
from ._metrics import FleetMetrics
from ._options import FleetOptions

__all__ = ["REPLICA_HEADER", "StreamTTS"]

_log = logging.getLogger(__name__)

REPLICA_HEADER = "x-streamtts-replica"

# Ray's health check also asks the trio run to take a step within this.
_RESPONSIVE_S = 2.0
# A replica's first utterance (its warm-up) takes well under this.
_WARM_S = 60.0


def fleet_token(options: FleetOptions) -> str | None:
    """The bearer token: the options', else the replica's STREAMTTS_TOKEN;
    none at all only when asked for (``no_auth``)."""
    token = options.token or os.environ.get("STREAMTTS_TOKEN") or None
    if token is None and not options.no_auth:
        raise ConfigError(
            "a fleet is reached over the network: give token=SECRET (clients send "
            "'Authorization: Bearer SECRET'), set STREAMTTS_TOKEN on the replicas, "
            "or no_auth=true"
        )
    return token


class _WebSocketStream(trio.abc.Stream):
    """A WebSocket's binary messages as a byte stream (the Wyoming shell's socket)."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.closed = False

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self.closed:
            raise trio.ClosedResourceError("the WebSocket is closed")
        try:
            await self.websocket.send_bytes(bytes(data))
        except (OSError, RuntimeError, WebSocketDisconnect) as err:  # its client is gone
            self.closed = True
            raise trio.BrokenResourceError("the WebSocket is gone") from err

    async def wait_send_all_might_not_block(self) -> None:
        return None

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        while not self.closed:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                self.closed = True
                break
            data = message.get("bytes") or (message.get("text") or "").encode()
            if data:
                return bytes(data)
        return b""

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            await self.websocket.close(code=1000)


def _fleet_app(
    state: ServerState, token: str | None, limits: HttpLimits, about: Callable[[], dict[str, Any]]
) -> Any:
    """The doors' app with the replica's own two routes in front (under trio)."""
    auth = Authorizer(token)
    wyoming_limits = WyomingLimits(idle_s=limits.idle_s)
    wyoming_connections = 0

    async def healthz(request: Request) -> Response:
        found = {**health(state), **about(), "wyoming_connections": wyoming_connections}
        return JSONResponse(found, status_code=503 if state.draining else 200)

    async def wyoming(websocket: WebSocket) -> None:
        nonlocal wyoming_connections
        if not auth.allows(websocket.headers, websocket.query_params):
            await websocket.close(code=1008, reason="missing or wrong token")
            return
        await websocket.accept()
        wyoming_connections += 1
        try:
            await serve_connection(_WebSocketStream(websocket), state, wyoming_limits)
        finally:
            wyoming_connections -= 1

    routes = [
        Route("/healthz", healthz),
        WebSocketRoute("/v1/wyoming", wyoming),
        Mount("/", app=build_app(state, token, limits)),
    ]
    return Starlette(routes=routes)


async def _speak_once(app: Any, token: str | None) -> None:
    """``POST /v1/audio/speech`` to ``app`` in this process; raises unless
    it answers 200 with audio."""
    body = json.dumps({"input": "Ready.", "response_format": "pcm"}).encode()
    headers = [(b"content-type", b"application/json")]
    if token is not None:
        headers.append((b"authorization", b"Bearer " + token.encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/audio/speech",
        "raw_path": b"/v1/audio/speech",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 0),
    }
    requests = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if requests:
            return requests.pop()
        await trio.sleep_forever()  # a client that stays to the end
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with trio.fail_after(_WARM_S):
        await app(scope, receive, send)
    audio = sum(len(m.get("body", b"")) for m in sent if m["type"] == "http.response.body")
    if not sent or sent[0].get("status") != 200 or audio == 0:
        raise RuntimeError(f"the replica could not speak: {sent[:2]}")


class StreamTTS:
    """The replica (a Ray Serve deployment with ``@serve.ingress()``)."""

    async def __init__(self, options: FleetOptions) -> None:  # type: ignore[misc]  # Ray awaits it
        """Ready when Ray may route to it: the voice loaded and warm, and one
        utterance spoken through the app itself (its first pays every
        first-call cost); a replica that cannot speak fails here."""
        from ray import serve
        from ray.runtime_context import get_runtime_context

        from ..synthesis import load_warm_voice

        self.options = options
        self.token = fleet_token(options)
        self.replica = serve.get_replica_context().replica_id.unique_id
        self.identity = {
            "replica": self.replica,
            "node": get_runtime_context().get_node_id(),
            "pid": os.getpid(),
        }
        started = time.monotonic()
        voice = await asyncio.to_thread(
            load_warm_voice, options.voice, VoiceOptions(threads=options.threads)
        )
        self.health = EngineHealth()
        self.guest = TrioGuest()
        await self.guest.start()
        self.state = await self.guest.run(lambda: self._state(voice))
        limits = HttpLimits(idle_s=options.idle_timeout_s)
        self.doors = _fleet_app(self.state, self.token, limits, self._about)
        await self.guest.run(lambda: _speak_once(self.doors, self.token))
        self.state.metrics = FleetMetrics(self.health)  # counting from here
        _log.info(
            "streamtts replica %s: %s ready in %.1f s; %d sessions",
            self.replica,
            voice.name,
            time.monotonic() - started,
            options.sessions,
        )

    async def _state(self, voice: PiperVoice) -> ServerState:
        """The server's state, made in trio (its scheduler's events are trio's)."""
        options = self.options
        return ServerState(
            voice,
            ModelScheduler(options.threads),
            Admission(options.sessions, retry_after_s=options.retry_after_s),
            seed=options.seed,
            schedule=SERVER_SCHEDULE,
        )

    def __serve_build_asgi_app__(self) -> TrioASGI:
        return TrioASGI(self.guest, self.doors, [(REPLICA_HEADER.encode(), self.replica.encode())])

    def _about(self) -> dict[str, Any]:
        """What ``/healthz`` adds: which replica, and when an utterance last ended."""
        metrics = self.state.metrics
        assert isinstance(metrics, FleetMetrics)
        return {**self.identity, "last_utterance_end_s": metrics.last_ended_s}

    async def check_health(self) -> None:
        """Ray's health check: raises when the engine cannot serve (see ``_health``)."""
        scheduler = self.state.scheduler
        self.health.check(
            time.monotonic(),
            running=self.guest.alive,
            busy=scheduler.busy,
            granted=scheduler.granted,
        )
        await asyncio.wait_for(self.guest.run(trio.lowlevel.checkpoint), _RESPONSIVE_S)

    async def __del__(self) -> None:
        """Ray stops the replica (after its requests drained): end the trio run."""
        if hasattr(self, "state"):
            self.state.draining = True
        if hasattr(self, "guest"):
            await self.guest.stop()
