"""One scheduler for every model call of every session: soonest needed first.

The CPU is what sessions share. Each call asks for a slot with a
*deadline*, the moment its audio will be needed:

- a call before an utterance's first audio (its phonemizer, encoder and
  first chunk) is needed *now*: someone is waiting for sound, so its
  deadline is the moment it asked;
- any later call is needed when the audio already made runs out: the
  utterance's first audio went out at ``t0``, ``produced_s`` seconds of it
  are made, so the listener runs dry at ``t0 + produced_s``.

Free slots go to the earliest deadline (ties: first come). A new
utterance's first chunk therefore goes before the tenth chunk of a long
render that is seconds ahead of its listener, and a real-time stream
about to run dry goes before one that is comfortably ahead. A call that
has started runs to its end (model calls are not preemptible): the wait
for a slot is at most one call, about 100 ms for the largest chunk.

Admission (:class:`Admission`) keeps the number of utterances being
synthesized at once under what the machine can carry in real time, so a
new request is refused at once rather than every stream going late.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import trio

from ..backend import Pace

__all__ = [
    "Admission",
    "DeadlineQueue",
    "DeadlineSlots",
    "ModelScheduler",
    "PlayoutDeadline",
    "QueuedPace",
]


@dataclass(order=True)
class _Waiter:
    deadline: float
    sequence: int
    granted: trio.Event = field(compare=False, default_factory=trio.Event)
    gone: bool = field(compare=False, default=False)


class DeadlineQueue:
    """Waiting calls by (deadline, arrival); sans-IO apart from the events."""

    def __init__(self) -> None:
        self._heap: list[_Waiter] = []
        self._arrivals = itertools.count()

    def push(self, deadline: float) -> _Waiter:
        waiter = _Waiter(deadline, next(self._arrivals))
        heapq.heappush(self._heap, waiter)
        return waiter

    def peek(self) -> _Waiter | None:
        """The earliest deadline still waiting, left in the queue."""
        while self._heap and self._heap[0].gone:
            heapq.heappop(self._heap)
        return self._heap[0] if self._heap else None

    def pop(self) -> _Waiter | None:
        """The earliest deadline still waiting, or None."""
        while self._heap:
            waiter = heapq.heappop(self._heap)
            if not waiter.gone:
                return waiter
        return None

    def __len__(self) -> int:
        return sum(not w.gone for w in self._heap)

    def hasten(self, waiter: _Waiter, deadline: float) -> None:
        """Move a waiting call to an earlier ``deadline`` (never later)."""
        if not waiter.gone and deadline < waiter.deadline:
            waiter.deadline = deadline
            heapq.heapify(self._heap)


class ModelScheduler:
    """``slots`` model calls at a time, earliest deadline first.

    Use ``async with scheduler.slot(deadline):`` around one call. A call
    cancelled while waiting leaves the queue; one cancelled while running
    keeps its slot until :meth:`release_later` says its thread is done.
    """

    def __init__(self, slots: int, urgent_s: float = 0.5, grace_s: float = 0.002) -> None:
        if slots < 1:
            raise ValueError(f"slots must be >= 1, got {slots}")
        self.slots = slots
        # A freed slot goes to a call that is not urgent (needed more than
        # urgent_s from now: a render far ahead of its listener) only after
        # grace_s. Calls are not preemptible, and a real-time session asks
        # for its next call a few task switches after its last one returns:
        # without the grace, a waiting render takes the slot in that gap and
        # the stream's next chunk waits a whole render call (an underrun at
        # a stream's start, where it has one small chunk in hand).
        self.urgent_s = urgent_s
        self.grace_s = grace_s
        self._busy = 0
        self._queue = DeadlineQueue()
        self._delayed = False
        self._waiting_for: dict[object, list[_Waiter]] = {}
        self.granted = 0
        self.peak_waiting = 0

    @property
    def waiting(self) -> int:
        return len(self._queue)

    @property
    def busy(self) -> int:
        return self._busy

    async def acquire(self, deadline: float, owner: object = None) -> None:
        """Wait for a slot, earliest deadline first; ``owner`` names the
        call for :meth:`hasten` while it waits."""
        waiter = self._queue.push(deadline)
        if owner is not None:
            self._waiting_for.setdefault(owner, []).append(waiter)
        self.peak_waiting = max(self.peak_waiting, len(self._queue))
        self._dispatch()
        try:
            await waiter.granted.wait()
        except BaseException:
            if waiter.granted.is_set():  # granted as we were cancelled: hand it on
                self.release()
            else:
                waiter.gone = True
            raise
        finally:
            if owner is not None:
                waiters = self._waiting_for[owner]
                waiters.remove(waiter)
                if not waiters:
                    del self._waiting_for[owner]

    def hasten(self, owner: object, deadline: float) -> None:
        """``owner``'s waiting calls, if any, are now needed by ``deadline``.

        A call asked for before its utterance played was needed "now" as of
        its asking, behind every call asked for earlier. Once the first
        audio goes out, the next chunk is needed when that audio runs out:
        without this, in a burst a session's second chunk waited behind
        the encoders of every session that asked before it, and ran dry.
        """
        for waiter in self._waiting_for.get(owner, ()):
            self._queue.hasten(waiter, deadline)

    def release(self) -> None:
        self._busy -= 1
        best = self._queue.peek()
        if best is not None and best.deadline > trio.current_time() + self.urgent_s:
            if not self._delayed:
                self._delayed = True
                trio.lowlevel.spawn_system_task(self._dispatch_after_grace)
            return
        self._dispatch()

    async def _dispatch_after_grace(self) -> None:
        await trio.sleep(self.grace_s)
        self._delayed = False
        self._dispatch()

    def _dispatch(self) -> None:
        while self._busy < self.slots:
            waiter = self._queue.pop()
            if waiter is None:
                return
            self._busy += 1
            self.granted += 1
            waiter.granted.set()

    @asynccontextmanager
    async def slot(self, deadline: float) -> AsyncIterator[None]:
        await self.acquire(deadline)
        try:
            yield
        finally:
            self.release()


class PlayoutDeadline:
    """When one session's next audio is needed (see the module docstring).

    Sans-IO: the caller passes the time. ``begin`` at each utterance;
    ``produced`` after each chunk; ``playing`` when its first audio goes
    out (an utterance holds its first chunks until they cover the next:
    the listener's clock starts then, not when they were made; without
    ``playing`` the first chunk made starts it); ``deadline`` for the next
    call. Audio made before the listener's clock started is never late.
    """

    def __init__(
        self, sample_rate_hz: int, margin_s: float = 0.2, *, told_when_playing: bool = False
    ) -> None:
        self.sample_rate_hz = sample_rate_hz
        self.margin_s = margin_s  # ask for the slot this much before running dry
        self.told_when_playing = told_when_playing  # ``playing`` will say when it goes out
        self.first_audio_at: float | None = None
        self.produced_s = 0.0
        self.late_s = 0.0  # audio that was made after the listener needed it
        self._out = False  # the first audio went out: the listener's clock runs

    def begin(self) -> None:
        self.first_audio_at = None
        self.produced_s = 0.0
        self._out = False

    def playing(self, now: float) -> None:
        if not self._out:
            self._out = True
            self.first_audio_at = now

    def deadline(self, now: float) -> float:
        if self.first_audio_at is None or (self.told_when_playing and not self._out):
            return now  # someone is waiting for sound
        return self.first_audio_at + self.produced_s - self.margin_s

    def produced(self, samples: int, now: float) -> None:
        if self.first_audio_at is None:
            self.first_audio_at = now
        elif self._out or not self.told_when_playing:
            due = self.first_audio_at + self.produced_s
            self.late_s += max(0.0, now - due)
        self.produced_s += samples / self.sample_rate_hz


class Admission:
    """At most ``capacity`` utterances synthesized at once, and at most
    ``starting_capacity`` of them not yet playing; more are refused.

    The second limit is for bursts. Sessions that arrive spread out start
    one by one, each playing within tens of milliseconds, so the machine
    carries ``capacity`` of them. Sessions that arrive at the same instant
    all need their encoder and first chunks at once, before anyone plays:
    measured on 2 cores (benchmarks/serve.py --burst), 4 at once started
    with TTFA p95 417 ms and none ran dry, 5 at once 534 ms, 8 at once
    814 ms. ``try_enter`` never waits: a refusal is immediate, with the
    seconds a client should wait before retrying; :meth:`refusal` says why.
    """

    def __init__(
        self,
        capacity: int,
        retry_after_s: float = 2.0,
        starting_capacity: int | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        if starting_capacity is not None and starting_capacity < 1:
            raise ValueError(f"starting_capacity must be >= 1, got {starting_capacity}")
        self.capacity = capacity
        self.starting_capacity = starting_capacity or capacity
        self.retry_after_s = retry_after_s
        self.active = 0
        self.starting = 0  # admitted, first audio not yet out
        self.refused = 0
        self.peak = 0

    @property
    def full(self) -> bool:
        return self.active >= self.capacity

    def try_enter(self) -> bool:
        if self.full or self.starting >= self.starting_capacity:
            self.refused += 1
            return False
        self.active += 1
        self.starting += 1
        self.peak = max(self.peak, self.active)
        return True

    def started(self) -> None:
        """An admitted utterance's first audio went out."""
        self.starting -= 1

    def leave(self, started: bool = False) -> None:
        """An admitted utterance ended; ``started``: :meth:`started` was
        called for it."""
        self.active -= 1
        if not started:
            self.starting -= 1

    def refusal(self) -> tuple[str, float]:
        """Why the last ``try_enter`` said no: ``"capacity"`` or
        ``"starting"``, and the seconds to wait before retrying (a start
        takes well under a second)."""
        if self.full:
            return "capacity", self.retry_after_s
        return "starting", min(1.0, self.retry_after_s)


class AdmittedPlace:
    """One admitted utterance's place in an :class:`Admission`: it counts as
    starting until :meth:`started` (its first audio went out), and is
    given back exactly once, by whoever holds it last (the utterance's
    task, or the code that admitted it if that task never ran)."""

    def __init__(self, admission: Admission) -> None:
        self.admission = admission
        self.taken = False  # the utterance's task holds it
        self.playing = False  # its first audio went out
        self._given_back = False

    def started(self) -> None:
        if not (self.playing or self._given_back):
            self.playing = True
            self.admission.started()

    def give_back(self) -> None:
        if not self._given_back:
            self._given_back = True
            self.admission.leave(started=self.playing)


class DeadlineSlots:
    """A session's model calls in the shared scheduler's slots: what a
    :class:`~streamtts.backend.ThreadedBackend` is given instead of a lock
    per step.

    It is the limiter its worker threads hold (trio's ``to_thread`` calls
    ``acquire_on_behalf_of`` before a call and ``release_on_behalf_of``
    once its thread has finished, even when a barge-in abandoned it), with
    the deadline of this session's :class:`PlayoutDeadline`. It also holds
    the admission place of the utterance speaking now (set by the session),
    so the one signal that it plays both hastens its calls and ends its start.
    """

    def __init__(self, scheduler: ModelScheduler, playout: PlayoutDeadline) -> None:
        self.scheduler = scheduler
        self.playout = playout
        self.place: AdmittedPlace | None = None  # the utterance speaking now
        self._in_flight = 0
        self._idle = trio.Event()
        self._idle.set()

    def limiter(self, step: str) -> Any:
        return self  # every step waits for the same slots, by deadline

    def playing(self, now: float) -> None:
        """The utterance's first audio went out at ``now`` (the sink's
        ``on_playing``): its waiting calls move to the deadline the
        listener's clock sets, and it no longer counts as starting (see
        :class:`Admission`)."""
        self.playout.playing(now)
        self.scheduler.hasten(self, self.playout.deadline(now))
        if self.place is not None:
            self.place.started()

    async def acquire_on_behalf_of(self, borrower: object) -> None:
        await self.scheduler.acquire(self.playout.deadline(trio.current_time()), owner=self)
        self._in_flight += 1
        self._idle = trio.Event()

    def release_on_behalf_of(self, borrower: object) -> None:
        self.scheduler.release()
        self._in_flight -= 1
        if self._in_flight == 0:
            self._idle.set()

    def chunk_made(self, samples: int) -> None:
        self.playout.produced(samples, trio.current_time())

    async def idle(self) -> None:
        """Until no call of this session runs in a worker thread."""
        await self._idle.wait()


class QueuedPace(Pace):
    """The pace the sessions of one scheduler share, with the wait for a
    slot in a burst.

    Model calls are not preemptible. While other sessions are starting
    (``starting()`` counts the utterances admitted and not yet playing,
    this one included) and every slot runs a call, the next chunk of a
    session about to play (the most urgent call there is) still waits for
    one of those calls to end: the others' encoders, the longest calls
    made, so the wait is counted as one encoder call at the pace measured
    now. Measured with Wyoming clients asking at the same instant: without
    it, sessions started on their first chunk and ran dry 93 or 325 ms in
    (their second or third chunk late). Counted always, it held first
    audio where nothing needed it: with clients arriving spread over a
    second, 8 of them started at 568 ms p95 instead of 295.
    """

    def __init__(
        self, scheduler: ModelScheduler, starting: Callable[[], int], weight: float = 0.3
    ) -> None:
        super().__init__(weight)
        self.scheduler = scheduler
        self.starting = starting

    def next_chunk_s(self, index: int) -> float:
        made = super().next_chunk_s(index)
        scheduler = self.scheduler
        if self.starting() < 2 or scheduler.busy < scheduler.slots:
            return made
        return made + self.slowdown * self.encode_s
