"""Where each character handed on came from in the caller's text (sans-IO).

A front end rewrites text (``**bold**`` → ``bold``, ``$3.50`` → "3 dollars
and 50 cents"), yet word and segment events must point at the caller's
characters. :class:`SpokenText` builds the text handed on and its
:class:`OffsetMap` together, so the two never disagree; a front end that
reads another one's output (SSML's text content, then the plain front
end) chains their maps with :class:`ComposedOffsets`.
"""

from __future__ import annotations

import bisect
from typing import Protocol

__all__ = ["ComposedOffsets", "OffsetMap", "Offsets", "SpokenText"]


class Offsets(Protocol):
    """Cleaned text offsets → the caller's text offsets."""

    def start(self, clean: int) -> int: ...

    def end(self, clean_end: int) -> int: ...


class ComposedOffsets:
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


class SpokenText:
    """The text a front end hands on, with an :class:`OffsetMap` run for
    every stretch of it, collected until :meth:`take` hands it over."""

    def __init__(self) -> None:
        self.offsets = OffsetMap()
        # The last character said that is not a space: whether a heading
        # still needs a full stop after it.
        self.last_visible = "."
        self._pending: list[str] = []

    @property
    def length(self) -> int:
        """Characters handed on so far, taken or not."""
        return self.offsets.length

    def emit(self, text: str, orig_start: int, orig_end: int, copied: bool) -> None:
        """Hand on ``text``, standing for the caller's ``[orig_start, orig_end)``
        (``copied``: character for character)."""
        if text:
            self._pending.append(text)
            self.offsets.add(len(text), orig_start, orig_end, copied)
            if text.strip():
                self.last_visible = text.rstrip()[-1]

    def take(self) -> str:
        """The text emitted since the last call."""
        out = "".join(self._pending)
        self._pending.clear()
        return out
