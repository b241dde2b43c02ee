"""``streamtts speechd-setup``: streamtts as a speech-dispatcher module, for
Orca and other screen readers."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ._command import Command

_EPILOG = """\
examples:
  streamtts speechd-setup                      write the module's file, print the line to add
  streamtts speechd-setup --install            add the module to your speechd.conf
  streamtts speechd-setup --install --default  and make streamtts every program's voice
  spd-say -o streamtts "Hello."                try it (after restarting speech-dispatcher)
"""


def _user_config_dir() -> Path:
    """Where speech-dispatcher reads a user's configuration (XDG)."""
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "speech-dispatcher"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--install", action="store_true", help="add the module to your speechd.conf"
    )
    parser.add_argument(
        "--default",
        action="store_true",
        help="with --install: make streamtts the default module (DefaultModule)",
    )
    parser.add_argument(
        "--config-dir",
        type=Path,
        default=_user_config_dir(),
        help="speech-dispatcher's user configuration folder (default %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    from ..speechd.setup import install, module_line, write_module_config

    config = write_module_config(args.config_dir)
    line = module_line(config)
    if args.install:
        conf = install(args.config_dir, line, default=args.default)
        print(f"added to {conf}; restart speech-dispatcher (or log out and in) to use it")
    else:
        print(f"wrote {config}; add this line to speechd.conf to enable the module:")
    print(line)
    return 0


COMMAND = Command(
    name="speechd-setup",
    help="make streamtts a speech-dispatcher module (Orca and other screen readers)",
    description="Write speech-dispatcher's configuration for the sd_streamtts module and\n"
    "print the line that enables it; with --install, add it to your\n"
    "~/.config/speech-dispatcher/speechd.conf (made from the system's if missing).",
    epilog=_EPILOG,
    add_arguments=add_arguments,
    run=run,
)
