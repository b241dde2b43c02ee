"""A sink the caller reads from: ``async for samples in sink``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
import trio

from .base import Sink

__all__ = ["AudioStreamSink"]


class AudioStreamSink(Sink):
    """Hands float32 blocks at the voice's rate to whoever iterates it.

    At most ``max_blocks`` wait unread; then the engine waits for the
    reader. "Heard" means "taken by the reader".
    """

    def __init__(self, max_blocks: int = 4) -> None:
        super().__init__()
        self._send, self._receive = trio.open_memory_channel[np.ndarray](max_blocks)
        self._taken = 0
        self._peak = 0

    async def start(self, voice_rate_hz: int) -> None:
        self.sample_rate_hz = voice_rate_hz

    async def _put(self, samples: np.ndarray) -> None:
        await self._send.send(samples.copy())
        self._peak = max(self._peak, self._send.statistics().current_buffer_used)
        self.position.advance(int(samples.size))

    def heard(self) -> int:
        return self._taken

    @property
    def peak_fill(self) -> int:
        return self._peak

    async def __aiter__(self) -> AsyncIterator[np.ndarray]:
        async for block in self._receive:
            self._taken += int(block.size)
            self.position.changed()
            yield block

    async def aclose(self) -> None:
        await self._send.aclose()
