"""The ``streamtts`` command: one module per subcommand, each holding its
arguments beside its handler (:class:`~streamtts.cli._command.Command`).

Exit status: 0 done, 1 an error (one line on standard error), 2 bad usage,
130 interrupted. A reader of standard output that goes away (``| head``)
ends the command quietly.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys

from ..errors import ClientGone, StreamTTSError, caller_error
from . import inventory, serve, speak, speechd
from ._command import Command, CommandParser

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS: tuple[Command, ...] = (
    speak.COMMAND,
    serve.COMMAND,
    speechd.COMMAND,
    inventory.VOICES,
    inventory.DEVICES,
)

_DESCRIPTION = """\
streamtts speaks text on this machine: no cloud, no keys, first audio fast.

examples:
  streamtts speak "The quick brown fox."            speak a sentence
  streamtts speak --file notes.txt --out notes.wav  render a file to WAV
  llm-chat | streamtts speak --out - | aplay        speak a stream as it arrives
  streamtts speak --seed 7 --rate 1.2 "Hi there."   reproducible, 20% faster
  streamtts voices                                  list installed voices
  streamtts devices                                 list sound output devices
  streamtts serve                                   Home Assistant, OpenAI clients, agents
  streamtts speechd-setup --install                 a speech-dispatcher module for Orca

'streamtts COMMAND --help' explains a command's options, with examples.
"""

_log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; a command's own arguments are added when it
    is the one parsed (see :class:`CommandParser`)."""
    parser = argparse.ArgumentParser(
        prog="streamtts",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: debug)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)
    for command in COMMANDS:
        sub = commands.add_parser(
            command.name,
            help=command.help,
            description=command.description,
            epilog=command.epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            add_arguments=command.add_arguments,
        )
        sub.set_defaults(run=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``streamtts`` with ``argv`` (default: the process's arguments);
    returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
        format="streamtts: %(levelname)s: %(message)s",
    )
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args))
    except BaseException as raised:
        status = _exit_status(caller_error(raised))
        if status is None:
            raise  # not an error to report in one line: SystemExit, cancellation
        _log.debug("the error in full:", exc_info=raised)
        return status


def _exit_status(error: BaseException) -> int | None:
    """Report ``error`` (what a person should hear about) and say the exit
    status; None for what is not ours to report."""
    if isinstance(error, KeyboardInterrupt):
        print("streamtts: interrupted", file=sys.stderr)
        return 130
    if isinstance(error, ClientGone):
        # The reader of standard output went away (`| head -c 100`): stop quietly.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the final flush
        return 0
    if isinstance(error, StreamTTSError):
        print(f"streamtts: error: {error}", file=sys.stderr)
        return 1
    return None
