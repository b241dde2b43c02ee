"""streamtts: on-device streaming text-to-speech.

The public API is re-exported here; everything else is private.
"""

from .config import SynthesisOptions
from .errors import (
    AudioDeviceError,
    ConfigError,
    InputTextError,
    PhonemizerError,
    StreamTTSError,
    VoiceError,
)
from .synthesis import SegmentAudio, Synthesizer
from .voices.piper import PiperVoice
from .voices.registry import installed_voices, load_voice

__all__ = [
    "AudioDeviceError",
    "ConfigError",
    "InputTextError",
    "PhonemizerError",
    "PiperVoice",
    "SegmentAudio",
    "StreamTTSError",
    "SynthesisOptions",
    "Synthesizer",
    "VoiceError",
    "installed_voices",
    "load_voice",
]

__version__ = "0.1.0"
