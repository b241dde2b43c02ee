"""A fleet's Ray cluster on this machine, every Ray process on loopback.

For trying a fleet, its tests and its benchmark: ``nodes`` Ray nodes of
``cpus_per_node`` CPUs each, all on ``127.0.0.1`` (see :mod:`._loopback`),
each node with its own dashboard agent, metrics export port and Serve
proxy port (one address, so every port must differ), all ports free ones
picked at start. The dashboard runs on the head: ``serve deploy`` and
:meth:`LocalCluster.deploy` talk to it. Every node's environment names the
fleet's proxy middleware (:mod:`.proxy`).

    with local_cluster(nodes=2) as cluster:
        cluster.deploy(config)             # a serve deploy config, as a dict
        cluster.wait_running("streamtts")
        ... cluster.http_url ...

Leaving the block runs ``ray stop`` (also on an error), which stops every
Ray process of this user on the machine: do not use it beside another
Ray cluster. ``python -m streamtts.fleet.local`` starts one and prints its
addresses; ``python -m streamtts.fleet.local stop`` stops it.

Ray's processes still open a few sockets on every interface that no
option moves: each Serve replica's internal gRPC server (``[::]:0``).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.request import Request, urlopen

__all__ = ["FLEET_ENV", "LocalCluster", "local_cluster", "start_cluster", "stop_cluster"]

# What every node of a fleet has in its environment (here, as on Kubernetes):
FLEET_ENV = {
    # The proxies tell clients of a lost replica so (see streamtts.fleet.proxy).
    "RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH": "streamtts.fleet.proxy:middlewares",
    # A proxy sends a session to the least busy replica, not to one on its own
    # node while that one has room: synthesis is CPU, a hop is a millisecond.
    "RAY_SERVE_PROXY_PREFER_LOCAL_NODE_ROUTING": "0",
}
_OBJECT_STORE_BYTES = 200_000_000  # the fleet passes no objects; Ray's minimum is ~75 MB


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class LocalCluster:
    """Where a local cluster's parts listen (every address is 127.0.0.1)."""

    nodes: int
    gcs_port: int
    dashboard_port: int
    proxy_ports: tuple[int, ...]  # node i's Serve proxy; node 0's is the fleet's address
    metrics_ports: tuple[int, ...]  # node i's Prometheus export (/metrics)
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.gcs_port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_ports[0]}"

    def serve_config(self, applications: list[dict[str, Any]]) -> dict[str, Any]:
        """A ``serve deploy`` config for this cluster's proxies."""
        return {
            "proxy_location": "EveryNode",
            "http_options": {"host": "127.0.0.1", "port": self.proxy_ports[0]},
            "applications": applications,
        }

    def deploy(self, config: Mapping[str, Any], timeout_s: float = 30.0) -> None:
        """``serve deploy``: the dashboard's REST API, as the command uses it."""
        body = json.dumps(config).encode()
        request = Request(
            f"{self.dashboard_url}/api/serve/applications/",
            data=body,
            method="PUT",
            headers={"Content-Type": "application/json"},
        )
        with urlopen(request, timeout=timeout_s) as response:
            response.read()

    def status(self, timeout_s: float = 10.0) -> dict[str, Any]:
        """``serve status``: every application, deployment and replica."""
        url = f"{self.dashboard_url}/api/serve/applications/"
        with urlopen(url, timeout=timeout_s) as response:
            found: dict[str, Any] = json.loads(response.read())
            return found

    def replicas(self, app: str, deployment: str) -> list[dict[str, Any]]:
        """The deployment's replicas (``state``, ``pid``, ``node_id``, ``replica_id``)."""
        apps = self.status().get("applications", {})
        found = apps.get(app, {}).get("deployments", {}).get(deployment, {})
        return list(found.get("replicas", []))

    def wait_proxies(self, timeout_s: float = 60.0) -> None:
        """Until every node's proxy answers (a node's proxy starts after the
        applications report RUNNING)."""
        deadline = time.monotonic() + timeout_s
        for port in self.proxy_ports:
            while True:
                try:
                    with urlopen(f"http://127.0.0.1:{port}/-/healthz", timeout=5) as response:
                        response.read()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.25)

    def wait_running(self, app: str, timeout_s: float = 180.0) -> dict[str, Any]:
        """Until the application is RUNNING; raises with its message if it failed."""
        deadline = time.monotonic() + timeout_s
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            last = self.status().get("applications", {}).get(app, {})
            if last.get("status") == "RUNNING":
                return last
            if last.get("status") in ("DEPLOY_FAILED", "UNHEALTHY"):
                raise RuntimeError(f"{app}: {last.get('status')}: {last.get('message')}")
            time.sleep(0.25)
        raise TimeoutError(f"{app} not running after {timeout_s:.0f} s: {last}")


def _ray(args: list[str], env: Mapping[str, str], core: int | None, timeout_s: float) -> None:
    command = [sys.executable, "-m", "streamtts.fleet._loopback", *args]

    def pin() -> None:  # the node and everything it starts on one core
        if core is not None:
            os.sched_setaffinity(0, {core})

    done = subprocess.run(
        command,
        env=dict(env),
        capture_output=True,
        timeout=timeout_s,
        preexec_fn=pin if core is not None else None,
    )
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).decode(errors="replace")[-3000:]
        raise RuntimeError(f"ray {' '.join(args[:2])} failed ({done.returncode}):\n{tail}")


def _node_env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {**os.environ, **(extra or {})}
    env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)  # a worker's start aborts with it
    env.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    for name, value in FLEET_ENV.items():
        env.setdefault(name, value)
    return env


def start_cluster(
    nodes: int = 2,
    cpus_per_node: int = 1,
    env: Mapping[str, str] | None = None,
    cores: Sequence[int] | None = None,
    head_cpus: int | None = None,
    timeout_s: float = 120.0,
) -> LocalCluster:
    """Start the head and ``nodes - 1`` workers. ``cores``: node i runs on
    core ``cores[i]`` only, with all it starts (a node of one CPU is then
    one core, not a share of all); ``head_cpus``: the head's CPUs, if not
    ``cpus_per_node`` (0: the head runs Ray's control plane and proxy, no
    replica)."""
    base = _node_env(env)
    cluster = LocalCluster(
        nodes,
        gcs_port=free_port(),
        dashboard_port=free_port(),
        proxy_ports=tuple(free_port() for _ in range(nodes)),
        metrics_ports=tuple(free_port() for _ in range(nodes)),
        env=base,
    )
    common = ["--node-ip-address", "127.0.0.1"]
    common += ["--object-store-memory", str(_OBJECT_STORE_BYTES), "--disable-usage-stats"]
    head_env = {**base, "AUTOSCALER_METRIC_PORT": str(free_port())}
    head_env["DASHBOARD_METRIC_PORT"] = str(free_port())
    head = ["start", "--head", "--port", str(cluster.gcs_port), *common]
    head += ["--num-cpus", str(cpus_per_node if head_cpus is None else head_cpus)]
    head += ["--include-dashboard=true", "--dashboard-host", "127.0.0.1"]
    head += ["--dashboard-port", str(cluster.dashboard_port)]
    head += ["--dashboard-agent-listen-port", str(free_port())]
    head += ["--metrics-export-port", str(cluster.metrics_ports[0])]
    head += ["--ray-client-server-port", str(free_port())]
    _ray(head, head_env, None if cores is None else cores[0], timeout_s)
    for node in range(1, nodes):
        worker_env = {**base, "RAY_SERVE_WORKER_PROXY_HTTP_PORT": str(cluster.proxy_ports[node])}
        worker = ["start", "--address", cluster.address, *common]
        worker += ["--num-cpus", str(cpus_per_node)]
        worker += ["--resources", json.dumps({f"node{node}": 1})]
        worker += ["--dashboard-agent-listen-port", str(free_port())]
        worker += ["--metrics-export-port", str(cluster.metrics_ports[node])]
        _ray(worker, worker_env, None if cores is None else cores[node], timeout_s)
    return cluster


def stop_cluster(timeout_s: float = 60.0) -> None:
    """``ray stop --force``: every Ray process of this user on this machine."""
    _ray(["stop", "--force"], _node_env(None), None, timeout_s)


@contextmanager
def local_cluster(
    nodes: int = 2,
    cpus_per_node: int = 1,
    env: Mapping[str, str] | None = None,
    cores: Sequence[int] | None = None,
    head_cpus: int | None = None,
) -> Iterator[LocalCluster]:
    """A cluster for the block (see :func:`start_cluster`); stopped when it
    ends, also on an error (or when starting it failed half-way)."""
    try:
        yield start_cluster(nodes, cpus_per_node, env, cores, head_cpus)
    finally:
        stop_cluster()


def main() -> None:
    parser = argparse.ArgumentParser(description="A Ray cluster for a fleet, on loopback.")
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--cpus-per-node", type=int, default=1)
    args = parser.parse_args()
    if args.action == "stop":
        stop_cluster()
        return
    cluster = start_cluster(args.nodes, args.cpus_per_node)
    print(f"ray: {cluster.address}; dashboard (serve deploy -a): {cluster.dashboard_url}")
    print(f"serve proxies: {', '.join(str(p) for p in cluster.proxy_ports)} (give the first as")
    print(f"  http_options.port); metrics: {', '.join(str(p) for p in cluster.metrics_ports)}")


if __name__ == "__main__":
    main()
