"""Whole-segment synthesis: the reference path, checked against piper-tts."""

from __future__ import annotations

import numpy as np
import pytest

from streamtts import PiperVoice, SynthesisOptions, Synthesizer
from streamtts.text.phoneme_ids import to_phoneme_ids
from streamtts.text.phonemizer import Phonemizer

from .conftest import corpus

piper = pytest.importorskip("piper")

QUIET = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0)


@pytest.fixture(scope="module")
def reference(voice: PiperVoice):  # type: ignore[no-untyped-def]
    return piper.PiperVoice.load(str(voice.model_path))


@pytest.mark.parametrize("rate", [1.0, 1.3])
def test_equals_piper_tts_with_noise_off(voice: PiperVoice, reference, rate: float) -> None:  # type: ignore[no-untyped-def]
    phonemizer = Phonemizer("en-us")
    options = SynthesisOptions(rate=rate, noise_scale=0.0, noise_w_scale=0.0)
    for text in corpus("english_sentences.txt")[::40]:
        ids = to_phoneme_ids(phonemizer.phonemize(text).symbols, voice.config.phoneme_id_map)
        ours = voice.synthesize_ids(ids, options, np.random.default_rng(0))
        config = piper.SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, length_scale=1.0 / rate)
        theirs = reference.phoneme_ids_to_audio(list(ids.ids), config).reshape(-1)
        assert ours.shape == theirs.shape
        assert np.max(np.abs(ours - theirs)) <= 1e-4, text


def test_seed_makes_noisy_speech_reproducible(voice: PiperVoice) -> None:
    def speak(seed: int) -> np.ndarray:
        synth = Synthesizer(voice, SynthesisOptions(seed=seed))
        return np.concatenate([a.audio for a in synth.speak_whole(["Hello there. How are you?"])])

    first, again, other = speak(7), speak(7), speak(8)
    np.testing.assert_array_equal(first, again)
    assert first.shape != other.shape or np.max(np.abs(first - other)) > 1e-2


def test_no_peak_normalisation(voice: PiperVoice) -> None:
    synth = Synthesizer(voice, QUIET)
    peaks = [float(np.abs(a.audio).max()) for a in synth.speak_whole(["Yes. Hello there, friend."])]
    assert all(0.05 < p < 0.99 for p in peaks)
    assert len(set(peaks)) == len(peaks)  # each segment keeps its own level


def test_rate_changes_duration(voice: PiperVoice) -> None:
    def length(rate: float) -> int:
        synth = Synthesizer(voice, SynthesisOptions(rate=rate, noise_scale=0.0, noise_w_scale=0.0))
        return sum(a.audio.size for a in synth.speak_whole(["A sentence spoken at some pace."]))

    assert length(2.0) < 0.65 * length(1.0)
