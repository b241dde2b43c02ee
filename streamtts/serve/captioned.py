"""Speech with word timings over HTTP: ``POST /dev/captioned_speech``, in
the shape Kokoro-FastAPI's clients already parse.

The request takes OpenAI's speech fields (``input``, ``voice``, ``speed``,
``response_format`` ``wav`` or ``pcm``) and Kokoro-FastAPI's (``stream``,
default true; ``return_timestamps``, default true); ``lang_code``,
``volume_multiplier``, ``normalization_options`` and
``return_download_link`` are read and checked but change nothing here (one
loaded voice; its own level; our own front end; nothing is kept on disk).

Streamed (the default), the response is newline-delimited JSON, a line as
each piece of audio is made, not per sentence: ``{"audio": base64,
"audio_format": "audio/wav", "timestamps": [{"word", "start_time",
"end_time"}]}``. A word's line is the first one after its start was made,
so its time may point into the line before. Times are seconds of the
returned audio, from the sample positions the engine already has for each
word (when it is heard), not estimated from the text. Not streamed, one
JSON object with all of it.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from starlette.types import Message

from ..conversation import outputs
from ..conversation.inputs import Speak
from ..conversation.refusals import BAD_REQUEST, Refusal
from .formats import RESPONSE_FORMATS, AudioEncoder
from .limits import HttpLimits
from .openai import AudioEndpoint, body_message, json_body, loudness_field, speak_fields
from .session import ServerState

__all__ = [
    "CaptionedRequest",
    "CaptionedResponse",
    "captioned_speech_endpoint",
    "parse_captioned_request",
]

NDJSON = "application/x-ndjson"


@dataclass(frozen=True)
class CaptionedRequest:
    response_format: str
    stream: bool
    timestamps: bool
    speak: Speak
    loudness_lufs: float | None = None


def _flag(fields: dict[str, Any], name: str, default: bool) -> bool:
    value = fields.get(name, default)
    if not isinstance(value, bool):
        raise Refusal(BAD_REQUEST, f"'{name}' must be true or false", param=name)
    return value


def parse_captioned_request(body: bytes, voice_name: str) -> CaptionedRequest:
    """The request model of ``/dev/captioned_speech``; raises a :class:`Refusal`."""
    fields = json_body(body)
    speak, response_format = speak_fields(fields, voice_name, default_format="wav")
    stream = _flag(fields, "stream", True)
    timestamps = _flag(fields, "return_timestamps", True)
    _flag(fields, "return_download_link", False)
    volume = fields.get("volume_multiplier", 1.0)
    if not isinstance(volume, (int, float)) or isinstance(volume, bool) or volume <= 0:
        message = "'volume_multiplier' must be a positive number"
        raise Refusal(BAD_REQUEST, message, param="volume_multiplier")
    if not isinstance(fields.get("lang_code", ""), (str, type(None))):
        raise Refusal(BAD_REQUEST, "'lang_code' must be a string", param="lang_code")
    loudness = loudness_field(fields)
    return CaptionedRequest(response_format, stream, timestamps, speak, loudness)


class CaptionedResponse:
    """The conversation's reports → NDJSON lines of audio and word times (sans-IO)."""

    def __init__(self, request: CaptionedRequest, voice_rate_hz: int) -> None:
        self.request = request
        self.voice_rate_hz = voice_rate_hz
        self.encoder = AudioEncoder(voice_rate_hz, request.response_format)
        self.content_type = RESPONSE_FORMATS[request.response_format]
        self.started = False
        self.ended = False
        self._words: list[dict[str, object]] = []  # heard, not yet sent
        self._held: list[bytes] = []  # the whole response's audio, when not streamed
        self._header = self.encoder.start()  # a WAV header goes before the first samples
        self._all_words: list[dict[str, object]] = []

    def messages(self, report: outputs.ClientReport) -> list[Message]:
        if isinstance(report, outputs.Started):
            self.started = True
            media = NDJSON if self.request.stream else "application/json"
            headers = [(b"content-type", media.encode()), (b"cache-control", b"no-store")]
            return [{"type": "http.response.start", "status": 200, "headers": headers}]
        if isinstance(report, outputs.HeardWord) and self.request.timestamps:
            word = report.event
            end = max(word.end_position, word.position)
            timing = {"word": word.word, "start_time": round(word.position / self.voice_rate_hz, 4)}
            timing["end_time"] = round(end / self.voice_rate_hz, 4)
            self._words.append(timing)
            return []
        if isinstance(report, outputs.Audio):
            data, self._header = self._header + self.encoder.encode(report.samples), b""
            return self._line(data, more=True)
        if isinstance(report, (outputs.Done, outputs.Stopped)):
            self.ended = True
            data, self._header = self._header + self.encoder.finish(), b""
            return self._line(data, more=False)
        if isinstance(report, outputs.Error) and self.started:
            self.ended = True
            error = {"error": {"message": report.refusal.message, "code": report.refusal.code}}
            return [body_message(json.dumps(error).encode() + b"\n", more=False)]
        return []

    def _line(self, data: bytes, *, more: bool) -> list[Message]:
        words, self._words = self._words, []
        if not self.request.stream:
            self._held.append(data)
            self._all_words += words
            if more:
                return []
            data, words = b"".join(self._held), self._all_words
        elif more and not data and not words:
            return []
        line = {
            "audio": base64.b64encode(data).decode("ascii"),
            "audio_format": self.content_type,
            "timestamps": words,
        }
        return [body_message(json.dumps(line).encode() + b"\n", more=more)]


def captioned_speech_endpoint(state: ServerState, limits: HttpLimits) -> AudioEndpoint:
    """``POST /dev/captioned_speech``."""
    return AudioEndpoint(
        state, limits, parse_captioned_request, CaptionedResponse, door="captioned"
    )
