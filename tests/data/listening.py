"""How a transcript is compared with the words a listener should hear.

Whisper writes what it hears in written form: "example.com", "you@site.org",
"December 25". The reference says the same words as spoken words ("example
dot com", "you at site dot org", "December twenty fifth"). Both sides go
through Whisper's English normalizer (numbers to digits, no punctuation), and
before that the written forms Whisper produces are put back into the words
that were said, so a correct hearing is never counted as an error.

Homophones cannot be told apart by ear ("flour" and "flower" are one
sound); ``equate_homophones`` scores them as one word. Reports give the
figure with and without it.
"""

from __future__ import annotations

import re

from whisper_normalizer.english import EnglishTextNormalizer

_NORMALIZE = EnglishTextNormalizer()
_HOST_DOT = re.compile(r"(?<=[A-Za-z0-9])\.(?=[A-Za-z])")
_AT_SIGN = re.compile(r"(?<=\w)@(?=\w)")
_ORDINAL_SUFFIX = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b")

# Words of the corpora that share a sound with another word: heard -> meant.
HOMOPHONES = {"flower": "flour", "roam": "rome", "do": "due", "knew": "new", "write": "right"}


def spoken_words(text: str, *, equate_homophones: bool = False) -> str:
    """``text`` as a sequence of said words, normalized for scoring."""
    text = _AT_SIGN.sub(" at ", _HOST_DOT.sub(" dot ", text))
    words = _ORDINAL_SUFFIX.sub(r"\1", _NORMALIZE(text)).split()
    if equate_homophones:
        words = [HOMOPHONES.get(word, word) for word in words]
    return " ".join(words)
