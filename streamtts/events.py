"""What the engine tells its caller, as it happens.

Word and segment events fire when their audio is *heard* (the sink has
played it, or for a file, written it), not when it is computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Event",
    "Interrupted",
    "MarkReached",
    "SegmentFailed",
    "SegmentStarted",
    "UtteranceDone",
    "UtteranceStats",
    "WordStarted",
]


@dataclass(frozen=True)
class SegmentStarted:
    utterance: int
    segment_index: int
    text: str
    text_start: int  # offset in the utterance's text
    at_s: float
    position: int = -1  # its first sample, counted at the sink since it started


@dataclass(frozen=True)
class WordStarted:
    utterance: int
    segment_index: int
    word: str
    text_start: int  # offsets in the utterance's text
    text_end: int
    at_s: float
    position: int = -1  # its first sample, counted at the sink since it started
    end_position: int = -1  # the sample after its last, counted the same way


@dataclass
class UtteranceStats:
    """Numbers for one utterance (times in seconds of the engine's clock)."""

    utterance: int
    ttfa_s: float | None = None  # text complete → first audible sample written
    ttfa_heard_s: float | None = None  # ... → that sample heard at the sink
    audio_s: float = 0.0
    compute_s: float = 0.0
    underruns: int = 0
    cancel_latency_s: float | None = None
    peak_buffers: dict[str, int] = field(default_factory=dict)
    segments: int = 0
    # When (engine clock) the first audible sample was written to the sink.
    first_audio_written_at_s: float | None = None
    failed_segments: int = 0

    @property
    def rtf(self) -> float | None:
        return self.compute_s / self.audio_s if self.audio_s else None

    def as_dict(self) -> dict[str, object]:
        return {
            "utterance": self.utterance,
            "ttfa_s": self.ttfa_s,
            "ttfa_heard_s": self.ttfa_heard_s,
            "rtf": self.rtf,
            "audio_s": self.audio_s,
            "compute_s": self.compute_s,
            "underruns": self.underruns,
            "cancel_latency_s": self.cancel_latency_s,
            "peak_buffers": dict(self.peak_buffers),
            "segments": self.segments,
            "failed_segments": self.failed_segments,
        }


@dataclass(frozen=True)
class SegmentFailed:
    """One segment could not be spoken; the rest of the utterance goes on."""

    utterance: int
    segment_index: int
    text: str
    error: str  # the exception's type and message


@dataclass(frozen=True)
class UtteranceDone:
    utterance: int
    stats: UtteranceStats


@dataclass(frozen=True)
class Interrupted:
    """Barge-in: what was heard last before the audio stopped."""

    utterance: int
    last_segment: SegmentStarted | None
    last_word: WordStarted | None
    stats: UtteranceStats


@dataclass(frozen=True)
class MarkReached:
    """An SSML ``<mark name="...">``: the audio at that point was heard."""

    utterance: int
    name: str
    at_s: float


Event = SegmentStarted | WordStarted | MarkReached | SegmentFailed | UtteranceDone | Interrupted
