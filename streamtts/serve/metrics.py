"""What the server exposes at ``/metrics`` (Prometheus text format).

One registry per server, from the ``prometheus_client`` library; the doors
record into it through :class:`ServerMetrics`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["ServerMetrics"]

# Where first audio lands on this machine: tens of ms alone, hundreds under load.
_TTFA_BUCKETS_S = (0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0)


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.ttfa = Histogram(
            "streamtts_ttfa_seconds",
            "Request (or the text completing the first segment) to first audio sent",
            ["door"],
            buckets=_TTFA_BUCKETS_S,
            registry=self.registry,
        )
        self.active_sessions = Gauge(
            "streamtts_active_sessions", "Utterances being synthesized now", registry=self.registry
        )
        self.late_audio = Counter(
            "streamtts_late_audio_seconds",
            "Audio made after a real-time listener needed it",
            registry=self.registry,
        )
        self.audio = Counter(
            "streamtts_audio_seconds", "Audio synthesized", ["door"], registry=self.registry
        )
        self.compute = Counter(
            "streamtts_compute_seconds", "Model time spent", ["door"], registry=self.registry
        )
        self.rtf = Gauge(
            "streamtts_rtf",
            "Compute seconds per audio second, last utterance",
            registry=self.registry,
        )
        self.refused = Counter(
            "streamtts_refused_total",
            "Requests refused: at capacity",
            ["door"],
            registry=self.registry,
        )
        self.errors = Counter(
            "streamtts_errors_total",
            "Requests that ended in an error",
            ["door", "kind"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
