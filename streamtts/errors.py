"""The package's error vocabulary: one root, a few specific kinds, and the
one place that turns trio's exception groups into the error a caller sees.

Every message says what went wrong *and what to do about it*; the command
line prints the message alone, without a traceback. The kinds a door must
tell apart stay apart all the way out: a client that left
(:class:`ClientGone`), bad input (:class:`InputTextError`), a device or
voice that failed, and a fault inside streamtts (:class:`EngineFault`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

__all__ = [
    "AudioDeviceError",
    "ClientGone",
    "ConfigError",
    "EngineFault",
    "InputTextError",
    "PhonemizerError",
    "StreamTTSError",
    "VoiceError",
    "caller_error",
]


class StreamTTSError(Exception):
    """Base class of every error streamtts raises on purpose."""


class ConfigError(StreamTTSError, ValueError):
    """An option has a value streamtts cannot use."""


class VoiceError(StreamTTSError):
    """A voice is missing, unreadable, or its files do not belong together."""


class PhonemizerError(StreamTTSError):
    """espeak-ng could not be loaded or could not phonemize a text."""


class InputTextError(StreamTTSError, ValueError):
    """The text cannot be spoken (for example, it contains nothing to say)."""


class AudioDeviceError(StreamTTSError):
    """The sound device is missing, busy, or went away."""


class ClientGone(StreamTTSError):
    """Whoever the audio was for went away (a closed socket, pipe or reader).

    Not a failure of the engine: a door logs it quietly and moves on."""


class EngineFault(StreamTTSError):
    """Something inside streamtts failed that should not have (a bug).

    The original exception is the ``__cause__``; the engine is still usable."""


# Exceptions that mean "the other end of a stream is gone". trio's are
# matched by name so this module needs no trio import.
_GONE_NAMES = frozenset({"BrokenResourceError", "ClosedResourceError", "WebSocketDisconnect"})


def _is_gone(error: BaseException) -> bool:
    if isinstance(error, (ClientGone, BrokenPipeError, ConnectionResetError)):
        return True
    return type(error).__name__ in _GONE_NAMES


def leaves(error: BaseException) -> Iterator[BaseException]:
    """Every exception inside ``error``'s (nested) exception groups."""
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from leaves(inner)
    else:
        yield error


def caller_error(error: BaseException) -> BaseException:
    """The one error a caller should see for ``error``.

    In order: Ctrl-C; cancellation (left to propagate as it is); our own
    errors as raised (the most specific: bad input before a device or a
    voice before a gone client); a gone client as :class:`ClientGone`;
    anything else as an :class:`EngineFault` whose cause is the original.
    """
    found = list(leaves(error))
    for leaf in found:
        if isinstance(leaf, KeyboardInterrupt):
            return leaf
    for leaf in found:
        if type(leaf).__name__ == "Cancelled":
            return error  # trio must see its own cancellation unchanged
    ours = [leaf for leaf in found if isinstance(leaf, StreamTTSError)]
    for leaf in ours:
        if not isinstance(leaf, ClientGone):
            return leaf
    if ours or all(_is_gone(leaf) for leaf in found):
        gone = ours[0] if ours else ClientGone("the client went away")
        if not ours:
            gone.__cause__ = found[0]
        return gone
    first = next(leaf for leaf in found if not _is_gone(leaf))
    if not isinstance(first, Exception):
        return first  # SystemExit, GeneratorExit: not ours to wrap
    fault = EngineFault(f"speaking failed: {first!r}; the engine is still usable")
    fault.__cause__ = first
    return fault
