"""The server's scheduler on virtual time: whose model call runs first.

Sessions are real engines on fake backends whose costs are spent inside
the shared scheduler's slots, so the policy is tested exactly as the server
uses it, without a model or a clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import trio
import trio.testing

from streamtts import EngineOptions
from streamtts.backend import Pace
from streamtts.engine import UtteranceResult, open_engine
from streamtts.messages import AudioChunk, Planned
from streamtts.serve.scheduler import (
    Admission,
    AdmittedPlace,
    DeadlineQueue,
    DeadlineSlots,
    ModelScheduler,
    PlayoutDeadline,
    QueuedPace,
)
from streamtts.sinks.files import NullSink
from streamtts.testing import FakeBackend, FakeSink

RATE = 8000
COSTS = {"prepare_s": 0.001, "encode_s": 0.02, "first_chunk_s": 0.015, "chunk_s": 0.05}
LONG = " ".join(["A long text rendered as fast as the machine allows."] * 40)


class ScheduledFake(FakeBackend):
    """A fake voice whose every cost waits for a slot of the scheduler."""

    def __init__(self, scheduler: ModelScheduler, fifo: bool = False) -> None:
        super().__init__(sample_rate_hz=RATE, **COSTS)
        self.scheduler = scheduler
        self.clock = PlayoutDeadline(RATE)
        self.fifo = fifo  # first come, first served: what a plain lock does

    async def _spend(self, seconds: float, what: str) -> None:
        now = trio.current_time()
        deadline = now if self.fifo else self.clock.deadline(now)
        async with self.scheduler.slot(deadline):
            await super()._spend(seconds, what)

    async def next_chunk(self, planned: Planned) -> AudioChunk:
        chunk = await super().next_chunk(planned)
        self.clock.produced(chunk.samples.size, trio.current_time())
        return chunk


def test_deadline_queue_order() -> None:
    queue = DeadlineQueue()
    late, soon, also_soon = queue.push(5.0), queue.push(1.0), queue.push(1.0)
    gone = queue.push(0.5)
    gone.gone = True
    assert [queue.pop(), queue.pop(), queue.pop(), queue.pop()] == [soon, also_soon, late, None]
    assert len(queue) == 0


def test_playout_deadline_starts_when_the_first_audio_goes_out() -> None:
    clock = PlayoutDeadline(1000, margin_s=0.0, told_when_playing=True)
    clock.begin()
    clock.produced(500, now=10.0)  # made, held back: someone is still waiting
    assert clock.deadline(now=10.2) == 10.2
    clock.produced(500, now=10.4)  # not late: nobody was listening yet
    clock.playing(now=10.5)
    assert clock.deadline(now=10.6) == 11.5 and clock.late_s == 0.0


def test_playout_clock_deadlines_and_lateness() -> None:
    clock = PlayoutDeadline(1000, margin_s=0.0)
    clock.begin()
    assert clock.deadline(now=10.0) == 10.0  # before the first audio: now
    clock.produced(500, now=10.0)  # 0.5 s out at t=10
    assert clock.deadline(now=10.1) == 10.5  # needed when that runs out
    clock.produced(500, now=10.7)  # 0.2 s too late
    assert abs(clock.late_s - 0.2) < 1e-9


def test_admission_refuses_at_once_past_capacity() -> None:
    admission = Admission(2)
    assert admission.try_enter() and admission.try_enter()
    assert not admission.try_enter() and admission.refused == 1
    admission.leave()
    assert admission.try_enter() and admission.peak == 2


async def new_request_ttfa(renders: int, fifo: bool) -> float:
    """TTFA of a new utterance while ``renders`` long renders are in flight."""
    scheduler = ModelScheduler(slots=1)
    ttfa: list[float] = []
    async with trio.open_nursery() as nursery:

        async def render() -> None:
            backend = ScheduledFake(scheduler, fifo)
            async with open_engine(backend=backend, sink=NullSink()) as engine:
                await engine.say(LONG)

        for _ in range(renders):
            nursery.start_soon(render)
        await trio.sleep(2.0)  # the renders are well under way
        backend = ScheduledFake(scheduler, fifo)
        async with open_engine(backend=backend, sink=FakeSink()) as engine:
            result = await engine.say("A new question, just asked.")
        assert result.stats.ttfa_s is not None
        ttfa.append(result.stats.ttfa_s)
        nursery.cancel_scope.cancel()
    return ttfa[0]


async def test_a_new_request_does_not_wait_for_long_renders(
    autojump_clock: trio.abc.Clock,
) -> None:
    alone = await new_request_ttfa(0, fifo=False)
    assert abs(alone - (0.001 + 0.02 + 0.015)) < 1e-6
    # Renders far ahead of their listeners: at most the one call already
    # running (a 50 ms chunk) is ahead of the new request, however many.
    for renders in (1, 2, 4):
        ttfa = await new_request_ttfa(renders, fifo=False)
        assert ttfa <= alone + COSTS["chunk_s"] + 1e-6, (renders, ttfa)
    # Eight renders share the slot so thinly that they are barely ahead of
    # real time (they count against capacity like any stream); still far
    # sooner than first come, first served, where it waits behind them all.
    edf, fifo = await new_request_ttfa(8, fifo=False), await new_request_ttfa(8, fifo=True)
    assert edf < fifo / 3, (edf, fifo)
    assert await new_request_ttfa(4, fifo=True) > alone + 4 * COSTS["chunk_s"]


async def stream_underruns(realtime: int, renders: int, fifo: bool) -> list[int]:
    """Underruns of ``realtime`` listeners while ``renders`` renders run."""
    scheduler = ModelScheduler(slots=1)
    underruns: list[int] = []
    text = " ".join(["A real-time stream that must never run dry."] * 6)
    async with trio.open_nursery() as nursery:

        async def render() -> None:
            backend = ScheduledFake(scheduler, fifo)
            async with open_engine(backend=backend, sink=NullSink()) as engine:
                while True:
                    await engine.say(LONG)

        async def listen(start_s: float) -> None:
            await trio.sleep(start_s)  # requests arrive spread, not all at once
            backend = ScheduledFake(scheduler, fifo)
            sink = FakeSink(queue_s=0.3)
            # The scheduler's policy alone: no holding of the first audio.
            options = EngineOptions(start_margin=0.0)
            async with open_engine(backend=backend, sink=sink, options=options) as engine:
                result = await engine.say(text)
            underruns.append(result.stats.underruns)

        for _ in range(renders):
            nursery.start_soon(render)
        async with trio.open_nursery() as listeners:
            for k in range(realtime):
                listeners.start_soon(listen, 1.0 + 0.3 * k)
        nursery.cancel_scope.cancel()
    return underruns


async def test_real_time_streams_go_before_renders_that_are_ahead(
    autojump_clock: trio.abc.Clock,
) -> None:
    # Listeners arriving 0.3 s apart, each needing 10% of the one slot,
    # beside renders that would take all of it.
    for listeners, renders in ((1, 6), (4, 4), (6, 2)):
        assert await stream_underruns(listeners, renders, fifo=False) == [0] * listeners
    assert sum(await stream_underruns(4, 4, fifo=True)) > 20  # what the policy saves


BURST_TEXT = " ".join(["A real-time stream that must never run dry."] * 4)


async def at_the_same_instant(
    sessions: int, listen: Callable[[], Awaitable[UtteranceResult]]
) -> tuple[int, float]:
    """Underruns in all and the worst TTFA of ``sessions`` runs of
    ``listen`` started at the same instant."""
    results: list[tuple[int, float]] = []

    async def one() -> None:
        result = await listen()
        assert result.stats.ttfa_s is not None
        results.append((result.stats.underruns, result.stats.ttfa_s))

    async with trio.open_nursery() as nursery:
        for _ in range(sessions):
            nursery.start_soon(one)
    return sum(u for u, _ in results), max(t for _, t in results)


async def burst_underruns(sessions: int, margin: float) -> tuple[int, float]:
    """Underruns and the worst TTFA of ``sessions`` listeners asking at the
    same instant, on two slots, sharing one measured pace (as a server's
    sessions do)."""
    scheduler, pace = ModelScheduler(slots=2), Pace()

    async def listen() -> UtteranceResult:
        backend = ScheduledFake(scheduler)
        backend._pace = pace
        options = EngineOptions(start_margin=margin)
        async with open_engine(backend=backend, sink=FakeSink(queue_s=0.3), options=options) as e:
            return await e.say(BURST_TEXT)

    return await at_the_same_instant(sessions, listen)


async def test_a_burst_of_sessions_holds_first_audio_instead_of_breaking(
    autojump_clock: trio.abc.Clock,
) -> None:
    """Twelve sessions at the same instant: each first chunk comes out
    while the others' starts still crowd the slots; played at once, the
    second comes too late. Held until it covers the next chunk at the pace
    measured across sessions, every stream plays whole, a little later."""
    held, held_ttfa = await burst_underruns(12, margin=1.5)
    played_at_once, _ = await burst_underruns(12, margin=0.0)
    assert held == 0 and played_at_once > 0
    assert held_ttfa < 1.0  # later, and still well under a second


class SlottedFake(FakeBackend):
    """A fake voice wired as a server session is: every call through the
    session's :class:`DeadlineSlots`, the pace shared by all sessions."""

    def __init__(self, slots: DeadlineSlots, pace: Pace) -> None:
        super().__init__(sample_rate_hz=RATE, pace=pace, **COSTS)
        self.slots = slots

    async def _spend(self, seconds: float, what: str) -> None:
        await self.slots.acquire_on_behalf_of(self)
        try:
            await super()._spend(seconds, what)
        finally:
            self.slots.release_on_behalf_of(self)

    async def next_chunk(self, planned: Planned) -> AudioChunk:
        chunk = await super().next_chunk(planned)
        self.slots.chunk_made(chunk.samples.size)
        return chunk


class StartingSink(FakeSink):
    """A listener that tells the session when its first audio went out."""

    def __init__(self, on_playing: Callable[[float], None]) -> None:
        super().__init__(queue_s=0.3)
        self.on_playing = on_playing

    def set_active(self, active: bool) -> None:
        if active:
            self.on_playing(trio.current_time())
        super().set_active(active)


async def server_burst(sessions: int, wired: bool) -> tuple[int, float]:
    """Underruns and the worst TTFA of ``sessions`` asking at the same
    instant on two slots, wired as ``serve/session.py`` wires them
    (``wired``: a shared pace that counts the wait for a slot while others
    start, waiting calls hastened when their utterance plays) or as it was
    before (a plain shared pace, the deadline changed only for calls asked
    for after playing)."""
    scheduler, admission = ModelScheduler(slots=2), Admission(sessions)
    pace = QueuedPace(scheduler, lambda: admission.starting) if wired else Pace()

    async def listen() -> UtteranceResult:
        playout = PlayoutDeadline(RATE, told_when_playing=True)
        slots = DeadlineSlots(scheduler, playout)
        assert admission.try_enter()
        slots.place = AdmittedPlace(admission)

        def unwired_playing(now: float) -> None:  # the start ends; nothing is hastened
            assert slots.place is not None
            slots.place.started()
            playout.playing(now)

        playing = slots.playing if wired else unwired_playing
        backend = SlottedFake(slots, pace)
        async with open_engine(backend=backend, sink=StartingSink(playing)) as engine:
            playout.begin()
            result = await engine.say(BURST_TEXT)
        slots.place.give_back()
        return result

    return await at_the_same_instant(sessions, listen)


async def test_a_server_burst_plays_whole(autojump_clock: trio.abc.Clock) -> None:
    """Sessions asking at the same instant, as the server runs them. Each
    holds its first chunk until the audio covers the next one and the
    wait for a slot (every slot is taken by the others' starts); once it
    plays, its waiting call moves ahead of theirs. Before, with the same
    start gate, calls asked for while held kept their place behind every
    other session's start, and streams ran dry."""
    for sessions in (4, 8, 12):
        underruns, worst_ttfa = await server_burst(sessions, wired=True)
        assert underruns == 0, sessions
        assert worst_ttfa < 1.5, (sessions, worst_ttfa)
    before, _ = await server_burst(12, wired=False)
    assert before > 0


def test_a_waiting_call_is_hastened_when_its_utterance_plays() -> None:
    async def main() -> list[str]:
        scheduler = ModelScheduler(slots=1)
        order: list[str] = []

        async def call(name: str, deadline: float, owner: object = None) -> None:
            async with scheduler.slot(deadline) if owner is None else _owned(owner, deadline):
                order.append(name)
                await trio.sleep(0.01)

        @asynccontextmanager
        async def _owned(owner: object, deadline: float) -> AsyncIterator[None]:
            await scheduler.acquire(deadline, owner=owner)
            try:
                yield
            finally:
                scheduler.release()

        held = object()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(call, "running", 0.0)
            await trio.sleep(0.001)  # it holds the one slot
            nursery.start_soon(call, "another start", 1.0)
            await trio.sleep(0.001)
            nursery.start_soon(call, "held session's next chunk", 2.0, held)
            await trio.sleep(0.001)
            scheduler.hasten(held, 0.5)  # it began playing: needed by then
            scheduler.hasten(object(), 0.1)  # nobody waiting: nothing moves
        return order

    order = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert order == ["running", "held session's next chunk", "another start"]


async def test_the_shared_pace_counts_the_wait_for_a_slot_in_a_burst() -> None:
    scheduler, admission = ModelScheduler(slots=2), Admission(8)
    pace = QueuedPace(scheduler, lambda: admission.starting)
    alone = pace.next_chunk_s(1)
    assert alone == Pace().next_chunk_s(1)
    await scheduler.acquire(0.0)
    await scheduler.acquire(0.0)  # every slot runs a call
    assert admission.try_enter()
    assert pace.next_chunk_s(1) == alone  # nobody else starting: steady load
    assert admission.try_enter()
    assert pace.next_chunk_s(1) == alone + pace.encode_s  # a burst: wait for a slot
    scheduler.release()
    assert pace.next_chunk_s(1) == alone  # a free slot: no wait
    scheduler.release()


def test_admission_serves_a_burst_a_few_starts_at_a_time() -> None:
    admission = Admission(8, starting_capacity=2)
    assert admission.try_enter() and admission.try_enter()
    assert not admission.try_enter()  # two starting already
    assert admission.refusal() == ("starting", 1.0)
    admission.started()  # one plays: another may start
    assert admission.try_enter() and admission.starting == 2 and admission.active == 3
    admission.leave(started=False)  # ended before it played (a barge-in)
    admission.leave(started=True)
    assert admission.starting == 1 and admission.active == 1
    full = Admission(1)
    assert full.try_enter() and not full.try_enter()
    assert full.refusal() == ("capacity", full.retry_after_s)
