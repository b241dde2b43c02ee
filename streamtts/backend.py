"""What the actors ask of a voice (:class:`Backend`), and the one
implementation that runs a synchronous :class:`~streamtts.synthesis.SpeechCore`
in worker threads.

Each step's blocking part runs through ``trio.to_thread.run_sync`` with one
``CapacityLimiter`` per step, so the event loop stays free and one
segment's encoder can overlap another's decoder. A cancelled call is
abandoned at once (barge-in must not wait for a chunk to finish); its
thread finishes the call it is in and its result is dropped; ``aclose``
waits for such threads.

``streamtts.testing.FakeBackend`` is another :class:`Backend`, spending
virtual time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, TypeVar, runtime_checkable

import numpy as np
import trio

from .config import ChunkSchedule, SynthesisOptions
from .messages import AudioChunk, Planned, Prepared, Segment
from .synthesis import PiperCore, SpeechCore
from .voices.piper import PiperVoice

__all__ = ["Backend", "ThreadedBackend", "VoiceBackend"]

T = TypeVar("T")


@runtime_checkable
class Backend(Protocol):
    """The calls the actors make, in flow order; all run in the event loop.

    Each may be cancelled at any await (barge-in). ``compute_s`` is the
    model time spent so far (for RTF); ``aclose`` returns once no call is
    still running in a worker thread.
    """

    @property
    def sample_rate_hz(self) -> int: ...

    @property
    def compute_s(self) -> float: ...

    def new_rng(self) -> np.random.Generator: ...

    async def warm_up(self) -> None: ...

    async def prepare(self, segment: Segment) -> list[Prepared]: ...

    async def encode(
        self, prepared: Prepared, rng: np.random.Generator, sample_offset: int
    ) -> Planned: ...

    async def next_chunk(self, planned: Planned) -> AudioChunk: ...

    async def aclose(self) -> None: ...


class ThreadedBackend:
    """Any :class:`SpeechCore`, off the event loop (see the module docstring)."""

    def __init__(self, core: SpeechCore) -> None:
        self.core = core
        self._limiters = {
            name: trio.CapacityLimiter(1) for name in ("phonemizer", "encoder", "decoder")
        }
        self._compute_s = 0.0

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.core!r})"

    @property
    def sample_rate_hz(self) -> int:
        return self.core.sample_rate_hz

    @property
    def compute_s(self) -> float:
        return self._compute_s

    def new_rng(self) -> np.random.Generator:
        return self.core.new_rng()

    async def _run(self, step: str, work: Callable[[], T]) -> T:
        def timed() -> T:
            start = time.perf_counter()
            try:
                return work()
            finally:
                self._compute_s += time.perf_counter() - start

        return await trio.to_thread.run_sync(
            timed, limiter=self._limiters[step], abandon_on_cancel=True
        )

    async def warm_up(self) -> None:
        """Compile the kernels and warm the core, before any text (not
        counted as compute: it is the start-up's, not an utterance's)."""
        from .dsp.ring import warm_up as compile_kernels

        def warm() -> None:
            compile_kernels()
            self.core.warm_up()

        await trio.to_thread.run_sync(warm, limiter=self._limiters["decoder"])

    async def prepare(self, segment: Segment) -> list[Prepared]:
        return await self._run("phonemizer", lambda: self.core.prepare(segment))

    async def encode(
        self, prepared: Prepared, rng: np.random.Generator, sample_offset: int
    ) -> Planned:
        return await self._run("encoder", lambda: self.core.encode(prepared, rng, sample_offset))

    async def next_chunk(self, planned: Planned) -> AudioChunk:
        return await self._run("decoder", planned.source.next_chunk)

    async def aclose(self) -> None:
        """Wait for calls abandoned by a barge-in to finish in their threads."""
        for limiter in self._limiters.values():
            async with limiter:
                pass


class VoiceBackend(ThreadedBackend):
    """A Piper voice's core in worker threads: what ``open_engine`` makes."""

    def __init__(
        self,
        voice: PiperVoice,
        options: SynthesisOptions | None = None,
        schedule: ChunkSchedule | None = None,
    ) -> None:
        super().__init__(PiperCore(voice, options, schedule))
        self.voice = voice
