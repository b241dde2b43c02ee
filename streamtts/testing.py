"""Public fakes that spend *virtual* time, for testing timing logic.

Use them on trio's autojump clock (``pytest-trio``'s ``autojump_clock``
fixture): their costs are ``await trio.sleep(...)`` inside the event loop,
so the clock jumps and a test of an hour of speech runs in a second. They
are for timing and fault injection; the real voice and sinks are tested
with the real clock.
"""

from __future__ import annotations

import numpy as np
import trio

from .backend import Backend, Pace
from .messages import AudioChunk, Planned, Prepared, Segment, WordMark
from .sinks.base import Sink
from .text.phoneme_ids import PhonemeIds
from .text.phonemizer import Phonemes

__all__ = ["FakeBackend", "FakeSink"]


class _FakeChunks:
    """A tone with a mark per word; the backend spends the virtual time."""

    def __init__(
        self,
        segment: Segment,
        words: tuple[WordMark, ...],
        total_samples: int,
        rate_hz: int,
        first_samples: int,
        samples: int,
    ) -> None:
        self.segment = segment
        self.words = words
        self.total_samples = total_samples
        self.rate_hz = rate_hz
        self.position = 0
        self.chunks_made = 0
        self.first_samples = first_samples
        self.samples = samples

    @property
    def done(self) -> bool:
        return self.position >= self.total_samples

    def next_chunk(self) -> AudioChunk:
        first = self.position == 0
        size = self.first_samples if first else self.samples
        start = self.position
        stop = min(self.total_samples, start + size)
        t = np.arange(start, stop, dtype=np.float32) / self.rate_hz
        samples = (0.3 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)
        samples[: min(1, samples.size)] = 0.5  # audible from the first sample
        marks = tuple(m for m in self.words if start <= m.start_sample < stop)
        self.position = stop
        return AudioChunk(samples, self.segment, start, stop >= self.total_samples, marks)


_NO_IDS = PhonemeIds(np.zeros(0, np.int64), np.zeros(1, np.int64))


class FakeBackend:
    """A :class:`~streamtts.backend.Backend` that pretends to be a voice:
    fixed costs in virtual time, a tone instead of speech.

    Each character of a segment lasts ``seconds_per_char`` of audio; each
    word becomes a mark. Costs: ``prepare_s`` per segment (phonemizer),
    ``encode_s`` per segment, ``first_chunk_s`` for a segment's first chunk
    and ``chunk_s`` for each later one. ``fail_on`` makes ``encode`` raise
    for segments containing that text (fault injection). ``pace`` may be
    shared, as a server's sessions share theirs.
    """

    def __init__(
        self,
        *,
        sample_rate_hz: int = 8000,
        seconds_per_char: float = 0.06,
        prepare_s: float = 0.001,
        encode_s: float = 0.02,
        first_chunk_s: float = 0.015,
        chunk_s: float = 0.05,
        first_chunk_samples: int = 800,
        chunk_samples: int = 4096,
        fail_on: str | None = None,
        phonemize: bool = False,
        pace: Pace | None = None,
    ) -> None:
        self._sample_rate_hz = sample_rate_hz
        self.seconds_per_char = seconds_per_char
        self.prepare_s = prepare_s
        self.encode_s = encode_s
        self.first_chunk_s = first_chunk_s
        self.chunk_s = chunk_s
        self.first_chunk_samples = first_chunk_samples
        self.chunk_samples = chunk_samples
        self.fail_on = fail_on
        self._phonemizer = None
        if phonemize:  # run the real phonemizer (fast): fuzzes text handling
            from .text.phonemizer import Phonemizer

            self._phonemizer = Phonemizer("en-us")
        self._compute_s = 0.0
        self._pace = pace or Pace()
        self.calls: list[str] = []

    @property
    def sample_rate_hz(self) -> int:
        return self._sample_rate_hz

    @property
    def compute_s(self) -> float:
        return self._compute_s

    @property
    def pace(self) -> Pace:
        """Measured on the virtual clock, as the real backend measures."""
        return self._pace

    def new_rng(self) -> np.random.Generator:
        return np.random.default_rng(0)

    async def _spend(self, seconds: float, what: str) -> None:
        self.calls.append(what)
        await trio.sleep(seconds)
        self._compute_s += seconds

    async def warm_up(self) -> None:
        """Nothing to warm: no model, no kernels (virtual time only)."""

    async def prepare(self, segment: Segment) -> list[Prepared]:
        await self._spend(self.prepare_s, "prepare")
        if self._phonemizer is not None:
            phonemes = self._phonemizer.phonemize(segment.text)
            speakable = any(s.isalpha() for s in phonemes.symbols)
        else:
            phonemes = Phonemes(segment.text, (), ())
            speakable = segment.speakable
        return [Prepared(segment, phonemes, _NO_IDS)] if speakable else []

    async def encode(
        self, prepared: Prepared, rng: np.random.Generator, sample_offset: int
    ) -> Planned:
        segment = prepared.segment
        started = trio.current_time()
        await self._spend(self.encode_s, "encode")
        self._pace.encoded(trio.current_time() - started)
        if self.fail_on is not None and self.fail_on in segment.text:
            raise RuntimeError(f"injected failure on {segment.text!r}")
        per_char = self.seconds_per_char * self.sample_rate_hz
        words = []
        offset = 0
        for word in segment.text.split():
            start = segment.text.index(word, offset)
            offset = start + len(word)
            words.append(
                WordMark(word, start, offset, int(start * per_char), int(offset * per_char))
            )
        total = max(1, int(len(segment.text.strip()) * per_char))
        source = _FakeChunks(
            segment,
            tuple(words),
            total,
            self.sample_rate_hz,
            self.first_chunk_samples,
            self.chunk_samples,
        )
        return Planned(segment, source, total)

    async def next_chunk(self, planned: Planned) -> AudioChunk:
        source = planned.source
        assert isinstance(source, _FakeChunks)
        started = trio.current_time()
        await self._spend(self.first_chunk_s if source.position == 0 else self.chunk_s, "chunk")
        self._pace.decoded(source.chunks_made, trio.current_time() - started)
        source.chunks_made += 1
        return source.next_chunk()

    async def aclose(self) -> None:
        """No worker threads to wait for."""


def _is_a_backend(fake: FakeBackend) -> Backend:
    return fake  # mypy checks here that FakeBackend satisfies the protocol


class FakeSink(Sink):
    """A sound device that plays in virtual real time.

    A player task takes one ``block_s`` block (10 ms) per block period from
    a queue of ``queue_s`` seconds; ``write`` waits for room. A block it
    cannot fill while an utterance is active is an underrun. ``slowdown``
    > 1 plays slower than real time (a slow consumer), < 1 faster. Hours
    of audio want longer blocks: each block is a scheduler round.
    """

    def __init__(
        self,
        queue_s: float = 0.5,
        slowdown: float = 1.0,
        latency_s: float = 0.0,
        block_s: float = 0.01,
    ) -> None:
        super().__init__()
        self.queue_s = queue_s
        self.block_s = block_s
        self.slowdown = slowdown
        self.latency_s = latency_s
        self.played = 0
        self._queued = 0
        self._peak = 0
        self._active = False
        self._closed = False
        self.underrun_count = 0
        self.keep_audio = False
        self.received: list[np.ndarray] = []
        self.capacity = 0

    async def start(self, voice_rate_hz: int) -> None:
        self.sample_rate_hz = voice_rate_hz
        self.capacity = max(1, int(self.queue_s * voice_rate_hz))
        trio.lowlevel.spawn_system_task(self._player, name="FakeSink player")

    async def _player(self) -> None:
        block = max(1, round(self.sample_rate_hz * self.block_s))
        while not self._closed:
            await trio.sleep(block / self.sample_rate_hz * self.slowdown)
            take = min(block, self._queued)
            if take < block and self._active:
                self.underrun_count += 1
            self._queued -= take
            self.played += take
            self.position.changed()

    async def _put(self, samples: np.ndarray) -> None:
        done = 0
        while done < samples.size:
            room = self.capacity - self._queued
            if room <= 0:
                await self.position.wait_change()
                continue
            take = min(room, samples.size - done)
            if self.keep_audio:
                self.received.append(samples[done : done + take].copy())
            self._queued += take
            done += take
            self._peak = max(self._peak, self._queued)
            self.position.advance(take)

    def heard(self) -> int:
        return self.played

    async def interrupt(self) -> None:
        self.position.drop_to(self.position.accepted - self._queued)
        self._queued = 0
        self._active = False

    def set_active(self, active: bool) -> None:
        self._active = active

    @property
    def queued(self) -> int:
        return self._queued

    @property
    def underruns(self) -> int:
        return self.underrun_count

    @property
    def peak_fill(self) -> int:
        return self._peak

    async def aclose(self) -> None:
        await self.drain()
        self._closed = True
