"""Slow numpy twins of the numba kernels: the specification they must meet."""

from __future__ import annotations

import numpy as np


def gain_ramps(samples: np.ndarray, gain: float, fade_in: int, fade_out: int) -> np.ndarray:
    n = samples.size
    g = np.full(n, gain, dtype=np.float64)
    k = np.arange(n)
    ramp_in = k < fade_in
    g[ramp_in] *= (k[ramp_in] + 1) / (fade_in + 1)
    ramp_out = k >= n - fade_out
    g[ramp_out] *= (n - k[ramp_out]) / (fade_out + 1)
    return (samples * g).astype(np.float32)


def first_audible(samples: np.ndarray, threshold: float) -> int:
    loud = np.flatnonzero(np.abs(samples.astype(np.float64)) > threshold)
    return int(loud[0]) if loud.size else -1


class NaiveRing:
    """A list-based ring with the same contract as SampleRing."""

    def __init__(self, capacity: int, fade: int) -> None:
        self.capacity, self.fade = capacity, fade
        self.queue: list[float] = []
        self.clear = False
        self.active = False
        self.underruns = 0

    def write(self, samples: np.ndarray) -> int:
        if self.clear:
            return 0
        count = min(self.capacity - len(self.queue), samples.size)
        self.queue.extend(samples[:count].tolist())
        return count

    def read_into(self, out: np.ndarray) -> int:
        if self.clear:
            n = min(len(self.queue), self.fade, out.size)
            ramp = 1.0 - (np.arange(n) + 1) / (n + 1)
            out[:] = 0
            out[:n] = np.asarray(self.queue[:n], dtype=np.float32) * ramp
            self.queue.clear()
            self.clear = False
            return n
        n = min(len(self.queue), out.size)
        out[:] = 0
        out[:n] = self.queue[:n]
        del self.queue[:n]
        if n < out.size and self.active:
            self.underruns += 1
        return n


def limiter_gains(
    peaks: np.ndarray, ceiling: float, release: float, gain: float = 1.0
) -> tuple[np.ndarray, float, int]:
    """Each sample's gain, the gain after the last, and how many were lowered:
    released toward 1 by ``release`` a sample, cut to ``ceiling / peak``
    wherever ``peak`` times it would pass the ceiling."""
    gains = np.empty(peaks.size, dtype=np.float32)
    lowered = 0
    for k, peak in enumerate(peaks.astype(np.float64).tolist()):
        gain = 1.0 - (1.0 - gain) * release
        if peak * gain > ceiling:
            gain = ceiling / peak
            lowered += 1
        gains[k] = gain
    return gains, gain, lowered
