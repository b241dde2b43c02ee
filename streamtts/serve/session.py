"""One client's session: its own bounded pipeline on the shared voice.

A session is an :class:`~streamtts.engine.Engine` whose model calls all go
through the server's one :class:`~.scheduler.ModelScheduler` (its worker
threads take the scheduler's slots instead of a lock per step), and whose
sink hands audio to the conversation shell (which writes it to the
client's socket). All sessions share the one loaded voice: its weights and
onnxruntime sessions exist once per process, not once per client.

For the shell the session is the :class:`~streamtts.conversation.shell.Speaker`:
it admits an utterance at once or refuses it (at capacity, draining), and
records what each utterance cost in the server's metrics.

Backpressure: the shell's ``audio`` waits while the client is not reading;
the sink waits on it; the session's pipeline waits on the sink. A client
that stops reading pauses its own synthesis, nobody else's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import trio

from ..backend import Pace, ThreadedBackend
from ..config import ChunkSchedule, EngineOptions, SynthesisOptions
from ..conversation.refusals import Refusal
from ..conversation.requests import UtteranceRequest
from ..conversation.shell import ConversationShell
from ..engine import Engine, Utterance, UtteranceResult, open_engine
from ..sinks.callback import CallbackSink
from ..synthesis import PiperSteps
from ..text.frontend import TextOptions
from ..voices.piper import PiperVoice
from .metrics import ServerMetrics
from .scheduler import (
    Admission,
    AdmittedPlace,
    DeadlineSlots,
    ModelScheduler,
    PlayoutDeadline,
    QueuedPace,
)

__all__ = ["NETWORK_READING", "ServerState", "Session", "open_session"]

# Network clients are mostly LLM front ends: text is read as markdown unless
# they say otherwise (plain prose sounds the same).
NETWORK_READING = TextOptions(format="markdown")


@dataclass
class ServerState:
    """What every session shares: the voice, the scheduler, the limits."""

    voice: PiperVoice
    scheduler: ModelScheduler
    admission: Admission
    metrics: ServerMetrics = field(default_factory=ServerMetrics)
    seed: int | None = None
    delivery: str = SynthesisOptions.delivery  # each request may ask for its own
    loudness_lufs: float | None = None  # a session's own, or this (see open_session)
    true_peak_dbtp: float = EngineOptions.true_peak_dbtp
    schedule: ChunkSchedule = field(default_factory=ChunkSchedule)
    draining: bool = False
    # Each open session's shell (what is owed to its client, for a drain:
    # see delivering), and HTTP responses not yet ended.
    shells: set[ConversationShell] = field(default_factory=set)
    responses: int = 0
    # How long model calls take now, across sessions, with the wait for a
    # slot: a burst of new ones shows in the first calls, and each holds its
    # first audio until it covers the next chunk at that pace
    # (EngineOptions.start_margin).
    pace: Pace = field(init=False)

    def __post_init__(self) -> None:
        self.pace = QueuedPace(self.scheduler, lambda: self.admission.starting)

    @property
    def sessions(self) -> int:
        """Sessions (connections) open now."""
        return len(self.shells)

    @property
    def delivering(self) -> bool:
        """Audio is still owed to a client: an utterance is being made, a
        shell has reports not yet written, or an HTTP response has not
        sent its end. Synthesis ends before its last audio is written
        (the shell queues it behind a slow reader), so a drain that waited
        only for synthesis cut responses short."""
        return (
            self.admission.active > 0
            or self.responses > 0
            or not all(shell.settled for shell in self.shells)
        )


class Session:
    """One client's engine; the conversation shell's speaker."""

    engine: Engine  # set by open_session once the engine runs

    def __init__(self, state: ServerState, slots: DeadlineSlots, door: str) -> None:
        self.state = state
        self.slots = slots
        self.playout = slots.playout
        self.door = door

    async def open(self, uid: int, request: UtteranceRequest, nursery: trio.Nursery) -> Utterance:
        """Admit and start an utterance, or refuse it at once."""
        state = self.state
        if state.draining:
            state.metrics.refused.labels(self.door).inc()
            raise Refusal.at_capacity(state.admission.retry_after_s)
        if not state.admission.try_enter():
            state.metrics.refused.labels(self.door).inc()
            why, retry_after_s = state.admission.refusal()
            if why == "starting":
                raise Refusal.starting_burst(state.admission.starting_capacity, retry_after_s)
            raise Refusal.at_capacity(retry_after_s)
        place = AdmittedPlace(state.admission)
        try:
            reading = request.reading or NETWORK_READING
            utterance: Utterance = await nursery.start(self._speak, reading, request, place)
        finally:
            if not place.taken:  # the task never ran: nobody else gives the place back
                place.give_back()
        return utterance

    async def _speak(
        self,
        reading: TextOptions,
        request: UtteranceRequest,
        place: AdmittedPlace,
        *,
        task_status: trio.TaskStatus[Utterance] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """An utterance's whole life in the session: admitted until it ends."""
        place.taken = True
        self.slots.place = place
        metrics = self.state.metrics
        metrics.active_sessions.inc()
        late_before = self.playout.late_s
        try:
            finished = await self.engine.utterance(
                reading,
                request.rate,
                delivery=request.delivery,
                on_turn=self.playout.begin,
                task_status=task_status,
            )
        finally:
            place.give_back()
            metrics.active_sessions.dec()
            metrics.late_audio.inc(self.playout.late_s - late_before)
        if finished.result is not None:
            self.record(finished.result)
        elif finished.error is not None:
            metrics.errors.labels(self.door, type(finished.error).__name__).inc()

    def record(self, result: UtteranceResult) -> None:
        metrics, stats = self.state.metrics, result.stats
        if stats.ttfa_s is not None:
            metrics.ttfa.labels(self.door).observe(stats.ttfa_s)
        metrics.audio.labels(self.door).inc(stats.audio_s)
        metrics.compute.labels(self.door).inc(stats.compute_s)
        if stats.rtf is not None:
            metrics.rtf.set(stats.rtf)


@asynccontextmanager
async def open_session(
    state: ServerState,
    door: str,
    shell: ConversationShell,
    *,
    loudness_lufs: float | None = None,
) -> AsyncIterator[Session]:
    """A session on the shared voice, speaking for ``shell``; its audio at
    ``loudness_lufs`` (a request's own), else at the server's."""
    synthesis = SynthesisOptions(seed=state.seed, delivery=state.delivery)
    steps = PiperSteps(state.voice, synthesis, state.schedule)
    playout = PlayoutDeadline(steps.sample_rate_hz, told_when_playing=True)
    session = Session(state, DeadlineSlots(state.scheduler, playout), door)
    backend = ThreadedBackend(steps, session.slots, state.pace)
    options = EngineOptions(
        synthesis=synthesis,
        schedule=state.schedule,
        loudness_lufs=state.loudness_lufs if loudness_lufs is None else loudness_lufs,
        true_peak_dbtp=state.true_peak_dbtp,
    )
    state.shells.add(shell)
    try:
        async with open_engine(
            backend=backend,
            sink=CallbackSink(shell.audio, on_playing=session.slots.playing),
            options=options,
            on_event=shell.heard,
        ) as engine:
            session.engine = engine
            yield session
    finally:
        state.shells.discard(shell)
