"""Test harness for the real sound path: a recorder of the test sound
server's monitor, alignment of what was played with what was recorded, a
pitch estimate, and the audio the engine's trio path makes for a text.
Used by the tests and the benchmarks; not part of streamtts (its public
fakes are ``streamtts.testing``)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from streamtts import EngineOptions, PiperVoice

__all__ = ["MonitorRecorder", "align", "median_pitch_hz"]


class MonitorRecorder:
    """Records a sound server's monitor (what was played), block by block.

    Each block is stamped with the time its first sample was captured, as
    PortAudio reports it (``inputBufferAdcTime``), moved onto
    ``time.perf_counter()``'s clock, so :meth:`time_of` can say when a
    recorded sample was played. Use as a context manager around the
    playing; it waits 0.3 s on both sides (a monitor delivers audio only
    from when a recorder connects).
    """

    def __init__(self, sd: Any, device: str, rate: int) -> None:
        self.rate = rate
        self.blocks: list[tuple[float, np.ndarray]] = []
        self.stream = sd.InputStream(
            device=device,
            samplerate=rate,
            channels=1,
            dtype="float32",
            latency="low",
            callback=self._callback,
        )

    def _callback(self, data: np.ndarray, frames: int, when: Any, status: Any) -> None:
        now = time.perf_counter()
        age = when.currentTime - when.inputBufferAdcTime
        if not 0.0 <= age < 10.0:  # a host API that does not say
            age = self.stream.latency + frames / self.rate
        self.blocks.append((now - age, data[:, 0].copy()))

    def __enter__(self) -> MonitorRecorder:
        self.stream.start()
        time.sleep(0.3)
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.3)
        self.stream.stop()
        self.stream.close()

    @property
    def audio(self) -> np.ndarray:
        return np.concatenate([block for _, block in self.blocks])

    def sound_since(self, since: float, threshold: float) -> float | None:
        """When the first sample louder than ``threshold`` played at or after
        ``since`` (``perf_counter()`` time), if one has been recorded."""
        for captured_at, block in list(self.blocks):
            end = captured_at + block.size / self.rate
            if end < since:
                continue
            loud = np.flatnonzero(np.abs(block) > threshold)
            for index in loud:
                at = float(captured_at + index / self.rate)
                if at >= since:
                    return at
        return None

    def wait_sound(self, since: float, threshold: float, timeout_s: float = 20.0) -> float:
        """Block until sound is heard at or after ``since``; when it was."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            heard = self.sound_since(since, threshold)
            if heard is not None:
                return heard
            time.sleep(0.01)
        raise TimeoutError(f"nothing was heard within {timeout_s} s")

    def wait_quiet(self, quiet_s: float, threshold: float, timeout_s: float = 20.0) -> float:
        """Block until the monitor has been quiet for ``quiet_s``; when the
        last sound before that ended."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            last = self.last_sound(threshold)
            if last is not None and time.perf_counter() - last >= quiet_s:
                return last
            time.sleep(0.02)
        raise TimeoutError(f"still sounding after {timeout_s} s")

    def last_sound(self, threshold: float) -> float | None:
        for captured_at, block in reversed(list(self.blocks)):
            loud = np.flatnonzero(np.abs(block) > threshold)
            if loud.size:
                return float(captured_at + loud[-1] / self.rate)
        return None

    def time_of(self, index: int) -> float:
        """``perf_counter()`` time at which recorded sample ``index`` was played."""
        seen = 0
        for captured_at, block in self.blocks:
            if index < seen + block.size:
                return float(captured_at + (index - seen) / self.rate)
            seen += block.size
        raise IndexError(index)


def align(reference: np.ndarray, recording: np.ndarray) -> int:
    """Offset in ``recording`` where ``reference`` starts (cross-correlation)."""
    size = 1 << int(np.ceil(np.log2(reference.size + recording.size)))
    spectrum = np.fft.rfft(recording, size) * np.conj(np.fft.rfft(reference, size))
    return int(np.argmax(np.fft.irfft(spectrum, size)[: recording.size]))


def median_pitch_hz(audio: np.ndarray, rate: int) -> float:
    """A voice's median pitch over its loud 40 ms frames, by autocorrelation
    (60-400 Hz; frames without a clear period are left out)."""
    frame, found = int(0.04 * rate), []
    for start in range(0, audio.size - frame, frame // 2):
        x = audio[start : start + frame] - audio[start : start + frame].mean()
        if np.sqrt(np.mean(x**2)) < 0.02:
            continue
        correlation = np.correlate(x, x, "full")[frame - 1 :]
        low, high = rate // 400, rate // 60
        lag = low + int(np.argmax(correlation[low:high]))
        if correlation[lag] > 0.5 * correlation[0]:
            found.append(rate / lag)
    return float(np.median(found)) if found else float("nan")


async def engine_audio(
    voice: PiperVoice, options: EngineOptions, text: str, timeout_s: float = 300
) -> np.ndarray:
    """Everything the engine (actors, worker threads, a sink) says for
    ``text``, read from an ``AudioStreamSink`` as it comes."""
    import trio

    from streamtts import AudioStreamSink, open_engine
    from streamtts.backend import ThreadedBackend

    sink = AudioStreamSink(max_blocks=4)
    got: list[np.ndarray] = []
    backend = ThreadedBackend.for_voice(voice, options.synthesis, options.effective_schedule)
    with trio.fail_after(timeout_s):
        async with (
            open_engine(backend=backend, sink=sink, options=options) as engine,
            trio.open_nursery() as nursery,
        ):

            async def read() -> None:
                async for block in sink:
                    got.append(block)

            nursery.start_soon(read)
            await engine.say(text)
            await sink.aclose()
    return np.concatenate(got)
