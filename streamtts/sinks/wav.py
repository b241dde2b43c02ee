"""WAV and raw PCM writers that work on pipes as well as files.

Audio is written as it is produced. On a seekable file the WAV header's
sizes are fixed when the writer closes; on a pipe (``--out -``) they say
"unknown length" (0xFFFFFFFF), which players and ``sox`` accept for
streamed WAV.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

import numpy as np

__all__ = ["PcmWriter", "float_to_s16", "streaming_wav_header"]

_UNKNOWN = 0xFFFFFFFF


def float_to_s16(samples: np.ndarray) -> bytes:
    """float32 in [-1, 1] → little-endian signed 16-bit, clipped."""
    scaled = np.clip(samples, -1.0, 1.0) * 32767.0
    return np.rint(scaled).astype("<i2").tobytes()


def _wav_header(sample_rate_hz: int, data_bytes: int) -> bytes:
    riff_size = _UNKNOWN if data_bytes == _UNKNOWN else 36 + data_bytes
    return (
        b"RIFF"
        + struct.pack("<I", riff_size)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate_hz, sample_rate_hz * 2, 2, 16)
        + b"data"
        + struct.pack("<I", data_bytes)
    )


def streaming_wav_header(sample_rate_hz: int) -> bytes:
    """A WAV header for audio of unknown length, sent before the audio."""
    return _wav_header(sample_rate_hz, _UNKNOWN)


class PcmWriter:
    """Writes mono 16-bit PCM as ``wav`` or ``raw`` to a binary stream.

    The writer does not own the stream; call :meth:`close` to fix up the
    header (a no-op for raw output and for pipes).
    """

    def __init__(self, stream: BinaryIO, sample_rate_hz: int, format: str = "wav") -> None:
        if format not in ("wav", "raw"):
            raise ValueError(f"format must be 'wav' or 'raw', got {format!r}")
        self._stream = stream
        self._format = format
        self.sample_rate_hz = sample_rate_hz
        self.samples_written = 0
        self._seekable = _seekable(stream)
        if format == "wav":
            stream.write(_wav_header(sample_rate_hz, 0 if self._seekable else _UNKNOWN))

    def write(self, samples: np.ndarray) -> None:
        if samples.size:
            self._stream.write(float_to_s16(samples))
            self.samples_written += int(samples.size)

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        if self._format == "wav" and self._seekable:
            end = self._stream.tell()
            self._stream.seek(0)
            self._stream.write(_wav_header(self.sample_rate_hz, 2 * self.samples_written))
            self._stream.seek(end)
        self._stream.flush()


def _seekable(stream: BinaryIO) -> bool:
    try:
        return stream.seekable() and stream.tell() == 0
    except (OSError, ValueError):
        return False
