"""speech-dispatcher's output-module protocol, without I/O.

The server talks to a module over its standard input and output, a line at
a time, as Debian's speech-dispatcher 0.11 does (``src/modules/
module_process.c``): ``INIT``; ``SPEAK``, ``CHAR``, ``KEY`` and
``SOUND_ICON`` followed by the data and a line with a single ``.`` (a data
line starting with ``.`` has it doubled); ``SET``, ``AUDIO`` and
``LOGLEVEL`` followed by ``name=value`` lines and ``.``; ``STOP``, ``PAUSE``,
``LIST VOICES``, ``DEBUG ...``, ``QUIT``. :class:`ModuleProtocol` takes the
bytes and gives back :class:`Command` objects plus the replies that need no
decision ("202 OK RECEIVING MESSAGE" as a block starts). The module's
asynchronous events (``701 BEGIN``, ``702 END``, ``703 STOP``, ``704 PAUSE``,
``700 INDEX MARK``) are made by :func:`event`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Command", "ModuleProtocol", "event"]

MAX_LINE_BYTES = 1 << 20  # a line longer than this is not the server's
MAX_BLOCK_BYTES = 8 << 20

# The reply sent when a block's first line arrives, by command.
_BLOCKS = {
    "SPEAK": "202 OK RECEIVING MESSAGE",
    "CHAR": "202 OK RECEIVING MESSAGE",
    "KEY": "202 OK RECEIVING MESSAGE",
    "SOUND_ICON": "202 OK RECEIVING MESSAGE",
    "SET": "203 OK RECEIVING SETTINGS",
    "AUDIO": "207 OK RECEIVING AUDIO SETTINGS",
    "LOGLEVEL": "207 OK RECEIVING LOGLEVEL SETTINGS",
}
_SIMPLE = {"INIT", "STOP", "PAUSE", "QUIT"}


@dataclass(frozen=True)
class Command:
    """One command from the server. ``text`` for SPEAK/CHAR/KEY/SOUND_ICON;
    ``settings`` for SET/AUDIO/LOGLEVEL (``bad`` if a line was not
    ``name=value``); ``line`` for LIST VOICES, DEBUG and unknown lines."""

    name: str
    text: str = ""
    settings: dict[str, str] = field(default_factory=dict)
    bad: bool = False
    line: str = ""


class ModuleProtocol:
    """Bytes from the server in, commands and immediate replies out."""

    def __init__(self) -> None:
        self._pending = b""
        self._block: str | None = None
        self._lines: list[str] = []
        self._block_bytes = 0

    def feed(self, data: bytes) -> list[Command | str]:
        """In order: commands complete so far, and replies (str) to send at once."""
        self._pending += data
        out: list[Command | str] = []
        while True:
            end = self._pending.find(b"\n")
            if end < 0:
                if len(self._pending) > MAX_LINE_BYTES:  # not a line: drop it
                    self._pending = b""
                    out.append(Command("UNKNOWN", line="<an over-long line>"))
                return out
            raw, self._pending = self._pending[:end], self._pending[end + 1 :]
            line = raw.decode("utf-8", errors="replace").rstrip("\r")
            self._line(line, out, out)

    def _line(self, line: str, commands: list[Command | str], replies: list[Command | str]) -> None:
        if self._block is not None:
            if line == ".":
                commands.append(self._finish_block())
                return
            if line.startswith("."):
                line = line[1:]  # a data line starting with "." comes doubled
            self._block_bytes += len(line) + 1
            if self._block_bytes <= MAX_BLOCK_BYTES:
                self._lines.append(line)
            return
        word = line.strip()
        if word in _BLOCKS:
            self._block, self._lines, self._block_bytes = word, [], 0
            replies.append(_BLOCKS[word])
        elif word in _SIMPLE:
            commands.append(Command(word))
        elif word.startswith("LIST VOICES"):
            commands.append(Command("LIST VOICES", line=word))
        elif word.startswith("DEBUG"):
            commands.append(Command("DEBUG", line=word))
        elif word:
            commands.append(Command("UNKNOWN", line=line[:200]))

    def _finish_block(self) -> Command:
        name, lines = self._block, self._lines
        assert name is not None
        self._block, self._lines = None, []
        if name in ("SET", "AUDIO", "LOGLEVEL"):
            settings, bad = {}, False
            for line in lines:
                key, equals, value = line.partition("=")
                if not equals or not key:
                    bad = True
                    continue
                settings[key.strip()] = value
            return Command(name, settings=settings, bad=bad)
        return Command(name, text="\n".join(lines))


def event(code: int, argument: str | None = None) -> str:
    """An asynchronous event line (or two, with an argument, as for a mark)."""
    names = {700: "INDEX MARK", 701: "BEGIN", 702: "END", 703: "STOP", 704: "PAUSE"}
    if argument is None:
        return f"{code} {names[code]}"
    return f"{code}-{argument}\n{code} {names[code]}"
