"""The page: ``GET /`` on ``streamtts serve``, a place to try the engine in
a browser.

The page (``page/``: ``index.html``, ``page.js``, ``worklet.js``,
``page.css``, ``favicon.svg``) ships in the package, needs no build step and
loads nothing from outside the server: it lists voices from ``/v1/voices``,
speaks through the ``/v1/stream`` WebSocket and plays the audio in an
AudioWorklet, highlighting each word as it is heard.

The page itself needs no token (it asks for one when the server has one,
and keeps it in the tab's ``sessionStorage``); the doors it talks to do.
Every response carries a Content-Security-Policy that allows only the
server itself, and ``Cache-Control: no-cache`` (a browser revalidates, so
an upgraded server never runs with a stale script).
"""

from __future__ import annotations

import re
from importlib.resources import files

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["page_routes"]

# The assets under /page/, by name, with their media types.
ASSETS = {
    "page.js": "text/javascript; charset=utf-8",
    "worklet.js": "text/javascript; charset=utf-8",
    "page.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}

# Only the server itself: no inline script or style, no other origin, no
# framing. connect-src names the WebSocket to this host explicitly too
# (older browsers do not count ws:// as 'self').
_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'{websocket}; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_HOST = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")


def content_security_policy(host: str | None) -> str:
    """The page's policy; ``host`` is the request's Host header (ignored
    unless it looks like one)."""
    websocket = f" ws://{host} wss://{host}" if host and _HOST.fullmatch(host) else ""
    return _POLICY.format(websocket=websocket)


def _read(name: str) -> bytes:
    return (files("streamtts.serve") / "page" / name).read_bytes()


def page_routes(token_required: bool = False) -> list[Route]:
    """Routes for ``GET /`` and ``GET /page/{asset}``. ``token_required``
    tells the page to ask for the server's token before it speaks."""
    index = _read("index.html").replace(
        b'data-token-required="false"',
        f'data-token-required="{str(token_required).lower()}"'.encode(),
    )
    assets = {name: _read(name) for name in ASSETS}

    def respond(request: Request, body: bytes, media_type: str) -> Response:
        headers = {
            "Cache-Control": "no-cache",
            "Content-Security-Policy": content_security_policy(request.headers.get("host")),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }
        return Response(body, media_type=media_type, headers=headers)

    async def page(request: Request) -> Response:
        return respond(request, index, "text/html; charset=utf-8")

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in assets:
            return Response("not found", status_code=404, media_type="text/plain")
        return respond(request, assets[name], ASSETS[name])

    return [Route("/", page), Route("/page/{name}", asset)]
