"""Sentences and clauses from a stream of text pieces (sans-IO).

Feed pieces as they arrive (an LLM's tokens, caption lines, a whole book);
get back :class:`Segment` objects as soon as a boundary is *certain*. The
scanner walks the text once; at each candidate boundary it decides "cut",
"no cut", or "need more text" — and only the last holds it back. Decisions
depend only on the text, never on where the pieces were split, so any
split of a text yields the same segments as feeding it whole.

What counts as a boundary:

- ``. ! ? …`` (and CJK ``。！？``) followed by space, after any closing
  quotes and brackets; a period after an abbreviation (``Dr.``, ``e.g.``),
  initials (``J. R. R.``), a list number, or an ellipsis followed by a
  lower-case word is not; decimals, times and thousands (``3.14``,
  ``3:30``, ``1,000``) never are; a period with no space before a capital
  (``first.Second``) is; URLs and e-mail addresses are never cut inside;
- a blank line, and a line break before or after a list item;
- a clause mark (``, ; :`` or a spaced dash) only for the early first
  fragment of an utterance, when enough words have arrived, or to keep a
  segment under ``max_chars``.

Segments cover the text exactly: joined, they give back every character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ConfigError
from . import abbreviations
from .segment import Segment

__all__ = ["Segment", "Segmenter", "SegmenterOptions"]

_SENTENCE_END = ".!?…。！？"
_CJK_END = "。！？"
_CLOSERS = "\"'”’»)]}›」』"
_CLAUSE_MARKS = ",;:、，；："
_DASHES = "-–—"

# Titles that precede a name: never the end of a sentence (abbreviations.py
# holds the classes; "St." and "Dr." after a name are a street's, below).
_TITLES = abbreviations.NEVER_END | abbreviations.TWO_SENSES | {"mt", "ft", "messrs"}
# Abbreviations that may end a sentence: cut only if a capital follows.
_ABBREVIATIONS = abbreviations.ABBREVIATIONS_THAT_END | frozenset(
    [
        "etc",
        "e.g",
        "i.e",
        "vs",
        "approx",
        "inc",
        "ltd",
        "co",
        "corp",
        "no",
        "nos",
        "fig",
        "figs",
        "vol",
        "vols",
        "ed",
        "eds",
        "ch",
        "sec",
        "dept",
        "est",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "sat",
        "sun",
        "a.m",
        "p.m",
        "ph.d",
        "m.d",
        "b.a",
        "m.a",
        "m.b.a",
        "cf",
        "al",
        "ca",
        "ave",
        "blvd",
        "rd",
    ]
)
_URL_OR_EMAIL = re.compile(r"(?:[a-zA-Z][a-zA-Z0-9+.-]*://|www\.)\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_LIST_MARKER = re.compile(r"(?:[-*•·–—]|\d{1,3}[.)]|[a-zA-Z][.)])\s")
_DOTTED_ACRONYM = re.compile(r"(?:[A-Za-z]\.){1,}[A-Za-z]")


@dataclass(frozen=True)
class SegmenterOptions:
    """- ``first_fragment_min_words``: the first segment of an utterance may
      end at a clause mark once it has this many words (0 disables).
    - ``max_chars``: a longer segment is cut at its last clause mark, else
      at its last space, else hard (a text with no spaces at all).
    """

    first_fragment_min_words: int = 3
    max_chars: int = 400

    def __post_init__(self) -> None:
        if self.first_fragment_min_words < 0:
            raise ConfigError("first_fragment_min_words must be >= 0")
        if self.max_chars < 16:
            raise ConfigError(f"max_chars must be at least 16, got {self.max_chars}")


_CUT, _NO, _WAIT = "cut", "no", "wait"


class Segmenter:
    """Incremental sentence/clause segmenter. Not thread-safe; one per stream."""

    def __init__(self, options: SegmenterOptions | None = None) -> None:
        self.options = options or SegmenterOptions()
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next text starts a new utterance at offset 0."""
        self._buffer = ""  # text not yet emitted, starting at self._offset
        self._offset = 0
        self._cursor = 0  # buffer index up to which boundaries are decided
        self._index = 0
        self._clause_cut = 0  # last clause boundary in the buffer (0: none)
        self._skip_to = 0  # inside a URL/e-mail: no boundary before this

    # -- public API ----------------------------------------------------------

    def feed(self, piece: str) -> list[Segment]:
        self._buffer += piece
        return self._scan(final=False)

    def stall(self) -> list[Segment]:
        """The stream paused: emit whole words that are waiting."""
        out = self._scan(final=False)
        text = self._buffer
        if not any(c.isalnum() for c in text):
            return out
        if text[-1].isspace() or text[-1] in _SENTENCE_END + _CLAUSE_MARKS + _CLOSERS:
            cut = len(text)
        else:  # the last word may still be growing: keep it
            cut = max(text.rfind(" "), text.rfind("\n")) + 1
            if cut <= 0 or not any(c.isalnum() for c in text[:cut]):
                return out
        out.append(self._emit(cut, "stall"))
        return out

    def flush(self) -> list[Segment]:
        """End of input: decide the rest and emit everything."""
        out = self._scan(final=True)
        if self._buffer:
            out.append(self._emit(len(self._buffer), "end"))
        return out

    @property
    def pending_chars(self) -> int:
        return len(self._buffer)

    # -- scanning --------------------------------------------------------------

    def _emit(self, cut: int, reason: str) -> Segment:
        text, self._buffer = self._buffer[:cut], self._buffer[cut:]
        segment = Segment(text, self._offset, self._offset + cut, reason, self._index)
        self._offset += cut
        self._index += 1
        self._cursor = max(0, self._cursor - cut)
        self._skip_to = max(0, self._skip_to - cut)
        self._clause_cut = 0
        return segment

    def _scan(self, final: bool) -> list[Segment]:
        out: list[Segment] = []
        while self._cursor < len(self._buffer):
            i = self._cursor
            limit = self.options.max_chars
            if i >= limit:
                cut = self._clause_cut or self._last_space(limit) or limit
                out.append(self._emit(cut, "length"))
                continue
            decision, cut, reason = self._decide(i, final)
            if decision == _WAIT:
                break
            if decision == _CUT and cut > 0:
                out.append(self._emit(cut, reason))
                continue
            self._cursor = max(i + 1, cut) if decision == _NO else i + 1
        return out

    def _last_space(self, limit: int) -> int:
        return max(self._buffer.rfind(" ", 0, limit), self._buffer.rfind("\n", 0, limit)) + 1

    def _decide(self, i: int, final: bool) -> tuple[str, int, str]:
        """Is there a boundary at buffer position i? -> (decision, cut, reason)."""
        text = self._buffer
        char = text[i]
        if i < self._skip_to:
            return _NO, self._skip_to, ""
        if (i == 0 or text[i - 1].isspace()) and not char.isspace():
            url = self._url_at(i, final)
            if url == -1:
                return _WAIT, 0, ""
            if url:
                self._skip_to = url
                return _NO, url, ""
        if char in _SENTENCE_END:
            return self._sentence_end(i, final)
        if char == "\n":
            return self._line_break(i, final)
        if char in _CLAUSE_MARKS or (char in _DASHES and i > 0 and text[i - 1] == " "):
            return self._clause_mark(i, final)
        return _NO, 0, ""

    def _url_at(self, i: int, final: bool) -> int:
        """End of a URL or e-mail starting at i; 0 if none; -1 if unsure yet."""
        text = self._buffer
        end = i
        while end < len(text) and not text[end].isspace():
            end += 1
        if end == len(text) and not final and end - i < self.options.max_chars:
            # The word may still grow into a URL: decide when it is whole
            # (a word longer than a segment may be is never a URL: memory
            # stays bounded).
            return -1
        match = _URL_OR_EMAIL.match(text, i, end)
        if not match:
            return 0
        stop = match.end()
        while stop > i and text[stop - 1] in ".,;:!?)]}\"'":
            stop -= 1
        return stop

    def _sentence_end(self, i: int, final: bool) -> tuple[str, int, str]:
        text = self._buffer
        j = i
        while j < len(text) and (text[j] in _SENTENCE_END or text[j] in _CLOSERS):
            j += 1
        run = text[i:j]
        if any(c in _CJK_END for c in run):
            return _CUT, j, "sentence"
        if j == len(text):
            return (_CUT, j, "sentence") if final else (_WAIT, 0, "")
        after = text[j]
        if not after.isspace():
            if run[0] == "." and len(run) == 1:
                return self._missing_space(i, j, final)
            return _NO, j, ""
        if run[0] in "!?":
            return _CUT, j, "sentence"
        word = self._word_before(i)
        is_ellipsis = run.startswith("..") or run[0] == "…"
        needs_next = is_ellipsis
        lowered = word.lower().rstrip(".")
        if not is_ellipsis:
            if self._is_title(i, word, lowered):
                return _NO, j, ""
            if self._is_list_number(i, word):
                return _NO, j, ""
            initial = len(word) == 1 and word.isalpha()
            needs_next = (
                initial
                or lowered in _ABBREVIATIONS
                or lowered in _TITLES  # "Elm St.", "5 ft.": cut only if a capital follows
                or bool(_DOTTED_ACRONYM.fullmatch(word))
            )
            if initial and word.isupper():
                return _NO, j, ""  # "J. R. R. Tolkien"
        if not needs_next:
            return _CUT, j, "sentence"
        k = j
        while k < len(text) and text[k].isspace():
            k += 1
        if k == len(text):
            return (_CUT, j, "sentence") if final else (_WAIT, 0, "")
        nxt = text[k]
        if nxt.islower() or nxt.isdigit() or nxt in _CLAUSE_MARKS:
            return _NO, j, ""
        return _CUT, j, "sentence"

    def _missing_space(self, i: int, j: int, final: bool) -> tuple[str, int, str]:
        """ "first.Second": a sentence end with the space missing?"""
        text = self._buffer
        if j + 1 >= len(text):
            return (_NO, j, "") if final else (_WAIT, 0, "")
        word = self._word_before(i)
        if (
            len(word) >= 2
            and word.isalpha()
            and word[-1].islower()
            and text[j].isupper()
            and text[j + 1].islower()
        ):
            return _CUT, j, "sentence"
        return _NO, j, ""

    def _is_title(self, i: int, word: str, lowered: str) -> bool:
        """A title before a name ("Dr. Lee", "Gen. Smith"): a capitalised
        title not after a street's or a person's name ("Oak Dr.", "John
        Smith Sr.") nor after a numeral ("5 ft.")."""
        if lowered not in _TITLES or not word[:1].isupper():
            return False
        start = i - len(word)
        # The two words before it (the buffer starts where a sentence does).
        before = self._buffer[max(0, start - 64) : start]
        if abbreviations.ends_with_numeral(before):
            return False
        return not (lowered in abbreviations.TWO_SENSES and abbreviations.ends_with_name(before))

    def _word_before(self, i: int) -> str:
        text = self._buffer
        start = i
        while start > 0 and not text[start - 1].isspace():
            start -= 1
        return text[start:i].lstrip("\"'“‘«([{¿¡")

    def _is_list_number(self, i: int, word: str) -> bool:
        """ "1. Item" at the start of a line is a list marker."""
        if not word.isdigit():
            return False
        start = i - len(word)
        return start == 0 or self._buffer[start - 1] == "\n"

    def _line_break(self, i: int, final: bool) -> tuple[str, int, str]:
        text = self._buffer
        k = i + 1
        while k < len(text) and text[k] in " \t\r":
            k += 1
        if k == len(text):
            return (_CUT, k, "paragraph") if final else (_WAIT, 0, "")
        if text[k] == "\n":
            return _CUT, i + 1, "paragraph"
        line_start = text.rfind("\n", 0, i) + 1
        this_line = text[line_start:i].lstrip()
        if _LIST_MARKER.match(this_line + " ") or _LIST_MARKER.match(text, k):
            return _CUT, i + 1, "list"
        if k + 3 > len(text) and not final:
            return _WAIT, 0, ""  # a list marker may be arriving
        if _LIST_MARKER.match(text, k):
            return _CUT, i + 1, "list"
        return _NO, 0, ""

    def _clause_mark(self, i: int, final: bool) -> tuple[str, int, str]:
        text = self._buffer
        if i + 1 >= len(text):
            return (_NO, 0, "") if final else (_WAIT, 0, "")
        if not text[i + 1].isspace():
            return _NO, 0, ""  # 1,000 / 3:30 / well-known
        self._clause_cut = i + 1
        min_words = self.options.first_fragment_min_words
        if self._index == 0 and min_words and self._words(i) >= min_words:
            return _CUT, i + 1, "clause"
        return _NO, 0, ""

    def _words(self, limit: int) -> int:
        return sum(1 for w in self._buffer[:limit].split() if any(c.isalnum() for c in w))
