"""Pitch, for voices that have no pitch control of their own (Piper's).

Every phoneme is made ``pitch`` times longer (``PiperVoice.encode``'s
``stretch``, after the duration predictor), and the audio is resampled to
be ``pitch`` times shorter: the pace comes back to what was asked, and
the pitch moves by ``pitch``, the voice's timbre with it, as a tape
played faster or slower. Nothing but resampling touches the audio, so
small changes (what SSML ``prosody pitch`` and a screen reader's pitch
setting ask for, a few semitones) keep the voice natural; an octave is a
cartoon. soxr's streaming resampler works chunk by chunk, so the segment
still streams: its first chunk comes a few milliseconds later.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import soxr

from ..messages import AudioChunk, ChunkSource

__all__ = ["Repitched", "repitch_whole"]


class Repitched:
    """``inner``'s chunks (made ``pitch`` times slower than asked, with
    sample positions from 0) played ``pitch`` times faster, placed from
    ``sample_offset`` in the segment."""

    def __init__(self, inner: ChunkSource, pitch: float, rate_hz: int, sample_offset: int) -> None:
        self._inner = inner
        self._pitch = pitch
        self._offset = sample_offset
        self._made = 0
        self._stream = soxr.ResampleStream(rate_hz * pitch, rate_hz, 1, dtype="float32")

    @property
    def done(self) -> bool:
        return self._inner.done

    def next_chunk(self) -> AudioChunk:
        chunk = self._inner.next_chunk()
        samples = self._stream.resample_chunk(chunk.samples, last=self._inner.done)
        start = self._offset + self._made
        self._made += int(samples.size)
        marks = tuple(
            replace(
                mark,
                start_sample=self._offset + round(mark.start_sample / self._pitch),
                end_sample=self._offset + round(mark.end_sample / self._pitch),
            )
            for mark in chunk.marks
        )
        return AudioChunk(
            np.ascontiguousarray(samples, dtype=np.float32), chunk.segment, start,
            chunk.is_last, marks,
        )  # fmt: skip


def repitch_whole(audio: np.ndarray, pitch: float, rate_hz: int) -> np.ndarray:
    """A whole segment's audio (made ``pitch`` times slower) at its pitch."""
    out = soxr.resample(audio, rate_hz * pitch, rate_hz)
    return np.ascontiguousarray(out, dtype=np.float32)
