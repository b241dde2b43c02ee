"""The HTTP and WebSocket doors' limits, each with its reason."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HttpLimits"]


@dataclass(frozen=True)
class HttpLimits:
    body_bytes: int = 64 * 1024  # a speech request is text and a few fields
    input_chars: int = 4096  # OpenAI's limit for /v1/audio/speech
    message_bytes: int = 64 * 1024  # one WebSocket message
    stream_chars: int = 200_000  # all the text of one WebSocket utterance
    idle_s: float = 120.0  # a WebSocket with no message for this long is closed
