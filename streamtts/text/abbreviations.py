"""Titles, abbreviations and units as a person says them (sans-IO).

espeak-ng reads most of these letter by letter ("Sgt." is "S G T", "km"
is "K M"), as written ("Prof." is "proff"), or with the wrong sense
("Oak Dr." is "Oak doctor", "Elm St." is "Elm saint"), and the period
after a title makes it stop before the name. The tables below hold the
classes and their members; :func:`read` says one token in its context,
the token before it and the one after, as published text normalizers do
(Flite's ``us_tokentowords``, NeMo's address and measure grammars):

- a title before a name is said in full ("Gen. Smith": "General Smith");
- "St." and "Dr." are Saint and Doctor before a name, Street and Drive
  after a street's name; "Sr." is Sister before a name and Senior after
  one; "Co." is County before a name and Company after one;
- a unit is a unit only after a numeral ("5 km", "5km"), singular after 1;
  "in" is inches only where nothing else fits ("12 in.", "12 in x 8 in",
  "12 in wide"; not "4 in 10 minutes");
- "No." is "number" only before a numeral ("No. 5"); "No." alone is "no".

Every table is keyed by the lower-case abbreviation without its final
period; units are case-sensitive ("Ms." is a title, "5 ms" milliseconds).
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = [
    "ABBREVIATIONS_THAT_END",
    "NEVER_END",
    "TWO_SENSES",
    "UNITS",
    "Reading",
    "depends_on_next",
    "ends_with_name",
    "ends_with_numeral",
    "read",
]

# -- titles and honorifics: said in full before a name --------------------------------
#
# Civil titles. NeMo text processing's English TTS whitelist (whitelist/tts.tsv:
# Mr., Mrs., Ms., Gov., Hon.), Whisper's English normalizer (gov, sen, rep,
# pres, hon, ald, asst), Gnuspeech's parser list (Mr mister, Mrs missus, Ms
# miz), espeak-ng's en_list (mr, mrs: $dot), and the AP stylebook's titles
# before names (Gov., Sen., Rep., Supt., Amb.).
CIVIL_TITLES = {
    "mr": "Mister",
    "mrs": "Missus",
    "ms": "Miz",
    "messrs": "Messers",
    "mmes": "Mesdames",
    "gov": "Governor",
    "sen": "Senator",
    "rep": "Representative",
    "reps": "Representatives",
    "pres": "President",
    "amb": "Ambassador",
    "supt": "Superintendent",
    "hon": "Honorable",
    "treas": "Treasurer",
    "commr": "Commissioner",
    "insp": "Inspector",
    "det": "Detective",
    "ofc": "Officer",
    "asst": "Assistant",
    "dep": "Deputy",
    "ald": "Alderman",
    "cllr": "Councillor",
}
# Military ranks. NeMo's whitelist (Gen., Col., Capt., Lt., Maj., Sgt.), the
# U.S. armed forces' abbreviations as newspapers write them before a name (AP:
# Gen., Lt. Gen., Col., Lt. Col., Maj., Capt., Lt., Cmdr., Adm., Sgt., Cpl.,
# Pvt., Brig. Gen.). Two-word ranks ("Lt. Gen.") are two titles in a row.
MILITARY_TITLES = {
    "gen": "General",
    "lt": "Lieutenant",
    "col": "Colonel",
    "maj": "Major",
    "capt": "Captain",
    "cmdr": "Commander",
    "cdr": "Commander",
    "adm": "Admiral",
    "sgt": "Sergeant",
    "cpl": "Corporal",
    "pvt": "Private",
    "pfc": "Private First Class",
    "brig": "Brigadier",
    "ens": "Ensign",
    "spc": "Specialist",
    "cmdt": "Commandant",
}
# Religious titles. NeMo's whitelist (Rev.), Whisper's normalizer (rev),
# espeak-ng's en_list (rev: $dot), the usual forms of address (Fr., Msgr.,
# Sr. Sister, Br., Rt. Rev. Right Reverend, Bp., Abp.).
RELIGIOUS_TITLES = {
    "rev": "Reverend",
    "revd": "Reverend",
    "fr": "Father",
    "msgr": "Monsignor",
    "sr": "Sister",
    "br": "Brother",
    "rt": "Right",
    "bp": "Bishop",
    "abp": "Archbishop",
    "ven": "Venerable",
    "dcn": "Deacon",
}
# Academic titles. NeMo's whitelist (Dr., Drs., prof.), Whisper's normalizer
# (prof, assoc, asst), espeak-ng's en_list (dr, prof: $dot).
ACADEMIC_TITLES = {
    "prof": "Professor",
    "profs": "Professors",
    "dr": "Doctor",
    "drs": "Doctors",
    "assoc": "Associate",
}
# Legal titles. NeMo's whitelist (Esq., Jr.), Whisper's normalizer (esq, jr,
# sr senior); "J." and "C.J." after a judge's name ("Holmes, J.") as law
# reports write them.
LEGAL_TITLES = {
    "atty": "Attorney",
}
# Said after a name: "John Smith Jr.", "Jane Doe, Esq.", "Holmes, J.".
AFTER_NAME = {
    "jr": "Junior",
    "sr": "Senior",
    "esq": "Esquire",
    "j": "Justice",
    "c.j": "Chief Justice",
    "jj": "Justices",
}
# Before a place's name. NeMo's whitelist (Mt. Mount, Ft. Fort), espeak-ng's
# en_list (st saint), Flite's St/Dr rule (Saint before a name).
BEFORE_PLACE_NAME = {
    "st": "Saint",
    "mt": "Mount",
    "ft": "Fort",
    "pt": "Point",
    "co": "County",
    "lk": "Lake",
}
# Street suffixes: after a street's name. NeMo's address grammar
# (address/address_word.tsv), the USPS suffix abbreviations (Publication 28,
# appendix C1), Flite's St/Dr rule (Street, Drive after a capitalised word).
STREET_SUFFIXES = {
    "st": "Street",
    "dr": "Drive",
    "ave": "Avenue",
    "av": "Avenue",
    "blvd": "Boulevard",
    "rd": "Road",
    "ln": "Lane",
    "ct": "Court",
    "pl": "Place",
    "sq": "Square",
    "hwy": "Highway",
    "pkwy": "Parkway",
    "ter": "Terrace",
    "cir": "Circle",
    "expy": "Expressway",
    "fwy": "Freeway",
    "jct": "Junction",
    "aly": "Alley",
    "trl": "Trail",
    "plz": "Plaza",
    "hts": "Heights",
    "cres": "Crescent",
    "ctr": "Center",
    "mtn": "Mountain",
}
# Organisations and places after a name: "Acme Co.", "Rhode Is.". NeMo's
# whitelist (Co. company, Ltd. limited, dept., bldg., apt.).
AFTER_ORGANISATION = {
    "co": "Company",
    "is": "Island",
    "univ": "University",
    "dept": "Department",
    "inc": "Incorporated",
    "corp": "Corporation",
    "ltd": "Limited",
    "bros": "Brothers",
    "assn": "Association",
    "intl": "International",
    "natl": "National",
    "govt": "Government",
    "mfg": "Manufacturing",
}
# Said so before a numeral: "No. 5", "Fig. 3", "Apt. 4B". NeMo's whitelist
# (apt., bldg., vol), the Google text normalization data's ABBREVIATION-like
# PLAIN tokens before CARDINALs.
BEFORE_NUMERAL = {
    "no": "number",
    "nos": "numbers",
    "fig": "figure",
    "figs": "figures",
    "vol": "volume",
    "vols": "volumes",
    "ch": "chapter",
    "chap": "chapter",
    "sec": "section",
    "art": "article",
    "p": "page",
    "pp": "pages",
    "pg": "page",
    "apt": "apartment",
    "bldg": "building",
    "rm": "room",
    "ste": "suite",
    "rte": "route",
    "rt": "route",
    "hwy": "highway",
    "ext": "extension",
}
# Compass points inside an address: "123 N. Main St." (Google's ADDRESS class).
DIRECTIONS = {
    "n": "North",
    "s": "South",
    "e": "East",
    "w": "West",
    "ne": "Northeast",
    "nw": "Northwest",
    "se": "Southeast",
    "sw": "Southwest",
}
# Degrees espeak-ng reads with "dot" in them (NeMo's whitelist: Ph.D. "PHD").
DEGREES = {"ph.d": "P H D", "phd": "P H D", "d.phil": "D Phil"}

# -- units: after a numeral, singular after 1 -----------------------------------------
#
# NeMo's measure grammar (measure/unit.tsv), Flite's weights and measures
# (wandm_abbrevs: lb, lbs, ft, kg, km, oz, Hz, kHz, MHz, GHz), SI and US
# customary symbols. Case matters: "ms" is milliseconds, "Ms." a title.
UNITS: dict[str, tuple[str, str]] = {
    # length
    "km": ("kilometer", "kilometers"),
    "m": ("meter", "meters"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "μm": ("micrometer", "micrometers"),
    "nm": ("nanometer", "nanometers"),
    "mi": ("mile", "miles"),
    "yd": ("yard", "yards"),
    "yds": ("yard", "yards"),
    "ft": ("foot", "feet"),
    "in": ("inch", "inches"),
    # mass
    "kg": ("kilogram", "kilograms"),
    "g": ("gram", "grams"),
    "mg": ("milligram", "milligrams"),
    "μg": ("microgram", "micrograms"),
    "mcg": ("microgram", "micrograms"),
    "lb": ("pound", "pounds"),
    "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    # volume
    "L": ("liter", "liters"),
    "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"),
    "gal": ("gallon", "gallons"),
    "qt": ("quart", "quarts"),
    "tsp": ("teaspoon", "teaspoons"),
    "tbsp": ("tablespoon", "tablespoons"),
    # speed
    "mph": ("mile per hour", "miles per hour"),
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "m/s": ("meter per second", "meters per second"),
    "mpg": ("mile per gallon", "miles per gallon"),
    # temperature
    "°C": ("degree Celsius", "degrees Celsius"),
    "ºC": ("degree Celsius", "degrees Celsius"),
    "℃": ("degree Celsius", "degrees Celsius"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "ºF": ("degree Fahrenheit", "degrees Fahrenheit"),
    "℉": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"),
    # energy, power, frequency, sound
    "kWh": ("kilowatt hour", "kilowatt hours"),
    "kW": ("kilowatt", "kilowatts"),
    "MW": ("megawatt", "megawatts"),
    "GW": ("gigawatt", "gigawatts"),
    "W": ("watt", "watts"),
    "V": ("volt", "volts"),
    "mAh": ("milliamp hour", "milliamp hours"),
    "Hz": ("hertz", "hertz"),
    "kHz": ("kilohertz", "kilohertz"),
    "MHz": ("megahertz", "megahertz"),
    "GHz": ("gigahertz", "gigahertz"),
    "dB": ("decibel", "decibels"),
    "kcal": ("kilocalorie", "kilocalories"),
    "cal": ("calorie", "calories"),
    # data
    "KB": ("kilobyte", "kilobytes"),
    "kB": ("kilobyte", "kilobytes"),
    "MB": ("megabyte", "megabytes"),
    "GB": ("gigabyte", "gigabytes"),
    "TB": ("terabyte", "terabytes"),
    "Mbps": ("megabit per second", "megabits per second"),
    "Gbps": ("gigabit per second", "gigabits per second"),
    # time
    "ms": ("millisecond", "milliseconds"),
    "sec": ("second", "seconds"),
    "secs": ("second", "seconds"),
    "min": ("minute", "minutes"),
    "mins": ("minute", "minutes"),
    "h": ("hour", "hours"),
    "hr": ("hour", "hours"),
    "hrs": ("hour", "hours"),
    "wk": ("week", "weeks"),
    "wks": ("week", "weeks"),
    "mo": ("month", "months"),
    "mos": ("month", "months"),
    "yr": ("year", "years"),
    "yrs": ("year", "years"),
    # area, counts
    "ha": ("hectare", "hectares"),
    "pts": ("point", "points"),
}
# Units that are also words or letters ("in", "W" for west, "V" for five):
# a unit when attached ("60W") or, for "in", where no other reading fits.
_ATTACHED_ONLY = frozenset(["W", "V"])
# "sq ft", "cu in": square and cubic, with the unit after them.
POWERS = {"sq": "square", "cu": "cubic"}
# After "12 in", these make it inches: "12 in wide", "8 in x 10 in".
_INCH_CONTEXT = frozenset(
    ["x", "×", "by", "wide", "long", "tall", "high", "deep", "thick", "across", "diameter"]
)


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_NUMBER_WORDS = _word_set(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy "
    "eighty ninety hundred thousand million billion dozen half"
)
# Capitalised at the start of a sentence, never a street's or a person's name:
# "Visit St. Louis", "Ask Dr. Lee" (Flite reads the case of the word before).
_NOT_NAMES = _word_set(
    "a an and or but nor the to of in on at by for from with without near past via into onto "
    "toward towards like as if when then so our my your his her their its this that these "
    "those both all every each visit call ask tell meet see thank thanks dear hello hi hey "
    "welcome congratulations said says told met and per about after before during under "
    "over behind beside between beyond around through"
)

_ARTICLES = ("a", "an")
_EDGE = "\"'“”‘’«»()[]{}<>"
_NUMERAL = re.compile(
    r"[-+−±~≈]?(?:\d[\d,]*(?:\.\d+)?|\.\d+)(?:[-–](?:\d[\d,]*(?:\.\d+)?))?|\d+/\d+"
)
_ATTACHED = re.compile(r"([-+−]?\d[\d,]*(?:\.\d+)?)(-?)(\D\S*)")
_NAME = re.compile(r"[A-Z][\w'’-]*\.?|[A-Z]\.")
_WORD_NAME = re.compile(r"[A-Z][a-z]+(?:['’-][A-Za-z]+)*")
_ORDINAL = re.compile(r"\d+(?:st|nd|rd|th)")
_SIGN = re.compile(r"#(\d[\d,]*)")


class Reading(NamedTuple):
    """What is said for a token's core.

    ``words`` replaces the core; ``keeps_period``: the period written after
    it also ends a sentence and stays; ``uses_next``: the next token is
    said with it ("sq ft": "square feet")."""

    words: str
    keeps_period: bool = False
    uses_next: bool = False


def _bare(token: str | None) -> str:
    return token.strip(_EDGE) if token else ""


def _is_numeral(token: str | None) -> bool:
    bare = _bare(token)
    return bool(_NUMERAL.fullmatch(bare)) or bare.lower() in _NUMBER_WORDS


def _is_one(token: str | None) -> bool:
    bare = _bare(token).lstrip("+-−")
    if bare in ("1", "one"):
        return True
    top, _, bottom = bare.partition("/")
    return top.isdigit() and bottom.isdigit() and 0 < int(top) < int(bottom)


def _is_name(token: str | None) -> bool:
    """A capitalised word follows (a name, an initial, another title)."""
    return token is not None and bool(_NAME.match(token.lstrip(_EDGE)))


def _is_name_before(token: str | None) -> bool:
    """The word just before is a name ("Elm", "Smith"), with nothing between."""
    if token is None:
        return False
    if not _WORD_NAME.fullmatch(token.lstrip(_EDGE)):
        return bool(_ORDINAL.fullmatch(token))  # "5th Ave."
    return token.lower() not in _NOT_NAMES


def _period_ends(following: str | None) -> bool:
    """After a word that is no title, a period ends the sentence when the
    text ends or a capital comes next ("Elm St. Tomorrow ...")."""
    if following is None:
        return True
    bare = following.lstrip(_EDGE)
    return bool(bare) and bare[0].isupper()


def _unit(symbol: str, previous: str | None, following: str | None, one: bool) -> Reading | None:
    names = UNITS.get(symbol)
    if names is None or symbol in _ATTACHED_ONLY or not _is_numeral(previous):
        return None
    if previous is not None and previous != previous.rstrip(",;:"):
        return None  # "5, in ..."
    return Reading(names[0] if one or _is_one(previous) else names[1], _period_ends(following))


def _inch(dotted: bool, words: list[str], following: str | None, one: bool) -> Reading | None:
    """ "in" is inches after a numeral, when nothing else can follow it;
    ``words`` are the tokens before it."""
    if not words or not _is_numeral(words[-1]):
        return None
    nxt = _bare(following).rstrip(".,;:!?").lower()
    times = len(words) >= 2 and words[-2].lower() in ("x", "×", "by")  # "12 in x 8 in"
    # Not before a numeral: "platform 4 in 10 minutes", "1 in 5 people".
    if dotted or times or following is None or nxt in _INCH_CONTEXT:
        name = "inch" if one or _is_one(words[-1]) else "inches"
        return Reading(name, dotted and _period_ends(following))
    return None


def _attached(core: str, following: str | None, one: bool) -> Reading | None:
    """ "5km", "20°C", "a 10-km race" (an adjective: singular)."""
    match = _ATTACHED.fullmatch(core)
    if match is None:
        return None
    number, hyphen, symbol = match.groups()
    names = UNITS.get(symbol)
    if names is None:
        return None
    one = one or hyphen == "-" or _is_one(number)
    return Reading(f"{number} {names[0] if one else names[1]}", _period_ends(following))


def _power(core: str, previous: str | None, following: str | None, one: bool) -> Reading | None:
    """ "500 sq ft", "2 sq. mi.": said with the unit after it."""
    power = POWERS.get(core.lower())
    if power is None or not _is_numeral(previous) or following is None:
        return None
    symbol = following.rstrip(".,;:!?")
    names = UNITS.get(symbol)
    if names is None:
        return None
    singular = one or _is_one(previous)
    return Reading(f"{power} {names[0] if singular else names[1]}", uses_next=True)


# Titles safe to read without their period ("Mr Smith", "Dr Jones"); others
# need it, since "Gen Z" and "Rev up" are not titles.
_UNDOTTED_TITLES = frozenset(
    ["mr", "mrs", "ms", "messrs", "mmes", "dr", "prof", "revd", "sgt", "capt", "cpl", "pvt", "lt"]
)
# Before a numeral only with their period: "No 2 people" is not "number 2".
_NEEDS_DOT = frozenset(["no", "nos", "p", "pp", "art", "rt", "ch", "sec", "ste", "fig", "figs"])
# Before a numeral or a unit's letter: "Apt. 4B", "Bldg. C".
_UNIT_LABELS = frozenset(["apt", "bldg", "rm", "ste"])
# Read by the words around them (see the module docstring).
_BY_CONTEXT = frozenset(["st", "dr", "sr", "co", "ft", "pt", "mt", "lk", "is", "fr", "br", "rt"])
_TITLES: dict[str, str] = {
    **CIVIL_TITLES,
    **MILITARY_TITLES,
    **RELIGIOUS_TITLES,
    **ACADEMIC_TITLES,
    **LEGAL_TITLES,
}
# Written "Sec." or "Min." before a name: a secretary, a minister.
_TITLES.update({"sec": "Secretary", "min": "Minister"})
_AFTER_NAME_ONLY = frozenset(["j", "c.j", "jj"])

# For the segmenter: a period after these never ends a sentence when a name
# or a numeral follows; the rest may end one when a capital follows.
NEVER_END = frozenset(set(_TITLES) - _BY_CONTEXT - set(AFTER_NAME) | {"mt", "ft", "pt", "fr"})
ABBREVIATIONS_THAT_END = frozenset(
    set(STREET_SUFFIXES)
    | (set(AFTER_ORGANISATION) - {"is"})  # "is." ends sentences
    | set(BEFORE_NUMERAL)
    | (set(AFTER_NAME) - _AFTER_NAME_ONLY)
    | {"st", "dr", "sr", "co"}
)
# A title before a name, an abbreviation after one ("Dr. Lee", "Oak Dr.").
TWO_SENSES = frozenset(["st", "dr", "sr", "co"])


def ends_with_name(before: str | None) -> bool:
    """The text ``before`` ends with a name ("on Elm", "John Smith"), not a
    sentence's first word: an "St." or "Dr." after it is a street's."""
    previous, starts_sentence = _words_before(before)
    return previous is not None and not starts_sentence and _is_name_before(previous)


def ends_with_numeral(before: str | None) -> bool:
    """The text ``before`` ends with a numeral: a unit may follow ("5 ft.")."""
    return _is_numeral(_words_before(before)[0])


def depends_on_next(token: str) -> bool:
    """Whether a token's reading may change with the token after it (a front
    end holds it until that token is whole)."""
    core = token.strip(_EDGE + ",;:!?")
    dotted = core.endswith(".")
    core = core.rstrip(".")
    lower = core.lower()
    return (
        lower in _TITLES
        or lower in _BY_CONTEXT
        or lower in STREET_SUFFIXES
        or lower in AFTER_ORGANISATION
        or lower in AFTER_NAME
        or lower in BEFORE_NUMERAL
        or lower in DIRECTIONS
        or lower in POWERS
        or lower in DEGREES
        or core in UNITS
        or (dotted and bool(_ATTACHED.fullmatch(core)))
    )


def _words_before(before: str | None) -> tuple[str | None, bool]:
    """The token just before, and whether it starts a sentence (its case then
    says nothing about it being a name)."""
    if not before or not before.split():
        return None, True
    words = before.split()
    if len(words) == 1:
        return words[0], True
    return words[-1], words[-2].rstrip(_EDGE)[-1:] in ".!?:"


def read(core: str, dotted: bool, before: str | None, following: str | None) -> Reading | None:
    """How a person says ``core`` here, or None if it is no abbreviation here.

    ``core`` is the token without the punctuation around it and without its
    final period; ``dotted``: a period followed it. ``before`` is the text
    before the token (its last two tokens are enough), ``following`` the
    next token, as written (None at the end of the text).
    """
    previous = _words_before(before)[0]
    name_before = ends_with_name(before)
    if (sign := _SIGN.fullmatch(core)) is not None:
        return Reading(f"number {sign.group(1)}")
    if core[:1].isdigit() or core[:1] in "+-−":
        # "a 10km run": a measure before a noun is singular, as in "a 10-km run".
        return _attached(core, following, (previous or "").lower() in _ARTICLES)
    words = (before or "").split()
    one = len(words) >= 2 and words[-2].lower() in _ARTICLES  # "a 30 cm board"
    if core == "in":
        return _inch(dotted, words, following, one)
    if core in UNITS and (unit := _unit(core, previous, following, one)) is not None:
        return unit
    if (power := _power(core, previous, following, one)) is not None:
        return power
    lower = core.lower()
    if lower in DEGREES:
        return Reading(DEGREES[lower], dotted and _period_ends(following))
    if (numbered := _before_numeral(lower, dotted, following)) is not None:
        return numbered
    if lower in _BY_CONTEXT:
        return _by_context(lower, dotted, previous, name_before, following)
    if not (dotted or name_before or lower in _UNDOTTED_TITLES):
        return None
    return _by_table(core, lower, dotted, previous, name_before, following)


def _before_numeral(lower: str, dotted: bool, following: str | None) -> Reading | None:
    """ "No. 5": number; "Apt. 4B": apartment."""
    words = BEFORE_NUMERAL.get(lower)
    if words is None or (lower in _NEEDS_DOT and not dotted):
        return None
    bare = _bare(following)
    if _is_numeral(following) or (bare[:1].isdigit() and lower in _UNIT_LABELS):
        return Reading(words)
    if lower in _UNIT_LABELS and dotted and len(bare.rstrip(".,")) == 1 and bare[0].isupper():
        return Reading(words)
    return None


def _by_context(
    lower: str, dotted: bool, previous: str | None, name_before: bool, following: str | None
) -> Reading | None:
    """St., Dr., Sr., Co. and the place prefixes: the sense the words around give."""
    name_after = _is_name(following) and not _is_numeral(following)
    possessive = _bare(following).rstrip(".,;:!?").endswith(("'s", "’s"))
    ends = dotted and _period_ends(following)
    if lower in ("st", "dr"):
        if possessive and lower == "st":
            return Reading("Saint")
        if name_after and not name_before:
            return Reading(BEFORE_PLACE_NAME["st"] if lower == "st" else "Doctor")
        if name_before or dotted:
            return Reading(STREET_SUFFIXES[lower], ends)
        return None
    if lower == "sr":
        comma_name = previous is not None and _is_name_before(previous.rstrip(","))
        if name_before or (previous is not None and previous.endswith(",") and comma_name):
            return Reading("Senior", ends)
        return Reading("Sister") if name_after else (Reading("Senior", ends) if dotted else None)
    if lower == "co":
        if name_before or previous == "&":
            return Reading("Company", ends)
        return Reading("County") if name_after else (Reading("Company", ends) if dotted else None)
    if lower == "is":
        # "Rhode Is.": only written with its capital and period, after a name.
        return Reading("Island", ends) if dotted and name_before else None
    if not name_after:
        return None
    if lower in ("fr", "br", "rt"):
        return Reading(RELIGIOUS_TITLES[lower])
    return Reading(BEFORE_PLACE_NAME[lower])


def _by_table(
    core: str,
    lower: str,
    dotted: bool,
    previous: str | None,
    name_before: bool,
    following: str | None,
) -> Reading | None:
    """Titles, the words said after a name, street suffixes, organisations."""
    ends = dotted and _period_ends(following)
    if lower in AFTER_NAME:
        if lower in _AFTER_NAME_ONLY:
            # "Holmes, J., dissenting": a judge; "J. R. Smith": an initial.
            after_comma = previous is not None and previous.endswith(",")
            if not (dotted and after_comma and not _is_name(following)):
                return None
        return Reading(AFTER_NAME[lower], ends)
    if lower in _TITLES and core[:1].isupper():
        if _bare(following)[:1].isdigit() or not (dotted or _is_name(following)):
            return None  # "Gen. 1:1" is Genesis
        return Reading(_TITLES[lower], dotted and following is None)
    if lower in STREET_SUFFIXES and (name_before or (dotted and core[:1].isupper())):
        return Reading(STREET_SUFFIXES[lower], ends)
    if lower in AFTER_ORGANISATION and (dotted or name_before):
        return Reading(AFTER_ORGANISATION[lower], ends)
    if lower in DIRECTIONS and core.isupper() and _is_numeral(previous) and _is_name(following):
        return Reading(DIRECTIONS[lower])
    return None
