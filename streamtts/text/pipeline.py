"""Text pieces in, segments out: the one text pipeline (sans-IO).

front end → segmenter → annotate: the :class:`~streamtts.text.frontend.FrontEnd`
turns what the caller wrote into what a listener should hear, the
:class:`~streamtts.text.segmenter.Segmenter` cuts it where a boundary is
certain, and each segment is annotated with how it is said (SSML prosody,
a tone, the utterance's rate and delivery). The plain path (``Synthesizer.segments``)
and the engine's ``segment_text`` actor both run this one object; it does
no I/O and keeps no clock.
"""

from __future__ import annotations

import math
from dataclasses import replace

from ..errors import ConfigError
from .frontend import FrontEnd
from .offsets import Offsets
from .segment import Segment
from .segmenter import Segmenter

__all__ = ["TextPipeline"]


class TextPipeline:
    """One utterance's text: ``feed`` pieces as they arrive and get the
    segments now certain; ``stall`` when the stream pauses; ``end``, once
    and last, for the rest. Without stalls the same text gives the same
    segments however it is split.

    ``frontend`` defaults to plain text, ``segmenter`` to the default
    options. ``rate`` is the utterance's speaking rate, a factor on every
    segment's own (SSML prosody and emphasis set that one). A call's work
    grows with the text it is given (the ``segment_text`` actor feeds a
    long text in slices); nothing blocks. Not thread-safe; one per
    utterance. ``delivery``, when given, is carried on every segment (the
    synthesis steps read it; None: the engine's own).
    """

    def __init__(
        self,
        frontend: FrontEnd | None = None,
        segmenter: Segmenter | None = None,
        *,
        rate: float = 1.0,
        delivery: str | None = None,
    ) -> None:
        if not (math.isfinite(rate) and rate > 0.0):
            raise ConfigError(f"rate must be a positive factor (1.0: as spoken), got {rate!r}")
        self._frontend = frontend or FrontEnd()
        self._segmenter = segmenter or Segmenter()
        self.rate = rate
        self.delivery = delivery

    @property
    def offsets(self) -> Offsets:
        """Offsets in the segments' text → offsets in the caller's text."""
        return self._frontend.offsets

    @property
    def marks(self) -> list[tuple[int, str]]:
        """SSML marks: (offset in the segments' text, name), in order; the
        list grows as text is fed."""
        return self._frontend.marks

    @property
    def pending_chars(self) -> int:
        """Characters the segmenter holds, waiting for a boundary."""
        return self._segmenter.pending_chars

    def feed(self, text: str) -> list[Segment]:
        """The segments that ``text``, after what came before, makes certain."""
        return self._annotated(self._segmenter.feed(self._frontend.feed(text)))

    def stall(self) -> list[Segment]:
        """The stream paused: the whole words waiting, as segments now (a
        word still growing, or a token the front end holds, waits). Where
        a stall falls changes where segments are cut."""
        return self._annotated(self._segmenter.stall())

    def end(self) -> list[Segment]:
        """The text has ended: every segment left."""
        rest = self._segmenter.feed(self._frontend.flush())
        return self._annotated([*rest, *self._segmenter.flush()])

    def _annotated(self, segments: list[Segment]) -> list[Segment]:
        annotated = [self._frontend.annotate(segment) for segment in segments]
        if self.rate != 1.0:
            annotated = [replace(s, rate=s.rate * self.rate) for s in annotated]
        if self.delivery is not None:
            annotated = [replace(s, delivery=self.delivery) for s in annotated]
        return annotated
