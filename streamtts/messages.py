"""Every message that travels an edge of the graph, in flow order.

::

    caller ─TextPiece─► segment_text ─Segment─► phonemize ─Prepared─► encode
      ─Planned─► decode ─AudioChunk─► play ─Mark─► announce

:class:`TextPiece` and :class:`Segment` are the text stage's own and live
in ``text/segment.py`` (``text/`` needs nothing from this module); they
are re-exported here with the rest.

Messages are frozen; their reprs show sizes, never arrays. A
:class:`Planned` segment carries its :class:`ChunkSource`, the one object
that knows how to make the segment's audio (incrementally, or whole): the
decode actor only asks it for the next chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .text.phoneme_ids import PhonemeIds
from .text.phonemizer import Phonemes
from .text.segment import Segment, TextPiece

__all__ = [
    "AudioChunk",
    "ChunkSource",
    "Mark",
    "Planned",
    "Prepared",
    "Segment",
    "TextPiece",
    "WordMark",
]


@dataclass(frozen=True)
class Prepared:
    """Phonemizer → encoder: a segment's phonemes and ids, or one part of
    them when it is long to say (parts are synthesized one after another)."""

    segment: Segment
    phonemes: Phonemes
    ids: PhonemeIds
    part: int = 0
    last_part: bool = True

    def __repr__(self) -> str:
        return f"Prepared(seg={self.segment.index}, part={self.part}, ids={len(self.ids.ids)})"


@dataclass(frozen=True)
class WordMark:
    """A word, where it is in the text and when it sounds in its segment.

    Samples count from the segment's first sample, at the voice's rate.
    ``text`` may cover several written words that the voice speaks as one
    ("of the"), or one written token spoken as several words ("$3.50").
    """

    text: str
    text_start: int
    text_end: int
    start_sample: int
    end_sample: int


@dataclass(frozen=True)
class AudioChunk:
    """Decoder → output: a run of one segment's samples, in order, with the
    words that start in it.

    ``start_sample`` counts from the segment's first sample; chunks of a
    segment tile ``[0, segment_samples)`` exactly, the last has ``is_last``.
    """

    samples: np.ndarray  # float32 [n], voice rate
    segment: Segment
    start_sample: int
    is_last: bool
    marks: tuple[WordMark, ...] = ()

    @property
    def segment_index(self) -> int:
        return self.segment.index

    @property
    def end_sample(self) -> int:
        return self.start_sample + int(self.samples.size)

    def __repr__(self) -> str:
        last = ", last" if self.is_last else ""
        return (
            f"AudioChunk(seg={self.segment.index}, samples=[{self.start_sample}:"
            f"{self.end_sample}], marks={len(self.marks)}{last})"
        )


class ChunkSource(Protocol):
    """Makes one planned segment's audio, a chunk per call, in order.

    ``next_chunk`` is synchronous and may block on model calls (the trio
    backend runs it in a worker thread); one caller at a time.
    """

    @property
    def done(self) -> bool: ...

    def next_chunk(self) -> AudioChunk: ...


@dataclass(frozen=True)
class Planned:
    """Encoder → decoder: an encoded segment (or part), ready to be decoded.

    ``sample_offset`` is where this part starts in its segment;
    ``total_samples`` is how long it is.
    """

    segment: Segment
    source: ChunkSource
    total_samples: int
    sample_offset: int = 0
    last_part: bool = True

    def __repr__(self) -> str:
        return (
            f"Planned(seg={self.segment.index}, samples=[{self.sample_offset}:"
            f"{self.sample_offset + self.total_samples}])"
        )


@dataclass(frozen=True)
class Mark:
    """Output → announcer: what to announce once the sink has played
    ``position`` (a sample position at the sink's rate): ``segment``
    starting, or ``word`` of it, or the utterance's first audible sample."""

    position: int
    segment: Segment
    word: WordMark | None = None
    first_audio: bool = False

    def __repr__(self) -> str:
        what = "first audio" if self.first_audio else self.word or f"segment {self.segment.index}"
        return f"Mark({self.position}, {what})"
