"""What one utterance's actors share, kept in one place.

Its statistics and buffer peaks, when its text was complete, the segments
that failed, what was heard last, and the announcing of what is heard:
each event is made once, complete, at the moment its audio is heard, with
its offsets moved back into the caller's text. No trio tasks live here
(those are :class:`~streamtts.utterance.Utterance`'s); the actors call it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import trio

from .events import (
    Event,
    MarkReached,
    SegmentFailed,
    SegmentStarted,
    UtteranceStats,
    WordStarted,
)
from .messages import Mark, Segment
from .output import OutputCore
from .text.pipeline import TextPipeline

__all__ = ["UtteranceResult", "UtteranceState"]

_log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class UtteranceResult:
    """How an utterance ended. ``interrupted`` results say what was heard last."""

    utterance: int
    interrupted: bool
    stats: UtteranceStats
    last_segment: SegmentStarted | None = None
    last_word: WordStarted | None = None


class UtteranceState:
    """One utterance's shared record (see the module docstring)."""

    def __init__(
        self,
        number: int,
        pipeline: TextPipeline,
        output: OutputCore,
        emit: Callable[[Event], None],
    ) -> None:
        self.number = number
        self.stats = UtteranceStats(number)
        self.pipeline = pipeline  # front end and segmenter: offsets, SSML marks
        self.output = output
        self.first_text_at_s: float | None = None  # text completing the first segment handed over
        self.last_segment: SegmentStarted | None = None
        self.last_word: WordStarted | None = None
        self._emit = emit
        self._ssml_marks_fired = 0

    # -- the actors' edges -----------------------------------------------------------------

    async def send(self, edge: str, channel: trio.MemorySendChannel[T], item: T) -> None:
        """Send on ``edge`` and keep its peak use (sampled right after)."""
        await channel.send(item)
        used = channel.statistics().current_buffer_used
        peaks = self.stats.peak_buffers
        peaks[edge] = max(peaks.get(edge, 0), used)

    def text_handed(self, handed_at_s: float | None) -> None:
        """A segment is complete; its text was handed over at ``handed_at_s``."""
        if self.first_text_at_s is None and handed_at_s is not None:
            self.first_text_at_s = handed_at_s

    def failed(self, segment: Segment, error: Exception) -> None:
        """A segment could not be spoken: reported, never the end of the stream."""
        self.stats.failed_segments += 1
        _log.warning("skipping segment %d (%r): %r", segment.index, segment.text[:60], error)
        self._emit(SegmentFailed(self.number, segment.index, segment.text, repr(error)))

    # -- what is heard ---------------------------------------------------------------------

    def heard(self, mark: Mark, now: float) -> None:
        """The sink has played ``mark.position``: announce what is there."""
        if mark.first_audio:
            if self.first_text_at_s is not None:
                self.stats.ttfa_heard_s = now - self.first_text_at_s
            return
        offsets = self.pipeline.offsets
        segment = mark.segment
        if mark.word is None:
            start = offsets.start(segment.start)
            self.last_segment = SegmentStarted(
                self.number, segment.index, segment.text, start, now, mark.position
            )
            self._emit(self.last_segment)
            return
        word = mark.word
        clean_start = segment.start + word.text_start
        self._fire_ssml_marks(clean_start, now)
        length = round((word.end_sample - word.start_sample) * self.output.ratio)
        self.last_word = WordStarted(
            self.number,
            segment.index,
            word.text,
            offsets.start(clean_start),
            offsets.end(segment.start + word.text_end),
            now,
            mark.position,
            mark.position + max(0, length),
        )
        self._emit(self.last_word)

    def all_heard(self, now: float) -> None:
        """Everything was heard: the SSML marks after the last word fire now."""
        self._fire_ssml_marks(1 << 62, now)

    def _fire_ssml_marks(self, clean_offset: int, now: float) -> None:
        """SSML marks are heard just before the first word after them."""
        marks = self.pipeline.marks
        while (
            self._ssml_marks_fired < len(marks) and marks[self._ssml_marks_fired][0] <= clean_offset
        ):
            self._emit(MarkReached(self.number, marks[self._ssml_marks_fired][1], now))
            self._ssml_marks_fired += 1

    # -- the end ---------------------------------------------------------------------------

    def result(self, interrupted: bool) -> UtteranceResult:
        """The output stage's measurements into the statistics; how it ended."""
        measured = self.output.measured
        stats = self.stats
        stats.segments = measured.segments
        stats.audio_s = measured.audio_s
        stats.first_audio_written_at_s = measured.first_audio_written_at_s
        if measured.first_audio_written_at_s is not None and self.first_text_at_s is not None:
            stats.ttfa_s = measured.first_audio_written_at_s - self.first_text_at_s
        return UtteranceResult(self.number, interrupted, stats, self.last_segment, self.last_word)
