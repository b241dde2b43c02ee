"""The voice's rate → the device's, with soxr's stateful stream resampler.

One stream per utterance: chunks go through it back to back (no edge
effects between chunks), and the end of speech flushes what its filter
still holds.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["StreamResampler"]


class StreamResampler:
    def __init__(self, in_rate_hz: int, out_rate_hz: int, quality: str = "HQ") -> None:
        self.in_rate_hz = in_rate_hz
        self.out_rate_hz = out_rate_hz
        self.quality = quality
        self._stream = None
        self.reset()

    @property
    def identity(self) -> bool:
        return self.in_rate_hz == self.out_rate_hz

    def reset(self) -> None:
        if not self.identity:
            import soxr

            self._stream = soxr.ResampleStream(
                self.in_rate_hz, self.out_rate_hz, 1, dtype="float32", quality=self.quality
            )

    @property
    def held_back_s(self) -> float:
        """The most of a first chunk the resampler may keep until more comes:
        soxr gives its output in blocks (1660 samples at 22.05 to 44.1 kHz,
        HQ), so up to one block of what was taken in is not yet playable."""
        if self.identity:
            return 0.0
        return _block_s(self.in_rate_hz, self.out_rate_hz, self.quality)

    def process(self, samples: np.ndarray) -> np.ndarray:
        if self._stream is None:
            return samples.astype(np.float32, copy=False)
        out = self._stream.resample_chunk(samples.astype(np.float32, copy=False), last=False)
        return np.ascontiguousarray(out, dtype=np.float32).reshape(-1)

    def flush(self) -> np.ndarray:
        """The tail the filter holds back; the stream starts afresh after."""
        if self._stream is None:
            return np.zeros(0, dtype=np.float32)
        out = self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        self.reset()
        return np.ascontiguousarray(out, dtype=np.float32).reshape(-1)


@functools.cache
def _block_s(in_rate_hz: int, out_rate_hz: int, quality: str) -> float:
    """One soxr output block's seconds, measured once per conversion on a
    scratch stream fed a little at a time."""
    import soxr

    scratch = soxr.ResampleStream(in_rate_hz, out_rate_hz, 1, dtype="float32", quality=quality)
    piece = np.zeros(64, dtype=np.float32)
    for _ in range(4096):  # a block is a few hundred input samples
        given = scratch.resample_chunk(piece, last=False).size
        if given:
            return given / out_rate_hz
    return 0.0
