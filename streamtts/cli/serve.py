"""``streamtts serve``: one voice, loaded once, behind three doors (Wyoming,
OpenAI's HTTP API, a WebSocket).

The server lives in the ``serve`` extras (starlette, hypercorn, wyoming),
imported only when this command is run or its help is asked for; without
them the help still works and running says what to install.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..config import DELIVERIES
from ..errors import ConfigError
from . import device
from ._command import Command

if TYPE_CHECKING:
    from ..serve.server import ServeOptions

# A default read from ServeOptions(), or None where the server is not installed.
_Default = Callable[[Callable[["ServeOptions"], Any]], Any]

_EPILOG = """\
doors:
  wyoming    {wyoming}: Home Assistant's Wyoming integration
             (host and port of this machine); streams audio inside a sentence
  http       POST /v1/audio/speech (OpenAI's API: response_format pcm or wav,
             stream_format audio or sse), GET /v1/models, /v1/voices, /healthz,
             /metrics (Prometheus)
  websocket  /v1/stream: send text as it comes, get audio and word events back
examples:
  streamtts serve                                    this machine only
  streamtts serve --host 0.0.0.0 --token s3cret      the LAN, with a token
  streamtts serve --wyoming tcp://0.0.0.0:10200 --no-auth --no-http
"""


def _defaults() -> ServeOptions:
    """``ServeOptions()``; where the server extras are missing, the error
    that says how to install them."""
    try:
        from ..serve.server import ServeOptions
    except ImportError as err:
        if (err.name or "").partition(".")[0] == __name__.partition(".")[0]:
            raise  # our own import failed: a bug to see whole, not a missing extra
        raise ConfigError(
            f"serving needs the server extras ({err.name} is missing): "
            "pip install 'streamtts[serve]'"
        ) from err
    return ServeOptions()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    try:
        server: ServeOptions | None = _defaults()
    except ConfigError as missing:
        server = None  # the help still shows every option; running says what to install
        parser.description = f"{parser.description} ({missing})"

    def default(read: Callable[[ServeOptions], Any]) -> Any:
        return None if server is None else read(server)

    wyoming = " ".join(default(lambda o: o.wyoming) or ["tcp://HOST:PORT"])
    parser.epilog = _EPILOG.format(wyoming=wyoming)
    _add_doors(parser, default, wyoming)
    _add_limits(parser, default)
    device.add_arguments(parser)


def _add_doors(parser: argparse.ArgumentParser, default: _Default, wyoming: str) -> None:
    parser.add_argument(
        "--voice",
        default=default(lambda o: o.voice),
        help="a Piper .onnx file or an installed voice's name",
    )
    parser.add_argument(
        "--host",
        default=default(lambda o: o.host),
        help="address of the HTTP and WebSocket doors (default %(default)s: this machine only; "
        "any other address needs --token or --no-auth)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=default(lambda o: o.http_port),
        help="HTTP and WebSocket port (default %(default)s)",
    )
    parser.add_argument("--no-http", action="store_true", help="serve Wyoming only")
    parser.add_argument(
        "--wyoming",
        action="append",  # so its default is not a list to append to: filled in by options()
        metavar="URI",
        help="Wyoming address, tcp://HOST:PORT or unix:///PATH; repeatable "
        f"(default {wyoming.replace('%', '%%')}; 'none' for no Wyoming door)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("STREAMTTS_TOKEN") or default(lambda o: o.token),
        help="require 'Authorization: Bearer TOKEN' on HTTP and WebSocket requests "
        "(or ?token= on a WebSocket); default $STREAMTTS_TOKEN",
    )
    parser.add_argument(
        "--no-auth",
        action="store_true",
        default=default(lambda o: o.no_auth),
        help="allow a non-loopback address without a token (trusted networks only)",
    )


def _add_limits(parser: argparse.ArgumentParser, default: _Default) -> None:
    parser.add_argument(
        "--max-streams",
        type=int,
        default=default(lambda o: o.max_streams),
        help="utterances synthesized at once; more are refused at once with 503 / an "
        "error event instead of all going late (default %(default)s, measured on 2 cores)",
    )
    parser.add_argument(
        "--max-starting",
        type=int,
        default=default(lambda o: o.max_starting),
        help="of those, how many may be starting at once (asked for, not yet playing): a "
        "burst of clients at the same instant is served this many at a time, the rest "
        "refused at once with a retry of 1 s, so that nobody's audio runs dry "
        "(default %(default)s, measured on 2 cores)",
    )
    parser.add_argument(
        "--model-slots",
        type=int,
        default=default(lambda o: o.model_slots),
        help="model calls run at once, earliest deadline first (default %(default)s: one per core)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=default(lambda o: o.seed),
        help="make every session's audio reproducible",
    )
    parser.add_argument(
        "--delivery",
        choices=tuple(DELIVERIES),
        default=default(lambda o: o.delivery),
        help="calm (the voice's noise scales x0.7) or lively (its own); a request may ask "
        "for either ('delivery' in the body, ?delivery= on the WebSocket) "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--loudness",
        type=float,
        default=default(lambda o: o.loudness_lufs),
        metavar="LUFS",
        help="loudness target of every stream, e.g. -16 (ITU-R BS.1770): a gain calibrated "
        "once for the voice and a limiter; a request may ask for its own ('loudness' in the "
        "body); without it, the voice's own level",
    )
    parser.add_argument(
        "--peak",
        type=float,
        default=default(lambda o: o.true_peak_dbtp),
        metavar="DBTP",
        help="true-peak ceiling under a loudness target (default %(default)s)",
    )
    event_s = default(lambda o: o.wyoming_limits.event_s)
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=default(lambda o: o.http_limits.idle_s),
        help="close a connection that sends nothing for this many seconds (default "
        f"%(default)s); an event or message must arrive whole within min({event_s}, this)",
    )
    parser.add_argument(
        "--drain",
        type=float,
        default=default(lambda o: o.drain_s),
        help="on SIGTERM, seconds running sessions get to finish (default %(default)s)",
    )


def options(args: argparse.Namespace) -> ServeOptions:
    """What the server is given: its defaults, with what the arguments say."""
    defaults = _defaults()
    idle_s = args.idle_timeout
    return replace(
        defaults,
        voice=args.voice,
        host=args.host,
        http_port=-1 if args.no_http else args.port,
        wyoming=tuple(uri for uri in args.wyoming or defaults.wyoming if uri != "none"),
        token=args.token or None,
        no_auth=args.no_auth,
        max_streams=args.max_streams,
        max_starting=args.max_starting,
        model_slots=args.model_slots,
        seed=args.seed,
        voice_options=device.voice_options(args),
        delivery=args.delivery,
        loudness_lufs=args.loudness,
        true_peak_dbtp=args.peak,
        drain_s=args.drain,
        http_limits=replace(defaults.http_limits, idle_s=idle_s),
        wyoming_limits=replace(
            defaults.wyoming_limits,
            idle_s=idle_s,
            event_s=min(defaults.wyoming_limits.event_s, idle_s),
        ),
    )


def run(args: argparse.Namespace) -> int:
    chosen = options(args)  # first: it says what to install if the extras are missing
    from ..serve.server import run as serve

    return serve(chosen)


COMMAND = Command(
    name="serve",
    help="serve Home Assistant (Wyoming), OpenAI-style HTTP and WebSocket clients",
    description="Load the voice once and serve many clients from one process:\n"
    "Wyoming (Home Assistant), OpenAI's /v1/audio/speech, and a duplex WebSocket.",
    epilog="",  # add_arguments writes it, with the default Wyoming address
    add_arguments=add_arguments,
    run=run,
)
