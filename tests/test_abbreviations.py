"""Titles, abbreviations and units: what the front end hands on, class by
class, both senses of the ambiguous ones, and where sentences end."""

from __future__ import annotations

import pytest

from streamtts.text.abbreviations import depends_on_next, read
from streamtts.text.frontend import FrontEnd, TextOptions
from streamtts.text.segmenter import Segmenter

from .data.listening import spoken_words
from .data.titles_corpus import DEVELOPMENT


def said(text: str, pieces: int = 1) -> str:
    """The front end's output, the text fed whole or in ``pieces`` pieces."""
    front = FrontEnd(TextOptions())
    size = max(1, len(text) // pieces)
    out = [front.feed(text[k : k + size]) for k in range(0, len(text), size)]
    return "".join(out) + front.flush()


TABLE = [
    # civil titles
    ("Mr. Smith and Mrs. Smith", "Mister Smith and Missus Smith"),
    ("Ms. Jones and Messrs. Brown and Green", "Miz Jones and Messers Brown and Green"),
    ("Gov. Ray, Sen. Lee, Rep. Kim", "Governor Ray, Senator Lee, Representative Kim"),
    ("Pres. Lincoln, Amb. Rice", "President Lincoln, Ambassador Rice"),
    ("Supt. Moss", "Superintendent Moss"),
    ("the Hon. Jane Roe", "the Honorable Jane Roe"),
    ("Mr Smith and Dr Jones", "Mister Smith and Doctor Jones"),
    # military titles
    ("Gen. Smith and Lt. Gen. Jones", "General Smith and Lieutenant General Jones"),
    ("Col. Brown, Maj. Davis, Capt. Reyes", "Colonel Brown, Major Davis, Captain Reyes"),
    ("Cmdr. Hale and Adm. Nelson", "Commander Hale and Admiral Nelson"),
    ("Sgt. Ruiz, Cpl. Ward, Pvt. Cole", "Sergeant Ruiz, Corporal Ward, Private Cole"),
    ("Brig. Gen. Moore", "Brigadier General Moore"),
    # religious titles: Sr. is Sister before a name, Senior after one
    ("Rev. Green and Fr. Brown", "Reverend Green and Father Brown"),
    ("Msgr. Kelly and Br. Thomas", "Monsignor Kelly and Brother Thomas"),
    ("Sr. Mary Joseph", "Sister Mary Joseph"),
    ("John Smith Sr. said so", "John Smith Senior said so"),
    ("The Rt. Rev. John Hale", "The Right Reverend John Hale"),
    # academic: Dr. is Doctor before a name, Drive after a street's name
    ("Prof. Adams and Assoc. Prof. Lee", "Professor Adams and Associate Professor Lee"),
    ("Dr. Smith arrived.", "Doctor Smith arrived."),
    ("Ask Dr. Patel.", "Ask Doctor Patel."),
    ("Turn on Oak Dr. after the bridge.", "Turn on Oak Drive after the bridge."),
    ("her Ph.D. thesis", "her P H D thesis"),
    # legal
    ("Jane Doe, Esq., and Atty. Kim", "Jane Doe, Esquire, and Attorney Kim"),
    ("John Smith Jr. came", "John Smith Junior came"),
    ("Holmes, J., dissenting", "Holmes, Justice, dissenting"),
    # places: St. is Saint before a name, Street after one
    ("He moved to St. Louis.", "He moved to Saint Louis."),
    ("St. Mark's Place and Old St. Paul's.", "Saint Mark's Place and Old Saint Paul's."),
    ("Main St. is closed.", "Main Street is closed."),
    ("He lives on Elm St. Tomorrow he moves.", "He lives on Elm Street. Tomorrow he moves."),
    ("He lives on Elm St.", "He lives on Elm Street."),
    ("Fifth Ave. or Sunset Blvd. or Ocean Rd.", "Fifth Avenue or Sunset Boulevard or Ocean Road."),
    ("Maple Ln., Pine Ct., Union Sq.", "Maple Lane, Pine Court, Union Square."),
    ("Hwy. 1 to the Garden State Pkwy. north", "highway 1 to the Garden State Parkway north"),
    ("Mt. Rainier, Ft. Worth, Pt. Reyes", "Mount Rainier, Fort Worth, Point Reyes"),
    ("Acme Co. in Dublin, Co. Kerry", "Acme Company in Dublin, County Kerry"),
    ("the Univ. of Iowa, Dept. of History", "the University of Iowa, Department of History"),
    ("123 N. Main St. near Rhode Is. now", "123 North Main Street near Rhode Island now"),
    # units: after a numeral, singular after one, "in" only where it is inches
    ("5 km and 1 km", "5 kilometers and 1 kilometer"),
    ("a 30 cm board and 6 mm holes", "a 30 centimeter board and 6 millimeters holes"),
    ("2 kg, 50 mg, 8 oz, 1 lb, 40 lbs", "2 kilograms, 50 milligrams, 8 ounces, 1 pound, 40 pounds"),
    ("6 ft tall and 12 in wide", "6 feet tall and 12 inches wide"),
    ("a 12 in. ruler", "a 12 inch ruler"),
    ("He scored 3 in the first half", "He scored 3 in the first half"),
    ("platform 4 in 10 minutes, 1 in 5 people", "platform 4 in 10 minutes, 1 in 5 people"),
    ("a 12 in x 8 in frame", "a 12 inch x 8 inches frame"),
    ("20 mi at 45 mph", "20 miles at 45 miles per hour"),
    ("300 km/h", "300 kilometers per hour"),
    ("20°C, 75 °F, 1 °C", "20 degrees Celsius, 75 degrees Fahrenheit, 1 degree Celsius"),
    ("3 kWh, 4 MB, 2 GB, 250 ms", "3 kilowatt hours, 4 megabytes, 2 gigabytes, 250 milliseconds"),
    ("45 min, 1 hr, 3 hrs, 10 sec", "45 minutes, 1 hour, 3 hours, 10 seconds"),
    ("5km, a 10-km race", "5 kilometers, a 10 kilometer race"),
    ("2,500 sq ft", "2,500 square feet"),
    ("the km and the in crowd", "the km and the in crowd"),
    # No. is number only before a numeral
    ("Room No. 5 is on the left.", "Room number 5 is on the left."),
    ("No. I do not.", "No. I do not."),
    ("It's #1 on the list.", "It's number 1 on the list."),
    ("See Fig. 3 and p. 12, Apt. 4B.", "See figure 3 and page 12, apartment 4B."),
    # not titles
    ("Gen Z will Rev up", "Gen Z will Rev up"),
    ("Gen. 1:1", "Gen. 1:1"),
]  # fmt: skip


@pytest.mark.parametrize(("written", "spoken"), TABLE)
def test_written_to_spoken(written: str, spoken: str) -> None:
    assert said(written) == spoken


@pytest.mark.parametrize(("written", "spoken"), TABLE[::5])
def test_any_split_reads_the_same(written: str, spoken: str) -> None:
    for pieces in (2, 3, len(written)):
        assert said(written, pieces) == spoken, pieces


@pytest.mark.parametrize(("written", "heard"), DEVELOPMENT)
def test_development_corpus_is_said_as_written_down(written: str, heard: str) -> None:
    assert spoken_words(said(written)) == spoken_words(heard)


def sentences(text: str) -> list[str]:
    segmenter = Segmenter()
    return [s.text.strip() for s in segmenter.feed(text) + segmenter.flush()]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dr. Smith arrived.", ["Dr. Smith arrived."]),
        ("He lives on Elm St. Tomorrow he moves.", ["He lives on Elm St.", "Tomorrow he moves."]),
        ("Ask Dr. Lee. He knows.", ["Ask Dr. Lee.", "He knows."]),
        ("Lt. Gen. Jones and Sgt. Maj. Ruiz came.", ["Lt. Gen. Jones and Sgt. Maj. Ruiz came."]),
        ("Room No. 5 is open. No. It is shut.", ["Room No. 5 is open.", "No.", "It is shut."]),
        ("Turn onto Oak Dr. Then stop.", ["Turn onto Oak Dr.", "Then stop."]),
        ("John Smith Jr. Then he left.", ["John Smith Jr.", "Then he left."]),
        ("It grew 5 ft. Then it stopped.", ["It grew 5 ft.", "Then it stopped."]),
        ("Visit St. Louis and Mt. Hood today.", ["Visit St. Louis and Mt. Hood today."]),
        ("See Apt. 4 and Fig. 2 now.", ["See Apt. 4 and Fig. 2 now."]),
    ],
)
def test_sentences_end_by_what_the_abbreviation_is(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_tokens_whose_reading_waits_for_the_next() -> None:
    for token in ("Dr.", "St.", "No.", "km", "in", "Gen.", "sq", "Ph.D."):
        assert depends_on_next(token), token
    for token in ("hello", "Smith", "5", "U.S.", "the"):
        assert not depends_on_next(token), token


def test_context_decides() -> None:
    assert read("St", True, "to", "Louis") == ("Saint", False, False)
    assert read("St", True, "on Elm", "Tomorrow") == ("Street", True, False)
    assert read("St", True, "on Elm", "is") == ("Street", False, False)
    assert read("Dr", True, None, "Smith") == ("Doctor", False, False)
    assert read("Dr", True, "on Oak", None) == ("Drive", True, False)
    assert read("in", False, "scored 3", "the") is None
    assert read("No", True, None, "I") is None
    assert read("No", True, "Room", "5") == ("number", False, False)
