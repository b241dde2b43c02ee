"""Markdown, as LLMs write it, scanned as it streams in (sans-IO).

:class:`MarkdownScanner` reads the line structure (headings, list items,
quotes, rules), fenced code blocks and tables, and each token's inline
marks (emphasis, code ticks, link brackets and targets); the tokens it
finds go to a :class:`~streamtts.text.tokens.TokenReader`. A heading or
list item is its own segment (a full stop and a paragraph break after
it), a link is read by its text, inline code is read, fenced code blocks
and tables are summarised ("Code block, 12 lines."), read, or skipped,
emoji are dropped or named. Each decision waits only for the token or
line start it depends on, so any split of a text reads the same.
"""

from __future__ import annotations

import re
import unicodedata

from .offsets import SpokenText
from .options import TextOptions
from .tokens import PendingText, Token, TokenReader, next_token

__all__ = ["MarkdownScanner", "inline_token"]

_WHITESPACE = re.compile(r"\s")
_HEADING = re.compile(r"#{1,6}$")
_BULLET = re.compile(r"[-*+]$")
_NUMBERED = re.compile(r"(\d{1,3})[.)]$")
_RULE = re.compile(r"(?:-{3,}|\*{3,}|_{3,})\s*$")
_FENCE = re.compile(r"(`{3,}|~{3,})")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_LINK_TARGET = re.compile(r"\]\((?:[^()\s]|\([^()\s]*\))*\)")
_INLINE = re.compile(
    r"^(?P<lead>(?:[*_~`<]|!?\[)*)(?P<body>.*?)(?P<marks>[*_~`\]>]*)(?P<punct>[.,;:!?\"')]*)$",
    re.DOTALL,
)
_TERMINAL = ".!?:;,"


def _is_emoji(char: str) -> bool:
    code = ord(char)
    return (
        0x1F000 <= code <= 0x1FAFF
        or 0x2600 <= code <= 0x27BF
        or code in (0xFE0F, 0x200D, 0x20E3)
        or (unicodedata.category(char) == "So" and code > 0x2100)
    )


def inline_token(token: str, start: int, drop_emoji: bool) -> Token | None:
    """``token`` (at ``start`` in the caller's text) without its markdown
    marks (emphasis, code ticks, link brackets and targets) and, when
    ``drop_emoji``, its emoji; None when nothing is left to say."""
    match = _INLINE.match(_LINK_TARGET.sub("", token))
    if match is None:  # pragma: no cover - the pattern matches any string
        body, punct, lead = token, "", 0
    else:
        body, punct, lead = match.group("body"), match.group("punct"), len(match.group("lead"))
        if not body:
            return None
    # The body is the caller's characters when marks only surround it.
    copied = body == token[lead : lead + len(body)]
    # (Every emoji is outside ASCII: most tokens need no look at each character.)
    if drop_emoji and not token.isascii() and any(_is_emoji(c) for c in body + punct):
        body, copied = "".join(c for c in body if not _is_emoji(c)), False
    if not body + punct:
        return None
    return Token(body, punct, start, start + len(token), lead, copied)


class MarkdownScanner:
    """Reads markdown from a :class:`PendingText` (see the module docstring)."""

    def __init__(
        self, options: TextOptions, pending: PendingText, spoken: SpokenText, reader: TokenReader
    ) -> None:
        self.options = options
        self._pending, self._spoken, self._reader = pending, spoken, reader
        self._line_start = True
        self._line_kind = "para"  # para, heading, item
        self._line_has_text = False
        self._fence: str | None = None  # the fence of the code block we are in
        self._block_start = 0
        self._block_lines = 0
        self._block_text: list[str] = []
        self._table_rows = -1  # -1: not in a table

    def run(self, final: bool) -> None:
        """Read what is pending, up to what may change with the next piece
        (everything when ``final``)."""
        pending = self._pending
        drop_emoji = self.options.emoji == "drop"
        while pending.text:
            if self._fence is not None:
                if not self._block_line(final):
                    return
                continue
            if self._table_rows >= 0 and self._line_start:
                rest = pending.text.lstrip(" \t")
                if not rest and not final:
                    return
                if rest.startswith("|"):
                    if not self._block_line(final):
                        return
                    continue
                self._end_table()
            if self._line_start:
                if not self._start_line(final):
                    return
                continue
            char = pending.text[0]
            if char == "\n":
                self._newline()
                continue
            if char.isspace():
                self._reader.space(char, pending.start)
                pending.consume(1)
                continue
            taken = next_token(pending, final)
            if taken is None:
                return  # the token may go on in the next piece
            token = inline_token(*taken, drop_emoji=drop_emoji)
            if token is not None:
                self._line_has_text = True
                self._reader.token(token)

    def finish(self) -> None:
        """The text has ended: close the block or item it ended in."""
        if self._fence is not None:
            self._end_code_block()
        if self._table_rows >= 0:
            self._end_table()
        if self._line_kind in ("heading", "item"):
            self._end_item()

    # -- lines -------------------------------------------------------------------------

    def _newline(self) -> None:
        start = self._pending.start
        self._pending.consume(1)
        self._reader.release(None)
        if self._line_kind in ("heading", "item"):
            self._end_item()
        elif not self._line_has_text:
            self._spoken.emit("\n\n", start, start + 1, False)  # a blank line ends a paragraph
        else:
            self._spoken.emit(" ", start, start + 1, False)
        self._line_start = True
        self._line_kind = "para"
        self._line_has_text = False

    def _end_item(self) -> None:
        """A heading or list item is its own segment, with a pause after it."""
        at = self._pending.start
        if self._line_has_text and self._spoken.last_visible not in _TERMINAL:
            self._spoken.emit(".", at, at, False)
        self._spoken.emit("\n\n", at, at, False)
        self._line_kind = "para"

    def _start_line(self, final: bool) -> bool:
        """Decide what kind of line this is; False: need more text."""
        pending = self._pending
        text = pending.text
        stripped = text.lstrip(" \t")
        indent = len(text) - len(stripped)
        first_end = _WHITESPACE.search(stripped)
        if first_end is None and not final:
            return False
        first = stripped[: first_end.start()] if first_end else stripped
        newline = text.find("\n")
        whole_line = text[:newline] if newline >= 0 else None
        fence = _FENCE.match(first)
        if fence is not None:
            if whole_line is None and not final:
                return False
            self._fence = fence.group(1)[:3]
            self._block_start, self._block_lines, self._block_text = pending.start, 0, []
            pending.consume(len(whole_line) + 1 if whole_line is not None else len(text))
            return True
        if stripped.startswith("|"):
            self._table_rows, self._block_start, self._block_text = 0, pending.start, []
            return True  # the table's lines are read whole, by _block_line
        if whole_line is not None and _RULE.match(whole_line.strip()) and whole_line.strip():
            pending.consume(len(whole_line))
            self._line_start = False
            return True
        self._line_start = False
        marker = 0
        if _HEADING.match(first):
            self._line_kind, marker = "heading", len(first)
        elif _BULLET.match(first) and first_end is not None:
            self._line_kind, marker = "item", len(first)
        elif (number := _NUMBERED.match(first)) is not None and first_end is not None:
            self._line_kind, marker = "item", len(first)
            at = pending.start + indent
            pending.consume(indent + marker)
            self._spoken.emit(f"{number.group(1)}, ", at, at + marker, False)
            self._line_has_text = True
            return True
        elif first.startswith(">"):
            marker = len(first) - len(first.lstrip(">"))
        pending.consume(indent + marker)
        while pending.text[:1] in (" ", "\t") and marker:
            pending.consume(1)  # the space after a heading's or bullet's mark
        return True

    # -- code blocks and tables ----------------------------------------------------------

    def _block_line(self, final: bool) -> bool:
        """One line of a code block or table; False: need more text."""
        pending = self._pending
        newline = pending.text.find("\n")
        if newline < 0 and not final:
            return False
        line = pending.text[:newline] if newline >= 0 else pending.text
        pending.consume(newline + 1 if newline >= 0 else len(pending.text))
        self._line_start = True
        if self._fence is not None:
            if line.strip().startswith(self._fence):
                self._end_code_block()
            else:
                self._block_lines += 1
                self._block_text.append(line)
            return True
        if not _TABLE_SEPARATOR.match(line):
            self._table_rows += 1
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            self._block_text.append(", ".join(cell for cell in cells if cell))
        return True

    def _end_code_block(self) -> None:
        choice, lines = self.options.code_blocks, self._block_lines
        start, end = self._block_start, self._pending.start
        if choice == "summarize":
            summary = f"\n\nCode block, {lines} line{'s' * (lines != 1)}.\n\n"
            self._spoken.emit(summary, start, end, False)
        elif choice == "read":
            said = ". ".join(t.strip() for t in self._block_text if t.strip())
            self._spoken.emit(f"\n\n{said}.\n\n", start, end, False)
        self._fence = None
        self._line_start = True

    def _end_table(self) -> None:
        rows = max(0, self._table_rows - 1)  # the header is not a row of data
        start, end = self._block_start, self._pending.start
        if self.options.tables == "summarize":
            self._spoken.emit(f"\n\nTable, {rows} row{'s' * (rows != 1)}.\n\n", start, end, False)
        elif self.options.tables == "read":
            said = ". ".join(self._block_text)
            self._spoken.emit(f"\n\n{said}.\n\n", start, end, False)
        self._table_rows = -1
        self._line_start = True
