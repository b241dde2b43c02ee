"""What a conversation refuses, and why: one vocabulary for every door.

A :class:`Refusal` carries a code (a door maps it to its wire: Wyoming's
``error`` code, an HTTP status, a WebSocket ``error`` message, a
speech-dispatcher reply), a message that says what to do, and for HTTP the
request field at fault. Doors never choose a status by reading a message.
"""

from __future__ import annotations

from ..errors import StreamTTSError

__all__ = [
    "AT_CAPACITY",
    "BAD_INPUT",
    "BAD_REQUEST",
    "BODY_TOO_LARGE",
    "BUSY",
    "IDLE",
    "INTERNAL",
    "OUTSIDE_STREAM",
    "PROTOCOL_ERROR",
    "TOO_LONG",
    "UNKNOWN_EVENT",
    "UNKNOWN_VOICE",
    "Refusal",
]

# The codes. Wyoming's error events carry them as they are.
BAD_REQUEST = "bad-request"  # a request the door cannot read (a field missing, mistyped)
UNKNOWN_VOICE = "unknown-voice"
TOO_LONG = "too-long"  # text over the door's limit
BODY_TOO_LARGE = "body-too-large"  # a request body over the door's limit (HTTP 413)
BUSY = "busy"  # one utterance at a time on this connection
OUTSIDE_STREAM = "outside-stream"  # streamed text with no stream open
UNKNOWN_EVENT = "unknown-event"
PROTOCOL_ERROR = "protocol-error"  # bytes that are not the protocol: the connection ends
IDLE = "idle"  # nothing arrived for too long: the connection ends
AT_CAPACITY = "at-capacity"  # the machine cannot take another real-time stream now
BAD_INPUT = "bad-input"  # text that cannot be spoken (InputTextError)
INTERNAL = "internal"  # a fault inside streamtts; the connection lives on


class Refusal(StreamTTSError):
    """A request the conversation will not carry out, said exactly.

    ``fatal`` refusals end the connection after they are reported (bytes
    that are not the protocol, an idle client). ``retry_after_s`` is set
    when trying again later can work (at capacity).
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        param: str | None = None,
        retry_after_s: float | None = None,
        fatal: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param
        self.retry_after_s = retry_after_s
        self.fatal = fatal

    def __repr__(self) -> str:
        return f"Refusal({self.code!r}, {self.message!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Refusal):
            return NotImplemented
        return (self.code, self.message, self.param, self.retry_after_s, self.fatal) == (
            other.code,
            other.message,
            other.param,
            other.retry_after_s,
            other.fatal,
        )

    def __hash__(self) -> int:
        return hash((self.code, self.message))

    @classmethod
    def at_capacity(cls, retry_after_s: float) -> Refusal:
        return cls(
            AT_CAPACITY,
            f"the server is at capacity; retry in {retry_after_s:.0f} s "
            "(or start it with a larger --max-streams on a bigger machine)",
            retry_after_s=retry_after_s,
        )

    @classmethod
    def starting_burst(cls, starting: int, retry_after_s: float) -> Refusal:
        return cls(
            AT_CAPACITY,
            f"{starting} other utterances are starting at this instant; retry in "
            f"{retry_after_s:.0f} s (a burst at once is carried {starting} at a time so that "
            "none runs dry; --max-starting sets how many)",
            retry_after_s=retry_after_s,
        )

    @classmethod
    def too_long(cls, chars: int, limit: int, param: str | None = None) -> Refusal:
        what = f"'{param}'" if param else "the text"
        return cls(
            TOO_LONG, f"{what} is {chars} characters, over the limit of {limit}", param=param
        )
