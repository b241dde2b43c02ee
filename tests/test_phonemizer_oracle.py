"""Our phonemizer against the espeak-ng fork the default voice was trained on.

The training-era phonemizer (piper_phonemize) splits sentences where espeak
does; we phonemize a segment whole and keep espeak's sentence breaks as
punctuation plus a space, so its sentences are joined with a space here.
"""

from __future__ import annotations

import difflib
import unicodedata

import numpy as np
import pytest

from streamtts.text.phoneme_ids import to_phoneme_ids
from streamtts.text.phonemizer import Phonemizer

from .conftest import corpus

piper_phonemize = pytest.importorskip("piper_phonemize")

SENTENCES = corpus("english_sentences.txt")
CLAUSE_PUNCTUATION = set(",.?!;:")


def oracle(text: str) -> str:
    sentences = piper_phonemize.phonemize_espeak(text, "en-us")
    return unicodedata.normalize("NFD", " ".join("".join(s) for s in sentences))


def char_differences(a: str, b: str) -> int:
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return sum(
        max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"
    )


def test_corpus_is_large_and_varied() -> None:
    assert len(SENTENCES) >= 200
    joined = "\n".join(SENTENCES)
    for needle in ("$", "%", "Dr.", "e.g.", "NASA", "https://", "@", '"', "?", ":", ";", "1990"):
        assert needle in joined, needle


def test_matches_training_era_phonemizer() -> None:
    phonemizer = Phonemizer("en-us")
    total = differing = 0
    report = []
    for text in SENTENCES:
        ours = phonemizer.phonemize(text).ipa
        theirs = oracle(text)
        ours_punct = [c for c in ours if c in CLAUSE_PUNCTUATION]
        theirs_punct = [c for c in theirs if c in CLAUSE_PUNCTUATION]
        assert ours_punct == theirs_punct, f"clause punctuation differs for {text!r}"
        diff = char_differences(ours, theirs)
        total += len(theirs)
        differing += diff
        if diff:
            report.append(f"{diff:3d}  {text!r}\n       ours:   {ours}\n       oracle: {theirs}")
    rate = differing / total
    print(f"\n{len(report)}/{len(SENTENCES)} sentences differ; {differing}/{total} = {rate:.2%}")
    print("\n".join(report))
    assert rate <= 0.01


def test_framing_matches_training_era_ids() -> None:
    phonemizer = Phonemizer("en-us")
    id_map = piper_phonemize.get_espeak_map()
    for text in SENTENCES[:60]:
        for sentence in piper_phonemize.phonemize_espeak(text, "en-us"):
            expected = piper_phonemize.phoneme_ids_espeak(sentence)
            ours = to_phoneme_ids(sentence, id_map).ids
            np.testing.assert_array_equal(ours, expected)
        # and our own symbols frame the same way: ^ _ s _ s _ ... $
        ids = to_phoneme_ids(phonemizer.phonemize(text).symbols, id_map).ids
        assert ids[0] == id_map["^"][0] and ids[-1] == id_map["$"][0]
        assert (ids[1:-1:2] == id_map["_"][0]).all()
