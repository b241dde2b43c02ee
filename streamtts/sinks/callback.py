"""A sink that hands each block to an async callback: a network door or a
speech-dispatcher pipe writes it on. The callback waits while its reader
is not reading, and that wait is the backpressure. "Heard" means handed on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import numpy as np
import trio

from .base import Sink

__all__ = ["CallbackSink"]


class CallbackSink(Sink):
    """``deliver`` gets float32 blocks at the voice's rate; ``on_playing``,
    if given, hears when each utterance's first audio goes out (a server
    starts its listener's clock there)."""

    def __init__(
        self,
        deliver: Callable[[np.ndarray], Awaitable[None]],
        on_playing: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__()
        self._deliver = deliver
        self._on_playing = on_playing

    def set_active(self, active: bool) -> None:
        if active and self._on_playing is not None:
            self._on_playing(trio.current_time())

    async def start(self, voice_rate_hz: int) -> None:
        self.sample_rate_hz = voice_rate_hz

    async def _put(self, samples: np.ndarray) -> None:
        await self._deliver(samples)  # float32 at the voice's rate
        self.position.advance(int(samples.size))
