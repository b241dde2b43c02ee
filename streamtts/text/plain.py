"""The plain front end: plain text or markdown → what a listener should
hear (sans-IO).

Written forms are normalized (money, dates, fractions, some
abbreviations, URLs and e-mail addresses: ``normalize.py``) and the
reading modes applied (``reading.py``), token by token (``tokens.py``);
prose is unchanged. With ``format="markdown"`` the text is scanned as
markdown first (``markdown.py``). ``feed`` any pieces, get back the text
that is now certain; :attr:`PlainFrontEnd.offsets` maps every character
handed on back to the caller's text.
"""

from __future__ import annotations

import bisect
from dataclasses import replace
from typing import Protocol

from .markdown import MarkdownScanner
from .offsets import OffsetMap, SpokenText
from .options import TextOptions
from .segment import Segment
from .tokens import TONE, PendingText, Token, TokenReader, next_token

__all__ = ["PlainFrontEnd"]


class _Scanner(Protocol):
    def run(self, final: bool) -> None: ...

    def finish(self) -> None: ...


class _WordScanner:
    """Plain text: tokens and the whitespace between them, nothing else."""

    def __init__(self, pending: PendingText, reader: TokenReader) -> None:
        self._pending, self._reader = pending, reader

    def run(self, final: bool) -> None:
        pending = self._pending
        while pending.text:
            char = pending.text[0]
            if char.isspace():
                self._reader.space(char, pending.start)
                pending.consume(1)
                continue
            taken = next_token(pending, final)
            if taken is None:
                return  # the token may go on in the next piece
            token, start = taken
            self._reader.token(Token(token, "", start, start + len(token)))

    def finish(self) -> None:
        pass


class PlainFrontEnd:
    """One utterance's plain or markdown front end (see the module
    docstring). Not thread-safe; one per utterance."""

    def __init__(self, options: TextOptions | None = None) -> None:
        self.options = options or TextOptions()
        self._pending = PendingText()
        self._spoken = SpokenText()
        self._reader = TokenReader(self.options, self._spoken)
        self._scanner: _Scanner = (
            MarkdownScanner(self.options, self._pending, self._spoken, self._reader)
            if self.options.format == "markdown"
            else _WordScanner(self._pending, self._reader)
        )
        self.offsets: OffsetMap = self._spoken.offsets
        # Where a tone stands for a capital letter: offsets of TONE characters.
        self.tones: list[int] = self._reader.tones

    def feed(self, text: str) -> str:
        """The text that is now certain, given ``text`` after what came before."""
        self._pending.add(text)
        self._scanner.run(final=False)
        return self._spoken.take()

    def flush(self) -> str:
        """The text has ended: the rest of it."""
        self._scanner.run(final=True)
        self._reader.release(None)
        self._scanner.finish()
        return self._spoken.take()

    def boundary(self) -> str:
        """End the word being read (a tag stands here): it is said now."""
        self._scanner.run(final=True)
        self._reader.release(None)
        return self._spoken.take()

    @property
    def fed_chars(self) -> int:
        """Characters given to :meth:`feed` so far."""
        return self._pending.fed_chars

    @property
    def output_chars(self) -> int:
        """Characters handed on so far (by every call, together)."""
        return self._spoken.length

    def annotate(self, segment: Segment) -> Segment:
        """``segment``, made a tone when it is one (capital letters signalled)."""
        tones = self.tones
        if tones and segment.text.strip() == TONE:
            first = segment.start + segment.text.index(TONE)
            k = bisect.bisect_left(tones, first)
            if k < len(tones) and tones[k] == first:
                return replace(segment, tone=True)
        return segment
