"""A replica's metrics, as Ray exports them.

The doors record into :class:`~streamtts.serve.metrics.ServerMetrics`
(a ``prometheus_client`` registry, what ``/metrics`` renders for one
process). In a fleet each replica is its own process and ``/metrics``
through the proxy reaches any one of them, so :class:`FleetMetrics`
records every sample into Ray's metrics too: the dashboard agent of each
node exports them at the node's ``--metrics-export-port`` (``/metrics``),
named ``ray_streamtts_...`` (counters end in ``_total``) and labelled with
the application, deployment and replica. An operator scrapes every node.

It also tells the replica's :class:`~._health.EngineHealth` how each
utterance ended.
"""

from __future__ import annotations

import time
from typing import Any, cast

from prometheus_client import Counter, Gauge, Histogram

from ..serve.metrics import _TTFA_BUCKETS_S, ServerMetrics
from ._health import EngineHealth

__all__ = ["FleetMetrics"]


class _Tee:
    """One metric (and its children by label) recorded twice: locally and in Ray."""

    def __init__(
        self,
        local: Any,
        remote: Any,
        keys: tuple[str, ...] = (),
        tags: dict[str, str] | None = None,
        hook: Any = None,
    ) -> None:
        self.local = local
        self.remote = remote
        self.keys = keys
        self.tags = tags or {}
        self.hook = hook  # called with the tags at every increment (a gauge: decrement)
        self.value = 0.0  # a gauge's value (Ray's gauges only set)

    def labels(self, *values: str) -> _Tee:
        tags = dict(zip(self.keys, values, strict=True))
        return _Tee(self.local.labels(*values), self.remote, self.keys, tags, self.hook)

    def inc(self, amount: float = 1.0) -> None:
        self.local.inc(amount)
        if self.hook is not None:
            self.hook(self.tags)
        if amount > 0:  # Ray's counters take positive increments only
            self.remote.inc(amount, tags=self.tags or None)

    def observe(self, value: float) -> None:
        self.local.observe(value)
        self.remote.observe(value, tags=self.tags or None)

    def set(self, value: float) -> None:
        self.local.set(value)
        self.value = value
        self.remote.set(value, tags=self.tags or None)

    def add(self, amount: float) -> None:
        """A gauge's ``inc``/``dec``."""
        self.local.inc(amount)
        self.value += amount
        self.remote.set(self.value, tags=self.tags or None)


class _TeeGauge(_Tee):
    def inc(self, amount: float = 1.0) -> None:
        self.add(amount)

    def dec(self, amount: float = 1.0) -> None:
        self.add(-amount)
        if self.hook is not None:
            self.hook(self.tags)


class FleetMetrics(ServerMetrics):
    """:class:`ServerMetrics` that Ray exports too (see the module docstring)."""

    def __init__(self, health: EngineHealth) -> None:
        super().__init__()
        from ray.serve import metrics as ray

        self.health = health
        self.last_ended_s = 0.0  # wall clock: when an utterance last ended (or was cancelled)
        door = ("door",)
        self.ttfa = cast(
            Histogram,
            _Tee(
                self.ttfa,
                ray.Histogram(
                    "streamtts_ttfa_seconds",
                    description="Request (or the text completing the first segment) to first "
                    "audio sent",
                    boundaries=list(_TTFA_BUCKETS_S),
                    tag_keys=door,
                ),
                door,
            ),
        )
        self.active_sessions = cast(
            Gauge,
            _TeeGauge(
                self.active_sessions,
                ray.Gauge("streamtts_active_sessions", description="Utterances synthesized now"),
                hook=lambda tags: self._ended(),
            ),
        )
        self.late_audio = cast(
            Counter,
            _Tee(
                self.late_audio,
                ray.Counter(
                    "streamtts_late_audio_seconds",
                    description="Audio made after a real-time listener needed it",
                ),
            ),
        )
        self._counters()

    def _ended(self) -> None:
        self.last_ended_s = time.time()

    def _counters(self) -> None:
        from ray.serve import metrics as ray

        door = ("door",)
        self.audio = cast(
            Counter,
            _Tee(
                self.audio,
                ray.Counter(
                    "streamtts_audio_seconds", description="Audio synthesized", tag_keys=door
                ),
                door,
                hook=lambda tags: self.health.utterance_finished(),
            ),
        )
        self.compute = cast(
            Counter,
            _Tee(
                self.compute,
                ray.Counter(
                    "streamtts_compute_seconds", description="Model time spent", tag_keys=door
                ),
                door,
            ),
        )
        self.rtf = cast(
            Gauge,
            _Tee(
                self.rtf,
                ray.Gauge("streamtts_rtf", description="Compute seconds per audio second, last"),
            ),
        )
        self.refused = cast(
            Counter,
            _Tee(
                self.refused,
                ray.Counter(
                    "streamtts_refused", description="Requests refused: at capacity", tag_keys=door
                ),
                door,
            ),
        )
        kinds: Any = ("door", "kind")  # Ray types tag_keys as a 1-tuple
        self.errors = cast(
            Counter,
            _Tee(
                self.errors,
                ray.Counter(
                    "streamtts_errors",
                    description="Requests that ended in an error",
                    tag_keys=kinds,
                ),
                kinds,
                hook=lambda tags: self.health.utterance_failed(tags.get("kind", "")),
            ),
        )
