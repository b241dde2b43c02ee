"""What the actors ask of a voice (:class:`Backend`), and the one
implementation that runs a voice's synchronous steps
(:class:`~streamtts.synthesis.SpeechSteps`) in worker threads.

Each step's blocking part runs through ``trio.to_thread.run_sync`` holding
a slot (:class:`StepSlots`): by default a lock per step
(:class:`StepLocks`), so the event loop stays free and one segment's
encoder can overlap another's decoder; a server gives every session the
same shared, deadline-ordered slots instead
(:class:`~streamtts.serve.scheduler.DeadlineSlots`). A cancelled call is
abandoned at once (barge-in must not wait for a chunk to finish); its
thread finishes the call it is in, keeps its slot until then, and its
result is dropped; ``aclose`` waits for such threads.

``streamtts.testing.FakeBackend`` is another :class:`Backend`, spending
virtual time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np
import trio

from .config import ChunkSchedule, SynthesisOptions
from .messages import AudioChunk, Planned, Prepared, Segment
from .synthesis import PiperSteps, SpeechSteps
from .voices.piper import PiperVoice

__all__ = ["Backend", "Pace", "StepLocks", "StepSlots", "ThreadedBackend"]

T = TypeVar("T")

STEPS = ("phonemizer", "encoder", "decoder")


@runtime_checkable
class Backend(Protocol):
    """The calls the actors make, in flow order; all run in the event loop.

    Each may be cancelled at any await (barge-in). ``compute_s`` is the
    model time spent so far (for RTF); ``pace`` how long calls take now
    (:class:`Pace`); ``aclose`` returns once no call is still running in a
    worker thread.
    """

    @property
    def sample_rate_hz(self) -> int: ...

    @property
    def compute_s(self) -> float: ...

    @property
    def pace(self) -> Pace: ...

    def new_rng(self) -> np.random.Generator: ...

    async def warm_up(self) -> None: ...

    async def prepare(self, segment: Segment) -> list[Prepared]: ...

    async def encode(
        self, prepared: Prepared, rng: np.random.Generator, sample_offset: int
    ) -> Planned: ...

    async def next_chunk(self, planned: Planned) -> AudioChunk: ...

    async def aclose(self) -> None: ...


class Pace:
    """How long model calls take now, measured as they happen: the wall
    time of each call, waiting for its slot and for a busy CPU included.

    ``encode_s`` is the encoder's recent time per segment; ``chunk_s[k]``
    the decoder's for a segment's chunk ``k`` (chunks past the fourth
    share the last entry: the schedule grows chunks to its cap). Recent
    means an exponential average, weighted ``weight`` to the newest call.
    ``slowdown`` is how much longer than so expected the latest calls took:
    a machine that just became busy (or a burst of sessions at once) shows
    there at the first call, before the averages catch up, and a new
    session's first chunks learn from it. The first values are a 2-core
    machine's at rest (the default voice); the first calls replace them.
    One :class:`Pace` may be shared by the sessions of a server.
    """

    def __init__(self, weight: float = 0.3) -> None:
        self.weight = weight
        self.encode_s = 0.03
        self.chunk_s = [0.02, 0.035, 0.07, 0.11]
        self.slowdown = 1.0

    def _learn(self, expected_s: float, wall_s: float) -> None:
        ratio = wall_s / max(expected_s, 1e-6)
        self.slowdown = max(1.0, self.slowdown + 0.5 * (ratio - self.slowdown))

    def encoded(self, wall_s: float) -> None:
        self._learn(self.encode_s, wall_s)
        self.encode_s += self.weight * (wall_s - self.encode_s)

    def decoded(self, index: int, wall_s: float) -> None:
        k = min(index, len(self.chunk_s) - 1)
        self._learn(self.chunk_s[k], wall_s)
        self.chunk_s[k] += self.weight * (wall_s - self.chunk_s[k])

    def next_chunk_s(self, index: int) -> float:
        """Expected time to make a segment's chunk ``index`` (0: its first,
        which needs the encoder before it), at the load seen now."""
        decode = self.chunk_s[min(index, len(self.chunk_s) - 1)]
        return self.slowdown * (decode + (self.encode_s if index == 0 else 0.0))


class StepSlots(Protocol):
    """Who may run a model call now.

    ``limiter(step)`` is what the step's worker threads hold (anything
    trio's ``to_thread.run_sync`` takes as a limiter); ``chunk_made`` hears
    of every chunk; ``idle`` returns once no call holds a slot.
    """

    def limiter(self, step: str) -> Any: ...

    def chunk_made(self, samples: int) -> None: ...

    async def idle(self) -> None: ...


class StepLocks:
    """One call at a time per step; different steps run side by side."""

    def __init__(self) -> None:
        self._limiters = {name: trio.CapacityLimiter(1) for name in STEPS}

    def limiter(self, step: str) -> trio.CapacityLimiter:
        return self._limiters[step]

    def chunk_made(self, samples: int) -> None:
        """Nothing to track."""

    async def idle(self) -> None:
        for limiter in self._limiters.values():
            async with limiter:
                pass


class ThreadedBackend:
    """A voice's steps off the event loop (see the module docstring).

    ``ThreadedBackend.for_voice(voice, options, schedule)`` is the one
    ``open_engine`` makes for a Piper voice.
    """

    def __init__(
        self, steps: SpeechSteps, slots: StepSlots | None = None, pace: Pace | None = None
    ) -> None:
        self.steps = steps
        self.slots: StepSlots = slots or StepLocks()
        self._compute_s = 0.0
        self._pace = pace or Pace()
        self._decoding: object = None  # the chunk source of the last chunk made
        self._chunk_index = 0

    @classmethod
    def for_voice(
        cls,
        voice: PiperVoice,
        options: SynthesisOptions | None = None,
        schedule: ChunkSchedule | None = None,
    ) -> ThreadedBackend:
        return cls(PiperSteps(voice, options, schedule))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.steps!r})"

    @property
    def sample_rate_hz(self) -> int:
        return self.steps.sample_rate_hz

    @property
    def compute_s(self) -> float:
        return self._compute_s

    @property
    def pace(self) -> Pace:
        return self._pace

    def new_rng(self) -> np.random.Generator:
        return self.steps.new_rng()

    async def _run(self, step: str, work: Callable[[], T]) -> T:
        def timed() -> T:
            start = time.perf_counter()
            try:
                return work()
            finally:
                self._compute_s += time.perf_counter() - start

        return await trio.to_thread.run_sync(
            timed, limiter=self.slots.limiter(step), abandon_on_cancel=True
        )

    async def warm_up(self) -> None:
        """Compile the kernels and warm the steps, before any text (not
        counted as compute: it is the start-up's, not an utterance's).
        Cheap when the voice is warm already (a server's sessions)."""
        from .dsp.ring import warm_up as compile_kernels

        def warm() -> None:
            compile_kernels()
            self.steps.warm_up()

        await trio.to_thread.run_sync(warm, limiter=self.slots.limiter("decoder"))

    async def prepare(self, segment: Segment) -> list[Prepared]:
        return await self._run("phonemizer", lambda: self.steps.prepare(segment))

    async def encode(
        self, prepared: Prepared, rng: np.random.Generator, sample_offset: int
    ) -> Planned:
        start = trio.current_time()
        planned = await self._run(
            "encoder", lambda: self.steps.encode(prepared, rng, sample_offset)
        )
        self._pace.encoded(trio.current_time() - start)
        return planned

    async def next_chunk(self, planned: Planned) -> AudioChunk:
        # Chunks are asked for one plan at a time, in order: the index of
        # this one in its plan is the count since the plan changed.
        index = self._chunk_index + 1 if planned.source is self._decoding else 0
        start = trio.current_time()
        chunk = await self._run("decoder", planned.source.next_chunk)
        self._decoding, self._chunk_index = planned.source, index
        self._pace.decoded(index, trio.current_time() - start)
        self.slots.chunk_made(chunk.samples.size)
        return chunk

    async def aclose(self) -> None:
        """Wait for calls abandoned by a barge-in to finish in their threads."""
        await self.slots.idle()
