"""Fast speech: rates up to 4x the voice's pace, still clear.

A rate above 1 is made in two steps, chosen by measurement (Whisper base
word errors on 54 held-out-style sentences at the same measured pace;
README "Fast speech", ``benchmarks/rates.py``):

1. **Time-scale modification**, up to :data:`TEMPO_LIMIT` (2x) on its own
   (:class:`Tempo`): the audio is made that many times shorter by WSOLA
   (audiotsm: overlap-add of short frames of the voice's own audio, each
   taken where it best continues the last, so pitch and timbre stay the
   voice's), chunk by chunk as the decoder makes it. At 1.5x and 2x it
   lost 3.6% and 4.9% of the words; the voice's duration scale at the same
   pace lost 7.6% and 11.7% (its phonemes shortened evenly blur them).
2. **Shorter phonemes** for the rest past 2x (:func:`shorten`, at most 2
   at 4x): every phoneme the duration predictor planned gets that many
   times fewer whole frames (a phoneme that had a frame keeps one). At 4x,
   2 x 2 lost 78% of the words, WSOLA alone 85%; at 3x, 1.5 x 2 lost
   37-41%, WSOLA alone 39%. Keeping WSOLA at 2x or less also bounds the
   decoder's work per second of speech at twice the voice's pace.

The pace is the one asked: the time-scale factor is computed from the
frames the plan really has (the voice's own length scale rounds every
phoneme up to a whole frame, so asked 2x it spoke 1.6x).

WSOLA is fed fixed blocks of :data:`BLOCK_SAMPLES` from an internal buffer
and nothing else decides what it computes, so the audio does not depend on
where the decoder's chunks were cut: streamed chunks equal the whole
segment's, sample for sample. The stretched length is exact
(``round(samples / factor)``) and every word mark is scaled as the audio
is, as ``pitch.py`` scales them.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
from audiotsm import wsola
from audiotsm.io.array import ArrayReader, ArrayWriter

from ..config import MAX_RATE, MIN_RATE, ChunkSchedule
from ..messages import AudioChunk, ChunkSource, WordMark
from .piper import FramePlan

__all__ = [
    "BLOCK_SAMPLES",
    "MAX_RATE",
    "MIN_RATE",
    "TEMPO_LIMIT",
    "Tempo",
    "clamp_rate",
    "faster",
    "graph_rate",
    "shorten",
    "tempo_schedule",
    "tempo_whole",
]

# Time-scale modification alone up to this factor; past it phonemes are
# shortened by the rest (measured: see the module docstring).
TEMPO_LIMIT = 2.0
# A stretch this close to 1 is left out: the shortened plan already has
# the pace asked, within a frame's rounding.
_TEMPO_TOLERANCE = 0.01

# WSOLA's frames: 512 samples (23 ms at 22.05 kHz: two periods of a low
# voice), a new one every 128 output samples; each may move up to 256
# samples to continue the last. Shorter than audiotsm's default 1024,
# which drops whole phonemes. A quarter-frame hop keeps the input step
# (128 x factor) within a frame up to 4x: past that audiotsm skips input
# twice over (its skip ignores WSOLA's search margin) and runs too fast.
FRAME_SAMPLES = 512
HOP_SAMPLES = 128
SEARCH_SAMPLES = 256
# WSOLA is fed this many samples at a time, whatever the decoder's chunks
# (one frame of the voice: what waits for the next chunk stays short).
BLOCK_SAMPLES = 256
# Input WSOLA holds back until more arrives (measured: 2048 samples in at
# 2x gave 640 out, not 1024), in the voice's frames of 256 samples.
_WSOLA_LOOKAHEAD_FRAMES = 3


def faster(plan: FramePlan, rate: float) -> tuple[FramePlan, float]:
    """``plan`` (made at the voice's pace) with its phonemes shortened by
    what ``rate`` asks past :data:`TEMPO_LIMIT`, and the time-scale factor
    that brings it the rest of the way (1.0: none), so the whole is
    exactly ``rate`` times shorter."""
    if rate <= 1.0:
        return plan, 1.0
    shorter = shorten(plan, rate / TEMPO_LIMIT)
    return shorter, tempo_for(rate, plan.frames, shorter.frames)


def tempo_schedule(schedule: ChunkSchedule, tempo: float) -> ChunkSchedule:
    """The decoder's chunks for audio made ``tempo`` times shorter: the first
    one long enough to hold, once stretched, the audio it holds at the
    voice's pace (93 ms), the rest as at the voice's pace.

    An utterance starts playing once the audio in hand covers making the
    next chunk (``output.StartGate``): at 4x the first 8 frames gave 29 ms,
    and first audio waited for the second chunk. WSOLA keeps back about
    three frames of input (its frame and search) until the next arrives.
    """
    if tempo <= 1.0 or schedule.first_chunk_frames >= schedule.max_chunk_frames:
        return schedule
    first = math.ceil(schedule.first_chunk_frames * tempo) + _WSOLA_LOOKAHEAD_FRAMES
    second = int(schedule.first_chunk_frames * schedule.growth)
    return replace(
        schedule,
        first_chunk_frames=min(schedule.max_chunk_frames, first),
        second_chunk_frames=min(schedule.max_chunk_frames, second),
    )


def graph_rate(rate: float, can_stream: bool) -> float:
    """The rate given to the voice's own length scale: a slower one; for a
    voice that cannot be cut (no plan to shorten) also the part past
    :data:`TEMPO_LIMIT`, the rest made by :func:`tempo_whole`."""
    if rate <= 1.0:
        return rate
    return 1.0 if can_stream else max(1.0, rate / TEMPO_LIMIT)


def _shortened_durations(id_frames: np.ndarray, factor: float) -> np.ndarray:
    """Each phoneme's frames divided by ``factor``, rounded so that the
    total is the whole's rounded (the rounding error carries to the next
    phoneme), a phoneme that had frames keeping at least one."""
    shorter = np.zeros_like(id_frames)
    wanted, made = 0.0, 0
    for k, frames in enumerate(id_frames.tolist()):
        wanted += frames / factor
        count = round(wanted) - made
        shorter[k] = min(frames, max(1, count))  # 0 stays 0
        made += int(shorter[k])
    return shorter


def shorten(plan: FramePlan, factor: float) -> FramePlan:
    """``plan`` with every phoneme ``factor`` times shorter (whole frames).

    A phoneme's frames all hold its prior (the graph expands them along its
    alignment), so its first frames are kept; the noise drawn for them
    stays. A plan whose durations do not add up to its frames is returned
    as it is (time-scale modification then does the whole rate).
    """
    id_frames = plan.id_frames
    if factor <= 1.0 or int(id_frames.sum()) != plan.frames:
        return plan
    shorter = _shortened_durations(id_frames, factor)
    starts = np.concatenate([[0], np.cumsum(id_frames)[:-1]]).astype(np.int64)
    index = np.concatenate(
        [np.arange(start, start + count) for start, count in zip(starts, shorter, strict=True)]
    ).astype(np.int64)
    return replace(
        plan,
        z_p=np.ascontiguousarray(plan.z_p[:, :, index]),
        id_frames=shorter,
        frame_inputs={name: value[:, :, index] for name, value in plan.frame_inputs.items()},
    )


def tempo_for(rate: float, frames_before: int, frames_after: int) -> float:
    """The time-scale factor that brings a plan shortened from
    ``frames_before`` to ``frames_after`` frames to ``rate`` (1.0: none)."""
    factor = rate * frames_after / max(1, frames_before)
    return 1.0 if abs(factor - 1.0) <= _TEMPO_TOLERANCE else factor


class _Wsola:
    """audiotsm's WSOLA fed fixed blocks: its output depends only on the
    samples, never on how they arrived."""

    def __init__(self, factor: float) -> None:
        self.analysis_hop = round(HOP_SAMPLES * factor)
        if not HOP_SAMPLES <= self.analysis_hop <= FRAME_SAMPLES:
            raise ValueError(f"tempo factor must be within 1..{MAX_RATE}, got {factor}")
        self.factor = self.analysis_hop / HOP_SAMPLES  # what WSOLA will do exactly
        self._tsm: Any = wsola(
            channels=1,
            frame_length=FRAME_SAMPLES,
            analysis_hop=self.analysis_hop,
            synthesis_hop=HOP_SAMPLES,
            tolerance=SEARCH_SAMPLES,
        )
        self._pending = np.zeros(0, np.float64)

    def feed(self, samples: np.ndarray, last: bool) -> np.ndarray:
        """The output that ``samples`` (appended to the input) complete."""
        pending = np.concatenate([self._pending, samples.astype(np.float64)])
        whole = pending.size if last else pending.size - pending.size % BLOCK_SAMPLES
        self._pending = pending[whole:]
        writer = ArrayWriter(1)
        for start in range(0, whole, BLOCK_SAMPLES):
            reader = ArrayReader(pending[np.newaxis, start : start + BLOCK_SAMPLES])
            finished = False
            while not (finished and reader.empty):
                self._tsm.read_from(reader)
                _, finished = self._tsm.write_to(writer)
        if last:
            finished = False
            while not finished:
                _, finished = self._tsm.flush_to(writer)
        return np.asarray(writer.data[0], dtype=np.float32)


def stretched_length(samples: int, factor: float) -> int:
    return round(samples / factor)


class Tempo:
    """``inner``'s chunks (sample positions from 0, ``input_samples`` in
    all) made ``factor`` times faster by time-scale modification, placed
    from ``sample_offset`` in the segment.

    Each call takes at least one chunk from ``inner`` and more while WSOLA
    has nothing new to give (its first frame needs 0.5 frames of input
    past the chunk), so no chunk is empty but the last one may be.
    """

    def __init__(
        self, inner: ChunkSource, factor: float, input_samples: int, sample_offset: int
    ) -> None:
        self._inner = inner
        self._wsola = _Wsola(factor)
        self.factor = self._wsola.factor
        self.total_samples = stretched_length(input_samples, self.factor)
        self._offset = sample_offset
        self._made = 0
        self._marks: list[WordMark] = []

    @property
    def done(self) -> bool:
        return self._inner.done

    def next_chunk(self) -> AudioChunk:
        samples = np.zeros(0, np.float32)
        while True:
            chunk = self._inner.next_chunk()
            self._marks.extend(chunk.marks)
            last = self._inner.done
            made = self._wsola.feed(chunk.samples, last)
            samples = np.concatenate([samples, made]) if samples.size else made
            if samples.size or last:
                break
        room = self.total_samples - self._made
        if last:  # exactly the planned length: WSOLA's tail cut or padded
            samples = np.concatenate([samples[:room], np.zeros(max(0, room - samples.size))])
        else:
            samples = samples[:room]
        start = self._made
        self._made += int(samples.size)
        return AudioChunk(
            np.ascontiguousarray(samples, dtype=np.float32), chunk.segment,
            self._offset + start, chunk.is_last, self._take_marks(last),
        )  # fmt: skip

    def _take_marks(self, last: bool) -> tuple[WordMark, ...]:
        """The words whose sound starts in what was made so far (all at the end)."""
        taken = []
        while self._marks:
            mark = self._marks[0]
            start = stretched_length(mark.start_sample, self.factor)
            if not last and start >= self._made:
                break
            self._marks.pop(0)
            end = stretched_length(mark.end_sample, self.factor)
            taken.append(
                replace(mark, start_sample=self._offset + start, end_sample=self._offset + end)
            )
        return tuple(taken)


def tempo_whole(audio: np.ndarray, factor: float) -> np.ndarray:
    """A whole segment's audio made ``factor`` times faster, as :class:`Tempo` makes it."""
    wsola = _Wsola(factor)
    out = wsola.feed(audio, last=True)
    total = stretched_length(audio.size, wsola.factor)
    out = np.concatenate([out[:total], np.zeros(max(0, total - out.size), np.float32)])
    return np.ascontiguousarray(out, dtype=np.float32)


def clamp_rate(rate: float) -> float:
    """A combined rate (the engine's times the text's) within what is made."""
    if not math.isfinite(rate):
        return 1.0
    return min(MAX_RATE, max(MIN_RATE, rate))
