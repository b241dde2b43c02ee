"""A single-producer/single-consumer ring of float32 samples.

The producer (an actor in the event loop) writes; the consumer (the sound
card callback, in PortAudio's thread) reads with one kernel call per block.
Each side advances only its own counter, so no lock is needed; a clear
(barge-in) is a request the consumer carries out on its next block, with a
short fade so the cut does not click.
"""

from __future__ import annotations

import numpy as np

from . import _kernels as k

__all__ = ["SampleRing", "warm_up"]


def warm_up() -> None:
    """Compile the kernels now (engine start), not in the first callback."""
    k.compile_for_production()


class SampleRing:
    def __init__(self, capacity: int, fade_samples: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        if fade_samples < 0:
            raise ValueError(f"fade_samples must be >= 0, got {fade_samples}")
        self.capacity = capacity
        self.fade_samples = fade_samples
        self.buffer = np.zeros(capacity, dtype=np.float32)
        self.state = np.zeros(k.STATE_SIZE, dtype=np.int64)
        self.peak_fill = 0

    # -- producer side ---------------------------------------------------------

    def write(self, samples: np.ndarray) -> int:
        if samples.dtype != np.float32 or samples.ndim != 1:
            raise ValueError(f"need 1-D float32 samples, got {samples.dtype} {samples.shape}")
        if self.clear_pending:
            return 0  # the consumer has not dropped the old audio yet
        count = int(k.ring_write(self.buffer, self.state, samples))
        self.peak_fill = max(self.peak_fill, self.fill)
        return count

    def request_clear(self) -> None:
        self.state[k.CLEAR_REQUESTED] += 1

    def set_active(self, active: bool) -> None:
        self.state[k.ACTIVE] = 1 if active else 0

    # -- consumer side (the callback) ------------------------------------------

    def read_into(self, out: np.ndarray) -> int:
        return int(k.ring_read(self.buffer, self.state, out, self.fade_samples))

    # -- either side -------------------------------------------------------------

    @property
    def written(self) -> int:
        return int(self.state[k.WRITTEN])

    @property
    def read(self) -> int:
        return int(self.state[k.READ])

    @property
    def fill(self) -> int:
        return self.written - self.read

    @property
    def free(self) -> int:
        return self.capacity - self.fill

    @property
    def clear_pending(self) -> bool:
        return bool(self.state[k.CLEAR_REQUESTED] != self.state[k.CLEAR_DONE])

    @property
    def underruns(self) -> int:
        return int(self.state[k.UNDERRUNS])

    @property
    def blocks(self) -> int:
        return int(self.state[k.BLOCKS])
