"""One plugin session's speaker in the local host (trio side).

The same shape as a server session (:mod:`streamtts.serve.session`): an
:class:`~streamtts.engine.Engine` on the host's one loaded voice, whose
model calls all take the host's :class:`~streamtts.serve.scheduler.ModelScheduler`
slots by deadline, whose sink hands audio to the conversation shell, and
which admits an utterance at once or refuses it (the host at capacity).
Several agents' turns starting at one instant are carried as the server
carries a burst: the sessions share one :class:`~streamtts.serve.scheduler.QueuedPace`
(each holds its first audio until it covers the wait for a slot), and a
session's waiting calls move to its listener's deadline once it plays.
Unlike the server, the host sets no separate limit on starts: an agent's
turn refused would go unsaid, so a burst costs first-audio latency only.
No Prometheus here: the host keeps plain counters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace

import trio

from ..backend import Pace, ThreadedBackend
from ..config import ChunkSchedule, EngineOptions
from ..conversation.refusals import AT_CAPACITY, Refusal
from ..conversation.requests import UtteranceRequest
from ..conversation.shell import ConversationShell
from ..engine import Engine, Utterance, open_engine
from ..serve.scheduler import (
    Admission,
    AdmittedPlace,
    DeadlineSlots,
    ModelScheduler,
    PlayoutDeadline,
    QueuedPace,
)
from ..sinks.callback import CallbackSink
from ..synthesis import PiperSteps
from ..text.options import TextOptions
from ..voices.piper import PiperVoice

__all__ = ["HOST_SCHEDULE", "HostSpeaker", "HostState", "open_host_speaker"]

# As the server's (serve/server.py): model calls are not preemptible, so
# the longest one bounds how long a stream about to run dry can wait for a
# slot behind another session's; 64-frame chunks keep that wait short.
# Chunking never changes the samples.
HOST_SCHEDULE = ChunkSchedule(max_chunk_frames=64)


@dataclass
class HostState:
    """What every session of the process shares (trio side)."""

    scheduler: ModelScheduler
    admission: Admission
    late_s: float = 0.0  # audio made after its listener needed it, all sessions
    utterances: int = 0
    refused: int = 0
    sessions: int = 0
    peak_sessions: int = field(default=0)
    pace: Pace = field(init=False)  # the model calls' pace, with a burst's wait for a slot

    def __post_init__(self) -> None:
        self.pace = QueuedPace(self.scheduler, lambda: self.admission.starting)


class HostSpeaker:
    """A session's speaker: admits at once or refuses, never waits for room."""

    engine: Engine  # set by open_host_speaker once the engine runs

    def __init__(self, state: HostState, slots: DeadlineSlots, reading: TextOptions) -> None:
        self.state = state
        self.slots = slots
        self.playout = slots.playout
        self.reading = reading

    async def open(self, uid: int, request: UtteranceRequest, nursery: trio.Nursery) -> Utterance:
        state = self.state
        if not state.admission.try_enter():
            state.refused += 1
            raise Refusal(
                AT_CAPACITY,
                f"this process already speaks {state.admission.capacity} utterances at once; "
                "retry shortly, or give the host a larger max_streams on a bigger machine",
                retry_after_s=state.admission.retry_after_s,
            )
        place = AdmittedPlace(state.admission)
        try:
            reading = request.reading or self.reading
            utterance: Utterance = await nursery.start(self._speak, reading, request.rate, place)
        finally:
            if not place.taken:  # the task never ran: nobody else gives the place back
                place.give_back()
        return utterance

    async def _speak(
        self,
        reading: TextOptions,
        rate: float,
        place: AdmittedPlace,
        *,
        task_status: trio.TaskStatus[Utterance] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        place.taken = True
        self.slots.place = place
        late_before = self.playout.late_s
        self.state.utterances += 1
        try:
            await self.engine.utterance(
                reading, rate, on_turn=self.playout.begin, task_status=task_status
            )
        finally:
            place.give_back()
            self.state.late_s += self.playout.late_s - late_before


@asynccontextmanager
async def open_host_speaker(
    state: HostState,
    voice: PiperVoice,
    options: EngineOptions,
    reading: TextOptions,
    shell: ConversationShell,
) -> AsyncIterator[HostSpeaker]:
    """A session on the shared voice, speaking for ``shell``; ready (its
    kernels compiled, the voice warm) when the body starts."""
    if options.schedule == ChunkSchedule():
        options = replace(options, schedule=HOST_SCHEDULE)
    steps = PiperSteps(voice, options.synthesis, options.effective_schedule)
    playout = PlayoutDeadline(steps.sample_rate_hz, told_when_playing=True)
    speaker = HostSpeaker(state, DeadlineSlots(state.scheduler, playout), reading)
    backend = ThreadedBackend(steps, speaker.slots, state.pace)
    state.sessions += 1
    state.peak_sessions = max(state.peak_sessions, state.sessions)
    try:
        async with open_engine(
            backend=backend,
            sink=CallbackSink(shell.audio, on_playing=speaker.slots.playing),
            options=options,
            on_event=shell.heard,
        ) as engine:
            speaker.engine = engine
            yield speaker
    finally:
        state.sessions -= 1
