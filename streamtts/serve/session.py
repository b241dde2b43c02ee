"""One client's session: its own bounded pipeline on the shared voice.

A session is an :class:`~streamtts.engine.Engine` whose backend sends every
model call through the server's one :class:`ModelScheduler`, and whose
sink hands audio to the door (which writes it to the client's socket).
All sessions share the one loaded voice: its weights and onnxruntime
sessions exist once per process, not once per client.

Backpressure: the door's ``deliver`` waits while the client is not
reading; the sink waits on it; the session's pipeline waits on the sink.
A client that stops reading pauses its own synthesis, nobody else's.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import trio

from ..backend import ThreadedBackend
from ..config import ChunkSchedule, EngineOptions, SynthesisOptions
from ..engine import Engine, TextStream, UtteranceResult, open_engine
from ..events import Event
from ..messages import AudioChunk, Planned
from ..sinks.callback import CallbackSink
from ..synthesis import PiperCore
from ..text.frontend import TextOptions
from ..voices.piper import PiperVoice
from .metrics import ServerMetrics
from .scheduler import Admission, ModelScheduler, PlayoutClock

__all__ = ["AtCapacity", "ScheduledBackend", "ServerState", "Session", "open_session"]

T = TypeVar("T")


class AtCapacity(Exception):
    """The machine cannot take another real-time stream now."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(
            f"the server is at capacity; retry in {retry_after_s:.0f} s "
            "(or start it with a larger --max-streams on a bigger machine)"
        )
        self.retry_after_s = retry_after_s


@dataclass
class ServerState:
    """What every session shares: the voice, the scheduler, the limits."""

    voice: PiperVoice
    scheduler: ModelScheduler
    admission: Admission
    metrics: ServerMetrics = field(default_factory=ServerMetrics)
    seed: int | None = None
    schedule: ChunkSchedule = field(default_factory=ChunkSchedule)
    sessions: int = 0  # connections open now
    draining: bool = False


class ScheduledBackend(ThreadedBackend):
    """A :class:`~streamtts.backend.ThreadedBackend` whose calls wait for the
    server's shared scheduler instead of per-step limiters, with deadlines
    from this session's :class:`PlayoutClock`.

    A cancelled call (barge-in, a client gone) is abandoned at once; its
    thread finishes the call and only then gives its slot back.
    """

    def __init__(self, core: PiperCore, scheduler: ModelScheduler) -> None:
        super().__init__(core)
        self.scheduler = scheduler
        self.clock = PlayoutClock(core.sample_rate_hz)
        self._in_flight = 0
        self._idle = trio.Event()
        self._idle.set()

    async def warm_up(self) -> None:
        """The server warmed the shared voice once, before listening."""

    async def _run(self, step: str, work: Callable[[], T]) -> T:
        scheduler = self.scheduler
        await scheduler.acquire(self.clock.deadline(trio.current_time()))
        token = trio.lowlevel.current_trio_token()
        self._in_flight += 1
        self._idle = trio.Event()

        def done() -> None:
            scheduler.release()
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

        def call() -> T:
            start = time.perf_counter()
            try:
                return work()
            finally:
                self._compute_s += time.perf_counter() - start
                token.run_sync_soon(done)

        return await trio.to_thread.run_sync(call, abandon_on_cancel=True)

    async def next_chunk(self, planned: Planned) -> AudioChunk:
        chunk = await super().next_chunk(planned)
        self.clock.produced(chunk.samples.size, trio.current_time())
        return chunk

    async def aclose(self) -> None:
        """Wait until no call of this session runs in a worker thread."""
        await self._idle.wait()


class Session:
    """One client's engine; utterances go through :meth:`utterance`."""

    def __init__(
        self, state: ServerState, engine: Engine, backend: ScheduledBackend, door: str
    ) -> None:
        self.state = state
        self.engine = engine
        self.backend = backend
        self.door = door

    @asynccontextmanager
    async def utterance(self, text_format: str = "markdown") -> AsyncIterator[TextStream]:
        """Admit, speak, record. Raises :class:`AtCapacity` at once when full.

        Network clients are mostly LLM front ends, so text is read as
        markdown unless they say ``plain`` (plain prose sounds the same)."""
        state = self.state
        if state.draining or not state.admission.try_enter():
            state.metrics.refused.labels(self.door).inc()
            raise AtCapacity(state.admission.retry_after_s)
        state.metrics.active_sessions.inc()
        self.backend.clock.begin()
        late_before = self.backend.clock.late_s
        try:
            async with self.engine.stream(text_options=TextOptions(format=text_format)) as stream:
                yield stream
        except Exception as err:
            state.metrics.errors.labels(self.door, type(err).__name__).inc()
            raise
        finally:
            state.admission.leave()
            state.metrics.active_sessions.dec()
            state.metrics.late_audio.inc(self.backend.clock.late_s - late_before)
        self.record(stream.result)

    def record(self, result: UtteranceResult | None) -> None:
        if result is None:
            return
        metrics, stats = self.state.metrics, result.stats
        if stats.ttfa_s is not None:
            metrics.ttfa.labels(self.door).observe(stats.ttfa_s)
        metrics.audio.labels(self.door).inc(stats.audio_s)
        metrics.compute.labels(self.door).inc(stats.compute_s)
        if stats.rtf is not None:
            metrics.rtf.set(stats.rtf)

    async def interrupt(self) -> None:
        await self.engine.interrupt()


@asynccontextmanager
async def open_session(
    state: ServerState,
    door: str,
    deliver: Callable[[np.ndarray], Awaitable[None]],
    on_event: Callable[[Event], None] | None = None,
    *,
    rate: float = 1.0,
) -> AsyncIterator[Session]:
    """A session on the shared voice; ``deliver`` gets audio at the voice's rate."""
    synthesis = SynthesisOptions(rate=rate, seed=state.seed)
    core = PiperCore(state.voice, synthesis, state.schedule)
    backend = ScheduledBackend(core, state.scheduler)
    options = EngineOptions(synthesis=synthesis, schedule=state.schedule)
    state.sessions += 1
    try:
        async with open_engine(
            backend=backend, sink=CallbackSink(deliver), options=options, on_event=on_event
        ) as engine:
            yield Session(state, engine, backend, door)
    finally:
        state.sessions -= 1
