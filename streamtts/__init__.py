"""streamtts: on-device streaming text-to-speech.

The public API is re-exported here; everything else is private.
"""

from .aio import AsyncioEngine
from .caption_files import LiveCaptions, write_captions
from .captions import CaptionOptions, Cue, CueBuilder
from .config import ChannelSizes, EngineOptions, SynthesisOptions
from .engine import Engine, TextStream, UtteranceResult, open_engine
from .errors import (
    AudioDeviceError,
    ConfigError,
    InputTextError,
    PhonemizerError,
    StreamTTSError,
    VoiceError,
)
from .events import (
    Interrupted,
    MarkReached,
    SegmentFailed,
    SegmentStarted,
    UtteranceDone,
    UtteranceStats,
    WordStarted,
)
from .messages import AudioChunk, WordMark
from .sinks.base import Sink
from .sinks.files import FileSink, NullSink
from .sinks.iterator import AudioStreamSink
from .sinks.soundcard import SoundCardSink
from .speak import speak
from .synthesis import SegmentAudio, Synthesizer
from .text.options import TextOptions
from .voices.options import VoiceOptions
from .voices.piper import PiperVoice
from .voices.registry import installed_voices, load_voice

__all__ = [
    "AsyncioEngine",
    "AudioChunk",
    "AudioDeviceError",
    "AudioStreamSink",
    "CaptionOptions",
    "ChannelSizes",
    "ConfigError",
    "Cue",
    "CueBuilder",
    "Engine",
    "EngineOptions",
    "FileSink",
    "InputTextError",
    "Interrupted",
    "LiveCaptions",
    "MarkReached",
    "NullSink",
    "PhonemizerError",
    "PiperVoice",
    "SegmentAudio",
    "SegmentFailed",
    "SegmentStarted",
    "Sink",
    "SoundCardSink",
    "StreamTTSError",
    "SynthesisOptions",
    "Synthesizer",
    "TextOptions",
    "TextStream",
    "UtteranceDone",
    "UtteranceResult",
    "UtteranceStats",
    "VoiceError",
    "VoiceOptions",
    "WordMark",
    "WordStarted",
    "installed_voices",
    "load_voice",
    "open_engine",
    "speak",
    "write_captions",
]

__version__ = "0.1.0"
