"""trio inside a Ray Serve replica: a guest run on the replica's asyncio loop.

Ray Serve runs a replica's code on an asyncio loop (uvloop) of its own
thread. streamtts is trio: its engine, scheduler and doors run in
:class:`TrioGuest`, trio's guest mode on that same loop (one thread, so
neither loop blocks the other; model calls still go to worker threads).
:class:`TrioASGI` hands each request Ray's proxy sends to the replica, an
ASGI call on asyncio, to the doors' Starlette app running under trio.

Cancellation crosses both ways: Ray cancelling a request's asyncio task
(its client went away) cancels the trio task serving it, and waits for it
to end; trio cancelling a call into asyncio (``receive``, ``send``) cancels
that asyncio task.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import trio

__all__ = ["GuestGone", "TrioASGI", "TrioGuest"]

T = TypeVar("T")

# How long a cancelled request waits for its trio task to unwind: it is
# cancelled with its own cancel scope, so only a stuck thread could hold it.
_UNWIND_S = 5.0


class GuestGone(RuntimeError):
    """The trio guest run has ended; the replica cannot serve."""


class TrioGuest:
    """A trio run hosted by the asyncio loop running :meth:`start`."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        self._stop: trio.Event | None = None
        self._finished: asyncio.Future[Any] | None = None

    async def start(self) -> None:
        """Start the guest run; returns once it takes work."""
        loop = self._loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        finished = self._finished = loop.create_future()

        async def main() -> None:
            self._token = trio.lowlevel.current_trio_token()
            self._stop = trio.Event()
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                ready.set_result(None)
                await self._stop.wait()
                nursery.cancel_scope.cancel()

        def done(outcome: Any) -> None:
            if not finished.done():
                finished.set_result(outcome)
            if not ready.done():
                ready.set_exception(GuestGone(f"the trio guest run ended at start: {outcome}"))

        trio.lowlevel.start_guest_run(
            main,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            run_sync_soon_not_threadsafe=loop.call_soon,
            done_callback=done,
            host_uses_signal_set_wakeup_fd=False,
        )
        await ready

    @property
    def alive(self) -> bool:
        return self._finished is not None and not self._finished.done()

    async def run(self, work: Callable[[], Awaitable[T]]) -> T:
        """``await work()`` in trio, from asyncio. Cancelling the caller
        cancels ``work`` and returns once it has unwound."""
        if not self.alive or self._token is None or self._nursery is None:
            raise GuestGone("the replica's trio run has ended")
        result: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        scope = trio.CancelScope()

        async def task() -> None:
            try:
                with scope:
                    value = await work()
                    if not result.done():
                        result.set_result(value)
            except Exception as err:
                if not result.done():
                    result.set_exception(err)
            finally:
                if not result.done():  # cancelled (by the caller, or the run ending)
                    result.cancel()

        self._token.run_sync_soon(self._nursery.start_soon, task)
        try:
            return await asyncio.shield(result)
        except asyncio.CancelledError:
            if not result.done():
                self._token.run_sync_soon(scope.cancel)
                await asyncio.wait([result], timeout=_UNWIND_S)
            raise

    async def host(self, work: Callable[[], Awaitable[T]], context: contextvars.Context) -> T:
        """``await work()`` in asyncio (in a copy of ``context``), from trio."""
        assert self._loop is not None and self._token is not None
        token, done = self._token, trio.Event()
        # The task is made in the asyncio caller's context, not trio's (whose
        # sniffio mark would tell asyncio code it runs under trio).
        future: asyncio.Task[T] = context.run(self._loop.create_task, work())  # type: ignore[arg-type]
        future.add_done_callback(lambda _: token.run_sync_soon(done.set))
        try:
            await done.wait()
        except BaseException:
            future.cancel()
            raise
        return future.result()

    async def stop(self) -> None:
        """End the guest run (cancelling whatever runs in it) and wait for it."""
        if self.alive and self._token is not None and self._stop is not None:
            self._token.run_sync_soon(self._stop.set)
        if self._finished is not None:
            await asyncio.wait([self._finished], timeout=_UNWIND_S)


# Response messages a trio handler may have handed over before its ``send``
# waits for them to go out: a few audio chunks, so a slow client still
# holds its session back within a chunk or two (as on a socket).
_SEND_AHEAD = 4


class _Outbox:
    """A request's response messages, trio → asyncio, in order, bounded.

    The trio side appends (from a guest tick, which runs on the asyncio
    loop's thread, so waking the asyncio pump is a plain ``Event.set``) and
    waits only when ``_SEND_AHEAD`` are queued; one asyncio task sends them.
    Saves each message two thread hops (an asyncio task per message, its
    result carried back to trio)."""

    def __init__(self, guest: TrioGuest, send: Any) -> None:
        self.guest = guest
        self.send = send
        self.queue: deque[dict[str, Any] | None] = deque()
        self.queued = asyncio.Event()
        self.room: trio.Event | None = None  # a trio sender waiting for room
        self.error: BaseException | None = None

    async def put(self, message: dict[str, Any]) -> None:  # in trio
        while len(self.queue) >= _SEND_AHEAD and self.error is None:
            self.room = trio.Event()
            await self.room.wait()
        if self.error is not None:
            raise self.error
        self.queue.append(message)
        self.queued.set()

    async def pump(self) -> None:  # in asyncio
        while True:
            while not self.queue:
                self.queued.clear()
                await self.queued.wait()
            message = self.queue.popleft()
            if message is None:  # the handler is done
                return
            try:
                await self.send(message)
            except Exception as err:  # the client is gone: the handler hears it
                self.error = err
            if self.room is not None and self.guest._token is not None:
                self.guest._token.run_sync_soon(self.room.set)
                self.room = None
            if self.error is not None:
                return


class TrioASGI:
    """An ASGI app on asyncio that serves each call with ``app`` under trio.

    The lifespan is answered here (the doors' app has no start-up of its
    own: the replica loaded the voice before this app was made). ``headers``
    are added to every response's start (and a WebSocket's accept).
    """

    def __init__(
        self, guest: TrioGuest, app: Any, headers: Iterable[tuple[bytes, bytes]] = ()
    ) -> None:
        self.guest = guest
        self.app = app
        self.headers = list(headers)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        guest, context = self.guest, contextvars.copy_context()
        outbox = _Outbox(guest, send)

        async def trio_receive() -> Any:
            return await guest.host(receive, context)

        async def trio_send(message: dict[str, Any]) -> None:
            if message["type"] in ("http.response.start", "websocket.accept") and self.headers:
                message = {**message, "headers": [*message.get("headers", []), *self.headers]}
            await outbox.put(message)

        pump = asyncio.ensure_future(outbox.pump())
        try:
            await guest.run(lambda: self.app(scope, trio_receive, trio_send))
            outbox.queue.append(None)  # what the handler handed over still goes out
            outbox.queued.set()
            await pump
        finally:
            pump.cancel()


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
