"""A sink that hands each block to an async callback: a network door or a
speech-dispatcher pipe writes it on. The callback waits while its reader
is not reading, and that wait is the backpressure. "Heard" means handed on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import numpy as np

from .base import Sink

__all__ = ["CallbackSink"]


class CallbackSink(Sink):
    def __init__(self, deliver: Callable[[np.ndarray], Awaitable[None]]) -> None:
        super().__init__()
        self._deliver = deliver

    async def start(self, voice_rate_hz: int) -> None:
        self.sample_rate_hz = voice_rate_hz

    async def _put(self, samples: np.ndarray) -> None:
        await self._deliver(samples)  # float32 at the voice's rate
        self.position.advance(int(samples.size))
