"""The output stage's logic (sans-IO): what to write, and where the marks go.

For each chunk the play actor asks :class:`OutputCore` for the silence to
write before it (a gap between segments), then, given the sink's position,
for the samples to write (gain applied) and the marks to announce: a
segment's start, each word, and the utterance's first audible sample, at
sink positions. After writing it reports back, and the core keeps what it
measured (:class:`OutputMeasurements`). No trio, no device.

With ``trim_lead_in`` the utterance starts at its first audible sample
(less a short margin): a Piper voice opens every utterance with 10-60 ms
below -60 dBFS, which a screen reader user hears as latency and nothing
else. Only the first segment's opening is trimmed; a pause the text asks
for is punctuation inside a segment and stays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .dsp.levels import PeakLimiter, first_audible, with_gain
from .messages import AudioChunk, Mark

__all__ = ["LEAD_IN_MARGIN_S", "OutputCore", "OutputMeasurements", "Placed", "StartGate"]

# Kept before the first audible sample when trimming: a soft onset ("f",
# "h") rises through -60 dBFS over a few milliseconds.
LEAD_IN_MARGIN_S = 0.005


@dataclass(frozen=True)
class Placed:
    """A chunk ready for the sink: its samples and the marks inside them."""

    samples: np.ndarray  # float32, voice rate, gain applied
    marks: tuple[Mark, ...]
    first_audio: bool  # holds the utterance's first audible sample
    first_write: bool  # the utterance's first samples: playback becomes active

    def __repr__(self) -> str:
        return f"Placed({self.samples.size} samples, marks={len(self.marks)})"


@dataclass
class OutputMeasurements:
    """What the output stage saw in one utterance."""

    segments: int = 0
    audio_s: float = 0.0
    first_audio_written_at_s: float | None = None


class OutputCore:
    """One utterance's output logic; see the module docstring."""

    def __init__(
        self,
        utterance: int,
        voice_rate_hz: int,
        sink_rate_hz: int,
        gain: float,
        gap_s: float,
        trim_lead_in: bool = False,
        limiter: PeakLimiter | None = None,
    ) -> None:
        if voice_rate_hz <= 0 or sink_rate_hz <= 0:
            raise ValueError(f"rates must be > 0, got {voice_rate_hz} and {sink_rate_hz}")
        self.utterance = utterance
        self.voice_rate_hz = voice_rate_hz
        self.ratio = sink_rate_hz / voice_rate_hz
        self.gain = gain
        self.limiter = limiter  # after the gain: a loudness target's ceiling
        self._gap = np.zeros(round(gap_s * voice_rate_hz), dtype=np.float32)
        self._segment = -1
        self._segment_origin = 0  # sink position of the current segment's sample 0
        self._heard_first = False
        self._trimming = trim_lead_in  # until the first segment's first audible sample
        self._lead_margin = round(LEAD_IN_MARGIN_S * voice_rate_hz)
        self.measured = OutputMeasurements()

    def gap_before(self, chunk: AudioChunk) -> np.ndarray | None:
        """Silence to write before ``chunk``: between segments, never before the first."""
        if chunk.segment.index != self._segment and self._segment >= 0 and self._gap.size:
            return self._gap
        return None

    def place(self, chunk: AudioChunk, position: int) -> Placed:
        """The chunk's samples and marks, when the sink is at ``position``."""
        marks: list[Mark] = []
        segment = chunk.segment
        samples = with_gain(chunk.samples, self.gain)
        if self.limiter is not None:
            samples = self.limiter.process(samples)
        if self._trimming and self._segment not in (-1, segment.index):
            self._trimming = False  # the first segment was all quiet: keep the rest whole
        trimming = self._trimming
        dropped = self._lead_in(samples) if trimming else 0
        samples = samples[dropped:]
        if trimming or segment.index != self._segment:
            # The segment's sample 0 lands where this chunk's first kept one
            # does, less what was trimmed (words in the trimmed part start here).
            self._segment_origin = position - round((chunk.start_sample + dropped) * self.ratio)
        if segment.index != self._segment:
            self._segment = segment.index
            self.measured.segments += 1
            marks.append(Mark(position, segment))
        first = False
        if not self._heard_first:
            audible_at = first_audible(samples)
            if audible_at is not None:
                first = True
                at = position + round(audible_at * self.ratio)
                marks.append(Mark(at, segment, first_audio=True))
        for word in chunk.marks:
            at = max(position, self._segment_origin + round(word.start_sample * self.ratio))
            marks.append(Mark(at, segment, word))
        first_write = samples.size > 0 and self.measured.audio_s == 0.0 and not self._heard_first
        return Placed(samples, tuple(marks), first, first_write)

    def _lead_in(self, samples: np.ndarray) -> int:
        """How many of the first segment's opening samples to drop."""
        audible_at = first_audible(samples)
        if audible_at is None:
            return int(samples.size)  # still quiet: nothing to play yet
        self._trimming = False
        return max(0, audible_at - self._lead_margin)

    def written(self, placed: Placed, now_s: float) -> None:
        """``placed`` is in the sink (its write returned at ``now_s``)."""
        self.measured.audio_s += placed.samples.size / self.voice_rate_hz
        if placed.first_audio and not self._heard_first:
            self._heard_first = True
            self.measured.first_audio_written_at_s = now_s


class Pacing(Protocol):
    """How long the next chunk will take to make, as measured now
    (:class:`~streamtts.backend.Pace`)."""

    def next_chunk_s(self, index: int) -> float: ...


class StartGate:
    """When an utterance's first audio may start playing.

    Once it plays, it must not stop: the listener hears a gap. So the
    first chunks are held until the audio in hand covers making the next
    one at the pace measured now, ``margin`` times over (the model calls'
    wall time: a busy CPU, or other sessions waiting for the same cores,
    make it longer), or until everything is made, or until ``max_hold_s``
    is in hand (a machine slower than real time gaps anyway). On an idle
    machine the first chunk alone covers the second, so nothing waits;
    under load first audio comes later and the speech does not break.
    A quiet lead-in that will be trimmed does not count as audio in hand,
    nor does what the sink holds back (``held_back_s``: the sound card's
    resampler gives out whole blocks, and keeps up to 38 ms of a first
    chunk until the next arrives).
    """

    def __init__(
        self,
        voice_rate_hz: int,
        margin: float,
        trim_lead_in: bool = False,
        max_hold_s: float = 3.0,
    ) -> None:
        self.voice_rate_hz = voice_rate_hz
        self.margin = margin
        self.trim_lead_in = trim_lead_in
        self.max_hold_s = max_hold_s

    def ready(self, held: Sequence[AudioChunk], pace: Pacing, held_back_s: float = 0.0) -> bool:
        """Whether the chunks ``held`` (the utterance's first, in order) may
        play now, when the sink would hold back ``held_back_s`` of them."""
        if not held or self.margin <= 0.0:
            return True
        samples = sum(chunk.samples.size for chunk in held)
        if self.trim_lead_in:
            samples -= self._lead_in(held)
        in_hand_s = samples / self.voice_rate_hz - held_back_s
        last = held[-1]
        made_of_segment = sum(chunk.segment.index == last.segment.index for chunk in held)
        next_index = 0 if last.is_last else made_of_segment
        needed_s = self.margin * pace.next_chunk_s(next_index)
        return in_hand_s >= min(needed_s, self.max_hold_s)

    def _lead_in(self, held: Sequence[AudioChunk]) -> int:
        """Samples before the first audible one, less the margin kept."""
        quiet = 0
        for chunk in held:
            audible_at = first_audible(chunk.samples)
            if audible_at is not None:
                margin = round(LEAD_IN_MARGIN_S * self.voice_rate_hz)
                return quiet + max(0, audible_at - margin)
            quiet += chunk.samples.size
        return quiet
