"""A loudness target (ITU-R BS.1770, in LUFS) under a true-peak ceiling (dBTP).

Loudness is measured with pyloudnorm (BS.1770's K-weighting and gating),
true peak from the samples upsampled 4x with soxr; nothing here filters
audio to measure it.

- **A file rendered whole** (:func:`normalize_file`, :func:`normalized`):
  measured, then given the gain that meets the target; where that would
  put a peak over the ceiling, a limiter that sees 5 ms ahead lowers the
  peaks, and the result is measured again (loudness and true peak) until
  both hold.
- **A stream**, which cannot look ahead: a gain calibrated once per voice
  (:func:`stream_gain`: the voice speaks a calibration text once, its
  loudness measured, the text's audio kept beside the voice's cut cache so
  no later start renders it again), and a
  :class:`~streamtts.dsp.levels.PeakLimiter` on the output path that never
  lets a sample past the ceiling. How far from the target a stream lands
  depends on the text (README; ``benchmarks/loudness.py``).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .dsp.levels import PeakLimiter, db_to_gain, stream_ceiling
from .errors import ConfigError, InputTextError

if TYPE_CHECKING:
    from .config import EngineOptions, SynthesisOptions
    from .voices.piper import PiperVoice

__all__ = [
    "Loudness",
    "check_target",
    "measure",
    "normalize_file",
    "normalized",
    "stream_gain",
    "true_peak_dbtp",
    "voice_loudness",
]

_log = logging.getLogger(__name__)

OVERSAMPLE = 4  # true peak: 4x, as BS.1770 asks at 48 kHz and below
LOOK_AHEAD_S = 0.005  # the file limiter starts lowering this long before a peak
CALIBRATION_S = 30.0  # of the voice's speech: within 0.3 LU of its 150 s corpus
_CALIBRATION_FORMAT = 1
_BLOCK_S = 0.4  # BS.1770's gating block: shorter audio is measured padded with silence


def check_target(loudness_lufs: float | None, true_peak_dbtp: float) -> None:
    """A ``ConfigError`` unless the target and the ceiling make sense
    (:class:`~streamtts.config.EngineOptions`'s rule)."""
    from .config import EngineOptions

    EngineOptions(loudness_lufs=loudness_lufs, true_peak_dbtp=true_peak_dbtp)


@dataclass(frozen=True)
class Loudness:
    """Integrated loudness (LUFS, -inf for silence) and true peak (dBTP)."""

    integrated_lufs: float
    true_peak_dbtp: float


def _float64(samples: np.ndarray) -> np.ndarray:
    return np.asarray(samples, dtype=np.float64).reshape(-1)


def integrated_lufs(samples: np.ndarray, sample_rate_hz: int) -> float:
    """BS.1770 integrated loudness, by pyloudnorm."""
    import pyloudnorm

    audio = _float64(samples)
    block = math.ceil(_BLOCK_S * sample_rate_hz) + 1
    if audio.size < block:  # silence is gated out: padding does not change the measure
        audio = np.concatenate([audio, np.zeros(block - audio.size)])
    return float(pyloudnorm.Meter(sample_rate_hz).integrated_loudness(audio))


def true_peak_dbtp(samples: np.ndarray, sample_rate_hz: int) -> float:
    """The largest magnitude of the wave between samples too (4x upsampled)."""
    import soxr

    if not samples.size:
        return -math.inf
    up = soxr.resample(_float64(samples), sample_rate_hz, sample_rate_hz * OVERSAMPLE)
    peak = float(np.max(np.abs(up), initial=float(np.max(np.abs(samples)))))
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf


def measure(samples: np.ndarray, sample_rate_hz: int) -> Loudness:
    return Loudness(
        integrated_lufs(samples, sample_rate_hz), true_peak_dbtp(samples, sample_rate_hz)
    )


def _limited_ahead(samples: np.ndarray, ceiling: float, sample_rate_hz: int) -> np.ndarray:
    """Peaks over ``ceiling`` lowered smoothly, starting before each one.

    The limiter's kernel is given each sample's largest neighbour within
    the look-ahead on both sides, and its gains are averaged over half that
    span: every average is of gains already low enough for the sample it
    lands on, so no sample passes the ceiling, and the gain glides down
    over the look-ahead instead of dropping at the peak.
    """
    from scipy.ndimage import maximum_filter1d, uniform_filter1d

    ahead = max(1, round(LOOK_AHEAD_S * sample_rate_hz))
    peaks = maximum_filter1d(np.abs(samples), size=2 * ahead + 1, mode="nearest")
    limiter = PeakLimiter(ceiling, sample_rate_hz)
    gains = uniform_filter1d(limiter.gains(peaks.astype(np.float32)), ahead + 1, mode="nearest")
    limited: np.ndarray = (samples * gains).astype(np.float32)
    return limited


def normalized(
    samples: np.ndarray, sample_rate_hz: int, loudness_lufs: float, true_peak_dbtp: float = -1.5
) -> tuple[np.ndarray, Loudness]:
    """``samples`` (float32) at ``loudness_lufs`` with no true peak over
    ``true_peak_dbtp``, and what they measure after. Silence stays silent."""
    check_target(loudness_lufs, true_peak_dbtp)
    audio = np.asarray(samples, dtype=np.float32).reshape(-1)
    before = integrated_lufs(audio, sample_rate_hz)
    if not math.isfinite(before):
        return audio, measure(audio, sample_rate_hz)
    gain_db = loudness_lufs - before
    ceiling_db = true_peak_dbtp - 0.1  # sample ceiling; lowered while true peaks pass
    out, found = audio, Loudness(before, -math.inf)
    slope = 1.0  # loudness gained per dB of gain: less once the limiter works
    tried: tuple[float, float] | None = None
    for _ in range(12):
        louder = audio * np.float32(db_to_gain(gain_db))
        out = louder
        if float(np.max(np.abs(louder))) > db_to_gain(ceiling_db):
            out = _limited_ahead(louder, db_to_gain(ceiling_db), sample_rate_hz)
        found = measure(out, sample_rate_hz)
        over = found.true_peak_dbtp - true_peak_dbtp
        short = loudness_lufs - found.integrated_lufs
        if over <= 0.0 and abs(short) <= 0.1:
            break
        if tried is not None and over <= 0.0 and gain_db != tried[0]:
            slope = min(1.0, max(0.2, (found.integrated_lufs - tried[1]) / (gain_db - tried[0])))
        tried = (gain_db, found.integrated_lufs) if over <= 0.0 else None
        ceiling_db -= max(0.0, over + 0.02)
        gain_db += max(-6.0, min(6.0, short / slope))
    return out, found


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    try:
        with wave.open(str(path), "rb") as wav:
            if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
                raise InputTextError(f"{path}: expected 16-bit mono WAV")
            rate = wav.getframerate()
            data = wav.readframes(wav.getnframes())
    except (OSError, EOFError, wave.Error) as err:
        raise InputTextError(f"cannot read {path}: {err}") from err
    return np.frombuffer(data, "<i2").astype(np.float32) / 32767.0, rate


def normalize_file(
    path: str | Path,
    loudness_lufs: float,
    true_peak_dbtp: float = -1.5,
    *,
    format: str = "wav",
    sample_rate_hz: int | None = None,
) -> Loudness:
    """Rewrite a 16-bit mono file (``wav``, or ``raw`` at ``sample_rate_hz``)
    at the target loudness under the ceiling; returns what it measures."""
    from .sinks.wav import PcmWriter

    path = Path(path)
    if format == "wav":
        samples, rate = _read_wav(path)
    else:
        if sample_rate_hz is None:
            raise ConfigError("a raw file needs its sample rate")
        samples = np.fromfile(path, "<i2").astype(np.float32) / 32767.0
        rate = sample_rate_hz
    out, found = normalized(samples, rate, loudness_lufs, true_peak_dbtp)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with staging.open("wb") as stream:
            writer = PcmWriter(stream, rate, format)
            writer.write(out)
            writer.close()
        staging.replace(path)
    finally:
        staging.unlink(missing_ok=True)
    return found


# -- streams: a gain calibrated once per voice ------------------------------------------

_CALIBRATED: dict[tuple[str, float, float], float] = {}


def _calibration_lines() -> list[str]:
    text = (Path(__file__).parent / "voices" / "calibration.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _voice_key(voice: PiperVoice, synthesis: SynthesisOptions) -> str:
    path = voice.model_path.resolve()
    try:
        stat = path.stat()
        identity = f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
    except OSError:
        identity = str(path)
    scales = [round(float(x), 4) for x in voice.scales(synthesis)[[0, 2]]]
    identity += f"|{voice.options.precision}|{scales}|{_CALIBRATION_FORMAT}"
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


def _render_calibration(voice: PiperVoice, synthesis: SynthesisOptions) -> np.ndarray:
    """The voice speaking the calibration text (each line seeded), until
    ``CALIBRATION_S`` of speech."""
    from dataclasses import replace

    from .synthesis import Synthesizer

    parts: list[np.ndarray] = []
    made = 0
    for seed, line in enumerate(_calibration_lines()):
        options = replace(synthesis, seed=seed, rate=1.0)
        chunks = Synthesizer(voice, options).speak([line])
        audio = np.concatenate([c.samples for c in chunks] or [np.zeros(0, np.float32)])
        parts.append(audio)
        made += audio.size
        if made >= CALIBRATION_S * voice.sample_rate_hz:
            break
    return np.concatenate(parts)


def voice_calibration(
    voice: PiperVoice, synthesis: SynthesisOptions, cache_dir: Path | None = None
) -> np.ndarray:
    """The voice's calibration speech (float32): from the cache beside its
    cut cache, or spoken now (a few seconds, once) and kept there."""
    from .voices.piper import default_cache_dir

    folder = (cache_dir or default_cache_dir()) / "loudness"
    path = folder / f"{_voice_key(voice, synthesis)}.npy"
    try:
        kept = np.load(path, allow_pickle=False)
        return (kept.astype(np.float32) / 32767.0).reshape(-1)
    except (OSError, ValueError):
        pass
    audio = _render_calibration(voice, synthesis)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        staging = folder / f".{path.name}.{os.getpid()}.npy"
        np.save(staging, np.rint(np.clip(audio, -1, 1) * 32767).astype(np.int16))
        staging.replace(path)
    except OSError as err:  # a read-only cache: calibrate again next time
        _log.warning("cannot keep the loudness calibration in %s: %s", folder, err)
    return audio


def voice_loudness(voice: PiperVoice, synthesis: SynthesisOptions) -> Loudness:
    """How loud the voice speaks (its calibration speech, measured)."""
    return measure(voice_calibration(voice, synthesis), voice.sample_rate_hz)


def stream_gain(
    voice: PiperVoice, synthesis: SynthesisOptions, loudness_lufs: float, true_peak_dbtp: float
) -> float:
    """The gain that brings the voice's speech to ``loudness_lufs`` after the
    stream's limiter (which takes a little off the peaks): tried on its
    calibration speech, through the same limiter. Blocking (a few seconds
    the first time for a voice, then read from the cache); remembered in
    the process."""
    check_target(loudness_lufs, true_peak_dbtp)
    key = (_voice_key(voice, synthesis), loudness_lufs, true_peak_dbtp)
    if key in _CALIBRATED:
        return _CALIBRATED[key]
    speech, rate = voice_calibration(voice, synthesis), voice.sample_rate_hz
    gain_db = loudness_lufs - integrated_lufs(speech, rate)
    for _ in range(4):
        limiter = PeakLimiter(stream_ceiling(true_peak_dbtp), rate)  # the stream's own
        heard = limiter.process(speech * np.float32(db_to_gain(gain_db)))
        short = loudness_lufs - integrated_lufs(heard, rate)
        gain_db += short
        if abs(short) <= 0.05:
            break
    gain = db_to_gain(gain_db)
    _CALIBRATED[key] = gain
    _log.info("voice %s: %+.1f dB to reach %.1f LUFS", voice.name, gain_db, loudness_lufs)
    return gain


def engine_gain(backend: Any, options: EngineOptions) -> float:
    """The calibrated gain for an engine's stream (1.0 when it has no
    loudness target, or its backend is not a Piper voice's)."""
    from .backend import ThreadedBackend
    from .synthesis import PiperSteps

    if options.loudness_lufs is None:
        return 1.0
    steps = getattr(backend, "steps", None)
    if not (isinstance(backend, ThreadedBackend) and isinstance(steps, PiperSteps)):
        _log.warning("no voice to calibrate the loudness on: the stream is only limited")
        return 1.0
    return stream_gain(steps.voice, steps.options, options.loudness_lufs, options.true_peak_dbtp)
