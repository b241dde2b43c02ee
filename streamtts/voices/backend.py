"""The acoustic work the actors ask for, run in worker threads.

Each step is a coroutine for the actors; the blocking part runs in a
worker thread through ``trio.to_thread.run_sync`` with one
``CapacityLimiter`` per model part, so the event loop stays free and one
segment's encoder can overlap another's decoder. A cancelled call is
abandoned at once (barge-in must not wait for a chunk to finish); its
thread finishes the call it is in and its result is dropped.

``streamtts.testing.FakeBackend`` implements the same four methods with
virtual-time costs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import trio

from ..config import SynthesisOptions
from ..messages import AudioChunk
from ..text.phoneme_ids import PhonemeIds, has_sound, to_phoneme_ids
from ..text.phonemizer import Phonemes, Phonemizer
from ..text.segmenter import Segment
from .incremental import ChunkSchedule, IncrementalDecoder, SegmentTiming, segment_timing
from .piper import FramePlan, PiperVoice

__all__ = ["Planned", "Prepared", "VoiceBackend"]

T = TypeVar("T")


# Longest stretch of phoneme symbols synthesized in one go (about 1200 ids,
# 25 s of speech): the encoder's cost and memory grow with it.
MAX_SYMBOLS_PER_PART = 600


@dataclass(frozen=True)
class Prepared:
    """A segment's phonemes, or one part of them when it is long to say."""

    segment: Segment
    phonemes: Phonemes
    ids: PhonemeIds
    part: int = 0
    last_part: bool = True


@dataclass(frozen=True)
class Planned:
    """An encoded segment: a plan for the incremental decoder, or (for a
    voice that cannot be cut) its whole audio."""

    segment: Segment
    timing: SegmentTiming | None
    plan: FramePlan | None
    whole_audio: np.ndarray | None = None
    sample_offset: int = 0  # where this part starts in its segment
    last_part: bool = True

    def __repr__(self) -> str:
        return f"Planned(seg={self.segment.index}, plan={self.plan!r})"


class _WholeAudio:
    """Chunk source for a voice that cannot stream: one chunk per segment."""

    def __init__(self, planned: Planned) -> None:
        self.planned = planned
        self.done = False

    def next_chunk(self) -> AudioChunk:
        self.done = True
        planned = self.planned
        assert planned.whole_audio is not None
        return AudioChunk(
            planned.whole_audio, planned.segment.index, planned.sample_offset, planned.last_part
        )


class VoiceBackend:
    """Phonemizer, encoder and decoder of a real voice, off the event loop."""

    def __init__(
        self,
        voice: PiperVoice,
        options: SynthesisOptions | None = None,
        schedule: ChunkSchedule | None = None,
    ) -> None:
        self.voice = voice
        self.options = options or SynthesisOptions()
        self.schedule = schedule or ChunkSchedule()
        self.sample_rate_hz = voice.sample_rate_hz
        self._phonemizer = Phonemizer(voice.config.espeak_voice)
        self._limiters = {
            name: trio.CapacityLimiter(1) for name in ("phonemizer", "encoder", "decoder")
        }
        self.compute_s = 0.0
        self._next_offset = 0  # where the next part of a long segment starts

    def new_rng(self) -> np.random.Generator:
        return np.random.default_rng(self.options.seed)

    async def _run(self, part: str, work: Callable[[], T]) -> T:
        def timed() -> T:
            start = time.perf_counter()
            try:
                return work()
            finally:
                self.compute_s += time.perf_counter() - start

        return await trio.to_thread.run_sync(
            timed, limiter=self._limiters[part], abandon_on_cancel=True
        )

    async def prepare(self, segment: Segment) -> list[Prepared]:
        """Phonemes and ids, in parts if long; none when nothing is said."""
        if not segment.speakable:
            return []
        phonemes = await self._run("phonemizer", lambda: self._phonemizer.phonemize(segment.text))
        id_map = self.voice.config.phoneme_id_map
        if not has_sound(phonemes.symbols, id_map):
            return []
        parts = phonemes.split(MAX_SYMBOLS_PER_PART)
        return [
            Prepared(segment, part, to_phoneme_ids(part.symbols, id_map), k, k == len(parts) - 1)
            for k, part in enumerate(parts)
        ]

    async def encode(self, prepared: Prepared, rng: np.random.Generator) -> Planned:
        voice = self.voice
        offset = self._next_offset if prepared.part else 0
        if not voice.can_stream:
            audio = await self._run(
                "decoder", lambda: voice.synthesize_ids(prepared.ids, self.options, rng)
            )
            self._next_offset = offset + audio.size
            return Planned(prepared.segment, None, None, audio, offset, prepared.last_part)
        plan = await self._run("encoder", lambda: voice.encode(prepared.ids, self.options, rng))
        timing = segment_timing(plan, prepared.phonemes, voice.samples_per_frame)
        self._next_offset = offset + timing.total_samples
        return Planned(prepared.segment, timing, plan, None, offset, prepared.last_part)

    async def aclose(self) -> None:
        """Wait for calls abandoned by a barge-in to finish in their threads."""
        for limiter in self._limiters.values():
            async with limiter:
                pass

    def chunks(self, planned: Planned) -> IncrementalDecoder | _WholeAudio:
        if planned.plan is None:
            return _WholeAudio(planned)
        assert planned.timing is not None
        return IncrementalDecoder(
            self.voice,
            planned.plan,
            planned.timing,
            planned.segment.index,
            self.schedule,
            sample_offset=planned.sample_offset,
            last_part=planned.last_part,
        )

    async def next_chunk(self, source: IncrementalDecoder | _WholeAudio) -> AudioChunk:
        if isinstance(source, _WholeAudio):
            return source.next_chunk()
        return await self._run("decoder", source.next_chunk)
