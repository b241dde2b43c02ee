"""A streamtts fleet on Ray Serve, on this machine: capacity, added latency, faults.

    .venv/bin/python benchmarks/fleet.py           # about 10 minutes
    .venv/bin/python benchmarks/fleet.py --quick   # about 5

Every Ray node here is pinned to one core (with all it starts), so "a
replica of one CPU" is one core, not a share of both. The head node has no
CPU for Ray (it runs Ray's control plane and a proxy, no replica) and sits
on core 0; one replica runs on a node pinned to core 1; two replicas on
nodes pinned to core 0 (beside the head) and core 1. Measured:

- **capacity**: a ramp of real-time HTTP clients (OpenAI ``pcm``, each a
  paragraph played from its first chunk; arrivals spread over the first
  second) against one replica (core 1) and two replicas (cores 0 and 1):
  the share of audio that arrived after it was due
  to play, and the most clients with none late. Goal: two replicas carry
  >= 1.8x the clients of one. The clients, the proxies and Ray's own
  processes run on the same two cores (this machine has no others);
- **added latency**: request → first audio, one client at a time, the
  fleet (one replica on core 1) against ``streamtts serve`` (pinned to
  core 1, one model slot and one onnxruntime thread, as the replica), over
  HTTP and over Wyoming (the fleet's through its per-node door). Goal:
  Ray adds <= 15 ms at p50;
- **faults**: two replicas, long streams on both; one replica's process
  killed: how long until each of its clients hears an error, until a new
  request succeeds, and until the fleet is back to two replicas (serving).

Writes benchmarks/results/fleet.json, fleet.md and fleet.png.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import numpy as np
from corpus import PARAGRAPHS, SENTENCES
from report import RESULTS, save
from wyoming.audio import AudioChunk, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.tts import Synthesize

from streamtts.fleet.local import LocalCluster, free_port, local_cluster

TOKEN = "bench-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
RAMP = (1, 2, 3, 4, 5, 6, 8, 10, 12)
GOALS = {"ratio": 1.8, "added_ms": 15.0, "error_s": 2.0}
PCM_RATE_HZ = 24000  # OpenAI's pcm


# -- clients ------------------------------------------------------------------------------


async def http_first_audio(client: httpx.AsyncClient, url: str, text: str) -> float:
    started = time.perf_counter()
    body = {"input": text, "response_format": "pcm"}
    first = float("nan")
    async with client.stream("POST", f"{url}/v1/audio/speech", json=body) as response:
        response.raise_for_status()
        async for chunk in response.aiter_raw():
            if chunk and first != first:
                first = time.perf_counter() - started
    return first


async def wyoming_first_audio(port: int, text: str) -> float:
    async with AsyncTcpClient("127.0.0.1", port) as client:
        started = time.perf_counter()
        await client.write_event(Synthesize(text).event())
        first = float("nan")
        while (event := await client.read_event()) is not None:
            if AudioChunk.is_type(event.type) and first != first:
                first = time.perf_counter() - started
            if AudioStop.is_type(event.type) or event.type == "error":
                break
        return first


async def first_audio(url: str, wyoming_port: int, sentences: list[str]) -> dict[str, list[float]]:
    """Request → first audio, one at a time, alternating the doors."""
    async with httpx.AsyncClient(headers=HEADERS, timeout=60) as client:
        await http_first_audio(client, url, "Warm up.")
        await wyoming_first_audio(wyoming_port, "Warm up.")
        found: dict[str, list[float]] = {"http": [], "wyoming": []}
        for text in sentences:
            found["http"].append(await http_first_audio(client, url, text))
            found["wyoming"].append(await wyoming_first_audio(wyoming_port, text))
    return found


async def realtime_client(
    client: httpx.AsyncClient, url: str, text: str, delay_s: float
) -> dict[str, float]:
    """Speak ``text`` (OpenAI pcm) and play it from its first chunk: how late?"""
    await asyncio.sleep(delay_s)
    started = time.perf_counter()
    t0, due_s, late_s, total_s = None, 0.0, 0.0, 0.0
    body = {"input": text, "response_format": "pcm"}
    async with client.stream("POST", f"{url}/v1/audio/speech", json=body) as response:
        if response.status_code != 200:
            return {"refused": 1.0, "ttfa_s": float("nan"), "late_s": 0.0, "audio_s": 0.0}
        async for chunk in response.aiter_raw():
            now = time.perf_counter()
            seconds = len(chunk) / 2 / PCM_RATE_HZ
            if t0 is None:
                t0 = now
            due = t0 + due_s
            if now > due:
                late_s += min(seconds, now - due)
            due_s += seconds
            total_s += seconds
    ttfa = (t0 or time.perf_counter()) - started
    return {"refused": 0.0, "ttfa_s": ttfa, "late_s": late_s, "audio_s": total_s}


async def ramp_step(url: str, clients: int) -> list[dict[str, float]]:
    rng = random.Random(clients)
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(headers=HEADERS, timeout=120, limits=limits) as client:
        texts = [PARAGRAPHS[k % len(PARAGRAPHS)] for k in range(clients)]
        runs = [realtime_client(client, url, t, rng.uniform(0, 1.0)) for t in texts]
        return list(await asyncio.gather(*runs))


def ramp(url: str, steps: tuple[int, ...]) -> dict[str, list[dict[str, float]]]:
    found: dict[str, list[dict[str, float]]] = {}  # by clients, as JSON keeps it
    for clients in steps:
        found[str(clients)] = asyncio.run(ramp_step(url, clients))
        late = sum(c["late_s"] for c in found[str(clients)])
        print(f"  {clients} clients: {late:.2f} s late", file=sys.stderr, flush=True)
        time.sleep(1.0)  # let the last sessions end
    return found


# -- what runs ----------------------------------------------------------------------------


def fleet_config(cluster: LocalCluster, replicas: int, wyoming_port: int) -> Any:
    """``replicas`` replicas of one CPU; a Wyoming door on every node."""
    args = {
        "token": TOKEN,
        "sessions": 32,  # the ramp looks for lateness, not refusals
        "connections": 64,
        "min_replicas": replicas,
        "max_replicas": replicas,
    }
    door = {"port": wyoming_port, "nodes": cluster.nodes, "token": TOKEN}
    door["proxy_port"] = cluster.proxy_ports[0]
    return cluster.serve_config(
        [
            {"name": "streamtts", "route_prefix": "/", "import_path": "streamtts.fleet:app"}
            | {"args": args},
            {"name": "wyoming", "route_prefix": None, "import_path": "streamtts.fleet:wyoming"}
            | {"args": door},
        ]
    )


@contextmanager
def fleet(replicas: int) -> Iterator[tuple[LocalCluster, int]]:
    wyoming_port = free_port()
    cores = (0, 1) if replicas == 1 else (0, 0, 1)  # the head, then a node per replica
    with local_cluster(replicas + 1, cpus_per_node=1, cores=cores, head_cpus=0) as cluster:
        cluster.deploy(fleet_config(cluster, replicas, wyoming_port))
        cluster.wait_running("streamtts")
        cluster.wait_running("wyoming")
        cluster.wait_proxies()
        for port in cluster.proxy_ports:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30).raise_for_status()
        yield cluster, wyoming_port


@contextmanager
def serve_on_core_1() -> Iterator[tuple[str, int]]:
    """``streamtts serve`` as one replica is: core 1, one slot, one thread."""
    http_port, wyoming_port = free_port(), free_port()
    command = [
        sys.executable, "-m", "streamtts", "serve", "--port", str(http_port),
        "--wyoming", f"tcp://127.0.0.1:{wyoming_port}", "--token", TOKEN,
        "--model-slots", "1", "--max-streams", "32",
    ]  # fmt: skip
    env = {**os.environ, "STREAMTTS_ORT_THREADS": "1"}
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: os.sched_setaffinity(0, {1}),
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode()
        assert line.startswith("streamtts: serving"), line
        yield f"http://127.0.0.1:{http_port}", wyoming_port
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


# -- faults -------------------------------------------------------------------------------


async def long_stream(client: httpx.AsyncClient, url: str, text: str) -> tuple[str, float]:
    """A stream read to its end: (replica, when it failed, or nan)."""
    body = {"input": text, "response_format": "pcm"}
    replica = ""
    try:
        async with client.stream("POST", f"{url}/v1/audio/speech", json=body) as response:
            replica = response.headers.get("x-streamtts-replica", "")
            response.raise_for_status()
            async for _ in response.aiter_raw():
                pass
    except httpx.HTTPError:
        return replica, time.time()
    return replica, float("nan")


def running(cluster: LocalCluster) -> dict[str, int]:
    replicas = cluster.replicas("streamtts", "StreamTTS")
    return {r["replica_id"]: r["pid"] for r in replicas if r["state"] == "RUNNING"}


async def one_kill(cluster: LocalCluster, streams: int) -> dict[str, Any]:
    """Long streams on both replicas; one replica's process killed. Its
    clients' errors, the next request and the fleet's recovery, each timed
    from the kill while the other replica's streams go on."""
    url, text = cluster.http_url, " ".join(PARAGRAPHS * 5)[:4000]  # OpenAI's 4,096 at most
    async with httpx.AsyncClient(headers=HEADERS, timeout=120) as client:
        tasks = [asyncio.ensure_future(long_stream(client, url, text)) for _ in range(streams)]
        await asyncio.sleep(1.0)  # every stream is speaking
        before = await asyncio.to_thread(running, cluster)
        victim = sorted(before)[0]
        killed_at = time.time()
        os.kill(before[victim], signal.SIGKILL)
        next_ok = None
        while next_ok is None and time.time() - killed_at < 30:
            response = await client.post(f"{url}/v1/audio/speech", json={"input": "Next."})
            if response.status_code == 200:
                next_ok = time.time() - killed_at
        deadline = time.time() + 120
        while (now := await asyncio.to_thread(running, cluster)) and (
            len(now) < 2 or victim in now
        ):
            assert time.time() < deadline, "the fleet did not recover"
            await asyncio.sleep(0.1)
        back = time.time() - killed_at
        done, going = await asyncio.wait(tasks, timeout=5)
        for task in going:  # the other replica's streams, still speaking
            task.cancel()
        await asyncio.gather(*going, return_exceptions=True)
    ended = [task.result() for task in done]
    errors = [at - killed_at for replica, at in ended if replica == victim]
    others = [at for replica, at in ended if replica != victim]
    return {
        "victim_streams": sum(replica == victim for replica, _ in ended),
        "errors_s": errors,
        "others_failed": int(sum(at == at for at in others)),
        "next_request_ok_s": next_ok,
        "back_to_two_s": back,
    }


def faults(cluster: LocalCluster, kills: int) -> list[dict[str, Any]]:
    found = []
    for _ in range(kills):
        found.append(asyncio.run(one_kill(cluster, 6)))
        print(f"  kill: {found[-1]}", file=sys.stderr, flush=True)
        time.sleep(2.0)
    return found


# -- report -------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def on_time(steps: dict[Any, list[dict[str, float]]], late_share_at_most: float = 0.0) -> int:
    """The most clients of a ramp with no refusal and at most that share of
    audio late (0: none at all)."""
    fine = [
        int(n)
        for n, c in steps.items()
        if late_share(c) <= late_share_at_most and not sum(x["refused"] for x in c)
    ]
    return max(fine, default=0)


def late_share(clients: list[dict[str, float]]) -> float:
    return sum(c["late_s"] for c in clients) / max(1e-9, sum(c["audio_s"] for c in clients))


def summarize(results: dict[str, Any]) -> list[str]:
    lines = ["| measure | value | goal | met? |", "|---|---|---|---|"]
    one, two = on_time(results["ramp"]["1"]), on_time(results["ramp"]["2"])
    ratio = two / one if one else float("nan")
    lines.append(f"| real-time clients with nothing late, 1 replica (core 1) | {one} | – | – |")
    lines.append(
        f"| real-time clients with nothing late, 2 replicas (cores 0, 1) | {two} | – | – |"
    )
    met = "yes" if ratio >= GOALS["ratio"] else "**no**"
    lines.append(f"| 2 replicas / 1 replica | {ratio:.2f}x | ≥ 1.8x | {met} |")
    one, two = on_time(results["ramp"]["1"], 0.01), on_time(results["ramp"]["2"], 0.01)
    lines.append(f"| the same with ≤ 1% of audio late: 1 / 2 replicas | {one} / {two} | – | – |")
    for replicas in ("1", "2"):
        for n, clients in results["ramp"][replicas].items():
            ttfa = [c["ttfa_s"] for c in clients if c["refused"] == 0]
            lines.append(
                f"| {replicas} replica(s), {n} clients: TTFA p50 / p95, audio late | "
                f"{1000 * pct(ttfa, 50):.0f} / {1000 * pct(ttfa, 95):.0f} ms, "
                f"{100 * late_share(clients):.2f}% | – | – |"
            )
    for door in ("http", "wyoming"):
        fleet_ms = 1000 * pct(results["first_audio"]["fleet"][door], 50)
        serve_ms = 1000 * pct(results["first_audio"]["serve"][door], 50)
        added = fleet_ms - serve_ms
        met = "yes" if added <= GOALS["added_ms"] else "**no**"
        lines.append(
            f"| first audio p50, {door}: fleet / streamtts serve (core 1) | "
            f"{fleet_ms:.1f} / {serve_ms:.1f} ms (+{added:.1f} ms) | ≤ +15 ms | {met} |"
        )
    kills = results["faults"]
    errors = [e for k in kills for e in k["errors_s"]]
    worst = max(errors, default=float("nan"))
    met = "yes" if worst < GOALS["error_s"] else "**no**"
    lines.append(
        f"| replica killed → its clients' errors ({len(errors)} clients, {len(kills)} kills): "
        f"p50 / max | {1000 * pct(errors, 50):.0f} / {1000 * worst:.0f} ms | < 2 s | {met} |"
    )
    nxt = [k["next_request_ok_s"] for k in kills]
    back = [k["back_to_two_s"] for k in kills]
    others = sum(k["others_failed"] for k in kills)
    lines.append(
        f"| replica killed → next request served: p50 | {1000 * pct(nxt, 50):.0f} ms | – | – |"
    )
    lines.append(
        f"| replica killed → fleet back to 2 replicas: p50 / max | "
        f"{pct(back, 50):.1f} / {max(back):.1f} s | – | – |"
    )
    lines.append(
        f"| clients of the other replica that failed | {others} | 0 | "
        f"{'yes' if others == 0 else '**no**'} |"
    )
    return lines


def plot(results: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for replicas, style in (("1", "o-"), ("2", "s--")):
        steps = results["ramp"][replicas]
        ns = sorted(int(n) for n in steps)
        late = [100 * late_share(steps[str(n)]) for n in ns]
        p95 = [1000 * pct([c["ttfa_s"] for c in steps[str(n)]], 95) for n in ns]
        label = f"{replicas} replica{'s' if replicas == '2' else ''}"
        left.plot(ns, late, style, label=label)
        right.plot(ns, p95, style, label=label)
    left.set(xlabel="real-time clients", ylabel="audio that arrived late (%)")
    right.set(xlabel="real-time clients", ylabel="first audio p95 (ms)", yscale="log")
    for axis in (left, right):
        axis.legend(fontsize=8)
    left.set_title("Fleet on Ray Serve: late audio, by load")
    right.set_title("Fleet on Ray Serve: time to first audio")
    figure.tight_layout()
    figure.savefig(RESULTS / "fleet.png", dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples and steps")
    args = parser.parse_args()
    steps = RAMP if not args.quick else (1, 4, 8, 12)
    sentences = SENTENCES if not args.quick else SENTENCES[:8]
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "load_average_at_start": os.getloadavg(),  # other work on the machine meanwhile
        "quick": args.quick,
        "ramp": {},
        "first_audio": {},
    }
    print("benchmark: streamtts serve on core 1 ...", file=sys.stderr, flush=True)
    with serve_on_core_1() as (url, wyoming_port):
        results["first_audio"]["serve"] = asyncio.run(first_audio(url, wyoming_port, sentences))
    for replicas in (1, 2):
        print(f"benchmark: fleet of {replicas} ...", file=sys.stderr, flush=True)
        with fleet(replicas) as (cluster, wyoming_port):
            if replicas == 1:
                found = asyncio.run(first_audio(cluster.http_url, wyoming_port, sentences))
                results["first_audio"]["fleet"] = found
            results["ramp"][str(replicas)] = ramp(cluster.http_url, steps)
            if replicas == 2:
                results["faults"] = faults(cluster, 2 if args.quick else 3)
    results["load_average_at_end"] = os.getloadavg()
    save("fleet", results, summarize(results))
    plot(results)


if __name__ == "__main__":
    main()
