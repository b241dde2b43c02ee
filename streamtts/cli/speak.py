"""``streamtts speak``: text from an argument, a file or a pipe, to the sound
card, a file or standard output."""

from __future__ import annotations

import argparse
import codecs
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..caption_files import LiveCaptions, caption_format
from ..config import DELIVERIES, EngineOptions, SynthesisOptions
from ..errors import AudioDeviceError, InputTextError
from ..sinks.base import Sink
from ..sinks.files import FileSink
from ..sinks.soundcard import SoundCardSink
from . import device
from ._command import Command, keyword_default
from .progress import Progress

# The command line's own default, not the library's (which reads text as
# written): what is piped in here is mostly an LLM's reply, and plain prose
# sounds the same read as markdown.
TEXT_FORMAT = "markdown"

_EPILOG = """\
examples:
  streamtts speak "The quick brown fox."             the sound card
  streamtts speak --file notes.txt --out notes.wav   a WAV file (progress bar on a terminal)
  streamtts speak --file notes.txt --out notes.wav --captions notes.vtt --loudness -16
                                                     with captions, at -16 LUFS
  some-llm | streamtts speak                         speaks as the text arrives
  some-llm | streamtts speak --out - --format raw | aplay -f S16_LE -r 22050 -c 1
  streamtts speak --seed 7 --rate 1.2 "Hi there."    the same audio every time, 20% faster
  streamtts speak --stats "How fast was that?"       one JSON line on stderr: ttfa_s, rtf, ...
  streamtts speak --voice path/to/voice.onnx "Hi."   any Piper voice loads from a path
  llm-chat | streamtts speak --text-format plain     read as written, not as markdown

input: TEXT, or --file PATH, or standard input when neither is given;
  standard input is spoken as it arrives (sentence by sentence), so a pipe
  from an LLM starts speaking before it ends.
output: the sound card by default (--device, --latency); --out PATH writes
  a WAV file; --out - writes to standard output as audio is produced (WAV
  with a streaming header, or --format raw: s16le mono at the voice's rate).
captions: --captions PATH writes WebVTT (.vtt) or SubRip (.srt) cues timed
  by the words as the voice says them, cue by cue as they complete.
loudness: --loudness -16 makes a file rendered whole exactly that loud
  (measured after, ITU-R BS.1770) with no true peak over --peak; a stream
  (the sound card, --out -) gets a gain calibrated once per voice and a
  limiter, and lands near it.
exit status: 0 spoken, 1 an error (one line on standard error), 2 bad usage,
  130 interrupted.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _add_input(parser)
    _add_voice(parser, EngineOptions().synthesis)
    _add_reading(parser, EngineOptions())
    _add_output(parser)
    _add_publishing(parser, EngineOptions())
    device.add_arguments(parser)


def _add_input(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="*", help="the text to speak (words are joined by spaces)")
    parser.add_argument("-f", "--file", type=Path, help="read the text from this UTF-8 file")


def _add_voice(parser: argparse.ArgumentParser, synthesis: SynthesisOptions) -> None:
    parser.add_argument(
        "--voice", help="a Piper .onnx file (its .onnx.json beside it) or an installed voice's name"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=synthesis.rate,
        help="rate, 0.1-4: 1.0 = the voice's pace, 2 = twice as fast (default %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=synthesis.seed,
        help="make the voice's random variation reproducible",
    )
    parser.add_argument(
        "--delivery",
        choices=tuple(DELIVERIES),
        default=synthesis.delivery,
        help="calm (the voice's noise scales x0.7: heard the same way more often) or lively "
        "(the voice's own variation) (default %(default)s); --noise-scale and --noise-w win",
    )
    parser.add_argument(
        "--noise-scale",
        type=float,
        default=synthesis.noise_scale,
        help="timbre/pitch variation (voice default, e.g. 0.667)",
    )
    parser.add_argument(
        "--noise-w",
        type=float,
        default=synthesis.noise_w_scale,
        help="duration variation (voice default, e.g. 0.8)",
    )
    parser.add_argument(
        "--speaker",
        default=synthesis.speaker,
        help="speaker id or name, for multi-speaker voices",
    )


def _add_reading(parser: argparse.ArgumentParser, engine: EngineOptions) -> None:
    parser.add_argument(
        "--text-format",
        choices=("markdown", "plain", "ssml"),
        default=TEXT_FORMAT,
        help="how the text is read (default %(default)s): markdown (what LLMs write; plain "
        "prose sounds the same) drops emphasis marks, reads links by their text and headings "
        "and list items as their own sentences; plain reads the text as written. Both say "
        "money, dates, fractions, URLs and e-mail addresses as a person would; ssml reads a "
        "subset of SSML (marks, breaks, say-as, sub)",
    )
    parser.add_argument(
        "--code-blocks",
        choices=("summarize", "read", "skip"),
        default=engine.text.code_blocks,
        help="markdown code blocks: summarize ('code block, N lines'), read, or skip "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--tables",
        choices=("summarize", "read", "skip"),
        default=engine.text.tables,
        help="markdown tables: summarize ('table, N rows'), read row by row, or skip "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--whole",
        action="store_true",
        default=engine.whole,
        help="synthesize each segment in one go instead of streaming inside it (same samples, "
        "later first audio)",
    )
    parser.add_argument(
        "--stall",
        type=float,
        default=engine.stall_s,
        help="when streamed text pauses this many seconds (default %(default)s), speak the "
        "words already received",
    )


def _add_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--out", help="write audio to this file, or - for standard output")
    parser.add_argument(
        "--format",
        choices=("wav", "raw"),
        default=keyword_default(FileSink, "format"),
        help="output format (default %(default)s; raw = s16le mono at the voice's rate)",
    )
    parser.add_argument(
        "--device",
        type=_device,
        help="sound output device (name or index; see 'streamtts devices')",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=keyword_default(SoundCardSink, "latency_s"),
        help="sound device buffer in seconds (default %(default)s; raise it on a busy machine)",
    )
    parser.add_argument(
        "--stats",
        action="store_true",
        help="print one JSON line of statistics (ttfa_s, rtf, audio_s, ...) to standard error",
    )
    parser.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default="auto",
        help="progress bar on standard error: auto (when rendering a file on a terminal), "
        "always or never (default %(default)s)",
    )


def _add_publishing(parser: argparse.ArgumentParser, engine: EngineOptions) -> None:
    parser.add_argument(
        "--captions",
        metavar="PATH",
        help="write captions to PATH: WebVTT (.vtt) or SubRip (.srt), timed by the words as "
        "they are said, written as each cue completes",
    )
    parser.add_argument(
        "--loudness",
        type=float,
        default=engine.loudness_lufs,
        metavar="LUFS",
        help="loudness target, e.g. -16 (ITU-R BS.1770); without it, the voice's own level. "
        "A file is measured and normalized; a stream gets a calibrated gain and a limiter",
    )
    parser.add_argument(
        "--peak",
        type=float,
        default=engine.true_peak_dbtp,
        metavar="DBTP",
        help="true-peak ceiling under --loudness (default %(default)s)",
    )


def _device(given: str) -> int | str:
    """An index as a number: PortAudio reads a string as part of a name."""
    return int(given) if given.isdigit() else given


def run(args: argparse.Namespace) -> int:
    import trio

    synthesis = synthesis_options(args)
    if args.format == "raw" and args.out is None:
        raise InputTextError("--format raw needs --out PATH or --out -")
    if args.captions is not None:
        caption_format(args.captions)  # a bad suffix fails before the voice loads
    engine_options(args, synthesis, live=False)  # and so does a bad loudness
    text = _read_text(args)
    if text is not None and not text.strip():
        raise InputTextError("nothing to say: the text is empty or only spaces")
    return trio.run(_speak, args, synthesis, text)


def synthesis_options(args: argparse.Namespace) -> SynthesisOptions:
    """How the voice speaks (a bad value fails here, before the voice loads)."""
    return SynthesisOptions(
        rate=args.rate,
        noise_scale=args.noise_scale,
        noise_w_scale=args.noise_w,
        seed=args.seed,
        speaker=args.speaker,
        delivery=args.delivery,
    )


def engine_options(
    args: argparse.Namespace, synthesis: SynthesisOptions, *, live: bool
) -> EngineOptions:
    """What the engine is given; ``live``: heard at once, not written. A
    file rendered whole is normalized after (``_normalize``): the engine
    gives it the voice's own level."""
    defaults = EngineOptions()
    whole_file = args.out not in (None, "-")
    return replace(
        defaults,
        synthesis=synthesis,
        text=replace(
            defaults.text, format=args.text_format, code_blocks=args.code_blocks, tables=args.tables
        ),
        stall_s=args.stall,
        whole=args.whole,
        # Heard live, the voice's quiet lead-in is only latency; a file keeps it.
        trim_lead_in=live,
        loudness_lufs=None if whole_file else args.loudness,
        true_peak_dbtp=args.peak,
        voice=device.voice_options(args),
        # Text already in hand: its first utterance is the warm-up (a
        # shorter cold start); a stream read as it comes is warmed first.
        warm_up=args.text == [] and args.file is None,
    )


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


async def _speak(args: argparse.Namespace, synthesis: SynthesisOptions, text: str | None) -> int:
    from ..engine import open_engine
    from ..events import Event, SegmentStarted

    sink = _open_sink(args)
    show = {"always": True, "never": False}.get(
        args.progress, args.out not in (None, "-") and sys.stderr.isatty()
    )
    progress = Progress(None if text is None else len(text), show)

    def audio_s() -> float:
        return sink.accepted / max(1, sink.sample_rate_hz)

    captions = LiveCaptions(args.captions) if args.captions is not None else None

    def on_event(event: Event) -> None:
        if isinstance(event, SegmentStarted):
            progress.update(event.text_start, audio_s())
        if captions is not None:
            captions.feed(event)  # cues written as they complete

    options = engine_options(args, synthesis, live=not isinstance(sink, FileSink))
    try:
        async with open_engine(args.voice, sink, options=options, on_event=on_event) as engine:
            if captions is not None:
                captions.start(sink.sample_rate_hz)
            async with engine.stream() as stream:
                async for piece in _pieces(text):
                    if captions is not None:
                        captions.add_text(piece)
                    await stream.send(piece)
            stats = engine.statistics()
    finally:
        progress.update(len(text or ""), audio_s(), force=True)
        progress.finish()
        if captions is not None:
            captions.close()
    _report(args, sink, stats)
    return 0


def _report(args: argparse.Namespace, sink: Sink, stats: dict[str, Any]) -> None:
    if stats["audio_s"] == 0:
        for made in (args.out, args.captions):
            if made not in (None, "-"):
                Path(made).unlink(missing_ok=True)
        raise InputTextError(
            "nothing to say: the text has no words espeak-ng can pronounce "
            "(only punctuation, symbols or control characters)"
        )
    if args.loudness is not None and args.out not in (None, "-"):
        from ..loudness import normalize_file

        found = normalize_file(
            args.out,
            args.loudness,
            args.peak,
            format=args.format,
            sample_rate_hz=sink.sample_rate_hz,
        )
        stats["loudness"] = {
            "integrated_lufs": found.integrated_lufs,
            "true_peak_dbtp": found.true_peak_dbtp,
        }
    if args.stats:
        stats["sink"] = getattr(sink, "describe", lambda: {"rate_hz": sink.sample_rate_hz})()
        print(json.dumps(stats), file=sys.stderr)


async def _pieces(text: str | None) -> AsyncIterator[str]:
    """The text in one piece, or standard input as it arrives (a pipe from
    an LLM), never blocking the loop."""
    import trio

    if text is not None:
        yield text
        return
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    stream = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
    async with stream:
        while True:
            block = await stream.receive_some(4096)
            piece = decoder.decode(block, final=not block)
            if piece:
                yield piece
            if not block:
                return


def _open_sink(args: argparse.Namespace) -> Sink:
    if args.out == "-":
        return FileSink(sys.stdout.buffer, args.format)
    if args.out is not None:
        return FileSink(Path(args.out), args.format)
    return _sound_card_or_file(args)


def _sound_card_or_file(args: argparse.Namespace) -> Sink:
    """The sound card; on a machine with none at all, speech.wav (said so)."""
    from ..sinks.soundcard import list_output_devices

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


COMMAND = Command(
    name="speak",
    help="speak text (argument, --file, or standard input)",
    description="Speak text with a Piper voice.",
    epilog=_EPILOG,
    add_arguments=add_arguments,
    run=run,
)
