"""The contract every sink meets; the output actor is its only caller.

All methods run in the event loop. ``write`` may wait: that wait is the
backpressure that slows every stage before it. Positions count samples at
the sink's own rate since the sink started.
"""

from __future__ import annotations

import abc

import numpy as np
import trio

__all__ = ["Sink"]


class Sink(abc.ABC):
    sample_rate_hz: int = 0
    #: Seconds between a sample being accepted and being audible.
    latency_s: float = 0.0

    def __init__(self) -> None:
        self._accepted = 0
        self._progress = trio.Event()

    @abc.abstractmethod
    async def start(self, voice_rate_hz: int) -> None:
        """Open; choose ``sample_rate_hz`` (the voice's rate unless a device decides)."""

    @abc.abstractmethod
    async def _put(self, samples: np.ndarray) -> None:
        """Hand voice-rate samples on, waiting for room; call :meth:`_count`."""

    async def write(self, samples: np.ndarray) -> None:
        """Accept samples at the voice's rate; waits while the sink is full."""
        if samples.size:
            await self._put(samples)

    async def finish_utterance(self) -> None:  # noqa: B027 - optional hook
        """The utterance's last samples were written: push out anything held back."""

    def _count(self, samples: int) -> None:
        self._accepted += samples
        self._notify()

    @property
    def accepted(self) -> int:
        """Samples accepted by :meth:`write` so far."""
        return self._accepted

    def heard(self) -> int:
        """Samples that have reached the listener (default: all accepted)."""
        return self._accepted

    @property
    def underruns(self) -> int:
        return 0

    @property
    def peak_fill(self) -> int:
        """Most samples ever queued inside the sink."""
        return 0

    def set_active(self, active: bool) -> None:  # noqa: B027 - optional hook
        """An utterance is (no longer) playing: gaps now count as underruns."""

    async def wait_heard(self, position: int) -> None:
        """Return once ``heard() >= position``."""
        while self.heard() < position:
            event = self._progress
            await event.wait()

    async def drain(self) -> None:
        """Return once everything accepted has been heard."""
        await self.wait_heard(self._accepted)

    async def interrupt(self) -> None:  # noqa: B027 - nothing queued by default
        """Barge-in: drop queued audio, fading out what is playing."""

    async def aclose(self) -> None:  # noqa: B027
        """Close after :meth:`drain`."""

    def _notify(self) -> None:
        """Wake everything waiting on progress (call from the event loop)."""
        event, self._progress = self._progress, trio.Event()
        event.set()
