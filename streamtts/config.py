"""Options, frozen, with units in their names.

Channel and buffer sizes live here too, each with the reason for its value,
so every bound on memory and latency can be read in one place.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from .errors import ConfigError
from .text.frontend import TextOptions
from .text.segmenter import SegmenterOptions
from .voices.options import VoiceOptions

__all__ = ["DELIVERIES", "ChannelSizes", "ChunkSchedule", "EngineOptions", "SynthesisOptions"]

# Delivery: both of the voice's noise scales times this. Measured on the
# default voice (benchmarks/results/delivery.md: 114 sentences, Whisper
# tiny.en, three seeds, DNSMOS): word errors and DNSMOS OVRL flat within the
# seed-to-seed spread from x1.0 to x0.55; the calmer voice is heard the same
# way more often from one seed to the next. "calm" stops at x0.7, not lower:
# DNSMOS does not score prosodic variety, which lower scales take away.
DELIVERIES = {"calm": 0.7, "lively": 1.0}

# More frames than any segment has (the segmenter caps text at 400
# characters, long phoneme strings are split at 600 symbols: ~3,000 frames).
_ONE_CHUNK_FRAMES = 1 << 30

# Speaking rates, as factors on the voice's pace: slower by its length
# scale, faster up to 4x by shorter phonemes and time-scale modification
# (voices/tempo.py), where a screen reader's fastest listeners are.
MIN_RATE, MAX_RATE = 0.1, 4.0


@dataclass(frozen=True)
class SynthesisOptions:
    """How a voice speaks. ``None`` means "the voice's own default".

    - ``rate``: speaking-rate factor, 0.1 to 4; 1.0 is the voice's pace,
      1.5 is half again as fast (slower: the model's length scale is
      divided by it; faster: ``voices/tempo.py``).
    - ``noise_scale``: variation of the voice's timbre and pitch (prior noise).
    - ``noise_w_scale``: variation of phoneme durations (duration noise).
    - ``seed``: makes the noise, and so the audio, reproducible.
    - ``speaker``: a speaker id or name, for multi-speaker voices.
    - ``delivery``: ``"calm"`` (both of the voice's noise scales x0.7: the
      default voice's 0.667 and 0.8 become 0.467 and 0.56) or ``"lively"``
      (the voice's own); an explicit ``noise_scale`` or ``noise_w_scale``
      wins over it.
    """

    rate: float = 1.0
    noise_scale: float | None = None
    noise_w_scale: float | None = None
    seed: int | None = None
    speaker: int | str | None = None
    delivery: str = "calm"

    def __post_init__(self) -> None:
        if not (isinstance(self.rate, (int, float)) and math.isfinite(self.rate)):
            raise ConfigError(f"rate must be a number, got {self.rate!r}")
        if not MIN_RATE <= self.rate <= MAX_RATE:
            raise ConfigError(
                f"rate must be between {MIN_RATE:g} and {MAX_RATE:g} (1.0 = the voice's pace, "
                f"4 = four times as fast), got {self.rate}"
            )
        for name in ("noise_scale", "noise_w_scale"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and 0.0 <= value <= 2.0):
                raise ConfigError(f"{name} must be between 0 and 2, got {value}")
        if self.seed is not None and not (isinstance(self.seed, int) and self.seed >= 0):
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed!r}")
        check_delivery(self.delivery)


def check_delivery(delivery: object) -> str:
    """``delivery`` if it is one of :data:`DELIVERIES`, else a ``ConfigError``."""
    if not (isinstance(delivery, str) and delivery in DELIVERIES):
        raise ConfigError("delivery must be calm or lively")
    return delivery


@dataclass(frozen=True)
class ChunkSchedule:
    """Chunk sizes in frames (the default voice: 256 samples = 11.6 ms each).

    Contexts of None use the voice's receptive fields, measured when its
    graph was cut (the default voice: flow 32 frames, decoder 11), which
    make every chunk equal whole-segment synthesis. Growth 2.5 keeps each
    early chunk computed well inside the playing time of the chunks before
    it. The cap of 128 frames (1.5 s) bounds memory: without onnxruntime's
    arena the decoder's live tensors take about 0.2 MB a frame (278 frames
    with context: +57 MB of RSS at its peak, 150: +31 MB), while the
    context it re-computes costs about 17% more decoder work than one
    whole-segment run, instead of 9% with 256.
    """

    first_chunk_frames: int = 8
    growth: float = 2.5
    max_chunk_frames: int = 128
    flow_context_frames: int | None = None
    decoder_context_frames: int | None = None
    # None: first x growth. Set when the first chunk is made longer than
    # the rest would follow from (fast speech, voices/tempo.py).
    second_chunk_frames: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.first_chunk_frames <= self.max_chunk_frames:
            raise ConfigError("need 1 <= first_chunk_frames <= max_chunk_frames")
        if self.growth < 1.0:
            raise ConfigError(f"growth must be >= 1, got {self.growth}")
        for context in (self.flow_context_frames, self.decoder_context_frames):
            if context is not None and context < 0:
                raise ConfigError("context frames must be >= 0")
        if self.second_chunk_frames is not None and self.second_chunk_frames < 1:
            raise ConfigError("second_chunk_frames must be >= 1")

    @classmethod
    def one_chunk(cls) -> ChunkSchedule:
        """Each segment decoded in one run: the same samples, later first audio."""
        return cls(first_chunk_frames=_ONE_CHUNK_FRAMES, max_chunk_frames=_ONE_CHUNK_FRAMES)

    @property
    def first_two_frames(self) -> int:
        """The frames of the first two chunks (the flow's first run covers them)."""
        second = self.second_chunk_frames or self.first_chunk_frames * self.growth
        return int(self.first_chunk_frames + second)

    def sizes(self, total_frames: int) -> Iterator[int]:
        """Chunk sizes covering ``total_frames`` exactly."""
        done = 0
        size = float(self.first_chunk_frames)
        second = self.second_chunk_frames
        while done < total_frames:
            step = min(int(size), total_frames - done)
            yield step
            done += step
            if second is not None:
                size, second = float(second) / self.growth, None
            size = min(size * self.growth, float(self.max_chunk_frames))


@dataclass(frozen=True)
class ChannelSizes:
    """Capacity of every edge of the actor graph, in items, with the reason.

    Together with the ring they bound the engine's memory, whatever the
    length of the text: the text waits in the caller, not in the engine.
    """

    # Caller → segmenter. Pieces are small (tokens, lines) and the segmenter
    # is fast; a few smooth out bursty producers.
    text_pieces: int = 16
    # Segmenter → phonemizer. A couple of sentences of look-ahead is enough
    # to keep the encoder busy while the current one plays.
    segments: int = 2
    # Phonemizer → encoder: espeak takes a millisecond; one in hand.
    phonemes: int = 1
    # Encoder → decoder: one encoded segment waits while the current one is
    # decoded, so the next segment's first chunk comes without the encoder's
    # delay. Each plan holds its prior sample (~0.4 MB per 5 s of speech).
    plans: int = 1
    # Decoder → output: chunks run ahead of the sink by at most this many
    # (the largest chunk is 128 frames, 1.5 s at 22 kHz, 128 KB).
    chunks: int = 2
    # Output → event dispatcher: word marks waiting to be heard.
    marks: int = 256

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if not isinstance(value, int) or value < 0:
                raise ConfigError(f"channel size {name} must be a non-negative integer")


@dataclass(frozen=True)
class EngineOptions:
    """How the engine runs (what it says is in :class:`SynthesisOptions`).

    - ``stall_s``: when a text stream pauses this long, speak the whole
      words that are waiting instead of waiting for the sentence to end.
    - ``sentence_gap_s``: silence added between segments.
    - ``gain``: output gain (1.0 = the voice's own level).
    - ``fade_ms``: fade at barge-in, so the cut does not click.
    - ``trim_lead_in``: start each utterance at its first audible sample
      (less 5 ms): the voice opens with 10-60 ms below -60 dBFS. On for
      the screen reader module and ``streamtts speak`` on the sound card,
      where it is only latency; off by default so a sink gets exactly the
      samples a file would hold (the servers' audio equals the files').
    - ``text``: how text is read (plain or markdown, normalization); each
      utterance may override it (``Engine.say(..., text_options=...)``).
    - ``segmenter``: where text is cut into segments.
    - ``schedule``: chunk sizes of the incremental decoder.
    - ``whole``: decode each segment in one run instead of streaming inside
      it (same samples, later first audio; for comparisons and files).
    - ``decoder_head_start_s``: the next segment is encoded only once this
      much of the current one is decoded (or all of it). A segment's first
      chunks must come out faster than they play (the first, 93 ms of
      audio, leaves that long for the second); an encoder run beside them
      halves their share of the cores. 0.5 s is three chunks of the
      default schedule (8, 20, 50 frames), after which the lead is ample.
    - ``start_margin``: an utterance starts playing once the audio made
      covers making the next chunk this many times over, at the pace the
      model calls take now (a busy CPU, other sessions); 0 plays the first
      chunk at once. Latency may grow under load; the speech does not break.
    - ``loudness_lufs``: a loudness target (ITU-R BS.1770, e.g. -16), None
      for the voice's own level. A stream cannot look ahead: it gets a gain
      calibrated once per voice (``loudness.py``) and a peak limiter that
      keeps every sample under ``true_peak_dbtp``. A file rendered whole is
      measured and normalized after (``streamtts speak --out``,
      :func:`streamtts.loudness.normalize_file`).
    - ``true_peak_dbtp``: the ceiling under a loudness target (-1.5 dBTP).
    - ``voice``: how the engine loads its voice when it loads one itself
      (a name or a path): weight precision (``fp32``, or ``int8`` for a
      small device) and onnxruntime threads per model part
      (:class:`~streamtts.voices.options.VoiceOptions`;
      ``VoiceOptions.small_device()`` is int8 on one thread).
    - ``warm_up``: speak a short sentence to nowhere before the engine is
      ready, so the first utterance pays no first-run costs (espeak-ng's
      dictionaries, onnxruntime's first runs). A one-shot command whose
      text is already in hand turns it off: its first utterance is the
      warm-up, and the whole run is shorter.
    """

    synthesis: SynthesisOptions = SynthesisOptions()
    channels: ChannelSizes = ChannelSizes()
    text: TextOptions = field(default_factory=TextOptions)
    segmenter: SegmenterOptions = field(default_factory=SegmenterOptions)
    schedule: ChunkSchedule = ChunkSchedule()
    whole: bool = False
    stall_s: float = 0.5
    sentence_gap_s: float = 0.0
    gain: float = 1.0
    fade_ms: float = 5.0
    trim_lead_in: bool = False
    decoder_head_start_s: float = 0.5
    start_margin: float = 1.5
    loudness_lufs: float | None = None
    true_peak_dbtp: float = -1.5
    voice: VoiceOptions = field(default_factory=VoiceOptions)
    warm_up: bool = True

    @property
    def effective_schedule(self) -> ChunkSchedule:
        """The schedule the decoder follows: one chunk per segment when ``whole``."""
        return ChunkSchedule.one_chunk() if self.whole else self.schedule

    def __post_init__(self) -> None:
        if not (0.0 < self.stall_s <= 60.0):
            raise ConfigError(f"stall_s must be in (0, 60], got {self.stall_s}")
        if not (0.0 <= self.sentence_gap_s <= 5.0):
            raise ConfigError(f"sentence_gap_s must be in [0, 5], got {self.sentence_gap_s}")
        if not (0.0 <= self.gain <= 4.0):
            raise ConfigError(f"gain must be in [0, 4], got {self.gain}")
        if not (0.0 <= self.fade_ms <= 100.0):
            raise ConfigError(f"fade_ms must be in [0, 100], got {self.fade_ms}")
        if not (0.0 <= self.start_margin <= 10.0):
            raise ConfigError(f"start_margin must be in [0, 10], got {self.start_margin}")
        if self.loudness_lufs is not None and not (
            math.isfinite(self.loudness_lufs) and -70.0 <= self.loudness_lufs <= -5.0
        ):
            raise ConfigError(f"loudness must be from -70 to -5 LUFS, got {self.loudness_lufs}")
        if not (math.isfinite(self.true_peak_dbtp) and -20.0 <= self.true_peak_dbtp <= 0.0):
            raise ConfigError(
                f"the true-peak ceiling must be from -20 to 0 dBTP, got {self.true_peak_dbtp}"
            )
        if not (0.0 <= self.decoder_head_start_s <= 60.0):
            raise ConfigError(
                f"decoder_head_start_s must be in [0, 60], got {self.decoder_head_start_s}"
            )
