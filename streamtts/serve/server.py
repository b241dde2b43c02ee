"""``streamtts serve``: one process, one loaded voice, three doors.

Start-up loads and warms the voice once, makes the shared scheduler, then
opens the doors (Wyoming on TCP and/or a Unix socket; HTTP and WebSocket
through hypercorn on trio) and says where it listens on one line.
``SIGTERM`` (or Ctrl-C) drains: no new sessions; running ones finish, or
are cut at ``drain_s``; exit 0.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import trio

from ..config import ChunkSchedule, EngineOptions, SynthesisOptions, check_delivery
from ..errors import ConfigError, leaves
from ..loudness import stream_gain
from ..voices.options import VoiceOptions
from .http import build_app
from .limits import HttpLimits
from .scheduler import Admission, ModelScheduler
from .session import ServerState
from .wyoming import serve_connection
from .wyoming_wire import WyomingLimits

__all__ = ["ServeOptions", "serve"]

_log = logging.getLogger(__name__)

# What binding an address in use, not ours or unknown raises.
_LISTEN_ERRORS = {errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL}


# Model calls are not preemptible, so the longest one bounds how long an
# urgent call (a stream about to run dry, a new utterance's first chunk)
# can wait for a slot. Chunks of at most 64 frames (0.74 s of audio, ~30-60
# ms of decoder) instead of 128 keep that wait short, for ~8% more decoder
# work (more context recomputed).
SERVER_SCHEDULE = ChunkSchedule(max_chunk_frames=64)


@dataclass(frozen=True)
class ServeOptions:
    """Everything ``streamtts serve`` takes (see its ``--help``)."""

    voice: str | None = None
    host: str = "127.0.0.1"
    http_port: int = 8000
    wyoming: tuple[str, ...] = ("tcp://127.0.0.1:10200",)
    token: str | None = None
    no_auth: bool = False
    max_streams: int = 8
    # Of those, how many may be starting at once (admitted, not yet
    # playing): what a simultaneous burst carries with none running dry
    # and TTFA p95 under 0.5 s, measured on 2 cores (scheduler.Admission).
    max_starting: int = 4
    model_slots: int = 2
    seed: int | None = None
    voice_options: VoiceOptions = field(default_factory=VoiceOptions)
    delivery: str = SynthesisOptions.delivery
    loudness_lufs: float | None = None
    true_peak_dbtp: float = EngineOptions.true_peak_dbtp
    drain_s: float = 10.0
    http_limits: HttpLimits = field(default_factory=HttpLimits)
    wyoming_limits: WyomingLimits = field(default_factory=WyomingLimits)

    def check(self) -> None:
        if not _is_loopback(self.host) and self.token is None and not self.no_auth:
            raise ConfigError(
                f"listening on {self.host} would let anyone on the network use this server; "
                "give --token SECRET (clients send 'Authorization: Bearer SECRET') or --no-auth"
            )
        for uri in self.wyoming:
            parsed = urlparse(uri)
            if parsed.scheme not in ("tcp", "unix"):
                raise ConfigError(f"--wyoming {uri!r}: use tcp://HOST:PORT or unix:///PATH")
            if parsed.scheme == "tcp":
                if parsed.port is None or parsed.hostname is None:
                    raise ConfigError(f"--wyoming {uri!r}: needs a host and a port")
                if not _is_loopback(parsed.hostname) and not self.no_auth:
                    raise ConfigError(
                        f"--wyoming {uri!r}: Wyoming has no authentication, so a "
                        "non-loopback address needs --no-auth (use a firewall)"
                    )
        check_delivery(self.delivery)
        EngineOptions(loudness_lufs=self.loudness_lufs, true_peak_dbtp=self.true_peak_dbtp)
        if self.max_streams < 1 or self.model_slots < 1 or self.max_starting < 1:
            raise ConfigError("--max-streams, --max-starting and --model-slots must be at least 1")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def serve(options: ServeOptions, *, ready_line: bool = True) -> int:
    """Run the server until SIGTERM/SIGINT; returns the exit status."""
    options.check()
    from ..synthesis import load_warm_voice

    voice = await trio.to_thread.run_sync(load_warm_voice, options.voice, options.voice_options)
    state = ServerState(
        voice,
        ModelScheduler(options.model_slots),
        Admission(options.max_streams, starting_capacity=options.max_starting),
        seed=options.seed,
        delivery=options.delivery,
        loudness_lufs=options.loudness_lufs,
        true_peak_dbtp=options.true_peak_dbtp,
        schedule=SERVER_SCHEDULE,
    )
    if options.loudness_lufs is not None:  # calibrated now, not in the first request
        await trio.to_thread.run_sync(
            stream_gain,
            voice,
            SynthesisOptions(delivery=options.delivery),
            options.loudness_lufs,
            options.true_peak_dbtp,
        )
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        where = []
        wyoming_scope = trio.CancelScope()
        listeners = [await _open_wyoming(uri) for uri in options.wyoming]

        async def handle(stream: trio.SocketStream) -> None:
            await serve_connection(stream, state, options.wyoming_limits)

        async def wyoming_door() -> None:
            with wyoming_scope:  # cancelled: no new connection; open ones go on
                await trio.serve_listeners(handle, listeners, handler_nursery=nursery)

        if listeners:
            nursery.start_soon(wyoming_door)
            where += [f"{uri} (wyoming)" for uri in options.wyoming]
        if options.http_port >= 0:
            app = build_app(state, options.token, options.http_limits)
            await nursery.start(_http_door, app, options, shutdown)
            base = f"{_url_host(options.host)}:{options.http_port}"
            where += [f"http://{base}/v1/audio/speech", f"ws://{base}/v1/stream"]
        if ready_line:
            print(f"streamtts: serving {voice.name} at " + ", ".join(where), flush=True)

        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for _ in signals:
                break
        _log.info("draining: no new sessions; waiting up to %.0f s", options.drain_s)
        state.draining = True
        wyoming_scope.cancel()  # stop accepting; connections already open go on
        shutdown.set()
        with trio.move_on_after(options.drain_s):
            while state.delivering:
                await trio.sleep(0.05)
        nursery.cancel_scope.cancel()
    return 0


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


async def _open_wyoming(uri: str) -> trio.SocketListener:
    parsed = urlparse(uri)
    if parsed.scheme == "unix":
        path = Path(parsed.path)
        if path.is_socket():
            path.unlink()  # a stale socket of an earlier run
        sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
        await sock.bind(str(path))
        sock.listen(64)
        return trio.SocketListener(sock)
    assert parsed.hostname is not None and parsed.port is not None
    listeners = await trio.open_tcp_listeners(parsed.port, host=parsed.hostname)
    return listeners[0]


async def _http_door(
    app: Any,
    options: ServeOptions,
    shutdown: trio.Event,
    *,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    from hypercorn.config import Config
    from hypercorn.trio import serve as hypercorn_serve

    config = Config()
    config.bind = [f"{_url_host(options.host)}:{options.http_port}"]
    config.graceful_timeout = options.drain_s
    config.websocket_max_message_size = options.http_limits.message_bytes
    # hypercorn keeps a closed connection's task until this runs out (an idle
    # keep-alive connection too): 2 s returns them soon and still lets a
    # client reuse its connection for the next request.
    config.keep_alive_timeout = 2
    config.accesslog = None
    config.errorlog = logging.getLogger("streamtts.serve.hypercorn")
    await hypercorn_serve(app, config, shutdown_trigger=shutdown.wait, task_status=task_status)


def run(options: ServeOptions) -> int:
    try:
        return trio.run(serve, options)
    except BaseException as err:
        failed = [e for e in leaves(err) if isinstance(e, OSError) and e.errno in _LISTEN_ERRORS]
        if failed:
            reason = failed[0].strerror or failed[0]
            raise ConfigError(f"cannot listen: {reason}; is the port in use?") from err
        raise
