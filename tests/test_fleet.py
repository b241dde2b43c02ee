"""A streamtts fleet on a real Ray cluster on this machine, with the clients
users have: the ``openai`` SDK, ``websockets`` and the ``wyoming`` package.

The module starts one cluster for all its tests: two Ray nodes of one CPU
each, every Ray process on 127.0.0.1 (``streamtts.fleet.local``), all
traffic to 127.0.0.1 only; two replicas of the fleet (one per node), a
Wyoming door on each node. It stops the cluster (``ray stop``) when done,
also on a failure. Tests run in file order: the kill and the autoscaling
tests change the fleet, and come last. Every wait has a deadline.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
import numpy as np
import psutil
import pytest
import soxr

from streamtts import PiperVoice, SynthesisOptions, Synthesizer

pytestmark = pytest.mark.slow

ray = pytest.importorskip("ray", reason="pip install 'streamtts[fleet]'")

from streamtts.fleet.local import LocalCluster, free_port, local_cluster  # noqa: E402

TOKEN = "fleet-token-123"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
SEED = 7
SESSIONS = 6  # per replica
TEXT = "Hello from the fleet. It streams inside a sentence, exactly."
LONG = " ".join(["This sentence is one of many in a long text, read at an even pace."] * 30)
FIXED = {"min_replicas": 2, "max_replicas": 2}
# Short delays, so the autoscaling test takes seconds, not minutes.
AUTOSCALING = {"min_replicas": 1, "max_replicas": 2, "upscale_delay_s": 1, "downscale_delay_s": 3}


@dataclass
class Fleet:
    cluster: LocalCluster
    wyoming_port: int

    @property
    def http(self) -> str:
        return self.cluster.http_url

    def running(self) -> dict[str, int]:
        """Running replicas: id → pid (what ``serve status`` says)."""
        replicas = self.cluster.replicas("streamtts", "StreamTTS")
        return {r["replica_id"]: r["pid"] for r in replicas if r["state"] == "RUNNING"}

    def healths(self, within_s: float = 10.0) -> dict[str, dict[str, Any]]:
        """``/healthz`` of every running replica (the proxy picks one per request)."""
        want, found = set(self.running()), {}
        deadline = time.monotonic() + within_s
        with httpx.Client(timeout=10) as client:
            while not want <= set(found) and time.monotonic() < deadline:
                health = client.get(f"{self.http}/healthz").json()
                found[health["replica"]] = health
        assert want <= set(found), (want, found.keys())
        return found

    def wait_idle(self, within_s: float = 30.0) -> None:
        """Until no replica holds a session: on a loaded machine an earlier
        test's cancelled sessions may take a while to end, and a test that
        needs the fleet's capacity starts after them."""
        deadline = time.monotonic() + within_s
        while any(h["active"] or h["connections"] for h in self.healths().values()):
            assert time.monotonic() < deadline, self.healths()
            time.sleep(0.25)

    def wait_replicas(self, count: int, gone: str = "", within_s: float = 60.0) -> dict[str, int]:
        """Until ``count`` replicas run (and ``gone`` is not one of them)."""
        deadline = time.monotonic() + within_s
        while len(running := self.running()) != count or gone in running:
            assert time.monotonic() < deadline, f"{list(running)}, not {count} without {gone!r}"
            time.sleep(0.25)
        return running


def fleet_config(cluster: LocalCluster, wyoming_port: int, scaling: dict[str, Any]) -> Any:
    args = {"sessions": SESSIONS, "token": TOKEN, "seed": SEED}
    autoscaling = {"target_ongoing_requests": 2, "metrics_interval_s": 0.5, **scaling}
    autoscaling["look_back_period_s"] = 1
    return cluster.serve_config(
        [
            {
                "name": "streamtts",
                "route_prefix": "/",
                "import_path": "streamtts.fleet:app",
                "args": args,
                # Scaling set here, not in args: a change of args is a new
                # version (replicas restarted), this one is not.
                "deployments": [{"name": "StreamTTS", "autoscaling_config": autoscaling}],
            },
            {
                "name": "wyoming",
                "route_prefix": None,
                "import_path": "streamtts.fleet:wyoming",
                "args": {
                    "port": wyoming_port,
                    "nodes": 2,
                    "token": TOKEN,
                    "proxy_port": cluster.proxy_ports[0],
                },
            },
        ]
    )


def ray_processes() -> list[str]:
    names = ("raylet", "gcs_server", "ray::", "dashboard.py", "streamtts.fleet._loopback")
    found = []
    for process in psutil.process_iter(["cmdline"]):
        line = " ".join(process.info["cmdline"] or [])
        if any(name in line for name in names):
            found.append(line[:120])
    return found


@pytest.fixture(scope="module")
def fleet(voice: PiperVoice, cache_dir: Any) -> Iterator[Fleet]:
    """The cluster and the fleet on it. ``voice`` has filled the cut cache
    the replicas load from (STREAMTTS_CACHE_DIR)."""
    assert not ray_processes(), "a Ray cluster is already running on this machine"
    wyoming_port = free_port()
    env = {"STREAMTTS_CACHE_DIR": str(cache_dir)}
    try:
        with local_cluster(nodes=2, cpus_per_node=1, env=env) as cluster:
            cluster.deploy(fleet_config(cluster, wyoming_port, FIXED))
            cluster.wait_running("streamtts")
            cluster.wait_running("wyoming")
            running = Fleet(cluster, wyoming_port)
            running.wait_replicas(2)
            cluster.wait_proxies()
            for port in cluster.proxy_ports:  # each proxy learns where the replicas are
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30).raise_for_status()
            yield running
    finally:
        deadline = time.monotonic() + 20
        while ray_processes() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not ray_processes(), ray_processes()


@pytest.fixture(scope="module")
def reference(voice: PiperVoice) -> np.ndarray:
    """What ``streamtts speak --seed 7`` makes of TEXT, s16 at the voice's rate."""
    chunks = Synthesizer(voice, SynthesisOptions(seed=SEED)).speak([TEXT])
    audio = np.concatenate([c.samples for c in chunks])
    return np.rint(np.clip(audio, -1, 1) * 32767).astype(np.int16)


def same_audio(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape, (got.shape, want.shape)
    assert np.max(np.abs(got.astype(np.int32) - want.astype(np.int32))) <= 1


def correlates(pcm_24k: bytes, want: np.ndarray) -> None:
    """OpenAI's pcm (24 kHz) against the voice's 22,050 Hz, resampled."""
    got = np.frombuffer(pcm_24k, "<i2").astype(np.float32) / 32767
    resampled = soxr.resample(want.astype(np.float32) / 32767, 22050, 24000)
    assert abs(got.size - resampled.size) <= 24
    n = min(got.size, resampled.size)
    a, b = got[:n], resampled[:n]
    assert np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b)) >= 0.999


def run_asyncio(coroutine: Any, timeout_s: float = 60) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, timeout=timeout_s))


def openai_client(fleet: Fleet, asynchronous: bool = False) -> Any:
    from openai import AsyncOpenAI, OpenAI

    kind = AsyncOpenAI if asynchronous else OpenAI
    return kind(base_url=f"{fleet.http}/v1", api_key=TOKEN, max_retries=0, timeout=60)


# -- the doors, through the fleet --------------------------------------------------------


def test_openai_sdk_sessions_spread_over_both_replicas(fleet: Fleet, reference: np.ndarray) -> None:
    client = openai_client(fleet)

    def speak(_: int) -> tuple[str, bytes]:
        with client.audio.speech.with_streaming_response.create(
            model="tts-1", voice="alloy", input=TEXT, response_format="pcm"
        ) as response:
            return response.headers["x-streamtts-replica"], response.read()

    # Ray's routers learn of a new replica a moment after it runs: a first
    # round may all go to the older one. Rounds of 4 at once, a few at most.
    seen: set[str] = set()
    with ThreadPoolExecutor(4) as pool:
        for _ in range(5):
            spoken = list(pool.map(speak, range(4)))
            seen |= {replica for replica, _ in spoken}
            for _, pcm in spoken:
                correlates(pcm, reference)
            if seen == set(fleet.running()):
                break
    assert seen == set(fleet.running())


async def websocket_session(fleet: Fleet) -> tuple[str, bytes, list[dict[str, Any]]]:
    import websockets

    url = fleet.http.replace("http", "ws") + "/v1/stream"
    async with websockets.connect(url, additional_headers=HEADERS, proxy=None) as ws:
        replica = ws.response.headers["x-streamtts-replica"]
        events = [json.loads(await ws.recv())]
        await ws.send(json.dumps({"type": "text", "text": TEXT}))
        await ws.send(json.dumps({"type": "end"}))
        audio = bytearray()
        while events[-1]["type"] not in ("done", "error"):
            message = await ws.recv()
            if isinstance(message, bytes):
                audio += message
            else:
                events.append(json.loads(message))
    return replica, bytes(audio), events


def test_websocket_and_sse_through_the_proxy(fleet: Fleet, reference: np.ndarray) -> None:
    replica, audio, events = run_asyncio(websocket_session(fleet))
    assert replica in fleet.running()
    assert events[0] == {"type": "ready", "sample_rate_hz": 22050, "format": "s16le"}
    assert events[-1]["type"] == "done" and any(e["type"] == "word" for e in events)
    same_audio(np.frombuffer(audio, "<i2"), reference)
    body = {"input": TEXT, "response_format": "pcm", "stream_format": "sse"}
    response = httpx.post(f"{fleet.http}/v1/audio/speech", headers=HEADERS, json=body, timeout=60)
    events = [json.loads(line[6:]) for line in response.text.splitlines() if line]
    assert events[-1]["type"] == "speech.audio.done"
    import base64

    pcm = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    correlates(pcm, reference)


async def wyoming_session(port: int, events: list[Any]) -> tuple[list[str], bytes]:
    from wyoming.audio import AudioChunk
    from wyoming.client import AsyncTcpClient

    streaming = any(type(e).__name__ == "SynthesizeStart" for e in events)
    last = {"error", "info", "synthesize-stopped" if streaming else "audio-stop"}
    kinds, audio = [], bytearray()
    async with AsyncTcpClient("127.0.0.1", port) as client:
        for event in events:
            await client.write_event(event.event())
        while True:
            event = await client.read_event()
            assert event is not None, "the door closed the connection"
            kinds.append(event.type)
            if AudioChunk.is_type(event.type):
                audio += event.payload or b""
            if event.type in last:
                return kinds, bytes(audio)


def test_wyoming_door_streams_to_the_fleet(fleet: Fleet, reference: np.ndarray) -> None:
    from wyoming.info import Describe
    from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

    kinds, _ = run_asyncio(wyoming_session(fleet.wyoming_port, [Describe()]))
    assert kinds == ["info"]
    pieces = ["Hello from ", "the fleet. It ", "streams inside a sen", "tence, exactly."]
    events = [SynthesizeStart(), *[SynthesizeChunk(p) for p in pieces]]
    events += [Synthesize(TEXT), SynthesizeStop()]  # what Home Assistant sends
    kinds, audio = run_asyncio(wyoming_session(fleet.wyoming_port, events))
    assert kinds[0] == "audio-start" and kinds[-2:] == ["audio-stop", "synthesize-stopped"]
    same_audio(np.frombuffer(audio, "<i2"), reference)


# -- capacity, disconnects -------------------------------------------------------------


async def hold_every_session(fleet: Fleet) -> tuple[float, Any, list[str]]:
    """Every session of every replica taken by a WebSocket utterance waiting
    for more text (no CPU); then one more request on each door. How long
    did the HTTP refusal take, what was it, and what did Wyoming hear?"""
    from contextlib import AsyncExitStack

    import websockets
    from wyoming.tts import Synthesize

    url = fleet.http.replace("http", "ws") + "/v1/stream"
    async with AsyncExitStack() as stack:
        for _ in range(2 * SESSIONS):
            ws = await stack.enter_async_context(
                websockets.connect(url, additional_headers=HEADERS, proxy=None)
            )
            await ws.recv()
            await ws.send(json.dumps({"type": "text", "text": "Hold on, and"}))
        deadline = time.monotonic() + 10
        while any(h["active"] < SESSIONS for h in fleet.healths().values()):
            assert time.monotonic() < deadline, fleet.healths()
            await asyncio.sleep(0.1)
        async with httpx.AsyncClient(timeout=30, headers=HEADERS) as client:
            started = time.monotonic()
            refused = await client.post(
                f"{fleet.http}/v1/audio/speech", json={"input": "One more."}
            )
            took = time.monotonic() - started
        kinds, _ = await wyoming_session(fleet.wyoming_port, [Synthesize("One more.")])
        return took, refused, kinds


def test_at_capacity_the_next_request_is_refused_at_once(fleet: Fleet) -> None:
    """Every replica's sessions taken: the next request hears 503 with
    Retry-After (HTTP) or a Wyoming error, at once, not after a queue."""
    took, refused, kinds = run_asyncio(hold_every_session(fleet))
    print(f"\nat capacity: 503 in {1000 * took:.0f} ms")
    assert refused.status_code == 503 and int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["error"]["code"] == "at_capacity"
    assert took < 0.5, took
    assert kinds == ["error"]
    assert all(h["active"] == 0 for h in fleet.healths().values())  # given back


def cancel_latency(fleet: Fleet, replicas: set[str], closed_at: float) -> float:
    """When the replica (one of ``replicas``) saw its utterance end, after
    the client closed at ``closed_at`` (wall clock, the same machine's)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for replica, health in fleet.healths().items():
            if replica in replicas and health["last_utterance_end_s"] >= closed_at:
                assert health["active"] == 0
                return float(health["last_utterance_end_s"] - closed_at)
        time.sleep(0.05)
    raise AssertionError("the utterance went on after its client left")


async def disconnect_websocket(fleet: Fleet) -> tuple[str, float]:
    import websockets

    url = fleet.http.replace("http", "ws") + "/v1/stream"
    ws = await websockets.connect(url, additional_headers=HEADERS, proxy=None)
    replica = ws.response.headers["x-streamtts-replica"]
    await ws.recv()
    await ws.send(json.dumps({"type": "text", "text": LONG}))
    await ws.send(json.dumps({"type": "end"}))
    while not isinstance(await ws.recv(), bytes):
        pass
    closed_at = time.time()
    ws.transport.abort()  # gone, without a goodbye
    return replica, closed_at


async def disconnect_wyoming(fleet: Fleet) -> float:
    from wyoming.client import AsyncTcpClient
    from wyoming.tts import Synthesize

    client = AsyncTcpClient("127.0.0.1", fleet.wyoming_port)
    await client.connect()
    await client.write_event(Synthesize(LONG).event())
    while (event := await client.read_event()) is not None and event.type != "audio-chunk":
        pass
    closed_at = time.time()
    await client.disconnect()
    return closed_at


def test_a_client_that_disconnects_cancels_its_work_within_100_ms(fleet: Fleet) -> None:
    latencies = {}
    body = {"input": LONG, "response_format": "pcm"}
    with httpx.stream(
        "POST", f"{fleet.http}/v1/audio/speech", headers=HEADERS, json=body, timeout=60
    ) as response:
        replica = response.headers["x-streamtts-replica"]
        next(response.iter_raw())
        closed_at = time.time()
    latencies["http"] = cancel_latency(fleet, {replica}, closed_at)
    replica, closed_at = run_asyncio(disconnect_websocket(fleet))
    latencies["websocket"] = cancel_latency(fleet, {replica}, closed_at)
    closed_at = run_asyncio(disconnect_wyoming(fleet))
    latencies["wyoming"] = cancel_latency(fleet, set(fleet.running()), closed_at)
    print("\ndisconnect → utterance ended on the replica:", latencies)
    assert all(latency < 0.1 for latency in latencies.values()), latencies


# -- faults and scaling (these change the fleet: they come last) ---------------------------


async def read_until_error(name: str, reader: Any, errors: dict[str, tuple[float, str]]) -> None:
    """Read a session to its end; note when (wall clock) and how it failed."""
    try:
        await reader()
    except Exception as err:
        errors.setdefault(name, (time.time(), f"{type(err).__name__}: {err}"))


@dataclass
class HttpSession:
    replica: str
    chunks: Any


async def http_on(fleet: Fleet, replica: str, stack: Any) -> HttpSession:
    """An openai SDK stream of LONG served by ``replica`` (any, if empty;
    the others tried on the way stay open: sessions on the other replica)."""
    client = openai_client(fleet, asynchronous=True)
    for _ in range(2 * SESSIONS):
        response = await stack.enter_async_context(
            client.audio.speech.with_streaming_response.create(
                model="tts-1", voice="alloy", input=LONG, response_format="pcm"
            )
        )
        chunks = response.iter_bytes()
        await chunks.__anext__()
        served = response.headers["x-streamtts-replica"]
        if served == (replica or served):
            return HttpSession(served, chunks)
    raise AssertionError(f"no HTTP session reached {replica}")


async def websocket_on(fleet: Fleet, replica: str, stack: Any) -> Any:
    import websockets

    url = fleet.http.replace("http", "ws") + "/v1/stream"
    for _ in range(2 * SESSIONS):
        # Sockets left unread hold the server's close frame behind their
        # audio: closing one would wait out websockets' 10 s close timeout.
        ws = await stack.enter_async_context(
            websockets.connect(url, additional_headers=HEADERS, proxy=None, close_timeout=0.5)
        )
        await ws.recv()
        await ws.send(json.dumps({"type": "text", "text": LONG}))
        await ws.send(json.dumps({"type": "end"}))
        if ws.response.headers["x-streamtts-replica"] == replica:
            return ws
    raise AssertionError(f"no WebSocket session reached {replica}")


async def kill_mid_stream(
    fleet: Fleet,
) -> tuple[str, float, dict[str, tuple[float, str]], int]:
    """Wyoming sessions (some on each replica), then an HTTP and a
    WebSocket session on one replica, mid-stream; that replica's process
    killed. Which clients heard, when, and what (and how many Wyoming
    sessions there were)?"""
    from contextlib import AsyncExitStack

    from wyoming.client import AsyncTcpClient
    from wyoming.tts import Synthesize

    async with AsyncExitStack() as stack:
        wyoming = []
        # Ray routes each to the less busy of two replicas it picks, not in
        # turn: 4 once all went to one. Sessions until both hold some (at
        # least 4, at most 6: the rest of the fleet's room is for the others).
        while len(wyoming) < 4 or (
            len(wyoming) < 6 and not all(h["active"] for h in fleet.healths().values())
        ):
            client = await stack.enter_async_context(
                AsyncTcpClient("127.0.0.1", fleet.wyoming_port)
            )
            await client.write_event(Synthesize(LONG).event())
            assert (await client.read_event()).type == "audio-start"
            wyoming.append(client)
        http = await http_on(fleet, "", stack)
        victim = http.replica
        ws = await websocket_on(fleet, victim, stack)

        async def wyoming_reader(client: Any) -> None:
            while (event := await client.read_event()) is not None:
                if event.type == "error":
                    raise RuntimeError(f"{event.data['code']}: {event.data['text']}")

        async def http_reader() -> None:
            async for _ in http.chunks:
                pass

        async def ws_reader() -> None:
            async for message in ws:
                if isinstance(message, str) and json.loads(message)["type"] == "error":
                    raise RuntimeError(json.loads(message)["code"])

        errors: dict[str, tuple[float, str]] = {}
        readers = {"http": http_reader, "websocket": ws_reader}
        readers |= {f"wyoming {i}": partial(wyoming_reader, c) for i, c in enumerate(wyoming)}
        tasks = [asyncio.ensure_future(read_until_error(n, r, errors)) for n, r in readers.items()]
        killed_at = time.time()
        os.kill(fleet.running()[victim], signal.SIGKILL)
        await asyncio.wait(tasks, timeout=3)  # the other replica's sessions go on meanwhile
        return victim, killed_at, errors, len(wyoming)


def test_a_killed_replica_errors_its_clients_and_the_fleet_recovers(fleet: Fleet) -> None:
    fleet.wait_idle()  # its sessions fill much of the fleet (seen: 503 under load)
    victim, killed_at, errors, wyoming_sessions = run_asyncio(kill_mid_stream(fleet))
    heard = {name: round(at - killed_at, 3) for name, (at, _) in errors.items()}
    print("\nkill → each client's error (s):", heard, {n: e for n, (_, e) in errors.items()})
    assert {"http", "websocket"} <= set(errors)
    wyoming = [name for name in errors if name.startswith("wyoming")]
    assert 1 <= len(wyoming) < wyoming_sessions  # those on the killed replica, not the others
    assert all("replica-lost" in errors[n][1] for n in ["websocket", *wyoming]), errors
    assert all(seconds < 2.0 for seconds in heard.values()), heard
    # New sessions go to the replica left, at once.
    from wyoming.tts import Synthesize

    started = time.monotonic()
    client = openai_client(fleet)
    audio = client.audio.speech.create(model="tts-1", voice="alloy", input="Still here.")
    assert len(audio.content) > 10_000
    kinds, _ = run_asyncio(wyoming_session(fleet.wyoming_port, [Synthesize("Still here.")]))
    assert kinds[-1] == "audio-stop" and time.monotonic() - started < 5
    # Ray replaces the replica: the fleet is back to its size.
    fleet.wait_replicas(2, gone=victim)
    print(f"fleet back to 2 replicas {time.time() - killed_at:.1f} s after the kill")


def burst(fleet: Fleet, stop: Any, sessions: int) -> None:
    """``sessions`` long HTTP streams, read as they come, until ``stop`` is set."""

    def one(_: int) -> None:
        body = {"input": LONG, "response_format": "pcm"}
        with httpx.stream(
            "POST", f"{fleet.http}/v1/audio/speech", headers=HEADERS, json=body, timeout=60
        ) as response:
            for _ in response.iter_raw():
                if stop.is_set():
                    return

    with ThreadPoolExecutor(sessions) as pool:
        list(pool.map(one, range(sessions)))


def test_autoscaling_from_one_replica_to_two_under_a_burst_and_back(fleet: Fleet) -> None:
    import threading

    fleet.cluster.deploy(fleet_config(fleet.cluster, fleet.wyoming_port, AUTOSCALING))
    started = time.monotonic()
    fleet.wait_replicas(1)  # idle: scaled down to the minimum
    down = time.monotonic() - started
    stop = threading.Event()
    load = threading.Thread(target=burst, args=(fleet, stop, 4))
    load.start()
    try:
        started = time.monotonic()
        fleet.wait_replicas(2)  # 4 sessions, 2 aimed at per replica
        up = time.monotonic() - started
    finally:
        stop.set()
        load.join(timeout=60)
    started = time.monotonic()
    fleet.wait_replicas(1)
    print(
        f"\nidle → 1 replica in {down:.1f} s; burst → 2 in {up:.1f} s; idle → 1 in "
        f"{time.monotonic() - started:.1f} s"
    )
