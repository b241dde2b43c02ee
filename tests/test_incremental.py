"""Chunked decoding equals whole-segment synthesis, with noise on."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamtts import ConfigError, PiperVoice, SynthesisOptions
from streamtts.messages import Segment
from streamtts.text.phoneme_ids import to_phoneme_ids
from streamtts.text.phonemizer import Phonemizer
from streamtts.voices.incremental import ChunkSchedule, IncrementalDecoder, segment_timing

from .conftest import corpus

SENTENCES = corpus("english_sentences.txt")
PHONEMIZER = Phonemizer("en-us")

# Growing schedules start as small as one frame (1, 1, 2, 3, 5, ... at
# 1.5); flat ones (growth 1) start from 8 frames, since a flat run of
# one-frame chunks is hundreds of decoder calls and covers no other case.
schedules = st.one_of(
    st.builds(
        ChunkSchedule,
        first_chunk_frames=st.integers(1, 24),
        growth=st.sampled_from([1.5, 2.0, 3.0]),
        max_chunk_frames=st.integers(24, 300),
    ),
    st.builds(
        ChunkSchedule,
        first_chunk_frames=st.integers(8, 24),
        growth=st.just(1.0),
        max_chunk_frames=st.integers(24, 300),
    ),
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.sampled_from(SENTENCES),
    schedule=schedules,
    seed=st.integers(0, 2**32 - 1),
    rate=st.sampled_from([0.8, 1.0, 1.4]),
)
def test_chunks_equal_whole_segment_and_tile_the_audio(
    voice: PiperVoice, text: str, schedule: ChunkSchedule, seed: int, rate: float
) -> None:
    phonemes = PHONEMIZER.phonemize(text)
    ids = to_phoneme_ids(phonemes.symbols, voice.config.phoneme_id_map)
    plan = voice.encode(ids, SynthesisOptions(seed=seed, rate=rate), np.random.default_rng(seed))
    whole = voice.decode(plan, voice.flow(plan, 0, plan.frames))
    timing = segment_timing(plan, phonemes, voice.samples_per_frame)
    chunks = list(
        IncrementalDecoder(voice, plan, timing, Segment(text, 0, len(text), "end", 3), schedule)
    )

    # Same samples as the whole segment (noise on: the plan holds the noise).
    joined = np.concatenate([c.samples for c in chunks])
    assert joined.shape == whole.shape
    assert np.max(np.abs(joined - whole)) <= 1e-4

    # Chunks tile [0, total) in order, the first one as scheduled.
    assert chunks[0].samples.size == min(schedule.first_chunk_frames, plan.frames) * 256
    starts = [c.start_sample for c in chunks]
    ends = [c.end_sample for c in chunks]
    assert starts == [0, *ends[:-1]] and ends[-1] == whole.size
    assert [c.is_last for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert {c.segment_index for c in chunks} == {3}

    # Phoneme timings cover the audio exactly once; words are in order,
    # inside the audio, each attached to the chunk where it starts.
    bounds = timing.id_bounds
    assert bounds[0] == 0 and bounds[-1] == whole.size and np.all(np.diff(bounds) >= 0)
    marks = [(m, c) for c in chunks for m in c.marks]
    assert [m for m, _ in marks] == list(timing.words)
    for mark, chunk in marks:
        assert (
            chunk.start_sample <= mark.start_sample < max(chunk.end_sample, mark.start_sample + 1)
        )
        assert 0 <= mark.start_sample <= mark.end_sample <= whole.size
    for before, after in zip(timing.words, timing.words[1:], strict=False):
        assert before.end_sample <= after.start_sample


def test_measured_receptive_fields_are_exact(voice: PiperVoice) -> None:
    """The measured fields keep chunks equal to the whole segment (float
    rounding); clearly shorter contexts do not (the far edge of the field
    carries little weight, so one frame short is still close)."""
    assert (voice.flow_context_frames, voice.decoder_context_frames) == (32, 11)
    phonemes = PHONEMIZER.phonemize(SENTENCES[5])
    ids = to_phoneme_ids(phonemes.symbols, voice.config.phoneme_id_map)
    plan = voice.encode(ids, SynthesisOptions(), np.random.default_rng(2))
    whole = voice.decode(plan, voice.flow(plan, 0, plan.frames))
    timing = segment_timing(plan, phonemes, voice.samples_per_frame)

    def error(flow: int, decoder: int) -> float:
        schedule = ChunkSchedule(
            first_chunk_frames=5,
            growth=1.0,
            max_chunk_frames=5,
            flow_context_frames=flow,
            decoder_context_frames=decoder,
        )
        chunks = IncrementalDecoder(voice, plan, timing, Segment("", 0, 0, "end", 0), schedule)
        return float(np.max(np.abs(np.concatenate([c.samples for c in chunks]) - whole)))

    assert error(32, 11) <= 1e-5
    assert error(8, 11) > 1e-4
    assert error(32, 3) > 1e-4


def test_words_map_to_their_text(voice: PiperVoice) -> None:
    text = "It costs $3.50 today, Dr. Smith."
    phonemes = PHONEMIZER.phonemize(text)
    ids = to_phoneme_ids(phonemes.symbols, voice.config.phoneme_id_map)
    plan = voice.encode(ids, SynthesisOptions(), np.random.default_rng(0))
    words = [w.text for w in segment_timing(plan, phonemes, 256).words]
    assert words == ["It", "costs", "$3.50", "today", "Dr", "Smith"]


def test_schedule_sizes_cover_the_frames() -> None:
    schedule = ChunkSchedule(first_chunk_frames=8, growth=3.0, max_chunk_frames=100)
    assert list(schedule.sizes(500)) == [8, 24, 72, 100, 100, 100, 96]
    assert list(ChunkSchedule().sizes(600)) == [8, 20, 50, 125, 128, 128, 128, 13]
    assert list(schedule.sizes(5)) == [5]
    assert list(schedule.sizes(0)) == []
    with pytest.raises(ConfigError):
        ChunkSchedule(first_chunk_frames=0)
    with pytest.raises(ConfigError):
        ChunkSchedule(growth=0.5)
