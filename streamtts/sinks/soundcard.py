"""The sound card: a sounddevice callback reading the ring, one kernel call a block.

The stream runs at the device's own rate; soxr's stateful stream resampler
converts the voice's rate on the way into the ring. The callback always
fills the whole block (zeros when the ring is empty), counts underruns
only while an utterance is playing, wakes the event loop at most once per
block, and never raises. The stream stays open between utterances playing
zeros, so PortAudio's habit of dropping the last 30-40 ms when a stream
stops never eats speech: closing waits for the ring to empty and the
device latency plus 100 ms to pass first.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from typing import Any

import numpy as np
import trio

from ..dsp.resample import StreamResampler
from ..dsp.ring import SampleRing, warm_up
from ..errors import AudioDeviceError
from .base import Sink
from .playback_clock import PlaybackClock

__all__ = ["SoundCardSink", "list_output_devices"]

_log = logging.getLogger(__name__)

# Real-time playing the device must show before the sink is ready (_settle).
_SETTLE_S = 0.1
# Blocks to see before the measured latency replaces PortAudio's nominal one.
_BLOCKS_TO_MEASURE = 20
# No callback for this long while audio waits means the device is gone.
_DEVICE_SILENCE_TIMEOUT_S = 2.0
_TAIL_GUARD_S = 0.1  # PortAudio/ALSA drop ~30-40 ms at stop
_GLITCHES_KEPT = 256  # the latest underruns and underflows, stamped (see glitches)


def _sounddevice() -> Any:
    try:
        import sounddevice
    except OSError as err:  # the wheel loads the system's libportaudio
        raise AudioDeviceError(
            f"the PortAudio library is missing ({err}); install it with "
            "'sudo apt-get install libportaudio2' (scripts/install does), or write to a file "
            "with --out"
        ) from err
    return sounddevice


def list_output_devices() -> list[dict[str, Any]]:
    sd = _sounddevice()
    try:
        devices = sd.query_devices()
        default_out = sd.default.device[1]
    except Exception as err:
        raise AudioDeviceError(f"cannot list sound devices: {err}") from err
    return [
        {
            "index": index,
            "name": device["name"],
            "channels": device["max_output_channels"],
            "rate_hz": int(device["default_samplerate"]),
            "default": index == default_out,
        }
        for index, device in enumerate(devices)
        if device["max_output_channels"] > 0
    ]


class SoundCardSink(Sink):
    """Plays on a sound device.

    - ``device``: a name (substring) or index; None for the default output.
    - ``latency_s``: PortAudio's buffer; larger survives a busier machine.
      The sink's own ``latency_s`` is what it measures once playing: the
      longest wait for a callback plus the longest callback-to-DAC delay
      PortAudio reported (see :mod:`.playback_clock`).
    - ``ring_s``: audio queued ahead of the device (barge-in drops it).
    - ``block_ms``: callback period.
    """

    def __init__(
        self,
        device: int | str | None = None,
        *,
        latency_s: float = 0.1,
        ring_s: float = 0.5,
        block_ms: float = 10.0,
        fade_ms: float = 5.0,
    ) -> None:
        super().__init__()
        self.device = device
        self.requested_latency_s = latency_s
        self.ring_s = ring_s
        self.block_ms = block_ms
        self.fade_ms = fade_ms
        self._stream: Any = None
        self._ring: SampleRing | None = None
        self._held_back_s = 0.0
        self._clock: PlaybackClock | None = None
        self._trio_minus_perf = 0.0  # trio.current_time() - time.perf_counter()
        self._resampler: StreamResampler | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._wake_pending = False
        self._callback_error: BaseException | None = None
        self._device_underflows = 0
        self._glitches: deque[tuple[float, str]] = deque(maxlen=_GLITCHES_KEPT)
        self._finished = False

    # -- opening and closing ---------------------------------------------------

    async def start(self, voice_rate_hz: int) -> None:
        sd = _sounddevice()
        try:
            info = sd.query_devices(self.device, kind="output")
        except Exception as err:
            raise AudioDeviceError(
                f"no sound output device {self.device if self.device is not None else ''}"
                f"({err}); see 'streamtts devices', or write to a file with --out"
            ) from err
        self.sample_rate_hz = int(info["default_samplerate"]) or voice_rate_hz
        self._ring = SampleRing(
            max(1, int(self.ring_s * self.sample_rate_hz)),
            int(self.fade_ms * self.sample_rate_hz / 1000),
        )
        self._resampler = StreamResampler(voice_rate_hz, self.sample_rate_hz)
        # Measured now, not at the first utterance's start gate.
        self._held_back_s = self._resampler.held_back_s
        self._clock = PlaybackClock(self.sample_rate_hz)
        warm_up()  # compile now, never in the callback
        self._token = trio.lowlevel.current_trio_token()
        self._trio_minus_perf = trio.current_time() - time.perf_counter()
        blocksize = max(16, int(self.block_ms * self.sample_rate_hz / 1000))
        try:
            self._stream = sd.OutputStream(
                samplerate=self.sample_rate_hz,
                blocksize=blocksize,
                device=self.device,
                channels=1,
                dtype="float32",
                latency=self.requested_latency_s,
                callback=self._callback,
                finished_callback=self._on_finished,
            )
            self._stream.start()
        except Exception as err:
            raise AudioDeviceError(
                f"cannot open sound device {info['name']!r}: {err}; check that it is not "
                "busy, or choose another with --device"
            ) from err
        self.latency_s = float(self._stream.latency)
        await self._settle(blocksize)
        _log.info(
            "sound device %r at %d Hz, latency %.0f ms",
            info["name"],
            self.sample_rate_hz,
            1000 * self.latency_s,
        )

    async def _settle(self, blocksize: int) -> None:
        """Return once the device paces itself in real time.

        Right after it starts, a device takes its whole buffer at once and
        then catches up in bursts (PulseAudio here: 24 blocks at once, 6 more
        90 ms later), faster than real time: speech written then drains the
        ring and gaps (seen about once in 20 fresh starts). So the sink is
        ready once the device has taken its latency's worth plus
        ``_SETTLE_S``, which costs about that 0.1 s once, at start.
        """
        clock = self._clock
        assert clock is not None
        wanted = (self.latency_s + _SETTLE_S) * self.sample_rate_hz
        with trio.move_on_after(self.latency_s + _DEVICE_SILENCE_TIMEOUT_S):
            while clock.blocks * blocksize < wanted:
                self._check_alive()
                await self.position.wait_change()

    async def aclose(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        with trio.move_on_after(self.ring_s + self.latency_s + 2 * _TAIL_GUARD_S + 1.0):
            await self.drain()
            await trio.sleep(self.latency_s + _TAIL_GUARD_S)
        try:
            await trio.to_thread.run_sync(stream.stop)
            await trio.to_thread.run_sync(stream.close)
        except Exception as err:  # closing a vanished device
            _log.debug("closing the sound device: %s", err)

    # -- the real-time side --------------------------------------------------------

    def _callback(self, outdata: np.ndarray, frames: int, when: Any, status: Any) -> None:
        try:
            ring, clock = self._ring, self._clock
            assert ring is not None and clock is not None
            position, underruns = ring.read, ring.underruns
            taken = ring.read_into(outdata.reshape(-1))
            now = time.perf_counter()
            delay = when.outputBufferDacTime - when.currentTime
            if not 0.0 < delay < 10.0:  # a host API that does not say
                delay = self.latency_s
            clock.block(position, taken, now, now + delay)
            if ring.underruns != underruns:
                self._glitches.append((now + delay, "ring"))
            if status.output_underflow:
                self._device_underflows += 1
                self._glitches.append((now, "device"))
            if not self._wake_pending:
                self._wake_pending = True
                assert self._token is not None
                self._token.run_sync_soon(self._on_block)
        except BaseException as err:  # never raise into PortAudio
            outdata.fill(0)
            self._callback_error = err

    def _on_finished(self) -> None:
        self._finished = True
        if self._token is not None:
            with contextlib.suppress(trio.RunFinishedError):
                self._token.run_sync_soon(self._on_block)

    def _on_block(self) -> None:
        self._wake_pending = False
        clock = self._clock
        if clock is not None and clock.blocks >= _BLOCKS_TO_MEASURE:
            self.latency_s = clock.callback_gap_s() + clock.delay_s()
        self.position.changed()

    # -- the producer side ---------------------------------------------------------

    def _check_alive(self) -> None:
        if self._callback_error is not None:
            raise AudioDeviceError(f"the sound callback failed: {self._callback_error!r}")
        if self._finished or self._stream is None:
            raise AudioDeviceError(
                "the sound device stopped (unplugged, or the sound server went away); "
                "check it and start again"
            )

    async def _wait_block(self) -> None:
        with trio.move_on_after(_DEVICE_SILENCE_TIMEOUT_S + self.latency_s):
            await self.position.wait_change()
            return
        self._check_alive()
        raise AudioDeviceError(
            f"the sound device has not asked for audio for {_DEVICE_SILENCE_TIMEOUT_S:.0f} s; "
            "it may have been unplugged or the sound server stopped"
        )

    async def _put(self, samples: np.ndarray) -> None:
        assert self._resampler is not None
        await self._enqueue(self._resampler.process(samples))

    async def finish_utterance(self) -> None:
        """Push out what the resampler holds back at the end of speech."""
        assert self._resampler is not None
        await self._enqueue(self._resampler.flush())

    async def _enqueue(self, samples: np.ndarray) -> None:
        ring = self._ring
        assert ring is not None
        done = 0
        while done < samples.size:
            self._check_alive()
            done += ring.write(samples[done:])
            if done < samples.size:
                await self._wait_block()
        self.position.advance(int(samples.size))

    @property
    def held_back_s(self) -> float:
        return self._held_back_s

    def set_active(self, active: bool) -> None:
        if self._ring is not None:
            self._ring.set_active(active)

    def heard(self) -> int:
        clock = self._clock
        if clock is None:
            return 0
        return max(0, min(self.position.accepted, clock.heard_by(time.perf_counter())))

    async def wait_heard(self, position: int) -> None:
        """Return when sample ``position - 1`` is heard, to the millisecond:
        once a callback has taken it, sleep until the device plays it."""
        clock = self._clock
        assert clock is not None
        while self.heard() < position:
            at = clock.time_heard(position - 1)
            if at is not None:
                await trio.sleep_until(at + 1 / self.sample_rate_hz + self._trio_minus_perf)
                return
            self._check_alive()
            await self._wait_block()

    async def drain(self) -> None:
        ring = self._ring
        if ring is None:
            return
        while ring.fill > 0:
            self._check_alive()
            await self._wait_block()

    async def interrupt(self) -> None:
        ring = self._ring
        if ring is None or self._resampler is None:
            return
        self._resampler.reset()
        ring.set_active(False)
        ring.request_clear()
        while ring.clear_pending and self._stream is not None and not self._finished:
            await self._wait_block()
        # Everything queued was dropped: it will never be heard.
        self.position.drop_to(ring.read)

    # -- numbers -------------------------------------------------------------------

    @property
    def underruns(self) -> int:
        return self._ring.underruns if self._ring is not None else 0

    @property
    def device_underflows(self) -> int:
        return self._device_underflows

    @property
    def glitches(self) -> list[tuple[float, str]]:
        """The latest breaks in the sound (at most 256), each stamped with
        ``time.perf_counter()``: ``"ring"``, an underrun (speech not made in
        time; the time its silence reaches the device), or ``"device"``,
        PortAudio's underflow (the callback itself came late; the time it
        was told)."""
        return list(self._glitches)

    @property
    def peak_fill(self) -> int:
        return self._ring.peak_fill if self._ring is not None else 0

    @property
    def ring_capacity(self) -> int:
        return self._ring.capacity if self._ring is not None else 0

    def describe(self) -> dict[str, Any]:
        return {
            "rate_hz": self.sample_rate_hz,
            "latency_s": round(self.latency_s, 4),
            "ring_s": self.ring_s,
            "block_ms": self.block_ms,
            "requested_latency_s": self.requested_latency_s,
            "ring_capacity": self.ring_capacity,
        }
