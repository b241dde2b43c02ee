"""What a subcommand is: its name, its help, its arguments and its handler."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Command:
    """One ``streamtts COMMAND``: ``add_arguments`` fills its parser (only
    when the command is the one run, or its help is asked for), ``run``
    handles the parsed arguments and returns the exit status."""

    name: str
    help: str  # one line in ``streamtts --help``
    description: str
    epilog: str  # examples first: ``--help`` should teach
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


class CommandParser(argparse.ArgumentParser):
    """A subcommand's parser whose arguments are added on first use.

    Its defaults come from the options objects it sets, and some of those
    live in heavy or optional modules (``serve`` needs the server extras):
    building every command's arguments would make ``streamtts speak`` import
    them, and fail where they are missing.
    """

    def __init__(
        self, *args: Any, add_arguments: Callable[[argparse.ArgumentParser], None], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._add_arguments: Callable[[argparse.ArgumentParser], None] | None = add_arguments

    def _build(self) -> None:
        if self._add_arguments is not None:
            add, self._add_arguments = self._add_arguments, None
            add(self)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self._build()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self._build()
        return super().format_help()

    def format_usage(self) -> str:
        self._build()
        return super().format_usage()


def keyword_default(function: Callable[..., object], name: str) -> Any:
    """The default of ``function``'s parameter ``name`` (for options that
    are keyword arguments, such as a sink's ``latency_s``)."""
    return inspect.signature(function).parameters[name].default
