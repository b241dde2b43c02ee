"""What a door asks of one utterance, checked in one place.

Every door turns its own fields (Wyoming's ``synthesize`` data, OpenAI's
JSON body, a WebSocket's query, speech-dispatcher's settings) into an
:class:`UtteranceRequest`; the checks every door shares live here, so a
text format or a rate is refused with the same words wherever it comes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .. import config
from ..text.frontend import TextOptions
from .refusals import BAD_REQUEST, Refusal

__all__ = [
    "DELIVERIES",
    "TEXT_FORMATS",
    "UtteranceRequest",
    "delivery",
    "speaking_rate",
    "text_format",
]

TEXT_FORMATS = ("markdown", "plain", "ssml")
DELIVERIES = tuple(config.DELIVERIES)


@dataclass(frozen=True)
class UtteranceRequest:
    """How one utterance is to be spoken.

    - ``reading``: how its text is read (format, reading modes); None
      for the speaker's default.
    - ``rate``: speaking rate on top of the speaker's (1.0 = unchanged).
    - ``voice``: a voice by name; None for the speaker's own.
    - ``delivery``: ``"calm"`` or ``"lively"``; None for the speaker's own.
    """

    reading: TextOptions | None = None
    rate: float = 1.0
    voice: str | None = None
    delivery: str | None = None


def text_format(value: object, param: str = "text_format") -> str:
    """``value`` as a text format, or a refusal that names the choices."""
    if value not in TEXT_FORMATS:
        choices = ", ".join(f"'{name}'" for name in TEXT_FORMATS[:-1])
        raise Refusal(
            BAD_REQUEST, f"{param} must be {choices} or '{TEXT_FORMATS[-1]}'", param=param
        )
    assert isinstance(value, str)
    return value


def delivery(value: object, param: str = "delivery") -> str:
    """``value`` as a delivery, or a refusal that names the choices."""
    if not (isinstance(value, str) and value in DELIVERIES):
        raise Refusal(BAD_REQUEST, f"{param} must be 'calm' or 'lively'", param=param)
    return value


def speaking_rate(
    value: object, *, low: float = 0.25, high: float = 4.0, param: str = "speed"
) -> float:
    """``value`` as a speaking rate in ``[low, high]``, or a refusal."""
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise Refusal(BAD_REQUEST, f"{param} must be a number from {low} to {high}", param=param)
    return float(value)
