"""What a fleet is built with, and the Ray Serve options that follow.

:class:`FleetOptions` is what ``serve run streamtts.fleet:app key=value``
and a ``serve deploy`` config's ``args:`` give (strings are read as their
types; an unknown key is an error). :func:`replica_options` turns it into
the replica deployment's options, in one place, each with its reason.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["DoorOptions", "FleetOptions", "door_options", "replica_options"]


class FleetOptions(BaseModel):
    """A fleet of replicas, each the engine of ``streamtts serve``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    voice: str | None = None  # an installed voice's name or a path; None: the default
    # Utterances one replica synthesizes at once: what its cores carry in real
    # time (benchmarks/fleet.py; 4 per core on the default voice).
    sessions: int = Field(default=4, ge=1)
    # Connections (HTTP requests, WebSockets) Ray may route to one replica.
    # More than `sessions`, so a request past capacity reaches a replica and
    # is refused at once (503, Retry-After) instead of waiting in Ray's queue.
    connections: int | None = Field(default=None, ge=1)
    cpus: float = Field(default=1.0, gt=0)  # Ray CPUs per replica: model slots and threads
    token: str | None = None  # bearer token; else the replicas' STREAMTTS_TOKEN
    no_auth: bool = False  # explicitly serve without a token
    seed: int | None = None  # the same audio for the same text (tests)
    min_replicas: int = Field(default=1, ge=0)
    max_replicas: int = Field(default=4, ge=1)
    # Sessions per replica the autoscaler aims at: below `sessions`, so a
    # replica is added before streams go late.
    target_sessions: float | None = Field(default=None, gt=0)
    upscale_delay_s: float = Field(default=5.0, ge=0)
    downscale_delay_s: float = Field(default=120.0, ge=0)
    retry_after_s: float = Field(default=2.0, gt=0)  # told to a refused client
    idle_timeout_s: float = Field(default=120.0, gt=0)  # a silent WebSocket is closed
    health_check_period_s: float = Field(default=5.0, gt=0)
    health_check_timeout_s: float = Field(default=10.0, gt=0)
    drain_s: float = Field(default=30.0, ge=0)  # a stopping replica's sessions finish within

    @model_validator(mode="after")
    def _bounds(self) -> FleetOptions:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas ({self.min_replicas}) is over max_replicas ({self.max_replicas})"
            )
        if self.connections is not None and self.connections < self.sessions:
            raise ValueError(f"connections ({self.connections}) is under sessions")
        return self

    @property
    def threads(self) -> int:
        """onnxruntime threads per model part, and model calls at once."""
        return max(1, math.floor(self.cpus))


class DoorOptions(BaseModel):
    """The Wyoming door: one per node, forwarding to the fleet."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"  # where Home Assistant connects; 0.0.0.0 on a pod
    port: int = Field(default=10200, ge=1, le=65535)
    nodes: int = Field(default=1, ge=1)  # doors: one per node, at most
    proxy_port: int = Field(default=8000, ge=1, le=65535)  # the node's Ray proxy
    route: str = "/v1/wyoming"  # the fleet's Wyoming-over-WebSocket route
    token: str | None = None  # the fleet's token; else STREAMTTS_TOKEN
    idle_timeout_s: float = Field(default=120.0, gt=0)


def replica_options(options: FleetOptions) -> dict[str, Any]:
    """The replica deployment's Ray Serve options."""
    connections = options.connections or 2 * options.sessions
    target = options.target_sessions or max(1.0, 0.75 * options.sessions)
    return {
        "name": "StreamTTS",
        "max_ongoing_requests": connections,
        # Ray's own queue is for a burst being routed, not for waiting: past
        # it (every replica holding `connections`) Ray answers 503 at once.
        "max_queued_requests": options.sessions,
        "backpressure_config": {"status_code": 503, "retry_after_s": options.retry_after_s},
        "autoscaling_config": {
            "min_replicas": options.min_replicas,
            "max_replicas": options.max_replicas,
            "target_ongoing_requests": target,
            "upscale_delay_s": options.upscale_delay_s,
            "downscale_delay_s": options.downscale_delay_s,
            "metrics_interval_s": 0.5,
            "look_back_period_s": max(1.0, min(10.0, options.upscale_delay_s)),
        },
        "health_check_period_s": options.health_check_period_s,
        "health_check_timeout_s": options.health_check_timeout_s,
        "graceful_shutdown_wait_loop_s": 0.5,
        "graceful_shutdown_timeout_s": options.drain_s,
        "ray_actor_options": {"num_cpus": options.cpus},
    }


def door_options(options: DoorOptions) -> dict[str, Any]:
    """The Wyoming door's Ray Serve options: no CPU of its own (it only
    forwards bytes), one per node."""
    return {
        "name": "WyomingDoor",
        "num_replicas": options.nodes,
        "max_replicas_per_node": 1,
        "ray_actor_options": {"num_cpus": 0},
        "health_check_period_s": 5.0,
    }
