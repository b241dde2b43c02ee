"""The package's error vocabulary: one root, a few specific kinds.

Every message says what went wrong *and what to do about it*; the command
line prints the message alone, without a traceback.
"""

from __future__ import annotations

__all__ = [
    "AudioDeviceError",
    "ConfigError",
    "InputTextError",
    "PhonemizerError",
    "StreamTTSError",
    "VoiceError",
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
