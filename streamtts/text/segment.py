"""What the text stage takes and hands on: a caller's piece of text in, a
segment out (the first two messages of the graph, ``messages.py``)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

__all__ = ["Segment", "TextPiece"]


@dataclass(frozen=True)
class TextPiece:
    """Caller → segmenter: a piece of text as it arrived (a token, a line)."""

    text: str
    handed_at_s: float  # when the caller gave it to the engine (trio clock)
    flush: bool = False  # speak the whole words waiting, without a sentence end


@dataclass(frozen=True)
class Segment:
    """Segmenter → phonemizer: a stretch of text synthesized in one go.

    ``start``/``end`` are character offsets in the utterance's text;
    ``reason`` says why it ended: sentence, clause, paragraph, list,
    length, stall or end. ``rate``, ``volume`` and ``pitch`` are factors on
    the utterance's own (SSML prosody and emphasis); ``ipa``, when given, is
    said instead of what espeak-ng would make of the text (SSML phoneme);
    ``tone`` makes the segment a short tone (a capital letter signalled);
    ``delivery`` is the utterance's own (``"calm"`` or ``"lively"``, see
    :class:`~streamtts.config.SynthesisOptions`), None for the engine's.
    """

    text: str
    start: int
    end: int
    reason: str
    index: int
    rate: float = 1.0
    volume: float = 1.0
    pitch: float = 1.0
    ipa: str | None = None
    tone: bool = False  # a short tone, not speech (capital letters signalled)
    delivery: str | None = None

    @property
    def speakable(self) -> bool:
        """Has something besides spaces, punctuation and control characters."""
        return any(unicodedata.category(c)[0] not in "ZPC" for c in self.text)
