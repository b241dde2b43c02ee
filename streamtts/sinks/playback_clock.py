"""When does a sample that the sound card took become audible?

PortAudio tells each callback when its block will reach the DAC
(``outputBufferDacTime``). On the PulseAudio test server that prediction
matched the monitor's own capture timestamps within 0.2 ms, while the
stream's nominal ``latency`` was 6-50 ms short of it, and callbacks came in
pairs 20 ms apart. So the sink does not guess "consumed + latency": it
keeps, for the last few hundred blocks, where each block started in the
stream and when the device said it would be heard, and answers from that.

Sans-IO: the callback calls :meth:`block`, the event loop asks
:meth:`heard_by` and :meth:`time_heard`. Times are ``time.perf_counter()``
seconds. The history is preallocated and written in place (the callback
must not allocate); one writer, readers tolerate a block being added while
they look.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PlaybackClock"]


class PlaybackClock:
    def __init__(self, rate_hz: int, history_blocks: int = 512) -> None:
        self.rate_hz = rate_hz
        self._size = history_blocks
        self._position = np.zeros(history_blocks, dtype=np.int64)  # first stream sample
        self._samples = np.zeros(history_blocks, dtype=np.int64)  # stream samples in it
        self._heard_at = np.zeros(history_blocks, dtype=np.float64)  # DAC time of its start
        self._delay = np.zeros(history_blocks, dtype=np.float64)  # DAC time - callback time
        self._called_at = np.zeros(history_blocks, dtype=np.float64)
        self._count = 0  # blocks recorded so far

    # -- the callback ----------------------------------------------------------

    def block(self, position: int, samples: int, called_at: float, heard_at: float) -> None:
        """A callback at ``called_at`` took stream samples [position,
        position + samples); the block's first sample is heard at ``heard_at``."""
        k = self._count % self._size
        self._position[k] = position
        self._samples[k] = samples
        self._heard_at[k] = heard_at
        self._delay[k] = heard_at - called_at
        self._called_at[k] = called_at
        self._count += 1

    # -- the event loop ----------------------------------------------------------

    def _recent(self) -> range:
        """Indices of the recorded blocks, newest first."""
        count = self._count
        return range(count - 1, max(-1, count - 1 - self._size), -1)

    def heard_by(self, now: float) -> int:
        """Stream samples heard by ``now`` (those of blocks still ahead are not)."""
        for n in self._recent():
            k = n % self._size
            started = self._heard_at[k]
            if started <= now:
                into = int((now - started) * self.rate_hz + 1e-6)  # float error, not a sample
                return int(self._position[k] + min(self._samples[k], into))
        return 0

    def time_heard(self, position: int) -> float | None:
        """When stream sample ``position`` is (or was) heard; None until a
        callback has taken it. Samples a barge-in dropped count as heard
        when the block after the drop is."""
        newer = None
        for n in self._recent():
            k = n % self._size
            first = int(self._position[k])
            if first <= position < first + self._samples[k]:
                return float(self._heard_at[k] + (position - first) / self.rate_hz)
            if first + self._samples[k] <= position:
                return None if newer is None else float(self._heard_at[newer])
            newer = k
        # Older than the history: heard long ago.
        return None if newer is None else float(self._heard_at[newer])

    @property
    def blocks(self) -> int:
        return self._count

    def delay_s(self) -> float:
        """Largest callback-to-DAC delay over the recent blocks (0 if none)."""
        n = min(self._count, self._size)
        return float(self._delay[:n].max()) if n else 0.0

    def callback_gap_s(self) -> float:
        """Longest pause between callbacks over the recent blocks: how long a
        sample written to an empty ring may wait before a callback takes it."""
        if self._count < 2:
            return 0.0
        if self._count <= self._size:
            called_at = self._called_at[: self._count]
        else:  # oldest first: the ring wraps at the next slot to write
            newest_end = self._count % self._size
            called_at = np.concatenate((self._called_at[newest_end:], self._called_at[:newest_end]))
        return float(np.diff(called_at).max())
