"""Tokens and how each is read (sans-IO): the text not yet read, the next
whole token in it, and :class:`TokenReader`, which says a token as a
person reads it.

A token is read only once it is whole, so any split of a text reads the
same. The reader normalizes written forms (``normalize.py``), applies the
reading modes (``reading.py``), and holds a token whose reading depends on
the next one (``$2.5 billion``, ``St. Louis``) until that one arrives. It
keeps the last two tokens read, which some readings depend on too ("Elm
St." is a street, "5 km" a measure).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .normalize import holds_for_next, normalize_token
from .offsets import SpokenText
from .options import TextOptions
from .reading import name_punctuation, signal_capitals, spell

__all__ = ["TONE", "PendingText", "Token", "TokenReader", "next_token"]

# Stands for a tone in the text handed on (capital letters signalled).
TONE = "♪"

_WHITESPACE = re.compile(r"\s")


class PendingText:
    """Text fed and not yet read, and where it starts in the caller's text."""

    def __init__(self) -> None:
        self.text = ""
        self.start = 0  # the caller's offset of text[0]

    @property
    def fed_chars(self) -> int:
        """Characters fed so far."""
        return self.start + len(self.text)

    def add(self, text: str) -> None:
        self.text += text

    def consume(self, count: int) -> None:
        self.text = self.text[count:]
        self.start += count


def next_token(pending: PendingText, final: bool) -> tuple[str, int] | None:
    """Take the token (up to the next whitespace) at the front of
    ``pending``: it and where it starts; None if it may go on in the next
    piece."""
    end = _WHITESPACE.search(pending.text)
    if end is None and not final:
        return None
    size = end.start() if end else len(pending.text)
    token, start = pending.text[:size], pending.start
    pending.consume(size)
    return token, start


@dataclass(slots=True)
class Token:
    """A token as read: ``body`` (without markup), then ``punct`` (the
    punctuation after any closing marks: ``**bold**,`` → ``bold`` and
    ``,``). It spans ``[start, end)`` in the caller's text; its body
    starts ``lead`` characters in and, when ``body_copied``, is the
    caller's own characters there."""

    body: str
    punct: str
    start: int
    end: int
    lead: int = 0
    body_copied: bool = True


class TokenReader:
    """Says tokens and the spaces between them into a :class:`SpokenText`."""

    def __init__(self, options: TextOptions, spoken: SpokenText) -> None:
        self.options = options
        self._spoken = spoken
        # Where a tone stands for a capital letter: offsets of TONE characters.
        self.tones: list[int] = []
        self._held: tuple[str, int] | None = None  # a token waiting for the next one
        self._held_before: str | None = None  # the text before the held token
        self._held_space: list[tuple[str, int]] = []
        self._before: list[str] = []  # the last two tokens read, as written

    def space(self, char: str, at: int) -> None:
        """Whitespace between tokens; it waits behind a held token."""
        if self.options.spell and char in " \t":
            self._spoken.emit(" space ", at, at + 1, False)  # spelling says the spaces too
            return
        if self._held is not None:
            self._held_space.append((char, at))
        else:
            self._spoken.emit(char, at, at + 1, True)

    def token(self, token: Token) -> None:
        """Say ``token`` (or hold it for the next one)."""
        core, emit = token.body + token.punct, self._spoken.emit
        if self._held is not None:
            held_core, held_start = self._held
            said, used = self._say(held_core, core, self._held_before)
            if used:  # "$2.5 billion": said as one, the space between included
                self._held, self._held_space = None, []
                emit(said, held_start, token.end, False)
                self._read(core)
                return
            self.release(core)
        options = self.options
        before = self._text_before()
        self._read(core)
        if options.normalize and not options.spell and holds_for_next(core):
            self._held = (core, token.start + token.lead)  # its reading depends on the next
            self._held_before = before
            return
        said, _ = self._say(core, None, before)
        if options.capitals == "tone" and core[:1].isupper():
            # The tone is a segment of its own, between paragraph breaks.
            emit("\n\n", token.start, token.start, False)
            self.tones.append(self._spoken.length)
            emit(TONE, token.start, token.start, False)
            emit("\n\n", token.start, token.start, False)
        if said != core or not token.body_copied:
            emit(said, token.start, token.end, False)
            return
        body_start = token.start + token.lead
        emit(token.body, body_start, body_start + len(token.body), True)
        if token.punct:  # the punctuation that followed the marks: "**bold**," → "bold,"
            emit(token.punct, token.end - len(token.punct), token.end, False)

    def release(self, next_core: str | None) -> None:
        """Say the held token, if any, knowing the token after it
        (``next_core``; None: nothing follows it, and the next token starts
        afresh), and the spaces behind it."""
        if next_core is None:
            self._before = []
        if self._held is None:
            return
        core, start = self._held
        self._held = None
        said, _ = self._say(core, next_core, self._held_before)
        self._spoken.emit(said, start, start + len(core), said == core)
        spaces, self._held_space = self._held_space, []
        for char, at in spaces:
            self._spoken.emit(char, at, at + 1, True)

    def _read(self, core: str) -> None:
        self._before = [*self._before[-1:], core]

    def _text_before(self) -> str | None:
        return " ".join(self._before) or None

    def _say(self, core: str, next_core: str | None, before: str | None) -> tuple[str, bool]:
        """What to say for a token: normalized, then read in the reading
        modes; and whether the next token was said with it."""
        options = self.options
        if options.spell:
            return spell(core), False
        if options.normalize:
            said, used = normalize_token(core, next_core, before)
        else:
            said, used = core, False
        if options.punctuation != "none":
            said = " ".join(name_punctuation(said, options.punctuation).split())
        if options.capitals == "cap":
            said = signal_capitals(said)
        return said, used
