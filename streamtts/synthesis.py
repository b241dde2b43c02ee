"""The synthesis core: segment → phonemes → plan → chunks, synchronously.

One core per voice family, no event loop, no device. Its three steps are
the ones every path takes:

1. ``prepare(segment)``: phonemes and ids, in parts when long to say;
2. ``encode(prepared, rng, sample_offset)``: the encoder (or, for a voice
   that cannot be cut, the whole audio), returning a :class:`Planned` with
   the segment's :class:`~streamtts.messages.ChunkSource`;
3. ``planned.source.next_chunk()`` until ``done``.

The plain path (:class:`Synthesizer`, for scripts and files) loops over
them here; the trio backend (``backend.py``) runs the same calls in
worker threads. A second model family is a second class with these methods
(:class:`SpeechSteps`); nothing else changes.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from .config import ChunkSchedule, SynthesisOptions
from .messages import AudioChunk, ChunkSource, Planned, Prepared, Segment
from .text.frontend import FrontEnd
from .text.options import TextOptions
from .text.phoneme_ids import PhonemeIds, has_sound, to_phoneme_ids
from .text.phonemizer import Phonemes, Phonemizer, WordSpan
from .text.pipeline import TextPipeline
from .text.segmenter import Segmenter, SegmenterOptions
from .voices.incremental import IncrementalDecoder, segment_timing
from .voices.options import VoiceOptions
from .voices.piper import PiperVoice
from .voices.pitch import Repitched, repitch_whole
from .voices.tempo import Tempo, clamp_rate, faster, graph_rate, tempo_schedule, tempo_whole

__all__ = [
    "PiperSteps",
    "SegmentAudio",
    "SpeechSteps",
    "Synthesizer",
    "WholeAudio",
    "load_warm_voice",
]

# Longest stretch of phoneme symbols synthesized in one go (about 1200 ids,
# 25 s of speech): the encoder's cost and memory grow with it.
MAX_SYMBOLS_PER_PART = 600

# Spoken once at start-up, to nowhere: espeak-ng's dictionaries and word
# pass, onnxruntime's thread pools and first-run allocations, and the pages
# of the weights are paid before any text. One short sentence does it:
# measured on a fresh process reading a pipe, a longer warm-up text (every
# chunk size) gave the same first-utterance TTFA and cost 0.6 s more start.
_WARM_UP_TEXTS = ("Hello there, how are you?",)


class SpeechSteps(Protocol):
    """What a voice family provides: the three synchronous steps.

    ``prepare`` and ``encode`` may block (model calls); the trio backend
    runs them in worker threads, one limiter per step.
    """

    @property
    def sample_rate_hz(self) -> int: ...

    def new_rng(self) -> np.random.Generator: ...

    def prepare(self, segment: Segment) -> list[Prepared]: ...

    def encode(
        self, prepared: Prepared, rng: np.random.Generator, sample_offset: int
    ) -> Planned: ...

    def warm_up(self) -> None: ...


class WholeAudio:
    """Chunk source for audio made in one go (a voice that cannot be cut)."""

    def __init__(self, audio: np.ndarray, segment: Segment, offset: int, last: bool) -> None:
        if segment.volume != 1.0:  # SSML prosody volume
            audio = audio * np.float32(segment.volume)
        self._chunk = AudioChunk(audio, segment, offset, last)
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    def next_chunk(self) -> AudioChunk:
        self._done = True
        return self._chunk


def next_part_offset(planned: Planned) -> int:
    """Where the part after ``planned`` starts in its segment (0: a new segment)."""
    return 0 if planned.last_part else planned.sample_offset + planned.total_samples


class PiperSteps:
    """The synthesis steps for a Piper voice (see the module docstring)."""

    def __init__(
        self,
        voice: PiperVoice,
        options: SynthesisOptions | None = None,
        schedule: ChunkSchedule | None = None,
    ) -> None:
        self.voice = voice
        self.options = options or SynthesisOptions()
        self.schedule = schedule or ChunkSchedule()
        self._phonemizer = Phonemizer(voice.config.espeak_voice)

    def __repr__(self) -> str:
        return f"PiperSteps({self.voice!r})"

    @property
    def sample_rate_hz(self) -> int:
        return self.voice.sample_rate_hz

    def new_rng(self) -> np.random.Generator:
        """One generator per utterance: with a seed, the same text gives the same audio."""
        return np.random.default_rng(self.options.seed)

    def phonemize(self, text: str) -> Phonemes:
        return self._phonemizer.phonemize(text)

    def prepare(self, segment: Segment) -> list[Prepared]:
        """Phonemes and ids, in parts if long; none when nothing is said."""
        if segment.tone:
            return [Prepared(segment, Phonemes(segment.text, (), ()), _NO_IDS)]
        if segment.ipa is not None:
            phonemes = _given_phonemes(segment)
        elif not segment.speakable:
            return []
        else:
            phonemes = self._phonemizer.phonemize(segment.text)
        id_map = self.voice.config.phoneme_id_map
        if not has_sound(phonemes.symbols, id_map):
            return []  # only spaces and punctuation: no sound to make
        parts = phonemes.split(MAX_SYMBOLS_PER_PART)
        return [
            Prepared(segment, part, to_phoneme_ids(part.symbols, id_map), k, k == len(parts) - 1)
            for k, part in enumerate(parts)
        ]

    def encode(self, prepared: Prepared, rng: np.random.Generator, sample_offset: int) -> Planned:
        """The encoder, once per part; for a voice that cannot be cut, the
        whole audio. The result's source makes the chunks."""
        voice = self.voice
        segment = prepared.segment
        options = self.options
        # The engine's rate times the text's (SSML prosody, emphasis, the
        # utterance's): slower by the voice's length scale, faster by
        # voices/tempo.py (time-scale modification; shorter phonemes past 2x).
        rate = clamp_rate(options.rate * segment.rate)
        voice_rate = graph_rate(rate, voice.can_stream)
        if voice_rate != options.rate:
            options = replace(options, rate=voice_rate)
        if segment.delivery is not None:  # the utterance's own
            options = replace(options, delivery=segment.delivery)
        if segment.tone:
            audio = capital_tone(voice.sample_rate_hz)
            source = WholeAudio(audio, segment, sample_offset, prepared.last_part)
            return Planned(segment, source, audio.size, sample_offset, prepared.last_part)
        if not voice.can_stream:
            if segment.pitch != 1.0:  # slower by the voice's own length scale, then faster
                slower = replace(options, rate=max(0.1, options.rate / segment.pitch))
                audio = voice.synthesize_ids(prepared.ids, slower, rng)
                audio = repitch_whole(audio, segment.pitch, voice.sample_rate_hz)
            else:
                audio = voice.synthesize_ids(prepared.ids, options, rng)
            if rate > voice_rate:
                audio = tempo_whole(audio, rate / voice_rate)
            source = WholeAudio(audio, segment, sample_offset, prepared.last_part)
            return Planned(segment, source, audio.size, sample_offset, prepared.last_part)
        # A pitch: every phoneme made `pitch` times longer, played `pitch` times faster.
        plan = voice.encode(prepared.ids, options, rng, stretch=segment.pitch)
        plan, tempo = faster(plan, rate)  # shorter phonemes past 2x; tempo: the rest
        timing = segment_timing(plan, prepared.phonemes, voice.samples_per_frame)
        inner_offset = sample_offset if tempo == 1.0 else 0  # else placed by Tempo
        decoder = IncrementalDecoder(
            voice,
            plan,
            timing,
            segment,
            tempo_schedule(self.schedule, tempo),
            # A stretched plan's chunks are placed in the segment by Repitched.
            sample_offset=inner_offset if plan.stretch == 1.0 else 0,
            last_part=prepared.last_part,
        )
        chunks: ChunkSource = decoder
        total = timing.total_samples
        if plan.stretch != 1.0:  # a pitch asked, and the voice could be stretched
            chunks = Repitched(decoder, plan.stretch, voice.sample_rate_hz, inner_offset)
            total = round(total / plan.stretch)
        if tempo != 1.0:
            faster_chunks = Tempo(chunks, tempo, total, sample_offset)
            chunks, total = faster_chunks, faster_chunks.total_samples
        return Planned(segment, chunks, total, sample_offset, prepared.last_part)

    def warm_up(self) -> None:
        """Speak the warm-up texts to nowhere (see ``_WARM_UP_TEXTS``), once
        per loaded voice: its sessions stay warm for every core after."""
        if self.voice.warmed_up:
            return
        rng = np.random.default_rng(0)
        for index, text in enumerate(_WARM_UP_TEXTS):
            for chunk in synthesize_segment(self, Segment(text, 0, len(text), "end", index), rng):
                del chunk
        self.voice.warmed_up = True


_NO_IDS = PhonemeIds(np.zeros(0, np.int64), np.zeros(1, np.int64))
TONE_HZ, TONE_S = 880.0, 0.06


def capital_tone(rate_hz: int) -> np.ndarray:
    """A short, soft tone: a capital letter, as screen readers signal it."""
    t = np.arange(int(TONE_S * rate_hz), dtype=np.float32) / rate_hz
    tone = 0.25 * np.sin(2 * np.pi * TONE_HZ * t)
    fade = min(t.size // 2, int(0.005 * rate_hz))  # no clicks at the edges
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    tone[:fade] *= ramp
    tone[t.size - fade :] *= ramp[::-1]
    return tone.astype(np.float32)


def _given_phonemes(segment: Segment) -> Phonemes:
    """IPA given with the text (SSML phoneme): the voice says it as one word."""
    assert segment.ipa is not None
    symbols = tuple(unicodedata.normalize("NFD", " ".join(segment.ipa.split())))
    text = segment.text
    first = len(text) - len(text.lstrip())
    last = len(text.rstrip())
    return Phonemes(text, symbols, (WordSpan(first, max(first, last), 0, len(symbols)),))


def synthesize_segment(
    core: SpeechSteps, segment: Segment, rng: np.random.Generator
) -> Iterator[AudioChunk]:
    """One segment's chunks, in order, through the three steps."""
    offset = 0
    for prepared in core.prepare(segment):
        planned = core.encode(prepared, rng, offset)
        offset = next_part_offset(planned)
        source = planned.source
        while not source.done:
            yield source.next_chunk()


@dataclass(frozen=True)
class SegmentAudio:
    segment: Segment
    audio: np.ndarray  # float32, voice rate

    def __repr__(self) -> str:
        return f"SegmentAudio(#{self.segment.index}, {self.audio.size} samples)"


class Synthesizer:
    """Speaks texts with one voice and one set of options, synchronously.

    The plain path for scripts and files; the engine runs the same core in
    its actor graph. With ``options.seed`` set, the same text gives the
    same samples every time.
    """

    def __init__(
        self,
        voice: PiperVoice,
        options: SynthesisOptions | None = None,
        segmenter_options: SegmenterOptions | None = None,
        schedule: ChunkSchedule | None = None,
        text_options: TextOptions | None = None,
    ) -> None:
        self.voice = voice
        self.options = options or SynthesisOptions()
        self.segmenter_options = segmenter_options or SegmenterOptions()
        self.text_options = text_options or TextOptions()
        self.schedule = schedule or ChunkSchedule()
        self.core = PiperSteps(voice, self.options, self.schedule)
        self._whole_core = PiperSteps(voice, self.options, ChunkSchedule.one_chunk())

    def segments(self, pieces: Iterable[str]) -> Iterator[Segment]:
        """The text pipeline (front end, segmenter), as in the engine."""
        pipeline = TextPipeline(FrontEnd(self.text_options), Segmenter(self.segmenter_options))
        for piece in pieces:
            yield from pipeline.feed(piece)
        yield from pipeline.end()

    def speak(
        self,
        pieces: Iterable[str],
        *,
        whole: bool = False,
        on_segment: Callable[[Segment], None] | None = None,
    ) -> Iterator[AudioChunk]:
        """Audio chunks for a text, in order, with word marks.

        Incremental by default: each segment's first chunk comes after the
        encoder and one small decoder run. ``whole=True`` decodes each
        segment in one run (one chunk per segment or part); both give the
        same samples for the same seed. ``on_segment`` is called as each
        segment starts.
        """
        core = self._whole_core if whole else self.core
        rng = core.new_rng()
        for segment in self.segments(pieces):
            if on_segment is not None:
                on_segment(segment)
            yield from synthesize_segment(core, segment, rng)

    def speak_whole(self, pieces: Iterable[str]) -> Iterator[SegmentAudio]:
        """Each segment's whole audio, in order."""
        current: Segment | None = None
        parts: list[np.ndarray] = []
        for chunk in self.speak(pieces, whole=True):
            if current is not None and chunk.segment is not current and parts:
                yield SegmentAudio(current, np.concatenate(parts))
                parts = []
            current = chunk.segment
            parts.append(chunk.samples)
        if current is not None and parts:
            yield SegmentAudio(current, np.concatenate(parts))


def load_warm_voice(
    voice: str | Path | None = None, options: VoiceOptions | None = None
) -> PiperVoice:
    """A voice loaded (a name, a path, or None for the default) and warmed:
    its first utterance pays nothing. Blocking; the one way every door
    loads its voice. ``options``: weight precision and threads per part
    (:class:`~streamtts.voices.options.VoiceOptions`)."""
    from .voices.registry import load_voice

    options = options or VoiceOptions()
    loaded = load_voice(voice, precision=options.precision, threads=options.threads)
    PiperSteps(loaded).warm_up()
    return loaded
