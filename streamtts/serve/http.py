"""The HTTP and WebSocket doors as one ASGI app (Starlette), served by
hypercorn on trio.

- ``POST /v1/audio/speech``: OpenAI's speech API (``openai.py``).
- ``/v1/stream``: the duplex WebSocket (``websocket.py``).
- ``GET /v1/models``, ``GET /v1/voices``: what clients list.
- ``GET /healthz`` (no token: for load balancers), ``GET /metrics``
  (Prometheus).
- ``GET /``: a page to try it in a browser (``page.py``; no token: the
  page asks for it).

Every request and every WebSocket is one conversation on its own session
(its own pipeline on the shared voice). Everything but ``/healthz`` needs
the bearer token when one is set (``auth.py``).
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from ..conversation.refusals import Refusal
from .auth import Authorizer
from .captioned import captioned_speech_endpoint
from .health import health
from .limits import HttpLimits
from .openai import OPENAI_VOICES, openai_error, speech_endpoint
from .page import page_routes
from .session import ServerState
from .websocket import stream_endpoint

__all__ = ["HttpLimits", "build_app"]


def _unauthorized() -> JSONResponse:
    refusal = Refusal("unauthorized", "missing or wrong bearer token (Authorization: Bearer TOKEN)")
    return openai_error(refusal, status=401)


class _Guarded:
    """An ASGI app behind the bearer token (Starlette runs a plain function
    as a request handler; this class is run as an ASGI app)."""

    def __init__(self, app: ASGIApp, auth: Authorizer) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.auth.allows(Request(scope).headers):
            await self.app(scope, receive, send)
        else:
            await _unauthorized()(scope, receive, send)


def build_app(state: ServerState, token: str | None, limits: HttpLimits | None = None) -> Any:
    """The ASGI app of the HTTP and WebSocket doors."""
    limits = limits or HttpLimits()
    auth = Authorizer(token)

    async def models(request: Request) -> Response:
        if not auth.allows(request.headers):
            return _unauthorized()
        model = {"id": "streamtts", "object": "model", "created": 0, "owned_by": "local"}
        return JSONResponse({"object": "list", "data": [model]})

    async def voices(request: Request) -> Response:
        if not auth.allows(request.headers):
            return _unauthorized()
        voice = state.voice
        listed = {
            "id": voice.name,
            "name": voice.name,
            "language": voice.config.language,
            "sample_rate_hz": voice.sample_rate_hz,
            "aliases": sorted(OPENAI_VOICES),
        }
        return JSONResponse({"voices": [listed]})

    async def healthz(request: Request) -> Response:
        return JSONResponse(health(state), status_code=503 if state.draining else 200)

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
        Route("/v1/audio/speech", _Guarded(speech_endpoint(state, limits), auth), methods=["POST"]),
        Route(
            "/dev/captioned_speech",
            _Guarded(captioned_speech_endpoint(state, limits), auth),
            methods=["POST"],
        ),
        Route("/v1/models", models),
        Route("/v1/voices", voices),
        Route("/v1/audio/voices", voices),  # where Kokoro-FastAPI's and Open WebUI's clients look
        Route("/healthz", healthz),
        Route("/metrics", metrics),
        WebSocketRoute("/v1/stream", stream),
        *page_routes(token_required=token is not None),
    ]
    return Starlette(routes=routes)
