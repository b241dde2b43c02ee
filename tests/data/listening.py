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

from streamtts.text.abbreviations import UNITS

_NORMALIZE = EnglishTextNormalizer()
_HOST_DOT = re.compile(r"(?<=[A-Za-z0-9])\.(?=[A-Za-z])")
_AT_SIGN = re.compile(r"(?<=\w)@(?=\w)")
_ORDINAL_SUFFIX = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b")
# Written forms Whisper prints for titles and units that its normalizer
# leaves alone ("Ms. Jones", "Ph.D.", "6 mm"): put back into the words said.
_MS = re.compile(r"\bMs\.?(?=\s+[A-Z])")
_AM_PM = re.compile(r"\b([aApP])\.\s?[mM]\.?(?=\W|$)")  # "9 p.m.": not a host name's dots
_PHD = re.compile(r"\bPh\.?\s?D\b\.?")
_UNIT_AFTER_NUMBER = re.compile(
    r"\b((?:an?\s+)?)(\d[\d,.]*)\s?("
    + "|".join(
        sorted((re.escape(u) for u in UNITS if u.isalpha() and u != "in"), key=len, reverse=True)
    )
    + r")\b"
)
_DEGREES = re.compile(r"(?<![\d,.])(\d[\d,.]*)\s?°\s?([CF]\b)?")

# Words of the corpora that share a sound with another word: heard -> meant.
HOMOPHONES = {"flower": "flour", "roam": "rome", "do": "due", "knew": "new", "write": "right"}


def spoken_words(text: str, *, equate_homophones: bool = False) -> str:
    """``text`` as a sequence of said words, normalized for scoring."""
    text = _AM_PM.sub(r"\1m", _PHD.sub("P H D", _MS.sub("Miz", text)))
    text = _AT_SIGN.sub(" at ", _HOST_DOT.sub(" dot ", text))
    text = _DEGREES.sub(_degrees, _UNIT_AFTER_NUMBER.sub(_unit_words, text))
    words = _ORDINAL_SUFFIX.sub(r"\1", _NORMALIZE(text)).split()
    if equate_homophones:
        words = [HOMOPHONES.get(word, word) for word in words]
    return " ".join(words)


def _unit_words(match: re.Match[str]) -> str:
    article, number, unit = match.groups()
    singular, plural = UNITS[unit]
    one = article or number == "1"  # "a 30 cm board": thirty centimeter
    return f"{article}{number} {singular if one else plural}"


def _degrees(match: re.Match[str]) -> str:
    scale = {"C": " Celsius", "F": " Fahrenheit"}.get(match.group(2) or "", "")
    return f"{match.group(1)} degree{'' if match.group(1) == '1' else 's'}{scale}"
