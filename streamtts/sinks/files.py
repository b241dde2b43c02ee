"""Sinks that write WAV or raw PCM to files or pipes, and one that discards.

Writes run in a worker thread, so a slow pipe reader (``| aplay``) slows
the whole engine down instead of filling memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np
import trio

from ..errors import InputTextError
from .base import Sink
from .wav import PcmWriter

__all__ = ["FileSink", "NullSink"]


class FileSink(Sink):
    """WAV (``format="wav"``) or s16le (``"raw"``) at the voice's rate.

    ``target`` is a path (opened and closed here) or a binary stream such
    as ``sys.stdout.buffer`` (left open; flushed after every write so a
    reader gets audio as soon as it exists).
    """

    def __init__(self, target: str | Path | BinaryIO, format: str = "wav") -> None:
        super().__init__()
        self._target = target
        self._format = format
        self._stream: BinaryIO | None = None
        self._owned = False
        self._writer: PcmWriter | None = None

    async def start(self, voice_rate_hz: int) -> None:
        self.sample_rate_hz = voice_rate_hz
        if isinstance(self._target, (str, Path)):
            path = Path(self._target)
            try:
                self._stream = path.open("wb")
            except OSError as err:
                raise InputTextError(f"cannot write {path}: {err.strerror or err}") from err
            self._owned = True
        else:
            self._stream = self._target
        self._writer = PcmWriter(self._stream, voice_rate_hz, self._format)

    async def _put(self, samples: np.ndarray) -> None:
        writer = self._writer
        assert writer is not None, "start() first"

        def write() -> None:
            writer.write(samples)
            if not self._owned:
                writer.flush()

        await trio.to_thread.run_sync(write)
        self.position.advance(int(samples.size))

    @property
    def samples_written(self) -> int:
        return self._writer.samples_written if self._writer else 0

    async def aclose(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._owned and self._stream is not None:
            self._stream.close()


class NullSink(Sink):
    """Accepts audio and drops it; ``realtime=True`` consumes at playback pace."""

    def __init__(self, realtime: bool = False) -> None:
        super().__init__()
        self.realtime = realtime

    async def start(self, voice_rate_hz: int) -> None:
        self.sample_rate_hz = voice_rate_hz

    async def _put(self, samples: np.ndarray) -> None:
        if self.realtime:
            await trio.sleep(samples.size / self.sample_rate_hz)
        else:
            await trio.lowlevel.checkpoint()
        self.position.advance(int(samples.size))
