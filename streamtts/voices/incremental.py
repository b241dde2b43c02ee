"""Incremental decoding: a segment's audio in chunks, equal to the whole.

Flow and decoder are convolutional over time, so frames [a, b) come out
exactly as in whole-segment synthesis when each part sees enough frames
on both sides (its receptive field). The decoder runs per chunk with
``decoder_context_frames`` either side, cropped afterwards; the flow runs
ahead in blocks with ``flow_context_frames`` either side, into a z buffer
the decoder chunks read. At a segment's edges no context is needed: the
whole-segment run sees the same edge.

The first chunk is small (it sets the time to first audio); later chunks
grow geometrically up to ``max_chunk_frames``, so the cropped context
costs little in total.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from ..config import ChunkSchedule
from ..messages import AudioChunk, Segment, WordMark
from ..text.phonemizer import Phonemes
from .piper import FramePlan, PiperVoice

__all__ = ["ChunkSchedule", "IncrementalDecoder", "SegmentTiming", "segment_timing"]

# The flow runs ahead of the decoder in blocks of up to this many frames:
# big enough that its fixed cost and context are paid rarely (64 context
# frames per 512), small enough that its working memory stays near 7 MB.
_FLOW_BLOCK_FRAMES = 512


@dataclass(frozen=True)
class SegmentTiming:
    """When each phoneme id and each word sounds, in samples of the segment."""

    id_bounds: np.ndarray  # int64 [n_ids + 1]: id k sounds in [b[k], b[k+1])
    words: tuple[WordMark, ...]

    @property
    def total_samples(self) -> int:
        return int(self.id_bounds[-1])


def segment_timing(plan: FramePlan, phonemes: Phonemes, samples_per_frame: int) -> SegmentTiming:
    frames = np.concatenate([[0], np.cumsum(plan.id_frames)])
    # The graph clips the total to at least one frame; so do we.
    frames[-1] = max(int(frames[-1]), plan.frames)
    bounds = frames * samples_per_frame
    starts = plan.phoneme_ids.symbol_starts
    words = tuple(
        WordMark(
            phonemes.text[w.text_start : w.text_end],
            w.text_start,
            w.text_end,
            int(bounds[starts[w.symbol_start]]),
            int(bounds[starts[w.symbol_end]]),
        )
        for w in phonemes.words
    )
    return SegmentTiming(bounds.astype(np.int64), words)


class IncrementalDecoder:
    """Turns one :class:`FramePlan` into :class:`AudioChunk` objects, in order.

    Each :meth:`next_chunk` runs blocking model calls (call it from a worker
    thread in async code). Not thread-safe: one caller per segment.
    """

    def __init__(
        self,
        voice: PiperVoice,
        plan: FramePlan,
        timing: SegmentTiming,
        segment: Segment,
        schedule: ChunkSchedule | None = None,
        *,
        sample_offset: int = 0,
        last_part: bool = True,
    ) -> None:
        """``sample_offset``/``last_part``: for one part of a segment spoken in
        parts, where the part starts in the segment and whether it ends it."""
        self.voice = voice
        self.sample_offset = sample_offset
        self.last_part = last_part
        self.plan = plan
        self.timing = timing
        self.segment = segment
        self.schedule = schedule or ChunkSchedule()
        self._sizes = self.schedule.sizes(plan.frames)
        schedule = self.schedule
        self.flow_context = (
            voice.flow_context_frames
            if schedule.flow_context_frames is None
            else schedule.flow_context_frames
        )
        self.decoder_context = (
            voice.decoder_context_frames
            if schedule.decoder_context_frames is None
            else schedule.decoder_context_frames
        )
        self._next_frame = 0
        self._z = np.empty_like(plan.z_p)
        self._z_ready = 0  # z is exact for frames [0, _z_ready)
        self._flow_ahead = 0  # the first flow call does just what chunk 1 needs
        self._marks_left = list(timing.words)
        self.frames_flowed = 0  # frames the flow computed, context included
        self.frames_decoded = 0  # frames the decoder computed, context included

    @property
    def done(self) -> bool:
        return self._next_frame >= self.plan.frames

    def __iter__(self) -> Iterator[AudioChunk]:
        while not self.done:
            yield self.next_chunk()

    def next_chunk(self) -> AudioChunk:
        if self.done:
            raise StopIteration
        total = self.plan.frames
        start = self._next_frame
        stop = start + next(self._sizes)
        context = self.decoder_context
        z_start, z_stop = max(0, start - context), min(total, stop + context)
        self._flow_until(z_stop)
        audio = self.voice.decode(self.plan, self._z[:, :, z_start:z_stop])
        self.frames_decoded += z_stop - z_start
        hop = self.voice.samples_per_frame
        samples = audio[(start - z_start) * hop : (stop - z_start) * hop]
        if self.segment.volume != 1.0:  # SSML prosody volume, on this segment's own audio
            samples = samples * np.float32(self.segment.volume)
        self._next_frame = stop
        first, last = start * hop, stop * hop
        if stop == total:
            last = self.timing.total_samples
        marks = []
        while self._marks_left and self._marks_left[0].start_sample < last:
            mark = self._marks_left.pop(0)
            if self.sample_offset:
                mark = replace(
                    mark,
                    start_sample=mark.start_sample + self.sample_offset,
                    end_sample=mark.end_sample + self.sample_offset,
                )
            marks.append(mark)
        is_last = stop == total and self.last_part
        return AudioChunk(samples, self.segment, first + self.sample_offset, is_last, tuple(marks))

    def _flow_until(self, frame: int) -> None:
        """Make z exact up to ``frame``.

        The flow costs about 3-7 ms a call plus 0.15 ms a frame on the
        default voice. The first call does what the first two chunks need;
        the next runs 64 frames further; later calls run up to 512 frames
        ahead, so the fixed cost and the context are paid rarely.
        """
        if frame <= self._z_ready:
            return
        total = self.plan.frames
        context = self.flow_context
        if self._z_ready == 0:
            # Also cover the second chunk: it has only the first chunk's audio
            # (about 93 ms) to hide its cost behind, so it should not pay for
            # a flow call as well. Costs ~2 ms more before the first audio.
            frame = max(frame, self.schedule.first_two_frames + self.decoder_context)
        block_stop = min(total, max(frame, self._z_ready + self._flow_ahead))
        self._flow_ahead = 64 if self._flow_ahead == 0 else _FLOW_BLOCK_FRAMES
        in_start = max(0, self._z_ready - context)
        in_stop = min(total, block_stop + context)
        z = self.voice.flow(self.plan, in_start, in_stop)
        self.frames_flowed += in_stop - in_start
        offset = self._z_ready - in_start
        self._z[:, :, self._z_ready : block_stop] = z[
            :, :, offset : offset + block_stop - self._z_ready
        ]
        self._z_ready = block_stop
