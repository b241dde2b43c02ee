"""The fleet's parts that need no Ray cluster: its options, the health
check's rules, the door's address, the proxy middleware (fed ASGI messages,
as h11's tests feed bytes) and the asyncio-to-trio bridge a replica runs its
doors through. The fleet itself, on a real cluster: tests/test_fleet.py."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import trio

pytest.importorskip("ray", reason="pip install 'streamtts[fleet]'")

from pydantic import ValidationError

from streamtts.fleet._door import door_url
from streamtts.fleet._guest import TrioASGI, TrioGuest
from streamtts.fleet._health import EngineHealth, Unhealthy
from streamtts.fleet._options import (
    DoorOptions,
    FleetOptions,
    replica_options,
)
from streamtts.fleet.proxy import FleetErrors


def run(coroutine: Any, timeout_s: float = 10) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, timeout_s))


# -- options ----------------------------------------------------------------------------


def test_options_read_serve_run_strings_and_refuse_unknown_keys() -> None:
    options = FleetOptions.model_validate({"sessions": "3", "max_replicas": "8", "cpus": "2"})
    assert (options.sessions, options.max_replicas, options.threads) == (3, 8, 2)
    with pytest.raises(ValidationError, match="sesions"):
        FleetOptions.model_validate({"sesions": 3})
    with pytest.raises(ValidationError, match="over max_replicas"):
        FleetOptions(min_replicas=3, max_replicas=2)


def test_replica_options_leave_room_to_refuse_and_scale_before_full() -> None:
    found = replica_options(FleetOptions(sessions=4, min_replicas=2, max_replicas=6))
    assert found["max_ongoing_requests"] == 8  # a 5th session reaches a replica, to be refused
    assert found["max_queued_requests"] == 4
    assert found["backpressure_config"] == {"status_code": 503, "retry_after_s": 2.0}
    scaling = found["autoscaling_config"]
    assert (scaling["min_replicas"], scaling["max_replicas"]) == (2, 6)
    assert scaling["target_ongoing_requests"] == 3.0  # below 4: a replica is added first
    assert found["ray_actor_options"] == {"num_cpus": 1.0}


def test_the_door_forwards_to_its_own_nodes_proxy() -> None:
    options = DoorOptions(proxy_port=8000)
    assert door_url(options, {}) == "ws://127.0.0.1:8000/v1/wyoming"
    worker = {"RAY_SERVE_WORKER_PROXY_HTTP_PORT": "8001"}
    assert door_url(options, worker) == "ws://127.0.0.1:8001/v1/wyoming"


# -- the health check --------------------------------------------------------------------


def test_a_stuck_model_call_fails_the_health_check() -> None:
    health = EngineHealth(stuck_s=30)
    health.check(0.0, running=True, busy=1, granted=10)
    health.check(29.0, running=True, busy=1, granted=10)  # one long call: not yet
    with pytest.raises(Unhealthy, match="stuck"):
        health.check(31.0, running=True, busy=1, granted=10)
    health.check(32.0, running=True, busy=1, granted=11)  # it moved on
    health.check(100.0, running=True, busy=0, granted=11)  # idle is healthy


def test_engine_faults_in_a_row_fail_it_and_client_trouble_does_not() -> None:
    health = EngineHealth(fault_run=3)
    for kind in ["ClientGone", "InputTextError", "Refusal"] * 3:
        health.utterance_failed(kind)
    health.check(0.0, running=True, busy=0, granted=0)
    health.utterance_failed("EngineFault")
    health.utterance_failed("VoiceError")
    health.utterance_finished()  # one spoken: the run is broken
    health.utterance_failed("EngineFault")
    health.check(1.0, running=True, busy=0, granted=0)
    health.utterance_failed("EngineFault")
    health.utterance_failed("RuntimeError")
    with pytest.raises(Unhealthy, match="3 utterances"):
        health.check(2.0, running=True, busy=0, granted=0)
    with pytest.raises(Unhealthy, match="trio run"):
        EngineHealth().check(0.0, running=False, busy=0, granted=0)


# -- the proxy middleware ------------------------------------------------------------------


async def through_proxy(
    app: Any, scope: dict[str, Any], incoming: list[dict[str, Any]], queue_s: float = 1.0
) -> list[dict[str, Any]]:
    """What a client is sent when ``app`` (the proxy's app) runs behind
    the middleware; ``incoming`` are the client's messages (then it waits)."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop(0)
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    middleware = FleetErrors(app)
    middleware.queue_s = queue_s
    await middleware(scope, receive, send)
    return sent


WS = {"type": "websocket", "path": "/v1/stream"}
HTTP = {"type": "http", "path": "/v1/audio/speech", "method": "POST"}


def test_a_websocket_whose_replica_died_gets_an_error_event_and_1011() -> None:
    async def accepted_then_lost(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "bytes": b"audio"})
        # the replica's stream ends: it died

    sent = run(through_proxy(accepted_then_lost, WS, [{"type": "websocket.connect"}]))
    assert [m["type"] for m in sent][-2:] == ["websocket.send", "websocket.close"]
    assert json.loads(sent[-2]["text"])["code"] == "replica-lost"
    assert sent[-1]["code"] == 1011


def test_a_websocket_closed_by_its_replica_or_left_by_its_client_is_left_alone() -> None:
    async def closes(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})

    sent = run(through_proxy(closes, WS, []))
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.close"]

    async def client_leaves(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "websocket.accept"})
        assert (await receive())["type"] == "websocket.disconnect"

    sent = run(through_proxy(client_leaves, WS, [{"type": "websocket.disconnect", "code": 1006}]))
    assert [m["type"] for m in sent] == ["websocket.accept"]


def test_a_request_waiting_in_rays_queue_is_refused_after_the_bound() -> None:
    cancelled = []

    async def queued(scope: Any, receive: Any, send: Any) -> None:
        try:
            await asyncio.sleep(3600)  # no replica has room
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    request = [{"type": "http.request", "body": b"{}", "more_body": False}]
    sent = run(through_proxy(queued, HTTP, request, queue_s=0.05))
    assert cancelled == [True]  # out of Ray's queue
    start, body = sent
    assert start["status"] == 503 and (b"retry-after", b"2") in start["headers"]
    assert json.loads(body["body"])["error"]["code"] == "at_capacity"
    sent = run(through_proxy(queued, WS, [], queue_s=0.05))
    assert [m["type"] for m in sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
    ]


def test_rays_own_refusal_is_said_in_openais_shape() -> None:
    async def ray_refuses(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"retry-after", b"2")]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": b"Request dropped due to backpressure"})

    start, body = run(through_proxy(ray_refuses, HTTP, []))
    assert start["status"] == 503 and (b"retry-after", b"2") in start["headers"]
    error = json.loads(body["body"])["error"]
    assert error["code"] == "at_capacity" and "retry in 2 s" in error["message"]


def test_a_cut_sse_stream_ends_with_an_error_event_and_audio_is_left_cut() -> None:
    def cut(content_type: bytes) -> Any:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            headers = [(b"content-type", content_type)]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b"data: {}\n\n", "more_body": True})

        return app

    sent = run(through_proxy(cut(b"text/event-stream"), HTTP, []))
    event = json.loads(sent[-1]["body"].decode()[6:])
    assert event["type"] == "error" and event["error"]["code"] == "replica-lost"
    assert sent[-1]["more_body"] is True  # still cut: the client sees an incomplete body
    sent = run(through_proxy(cut(b"audio/pcm"), HTTP, []))
    assert len(sent) == 2  # nothing added to audio


# -- the asyncio → trio bridge ---------------------------------------------------------------


def test_an_asgi_call_runs_under_trio_and_its_cancel_reaches_trio() -> None:
    seen: list[str] = []

    async def trio_app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(trio.lowlevel.current_task().name)  # raises outside trio
        message = await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": message["body"], "more_body": True})
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            seen.append("cancelled")
            raise

    async def main() -> list[dict[str, Any]]:
        guest = TrioGuest()
        await guest.start()
        app = TrioASGI(guest, trio_app, [(b"x-streamtts-replica", b"r1")])
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"hi", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        call = asyncio.ensure_future(app({"type": "http"}, receive, send))
        while len(sent) < 2:
            await asyncio.sleep(0.01)
        call.cancel()  # the client went away: Ray cancels the request's task
        with pytest.raises(asyncio.CancelledError):
            await call
        await guest.stop()
        assert not guest.alive
        return sent

    sent = run(main())
    assert seen[1:] == ["cancelled"]
    assert (b"x-streamtts-replica", b"r1") in sent[0]["headers"]
    assert sent[1]["body"] == b"hi"


def test_the_bridge_answers_the_lifespan_itself() -> None:
    async def main() -> list[str]:
        guest = TrioGuest()
        await guest.start()
        messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        sent: list[str] = []

        async def receive() -> dict[str, Any]:
            return messages.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message["type"])

        await TrioASGI(guest, None)({"type": "lifespan"}, receive, send)
        await guest.stop()
        return sent

    assert run(main()) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
