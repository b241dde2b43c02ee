"""The contract every sink meets; the output actor is its only caller.

All methods run in the event loop. ``write`` may wait: that wait is the
backpressure that slows every stage before it. Positions count samples at
the sink's own rate since the sink started; each sink keeps its own in a
:class:`SinkPosition`.
"""

from __future__ import annotations

import abc

import numpy as np
import trio

__all__ = ["Sink", "SinkPosition"]


class SinkPosition:
    """How many samples a sink has accepted, and a wake-up for the tasks
    waiting on its progress (its writer, its announcer, a drain)."""

    def __init__(self) -> None:
        self.accepted = 0
        self._changed = trio.Event()

    def advance(self, samples: int) -> None:
        """``samples`` more were accepted."""
        self.accepted += samples
        self.changed()

    def drop_to(self, position: int) -> None:
        """What was accepted past ``position`` was dropped: it will never be heard."""
        self.accepted = min(self.accepted, position)
        self.changed()

    def changed(self) -> None:
        """Something moved (a block played, samples dropped): wake the waiters."""
        event, self._changed = self._changed, trio.Event()
        event.set()

    async def wait_change(self) -> None:
        """Until the next :meth:`changed`."""
        await self._changed.wait()


class Sink(abc.ABC):
    sample_rate_hz: int = 0
    #: Seconds between a sample being accepted and being audible.
    latency_s: float = 0.0

    def __init__(self) -> None:
        self.position = SinkPosition()

    @property
    def held_back_s(self) -> float:
        """Seconds of accepted audio the sink holds back until more comes
        (a resampler's filter): not yet playable, so not audio in hand."""
        return 0.0

    @abc.abstractmethod
    async def start(self, voice_rate_hz: int) -> None:
        """Open; choose ``sample_rate_hz`` (the voice's rate unless a device decides)."""

    @abc.abstractmethod
    async def _put(self, samples: np.ndarray) -> None:
        """Hand voice-rate samples on, waiting for room; advance the position."""

    async def write(self, samples: np.ndarray) -> None:
        """Accept samples at the voice's rate; waits while the sink is full."""
        if samples.size:
            await self._put(samples)

    async def finish_utterance(self) -> None:  # noqa: B027 - optional hook
        """The utterance's last samples were written: push out anything held back."""

    @property
    def accepted(self) -> int:
        """Samples accepted by :meth:`write` so far."""
        return self.position.accepted

    def heard(self) -> int:
        """Samples that have reached the listener (default: all accepted)."""
        return self.position.accepted

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
            await self.position.wait_change()

    async def drain(self) -> None:
        """Return once everything accepted has been heard."""
        await self.wait_heard(self.position.accepted)

    async def interrupt(self) -> None:  # noqa: B027 - nothing queued by default
        """Barge-in: drop queued audio, fading out what is playing."""

    async def aclose(self) -> None:  # noqa: B027
        """Close after :meth:`drain`."""
