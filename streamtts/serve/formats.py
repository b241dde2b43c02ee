"""Audio on the wire (sans-IO): the voice's float32 blocks → response bytes.

OpenAI's speech API defines ``pcm`` as 24 kHz, 16-bit little-endian mono,
so the voice's audio (22,050 Hz for the default voice) is resampled with
soxr's stream resampler, chunk by chunk; ``wav`` is the same samples after
a streaming header (length unknown). Server-sent events carry the same
``pcm`` bytes in base64.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

import numpy as np

from ..dsp.resample import StreamResampler
from ..sinks.wav import float_to_s16, streaming_wav_header

__all__ = ["OPENAI_RATE_HZ", "RESPONSE_FORMATS", "AudioEncoder", "sse_event"]

OPENAI_RATE_HZ = 24_000
RESPONSE_FORMATS = {"pcm": "audio/pcm", "wav": "audio/wav"}


class AudioEncoder:
    """One response's audio: ``start`` once, ``encode`` per block, ``finish``."""

    def __init__(self, voice_rate_hz: int, response_format: str) -> None:
        if response_format not in RESPONSE_FORMATS:
            raise ValueError(f"unsupported response format {response_format!r}")
        self.format = response_format
        self._resampler = StreamResampler(voice_rate_hz, OPENAI_RATE_HZ)
        self.samples_out = 0

    @property
    def content_type(self) -> str:
        return RESPONSE_FORMATS[self.format]

    def start(self) -> bytes:
        return streaming_wav_header(OPENAI_RATE_HZ) if self.format == "wav" else b""

    def encode(self, samples: np.ndarray) -> bytes:
        out = self._resampler.process(samples)
        self.samples_out += out.size
        return float_to_s16(out)

    def finish(self) -> bytes:
        tail = self._resampler.flush()
        self.samples_out += tail.size
        return float_to_s16(tail)


def sse_event(payload: Mapping[str, object]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def sse_delta(pcm: bytes) -> bytes:
    return sse_event({"type": "speech.audio.delta", "audio": base64.b64encode(pcm).decode()})
