"""The text front end: what the caller wrote → what a listener should hear (sans-IO).

It sits between the caller and the segmenter and streams like the rest of
the graph: ``feed`` any pieces (an LLM's tokens split a ``**`` or a URL
anywhere), get back the text that is now certain; the result is the same
for any split of the same text, because every decision waits for the whole
token (or, for markdown's block structure, the whole line start) it
depends on. An :class:`OffsetMap` keeps, for every character given to the
segmenter, where it came from in the caller's text, so word and segment
events point at the caller's characters.

- ``plain``: written forms are normalized (money, dates, fractions, some
  abbreviations, URLs and e-mail addresses: ``normalize.py``); prose is
  unchanged.
- ``markdown`` (what LLMs write): the same, and emphasis marks vanish, a
  heading or list item is its own segment (a full stop and a paragraph
  break after it), a link is read by its text, inline code is read, fenced
  code blocks and tables are summarised ("code block, 12 lines"), read, or
  skipped, emoji are dropped or named.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from ..errors import ConfigError
from ..messages import Segment
from .normalize import normalize_token
from .reading import PUNCTUATION_LEVELS, name_punctuation, signal_capitals, spell

if TYPE_CHECKING:
    from .ssml import Prosody

__all__ = ["TONE", "FrontEnd", "OffsetMap", "Offsets", "TextOptions"]

_TEXT_FORMATS = ("plain", "markdown", "ssml")
# Stands for a tone in the text handed on (capital letters signalled).
TONE = "♪"
_BLOCK_CHOICES = ("summarize", "read", "skip")


@dataclass(frozen=True)
class TextOptions:
    """How text is read. ``format`` ``plain`` or ``markdown``; markdown's
    ``code_blocks`` and ``tables``: ``summarize`` (the default: a listener
    wants to know one is there, not hear every brace), ``read`` or ``skip``;
    ``emoji`` in markdown: ``drop`` (LLM decoration) or ``name`` (as
    espeak-ng names them, which plain text always does)."""

    format: str = "plain"
    code_blocks: str = "summarize"
    tables: str = "summarize"
    emoji: str = "drop"
    normalize: bool = True
    strict_ssml: bool = False  # malformed SSML raises instead of being read as text
    # Reading modes, as a screen reader sets them per utterance:
    punctuation: str = "none"  # none, some, most, all: which symbols are said by name
    capitals: str = "none"  # none, "cap" said or a "tone" before a word with a capital
    spell: bool = False  # every character by name

    def __post_init__(self) -> None:
        if self.format not in _TEXT_FORMATS:
            raise ConfigError(
                f"text format must be one of {', '.join(_TEXT_FORMATS)}, got {self.format!r}"
            )
        for name in ("code_blocks", "tables"):
            if getattr(self, name) not in _BLOCK_CHOICES:
                raise ConfigError(f"{name} must be summarize, read or skip")
        if self.emoji not in ("drop", "name"):
            raise ConfigError("emoji must be drop or name")
        if self.punctuation not in PUNCTUATION_LEVELS:
            raise ConfigError("punctuation must be none, some, most or all")
        if self.capitals not in ("none", "cap", "tone"):
            raise ConfigError("capitals must be none, cap or tone")


class Offsets(Protocol):
    """Cleaned text offsets → the caller's text offsets."""

    def start(self, clean: int) -> int: ...

    def end(self, clean_end: int) -> int: ...


class _Composed:
    """Two maps one after the other (cleaned → SSML text content → SSML)."""

    def __init__(self, first: Offsets, then: Offsets) -> None:
        self.first, self.then = first, then

    def start(self, clean: int) -> int:
        return self.then.start(self.first.start(clean))

    def end(self, clean_end: int) -> int:
        return self.then.end(self.first.end(clean_end))


class OffsetMap:
    """Cleaned text offset → the caller's text offset.

    Runs are appended in order: a *copied* run maps character for
    character; a *replaced* run (a normalized or summarised stretch) maps
    all of its characters to the whole span it replaced.
    """

    def __init__(self) -> None:
        self._clean_starts: list[int] = []
        self._runs: list[tuple[int, int, bool]] = []  # (orig_start, orig_end, copied)
        self.length = 0

    def add(self, size: int, orig_start: int, orig_end: int, copied: bool) -> None:
        if size <= 0:
            return
        self._clean_starts.append(self.length)
        self._runs.append((orig_start, orig_end, copied))
        self.length += size

    def start(self, clean: int) -> int:
        """Where the character at ``clean`` came from (its first original character)."""
        if not self._runs:
            return clean
        k = max(0, bisect.bisect_right(self._clean_starts, clean) - 1)
        orig_start, orig_end, copied = self._runs[k]
        if copied:
            return min(orig_start + clean - self._clean_starts[k], orig_end)
        return orig_start

    def end(self, clean_end: int) -> int:
        """Where a span ending before ``clean_end`` ends in the original."""
        if not self._runs or clean_end <= 0:
            return clean_end
        k = max(0, bisect.bisect_right(self._clean_starts, clean_end - 1) - 1)
        orig_start, orig_end, copied = self._runs[k]
        if copied:
            return min(orig_start + clean_end - self._clean_starts[k], orig_end)
        return orig_end


_WHITESPACE = re.compile(r"\s")
_HEADING = re.compile(r"#{1,6}$")
_BULLET = re.compile(r"[-*+]$")
_NUMBERED = re.compile(r"(\d{1,3})[.)]$")
_RULE = re.compile(r"(?:-{3,}|\*{3,}|_{3,})\s*$")
_FENCE = re.compile(r"(`{3,}|~{3,})")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_LINK_TARGET = re.compile(r"\]\((?:[^()\s]|\([^()\s]*\))*\)")
_MARKERS = "*_~`"
_TERMINAL = ".!?:;,"


def _is_emoji(char: str) -> bool:
    code = ord(char)
    return (
        0x1F000 <= code <= 0x1FAFF
        or 0x2600 <= code <= 0x27BF
        or code in (0xFE0F, 0x200D, 0x20E3)
        or (unicodedata.category(char) == "So" and code > 0x2100)
    )


class FrontEnd:
    """One utterance's front end (see the module docstring)."""

    def __init__(self, options: TextOptions | None = None) -> None:
        self.options = options or TextOptions()
        self.markdown = self.options.format == "markdown"
        self._map = OffsetMap()
        self.offsets: Offsets = self._map
        # SSML marks: (offset in the text handed on, name), in order.
        self.marks: list[tuple[int, str]] = []
        # SSML prosody: (offset in the text handed on, how it is said from there).
        self.prosody: list[tuple[int, Prosody]] = []
        # Where a tone stands for a capital letter: offsets of TONE characters.
        self.tones: list[int] = []
        self._ssml = None
        if self.options.format == "ssml":
            from .ssml import SsmlReader

            self._ssml = SsmlReader(self.options.strict_ssml)
            self._inner = FrontEnd(replace(self.options, format="plain"))
            self.offsets = _Composed(self._inner.offsets, self._ssml.offsets)
            self._marks_seen = 0
            self._prosody_seen = 0
        self._buffer = ""
        self._base = 0  # original offset of _buffer[0]
        self._out: list[str] = []
        self._line_start = True
        self._line_kind = "para"  # para, heading, item
        self._line_has_text = False
        self._fence: str | None = None
        self._block_start = 0
        self._block_lines = 0
        self._block_text: list[str] = []
        self._table_rows = -1  # -1: not in a table
        self._held: tuple[str, int] | None = None  # a token waiting for the next one
        self._held_space: list[tuple[str, int]] = []
        self._last_visible = "."  # the last character said that is not a space

    # -- the interface -----------------------------------------------------------

    def feed(self, text: str) -> str:
        if self._ssml is not None:
            return self._through_ssml(self._ssml.feed(text), final=False)
        self._buffer += text
        self._run(final=False)
        return self._take()

    def flush(self) -> str:
        if self._ssml is not None:
            return self._through_ssml(self._ssml.flush(), final=True)
        self._run(final=True)
        self._release_held(None)
        if self._fence is not None:
            self._end_code_block()
        if self._table_rows >= 0:
            self._end_table()
        if self._line_kind in ("heading", "item"):
            self._end_item()
        return self._take()

    def _through_ssml(self, content: str, final: bool) -> str:
        """SSML's text content through the plain front end, with each mark
        and each change of prosody placed between the words it stands between."""
        ssml = self._ssml
        assert ssml is not None
        changes: list[tuple[int, str | Prosody]] = [
            *ssml.marks[self._marks_seen :],
            *ssml.prosody[self._prosody_seen :],
        ]
        self._marks_seen, self._prosody_seen = len(ssml.marks), len(ssml.prosody)
        changes.sort(key=lambda change: change[0])  # stable: marks first at a tie
        out = []
        fed = self._inner._fed
        for offset, change in changes:
            take = max(0, offset - fed)
            out.append(self._inner.feed(content[:take]))
            content, fed = content[take:], fed + take
            out.append(self._inner.boundary())
            at = self._inner._map.length
            if isinstance(change, str):
                self.marks.append((at, change))
            else:
                self.prosody.append((at, change))
        out.append(self._inner.feed(content))
        if final:
            out.append(self._inner.flush())
        return "".join(out)

    def annotate(self, segment: Segment) -> Segment:
        """``segment`` with the prosody in force where it starts."""
        tones = self._inner.tones if self._ssml is not None else self.tones
        if tones and segment.text.strip() == TONE:
            first = segment.start + segment.text.index(TONE)
            k = bisect.bisect_left(tones, first)
            if k < len(tones) and tones[k] == first:
                return replace(segment, tone=True)
        if not self.prosody:
            return segment
        # Its first character said: a segment may begin with the breaks before it.
        first = segment.start + len(segment.text) - len(segment.text.lstrip())
        k = bisect.bisect_right([at for at, _ in self.prosody], first) - 1
        if k < 0:
            return segment
        prosody = self.prosody[k][1]
        return replace(
            segment, rate=prosody.rate, volume=prosody.volume, pitch=prosody.pitch, ipa=prosody.ipa
        )

    def boundary(self) -> str:
        """End the word being read (a tag stands here): it is said now."""
        self._run(final=True)
        self._release_held(None)
        return self._take()

    # -- output --------------------------------------------------------------------

    def _emit(self, text: str, orig_start: int, orig_end: int, copied: bool) -> None:
        if text:
            self._out.append(text)
            self._map.add(len(text), orig_start, orig_end, copied)
            if text.strip():
                self._last_visible = text.rstrip()[-1]

    def _take(self) -> str:
        out = "".join(self._out)
        self._out.clear()
        return out

    def _consume(self, count: int) -> None:
        self._buffer = self._buffer[count:]
        self._base += count

    @property
    def _fed(self) -> int:
        """Characters given to :meth:`feed` so far."""
        return self._base + len(self._buffer)

    # -- the scanner -------------------------------------------------------------------

    def _run(self, final: bool) -> None:
        while self._buffer:
            if self._fence is not None:
                if not self._block_line(final):
                    return
                continue
            if self._table_rows >= 0 and self._line_start:
                rest = self._buffer.lstrip(" \t")
                if not rest and not final:
                    return
                if rest.startswith("|"):
                    if not self._block_line(final):
                        return
                    continue
                self._end_table()
            if self.markdown and self._line_start:
                if not self._start_line(final):
                    return
                continue
            char = self._buffer[0]
            if char == "\n":
                self._newline()
                continue
            if char.isspace():
                self._space(char, self._base)
                self._consume(1)
                continue
            end = _WHITESPACE.search(self._buffer)
            if end is None and not final:
                return  # the token may go on in the next piece
            size = end.start() if end else len(self._buffer)
            token, start = self._buffer[:size], self._base
            self._consume(size)
            self._token(token, start)

    def _newline(self) -> None:
        start = self._base
        self._consume(1)
        if not self.markdown:
            self._space("\n", start)
            return
        self._release_held(None)
        if self._line_kind in ("heading", "item"):
            self._end_item()
        elif not self._line_has_text:
            self._emit("\n\n", start, start + 1, False)  # a blank line ends a paragraph
        else:
            self._emit(" ", start, start + 1, False)
        self._line_start = True
        self._line_kind = "para"
        self._line_has_text = False

    def _end_item(self) -> None:
        """A heading or list item is its own segment, with a pause after it."""
        at = self._base
        if self._line_has_text and self._last_visible not in _TERMINAL:
            self._emit(".", at, at, False)
        self._emit("\n\n", at, at, False)
        self._line_kind = "para"

    def _start_line(self, final: bool) -> bool:
        """Decide what kind of line this is; False: need more text."""
        stripped = self._buffer.lstrip(" \t")
        indent = len(self._buffer) - len(stripped)
        newline = self._buffer.find("\n")
        first_end = _WHITESPACE.search(stripped)
        if first_end is None and not final:
            return False
        first = stripped[: first_end.start()] if first_end else stripped
        whole_line = self._buffer[:newline] if newline >= 0 else None
        if _FENCE.match(first):
            if whole_line is None and not final:
                return False
            self._fence = _FENCE.match(first).group(1)[:3]  # type: ignore[union-attr]
            self._block_start, self._block_lines, self._block_text = self._base, 0, []
            self._consume(len(whole_line) + 1 if whole_line is not None else len(self._buffer))
            return True
        if stripped.startswith("|"):
            self._table_rows, self._block_start, self._block_text = 0, self._base, []
            return True  # the table's lines are read whole, by _block_line
        if whole_line is not None and _RULE.match(whole_line.strip()) and whole_line.strip():
            self._consume(len(whole_line))
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
            at = self._base + indent
            self._consume(indent + marker)
            self._emit(f"{number.group(1)}, ", at, at + marker, False)
            self._line_has_text = True
            return True
        elif first.startswith(">"):
            marker = len(first) - len(first.lstrip(">"))
        self._consume(indent + marker)
        while self._buffer[:1] in (" ", "\t") and marker:
            self._consume(1)  # the space after a heading's or bullet's mark
        return True

    def _block_line(self, final: bool) -> bool:
        """One line of a code block or table; False: need more text."""
        newline = self._buffer.find("\n")
        if newline < 0 and not final:
            return False
        line = self._buffer[:newline] if newline >= 0 else self._buffer
        self._consume(newline + 1 if newline >= 0 else len(self._buffer))
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
        start, end = self._block_start, self._base
        if choice == "summarize":
            self._emit(f"\n\nCode block, {lines} line{'s' * (lines != 1)}.\n\n", start, end, False)
        elif choice == "read":
            self._emit(
                "\n\n" + ". ".join(t.strip() for t in self._block_text if t.strip()) + ".\n\n",
                start,
                end,
                False,
            )
        self._fence = None
        self._line_start = True

    def _end_table(self) -> None:
        rows = max(0, self._table_rows - 1)  # the header is not a row of data
        start, end = self._block_start, self._base
        if self.options.tables == "summarize":
            self._emit(f"\n\nTable, {rows} row{'s' * (rows != 1)}.\n\n", start, end, False)
        elif self.options.tables == "read":
            self._emit("\n\n" + ". ".join(self._block_text) + ".\n\n", start, end, False)
        self._table_rows = -1
        self._line_start = True

    # -- tokens ------------------------------------------------------------------------

    def _space(self, char: str, at: int) -> None:
        """Whitespace between tokens; it waits behind a held token."""
        if self.options.spell and char in " \t":
            self._emit(" space ", at, at + 1, False)  # spelling says the spaces too
            return
        if self._held is not None:
            self._held_space.append((char, at))
        else:
            self._emit(char, at, at + 1, True)

    def _token(self, token: str, start: int) -> None:
        body, punct, lead = _inline(token) if self.markdown else (token, "", 0)
        core = body + punct
        # Where the body sits in the caller's text, when marks only surround it.
        body_copied = body == token[lead : lead + len(body)]
        if self.markdown and self.options.emoji == "drop" and any(_is_emoji(c) for c in core):
            body = "".join(c for c in body if not _is_emoji(c))
            core, body_copied = body + punct, False
        if not core:
            return
        self._line_has_text = True
        end = start + len(token)
        if self._held is not None:
            held_core, held_start = self._held
            said, used = self._normal(held_core, core)
            if used:  # "$2.5 billion": said as one, the space between included
                self._held, self._held_space = None, []
                self._emit(said, held_start, end, False)
                return
            self._release_held(core)
        if (
            self.options.normalize
            and not self.options.spell
            and (core[:1] in "$€£¥₹" or core.rstrip(".") == "St")
        ):
            self._held = (core, start + lead)  # its reading depends on the next token
            return
        said, _ = self._normal(core, None)
        if self.options.capitals == "tone" and core[:1].isupper():
            # The tone is a segment of its own, between paragraph breaks.
            self._emit("\n\n", start, start, False)
            self.tones.append(self._map.length)
            self._emit(TONE, start, start, False)
            self._emit("\n\n", start, start, False)
        if said != core or not body_copied:
            self._emit(said, start, end, False)
            return
        self._emit(body, start + lead, start + lead + len(body), True)
        if punct:  # the punctuation that followed the marks: "**bold**," → "bold,"
            self._emit(punct, end - len(punct), end, False)

    def _normal(self, core: str, next_token: str | None) -> tuple[str, bool]:
        """What to say for a token: normalized, then read in the reading modes."""
        options = self.options
        if options.spell:
            return spell(core), False
        said, used = normalize_token(core, next_token) if options.normalize else (core, False)
        if options.punctuation != "none":
            said = " ".join(name_punctuation(said, options.punctuation).split())
        if options.capitals == "cap":
            said = signal_capitals(said)
        return said, used

    def _release_held(self, next_token: str | None) -> None:
        if self._held is None:
            return
        core, start = self._held
        self._held = None
        said, _ = self._normal(core, next_token)
        self._emit(said, start, start + len(core), said == core)
        spaces, self._held_space = self._held_space, []
        for char, at in spaces:
            self._emit(char, at, at + 1, True)


_INLINE = re.compile(
    r"^(?P<lead>(?:[*_~`<]|!?\[)*)(?P<body>.*?)(?P<marks>[*_~`\]>]*)(?P<punct>[.,;:!?\"')]*)$",
    re.DOTALL,
)


def _inline(token: str) -> tuple[str, str, int]:
    """A token without its markdown marks (emphasis, code ticks, link
    brackets and targets): its body, the punctuation after it, and how many
    characters were cut off its front."""
    token_without_target = _LINK_TARGET.sub("", token)
    match = _INLINE.match(token_without_target)
    if match is None:  # pragma: no cover - the pattern matches any string
        return token, "", 0
    body = match.group("body")
    if not body:
        return "", "", 0
    return body, match.group("punct"), len(match.group("lead"))
