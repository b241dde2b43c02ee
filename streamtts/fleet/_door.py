"""The Wyoming door of a fleet: one per node, any node's port reaches any replica.

Home Assistant speaks Wyoming over raw TCP, which Ray's proxy does not
carry. The door (a Ray Serve deployment with no CPU of its own, one
replica per node) listens on the node's Wyoming port and carries each TCP
connection to the fleet as a WebSocket through the node's Ray proxy
(``/v1/wyoming``): Ray routes it to the least busy replica, where the
Wyoming shell of ``streamtts serve`` serves it, and it stays on that
replica from start to end. A deployment handle cannot be used for this:
a handle call takes its arguments whole, and Wyoming streams text in
(``synthesize-chunk``) while audio streams out.

The door is a byte pump; it reads the Wyoming protocol only to say, as a
Wyoming ``error`` event, what the fleet could not:

- ``at-capacity``: the fleet refused the connection (Ray's 503: every
  replica holds its connections); a replica that is only out of sessions
  refuses the utterance itself, also with ``at-capacity``;
- ``replica-lost``: the replica serving the connection stopped (the
  WebSocket ended other than with a normal close);
- ``unavailable``: the node's proxy cannot be reached.

A client that disconnects closes its WebSocket at once, which cancels its
work on the replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any

from ._options import DoorOptions

__all__ = ["WyomingDoor", "door_url"]

_log = logging.getLogger(__name__)

_READ_BYTES = 65536
_MAX_MESSAGE_BYTES = 4 * 1024 * 1024  # one Wyoming event from the replica (an audio chunk)


def door_url(options: DoorOptions, environ: dict[str, str] | None = None) -> str:
    """Where the door forwards: this node's proxy. Ray serves the proxy of a
    worker node on ``RAY_SERVE_WORKER_PROXY_HTTP_PORT`` when that is set."""
    environ = dict(os.environ) if environ is None else environ
    port = environ.get("RAY_SERVE_WORKER_PROXY_HTTP_PORT") or options.proxy_port
    return f"ws://127.0.0.1:{port}{options.route}"


async def _say_error(writer: asyncio.StreamWriter, text: str, code: str) -> None:
    from wyoming.error import Error
    from wyoming.event import async_write_event

    with contextlib.suppress(OSError):
        await async_write_event(Error(text=text, code=code).event(), writer)


class WyomingDoor:
    """The door (a Ray Serve deployment; see the module docstring)."""

    async def __init__(self, options: DoorOptions) -> None:  # type: ignore[misc]  # Ray awaits it
        self.options = options
        token = options.token or os.environ.get("STREAMTTS_TOKEN")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = door_url(options)
        # reuse_port: nodes that share an address (a test cluster on one
        # machine) each run a door on the same port; the kernel spreads
        # connections between them.
        self.server = await asyncio.start_server(
            self._serve, options.host, options.port, reuse_port=True
        )
        _log.info("wyoming door on %s:%d → %s", options.host, options.port, self.url)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # The WebSocket is opened while the client's first event arrives, not
        # after it: a Wyoming client writes as soon as it has connected.
        connecting = asyncio.ensure_future(self._connect(writer))
        try:
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                first = await asyncio.wait_for(
                    reader.read(_READ_BYTES), self.options.idle_timeout_s
                )
                if first:
                    await self._forward(first, await connecting, reader, writer)
        except (OSError, asyncio.IncompleteReadError):
            pass  # the client went away
        finally:
            if not connecting.done():
                connecting.cancel()
            elif not connecting.cancelled() and connecting.exception() is None:
                websocket = connecting.result()
                if websocket is not None:  # closed already, or never used
                    await websocket.close()
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _connect(self, writer: asyncio.StreamWriter) -> Any:
        """A WebSocket to the fleet, or None once the client was told why not."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidStatus

        try:
            return await connect(
                self.url,
                additional_headers=self.headers,
                compression=None,  # audio does not compress
                proxy=None,  # the node's own proxy, never an HTTP proxy from the environment
                max_size=_MAX_MESSAGE_BYTES,
                open_timeout=10,
            )
        except InvalidStatus as err:
            status = err.response.status_code
            retry = err.response.headers.get("Retry-After", "")
            if status in (429, 503):
                wait = f"; retry in {retry} s" if retry else ""
                await _say_error(writer, f"the fleet is at capacity{wait}", "at-capacity")
            else:
                await _say_error(writer, f"the fleet refused the connection ({status})", "refused")
        except (OSError, TimeoutError, asyncio.TimeoutError) as err:
            _log.warning("wyoming door: cannot reach the fleet at %s: %s", self.url, err)
            await _say_error(writer, "the fleet cannot be reached; try again", "unavailable")
        return None

    async def _forward(
        self,
        first: bytes,
        websocket: Any,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        if websocket is None:  # the client was told why
            return
        async with websocket:
            await websocket.send(first)

            async def upstream() -> None:  # the client → the replica
                while data := await reader.read(_READ_BYTES):
                    await websocket.send(data)

            async def downstream() -> None:  # the replica → the client
                async for message in websocket:
                    writer.write(message if isinstance(message, bytes) else message.encode())
                    await writer.drain()

            tasks = [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            up = tasks[0]
            # The client closed (EOF, or its socket failed), rather than the
            # WebSocket failing under the upstream copy.
            client_left = up in done and isinstance(up.exception(), (type(None), OSError))
        if not client_left and websocket.close_code != 1000:
            _log.warning("wyoming door: the replica was lost (close %s)", websocket.close_code)
            await _say_error(
                writer, "the replica serving this session stopped; try again", "replica-lost"
            )

    def check_health(self) -> None:
        if not self.server.is_serving():
            raise RuntimeError("the Wyoming door stopped listening")

    async def __del__(self) -> None:
        self.server.close()
