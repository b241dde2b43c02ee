"""Synchronous text → audio, segment by segment (no event loop, no device).

This is the plain path for scripts and files; the actor graph in
``engine.py`` runs the same steps concurrently with backpressure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from .config import SynthesisOptions
from .messages import AudioChunk
from .text.phoneme_ids import PhonemeIds, has_sound, to_phoneme_ids
from .text.phonemizer import Phonemes, Phonemizer
from .text.segmenter import Segment, Segmenter, SegmenterOptions
from .voices.incremental import ChunkSchedule, IncrementalDecoder, segment_timing
from .voices.piper import PiperVoice

__all__ = ["SegmentAudio", "Synthesizer"]


@dataclass(frozen=True)
class SegmentAudio:
    segment: Segment
    phonemes: Phonemes
    audio: np.ndarray  # float32, voice rate

    def __repr__(self) -> str:
        return f"SegmentAudio(#{self.segment.index}, {self.audio.size} samples)"


class Synthesizer:
    """Speaks texts with one voice and one set of options.

    One generator per utterance: with ``options.seed`` set, the same text
    gives the same samples every time.
    """

    def __init__(
        self,
        voice: PiperVoice,
        options: SynthesisOptions | None = None,
        segmenter_options: SegmenterOptions | None = None,
        schedule: ChunkSchedule | None = None,
    ) -> None:
        self.voice = voice
        self.options = options or SynthesisOptions()
        self.segmenter_options = segmenter_options or SegmenterOptions()
        self.schedule = schedule or ChunkSchedule()
        self.phonemizer = Phonemizer(voice.config.espeak_voice)

    def new_rng(self) -> np.random.Generator:
        return np.random.default_rng(self.options.seed)

    def phoneme_ids(self, segment_text: str) -> tuple[Phonemes, PhonemeIds] | None:
        """Phonemes and ids for a segment, or None if there is nothing to say."""
        phonemes = self.phonemizer.phonemize(segment_text)
        id_map = self.voice.config.phoneme_id_map
        if not has_sound(phonemes.symbols, id_map):
            return None  # nothing but spaces and punctuation: no sound to make
        return phonemes, to_phoneme_ids(phonemes.symbols, id_map)

    def segments(self, pieces: Iterable[str]) -> Iterator[Segment]:
        segmenter = Segmenter(self.segmenter_options)
        for piece in pieces:
            yield from segmenter.feed(piece)
        yield from segmenter.flush()

    def speak_whole(self, pieces: Iterable[str]) -> Iterator[SegmentAudio]:
        """Whole-segment synthesis of each segment, in order."""
        rng = self.new_rng()
        for segment in self.segments(pieces):
            found = self.phoneme_ids(segment.text)
            if found is None:
                continue
            phonemes, ids = found
            yield SegmentAudio(segment, phonemes, self.voice.synthesize_ids(ids, self.options, rng))

    def speak(
        self,
        pieces: Iterable[str],
        *,
        whole: bool = False,
        on_segment: Callable[[Segment], None] | None = None,
    ) -> Iterator[AudioChunk]:
        """Audio chunks for a text, in order, with word marks.

        Incremental by default: each segment's first chunk comes after the
        encoder and one small decoder run. ``whole=True`` synthesizes each
        segment in one go (one chunk per segment); both give the same
        samples for the same seed. ``on_segment`` is called as each segment
        starts.
        """
        rng = self.new_rng()
        for segment in self.segments(pieces):
            if on_segment is not None:
                on_segment(segment)
            found = self.phoneme_ids(segment.text)
            if found is None:
                continue
            phonemes, ids = found
            if not self.voice.can_stream:
                audio = self.voice.synthesize_ids(ids, self.options, rng)
                yield AudioChunk(audio, segment.index, 0, True)
                continue
            plan = self.voice.encode(ids, self.options, rng)
            timing = segment_timing(plan, phonemes, self.voice.samples_per_frame)
            if whole:
                audio = self.voice.decode(plan, self.voice.flow(plan, 0, plan.frames))
                yield AudioChunk(audio, segment.index, 0, True, timing.words)
            else:
                yield from IncrementalDecoder(
                    self.voice, plan, timing, segment.index, self.schedule
                )
