"""Written forms a person reads differently than espeak-ng does (sans-IO).

espeak-ng reads ``€120`` as "euros one hundred twenty", ``12/25/2023`` as
"twelve slash twenty five slash ...", ``1/2`` as "one slash two", a URL
symbol by symbol, and titles, abbreviations and units letter by letter or
in the wrong sense (``abbreviations.py``). :func:`normalize_token` rewrites
one whitespace-delimited token (with the tokens around it, for "$2.5
billion", "St. Louis", "Elm St." and "5 km") into what a person says. Each
rule works on a whole token, so a streaming caller only has to wait for a
token to end, and to hold one whose reading depends on the next.
"""

from __future__ import annotations

import re

from . import abbreviations

__all__ = ["holds_for_next", "normalize_token", "says_url"]

_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_ORDINAL_DENOMINATORS = {
    2: ("half", "halves"),
    3: ("third", "thirds"),
    4: ("quarter", "quarters"),
    5: ("fifth", "fifths"),
    6: ("sixth", "sixths"),
    8: ("eighth", "eighths"),
    10: ("tenth", "tenths"),
    12: ("twelfth", "twelfths"),
    16: ("sixteenth", "sixteenths"),
    100: ("hundredth", "hundredths"),
}
_CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "¥": ("yen", "yen", "", ""),
    "₹": ("rupee", "rupees", "paisa", "paise"),
}
_SCALES = {"thousand", "million", "billion", "trillion", "k", "m", "bn"}
_SCALE_WORDS = {"k": "thousand", "m": "million", "bn": "billion"}
# Abbreviations read the same wherever they stand; titles, places, units
# and "No." depend on the words around them (abbreviations.py).
_ABBREVIATIONS = {
    "e.g.": "for example",
    "i.e.": "that is",
    "etc.": "et cetera",
    "vs.": "versus",
    "approx.": "approximately",
    "appt.": "appointment",
}
_EDGE = "\"'“”‘’«»()[]{}<>,;:!?"
_MONEY = re.compile(r"^([$€£¥₹])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?$")
_DATE_SLASH = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_FRACTION = re.compile(r"^(\d{1,2})/(\d{1,3})$")
_EMAIL = re.compile(r"^[\w.+-]+@([\w-]+\.)+[A-Za-z]{2,}$")
_URL = re.compile(r"^(?:https?://|www\.)[^\s]+$", re.IGNORECASE)
_HOST = re.compile(r"^(?:https?://)?(?:www\.)?([^/:?#\s]+)", re.IGNORECASE)


def says_url(url: str) -> str:
    """A URL as a person reads it out: its host name ("docs dot python dot org")."""
    match = _HOST.match(url)
    host = match.group(1) if match else url
    return " dot ".join(part for part in host.split(".") if part)


def _ordinal(day: int) -> str:
    if 10 <= day % 100 <= 20:
        return f"{day}th"
    return f"{day}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th') }"


def _date(month: int, day: int, year: str) -> str | None:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    if len(year) == 2:
        year = f"20{year}"
    return f"{_MONTHS[month - 1]} {_ordinal(day)}, {year}"


def _money(symbol: str, whole: str, cents: str | None, scale: str | None) -> str:
    one, many, sub_one, sub_many = _CURRENCIES[symbol]
    if scale is not None:
        number = whole + (f".{cents}" if cents else "")
        return f"{number} {_SCALE_WORDS.get(scale.lower(), scale)} {many}"
    amount = int(whole.replace(",", ""))
    words = f"{whole} {one if amount == 1 else many}"
    if cents and sub_one:
        value = int((cents + "0")[:2])
        if value:
            words += f" and {value} {sub_one if value == 1 else sub_many}"
    elif cents:
        words = f"{whole}.{cents} {many}"
    return words


def _split_edges(token: str) -> tuple[str, str, str]:
    """Leading punctuation, the core, trailing punctuation (a final period
    stays with the core when the core is an abbreviation)."""
    start, end = 0, len(token)
    while start < end and token[start] in _EDGE:
        start += 1
    while end > start and (token[end - 1] in _EDGE or token[end - 1] == "."):
        end -= 1
    core = token[start:end]
    if token[end:].startswith(".") and f"{core.lower()}." in _ABBREVIATIONS:
        end += 1
        core = token[start:end]
    return token[:start], core, token[end:]


def holds_for_next(token: str) -> bool:
    """Whether ``token`` is read only once the token after it is known: a
    money amount ("$2.5 billion"), a title or abbreviation ("St. Louis",
    "Elm St.", "No. 5"), a unit ("5 km." ends a sentence or not)."""
    return token[:1] in _CURRENCIES or abbreviations.depends_on_next(token)


def normalize_token(
    token: str, next_token: str | None, previous: str | None = None
) -> tuple[str, bool]:
    """What to say for ``token``; and whether it used ``next_token`` too.

    ``next_token`` is the token after it (None at the end of the text);
    ``previous`` the text before it (its last two tokens are enough; None
    at the start). A money amount followed by "billion", or "sq" followed
    by "ft", is said together with the next token.
    """
    lead, core, trail = _split_edges(token)
    if not core:
        return token, False
    lower = core.lower()
    if lower in _ABBREVIATIONS:
        return lead + _ABBREVIATIONS[lower] + trail.lstrip("."), False
    dotted = trail.startswith(".")
    reading = abbreviations.read(core, dotted, previous, next_token)
    if reading is not None:
        return _said(lead, reading, trail, dotted, next_token)
    if (money := _MONEY.match(core)) is not None:
        symbol, whole, cents = money.groups()
        scale = None
        used = False
        if next_token is not None:
            next_core = next_token.strip(_EDGE + ".").lower()
            if next_core in _SCALES:
                scale, used = next_core, True
                trail = next_token[len(next_token.rstrip(_EDGE + ".")) :] or trail
        return lead + _money(symbol, whole, cents, scale) + trail, used
    if (date := _DATE_SLASH.match(core)) is not None:
        spoken = _date(int(date.group(1)), int(date.group(2)), date.group(3))
        if spoken is not None:
            return lead + spoken + trail, False
    if (iso := _DATE_ISO.match(core)) is not None:
        spoken = _date(int(iso.group(2)), int(iso.group(3)), iso.group(1))
        if spoken is not None:
            return lead + spoken + trail, False
    if (fraction := _FRACTION.match(core)) is not None:
        top, bottom = int(fraction.group(1)), int(fraction.group(2))
        names = _ORDINAL_DENOMINATORS.get(bottom)
        if names is not None and 0 < top < bottom * 10:
            return lead + f"{top} {names[0] if top == 1 else names[1]}" + trail, False
    if _EMAIL.match(core):
        user, host = core.split("@", 1)
        return lead + f"{user.replace('.', ' dot ')} at {says_url(host)}" + trail, False
    if _URL.match(core):
        return lead + says_url(core) + trail, False
    return token, False


def _said(
    lead: str,
    reading: abbreviations.Reading,
    trail: str,
    dotted: bool,
    next_token: str | None,
) -> tuple[str, bool]:
    """A title's, abbreviation's or unit's words in place of its token: its
    period stays only where it also ends the sentence ("Elm Street.
    Tomorrow"), never before a comma ("Jane Doe, Esquire, ...")."""
    rest = trail[1:] if dotted else trail
    if reading.uses_next and next_token is not None:
        rest = next_token[len(next_token.rstrip(_EDGE + ".")) :]
    period = "." if dotted and reading.keeps_period and rest[:1] not in (",", ";", ":") else ""
    return lead + reading.words + period + rest, reading.uses_next
