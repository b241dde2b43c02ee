"""The frozen messages that travel between stages, in flow order.

Text pieces → :class:`~streamtts.text.segmenter.Segment` →
:class:`~streamtts.text.phonemizer.Phonemes` →
:class:`~streamtts.voices.piper.FramePlan` → :class:`AudioChunk`.
Reprs show sizes, never arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["AudioChunk", "WordMark"]


@dataclass(frozen=True)
class WordMark:
    """A word, where it is in the text and when it sounds in its segment.

    Samples count from the segment's first sample, at the voice's rate.
    """

    text: str
    text_start: int
    text_end: int
    start_sample: int
    end_sample: int


@dataclass(frozen=True)
class AudioChunk:
    """A run of samples of one segment, in order, with the words it starts.

    ``start_sample`` counts from the segment's first sample; chunks of a
    segment tile ``[0, segment_samples)`` exactly, the last has ``is_last``.
    """

    samples: np.ndarray  # float32 [n], voice rate
    segment_index: int
    start_sample: int
    is_last: bool
    marks: tuple[WordMark, ...] = ()

    @property
    def end_sample(self) -> int:
        return self.start_sample + int(self.samples.size)

    def __repr__(self) -> str:
        last = ", last" if self.is_last else ""
        return (
            f"AudioChunk(seg={self.segment_index}, samples=[{self.start_sample}:"
            f"{self.end_sample}], marks={len(self.marks)}{last})"
        )
