"""What speech-dispatcher has ``SET`` for the next messages, and what it
makes of a message (sans-IO).

- ``rate`` -100…100 → speaking rate 0.4×…4× the voice's pace (below 0
  2.5 ** (rate / 100), as the espeak-ng module's 80…170 words a minute;
  above 0 4 ** (rate / 100): 50 is 2×, 100 is 4×, about 740 words a
  minute, past the espeak-ng module's 449 at 100; ``voices/tempo.py``);
- ``volume`` -100…100 → gain 0…2 (0 is the voice's own level);
- ``pitch`` -100…100 → 6 semitones down…up (``voices/pitch.py``: the
  voice's timbre moves with it; ``pitch_range`` is not supported);
- ``punctuation_mode`` none/some/most/all, ``spelling_mode`` on/off,
  ``cap_let_recogn`` none/spell/icon (spell: "cap" said; icon: a short
  tone) → the front end's reading modes;
- ``synthesis_voice`` and ``language`` → the voice for the message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..config import MAX_RATE
from ..conversation.inputs import Speak
from ..conversation.requests import UtteranceRequest
from ..text import reading
from ..text.frontend import TextOptions
from .protocol import Command

__all__ = ["Settings", "speak_input", "speaking_rate"]

_log = logging.getLogger("streamtts.speechd")

# Names made for the listener already (a character, a key): read as given.
_AS_WRITTEN = TextOptions(normalize=False)

_PUNCTUATION = {"none", "some", "most", "all"}
_CAPITALS = {"none": "none", "spell": "cap", "icon": "tone"}


@dataclass
class Settings:
    """What speech-dispatcher has SET for the next messages."""

    rate: int = 0
    volume: int = 0
    pitch: int = 0
    punctuation: str = "none"
    spelling: bool = False
    capitals: str = "none"
    voice_name: str | None = None  # synthesis_voice: a name from LIST VOICES
    language: str | None = None

    def update(self, values: dict[str, str]) -> bool:
        """Apply ``values``; False if one of them makes no sense."""
        good = True
        for key, value in values.items():
            try:
                if key == "rate":
                    self.rate = max(-100, min(100, int(value)))
                elif key == "volume":
                    self.volume = max(-100, min(100, int(value)))
                elif key == "punctuation_mode":
                    if value not in _PUNCTUATION:
                        raise ValueError(value)
                    self.punctuation = value
                elif key == "spelling_mode":
                    self.spelling = value == "on"
                elif key == "cap_let_recogn":
                    self.capitals = _CAPITALS[value]
                elif key == "synthesis_voice":
                    self.voice_name = None if value == "NULL" else value
                elif key == "language":
                    self.language = None if value == "NULL" else value
                elif key == "pitch":
                    self.pitch = max(-100, min(100, int(value)))
                elif key == "pitch_range" and value not in ("0", "NULL"):
                    _log.info("pitch range is not supported; pitch is")
            except (ValueError, KeyError):
                good = False
        return good

    def wrap(self, ssml: str) -> str:
        """The message inside a prosody for the session's rate, volume and
        pitch (-100…100 → 6 semitones down…up)."""
        rate = 100 * speaking_rate(self.rate)
        volume = self.volume + 100
        pitch = f' pitch="{6 * self.pitch / 100:+.2f}st"' if self.pitch else ""
        return (
            f'<speak><prosody rate="{rate:.0f}%" volume="{volume}%"{pitch}>{ssml}</prosody></speak>'
        )

    def text_options(self) -> TextOptions:
        return TextOptions(
            format="ssml", punctuation=self.punctuation, capitals=self.capitals,
            spell=self.spelling,
        )  # fmt: skip


def speaking_rate(rate: int) -> float:
    """speech-dispatcher's rate (-100…100) as a factor on the voice's pace."""
    top = MAX_RATE if rate > 0 else 2.5
    return float(top ** (rate / 100))


def speak_input(command: Command, settings: Settings, voice: str | None) -> Speak:
    """A ``SPEAK``, ``CHAR``, ``KEY`` or ``SOUND_ICON`` as the conversation's input."""
    text = command.text
    if command.name == "CHAR":
        said = reading.say_character(" " if text == "space" else text)
        return Speak(said, UtteranceRequest(reading=_AS_WRITTEN, voice=voice))
    if command.name == "KEY":
        return Speak(reading.say_key(text), UtteranceRequest(reading=_AS_WRITTEN, voice=voice))
    if command.name == "SOUND_ICON":  # said by name: no icon sounds are played
        return Speak(text.replace("_", " "), UtteranceRequest(voice=voice))
    request = UtteranceRequest(reading=settings.text_options(), voice=voice)
    return Speak(settings.wrap(text), request)
