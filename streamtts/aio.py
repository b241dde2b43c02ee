"""Using streamtts from an asyncio application, through trio's guest mode.

trio runs *inside* the asyncio event loop (same thread), so nothing blocks
either loop::

    async def main():
        async with AsyncioEngine() as tts:          # opens the engine
            await tts.say("Hello from asyncio.")    # awaits until heard
            task = asyncio.create_task(tts.say("A long story ..."))
            await asyncio.sleep(1.0)
            await tts.interrupt()                   # barge-in
            result = await task                     # result.interrupted is True

    asyncio.run(main())

``AsyncioEngine(**kwargs)`` takes the keyword arguments of
:func:`streamtts.open_engine`; ``on_event`` callbacks run in the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import trio

from .engine import Engine, UtteranceResult, open_engine

__all__ = ["AsyncioEngine"]

T = TypeVar("T")


class AsyncioEngine:
    def __init__(self, voice: Any = None, sink: Any = None, **kwargs: Any) -> None:
        self._args = (voice, sink)
        self._kwargs = kwargs
        self._engine: Engine | None = None
        self._nursery: trio.Nursery | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self._finished: asyncio.Future[Any] | None = None

    async def __aenter__(self) -> AsyncioEngine:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        self._finished = loop.create_future()

        async def serve() -> None:
            self._stop = trio.Event()
            self._token = trio.lowlevel.current_trio_token()
            try:
                async with (
                    open_engine(*self._args, **self._kwargs) as engine,
                    trio.open_nursery() as nursery,
                ):
                    self._engine, self._nursery = engine, nursery
                    ready.set_result(None)
                    await self._stop.wait()
                    nursery.cancel_scope.cancel()
            except BaseException as err:
                if not ready.done():
                    ready.set_exception(err)
                raise

        def done(outcome: Any) -> None:
            assert self._finished is not None
            if not self._finished.done():
                self._finished.set_result(outcome)

        trio.lowlevel.start_guest_run(
            serve,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            run_sync_soon_not_threadsafe=loop.call_soon,
            done_callback=done,
            host_uses_signal_set_wakeup_fd=False,
        )
        await ready
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._token is not None and self._stop is not None and self._finished
        self._token.run_sync_soon(self._stop.set)
        outcome = await self._finished
        outcome.unwrap()

    def _call(self, work: Callable[[Engine], Awaitable[T]]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        async def run() -> None:
            assert self._engine is not None
            try:
                value = await work(self._engine)
            except Exception as err:
                if not future.cancelled():
                    future.set_exception(err)
            else:
                if not future.cancelled():
                    future.set_result(value)

        assert self._token is not None and self._nursery is not None
        nursery = self._nursery
        self._token.run_sync_soon(lambda: nursery.start_soon(run))
        return future

    async def say(self, text: str) -> UtteranceResult:
        """Speak ``text``; returns once it was heard (or interrupted)."""
        return await self._call(lambda engine: engine.say(text))

    async def interrupt(self) -> None:
        await self._call(lambda engine: engine.interrupt())

    async def statistics(self) -> dict[str, Any]:
        async def stats(engine: Engine) -> dict[str, Any]:
            return engine.statistics()

        return await self._call(stats)
