"""A Piper voice on onnxruntime, cut into encoder, flow and decoder.

``encode`` runs once per segment and returns a :class:`FramePlan` (the prior
sample for every frame and the frames of every phoneme id); ``flow`` and
``decode`` turn any range of frames into audio, so the incremental decoder
can stream inside a sentence while :meth:`PiperVoice.synthesize_ids` does
the whole segment at once (the reference the streaming path must equal).

The graph's random noise is replaced by numpy draws from a generator the
caller owns, so a seed makes output reproducible on every path.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..config import DELIVERIES, SynthesisOptions
from ..errors import ConfigError, VoiceError
from ..text.phoneme_ids import PhonemeIds
from .options import VoiceOptions
from .piper_config import PiperVoiceConfig, load_piper_config
from .sessions import shrinking_run_options
from .surgery import CUT_FORMAT, DP_NOISE_INPUT, CutInfo, load_or_cut

__all__ = ["CUT_FORMAT", "FramePlan", "PiperVoice", "VoiceOptions", "default_cache_dir"]

_log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    explicit = os.environ.get("STREAMTTS_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "streamtts"


@dataclass(frozen=True)
class FramePlan:
    """What the encoder decided for one segment.

    ``z_p`` is the prior sample (noise already drawn) for every frame;
    ``id_frames[k]`` is how many frames phoneme id k lasts; ``frame_inputs``
    are per-frame tensors the flow also reads (the frame mask), sliced with
    the frames.
    """

    phoneme_ids: PhonemeIds
    z_p: np.ndarray  # float32 [1, channels, frames]
    id_frames: np.ndarray  # int64 [n_ids]
    frame_inputs: dict[str, np.ndarray]  # name -> [1, k, frames]
    fixed_inputs: dict[str, np.ndarray]  # name -> tensor with no frame axis
    stretch: float = 1.0  # every phoneme made this many times longer (see encode)

    @property
    def frames(self) -> int:
        return int(self.z_p.shape[-1])

    def __repr__(self) -> str:
        return f"FramePlan(frames={self.frames}, ids={len(self.id_frames)})"


def _stretched_durations(id_frames: np.ndarray, stretch: float) -> np.ndarray:
    """Each phoneme's frames times ``stretch``, rounded so that the total is
    the whole's rounded (a phoneme's rounding error carries to the next),
    and a phoneme that had frames keeps at least one."""
    longer = np.zeros_like(id_frames)
    wanted, made = 0.0, 0
    for k, frames in enumerate(id_frames.tolist()):
        wanted += frames * stretch
        count = round(wanted) - made
        longer[k] = max(1, count) if frames > 0 else 0
        made += int(longer[k])
    return longer


class PiperVoice:
    """A loaded Piper voice. Use :func:`streamtts.load_voice` to make one.

    Thread-safety: onnxruntime sessions may be run from several threads,
    but a :class:`FramePlan` must be decoded by one caller at a time.
    """

    def __init__(
        self,
        name: str,
        model_path: Path,
        config: PiperVoiceConfig,
        info: CutInfo | None,
        sessions: dict[str, Any],
        vocabulary_size: int,
        options: VoiceOptions | None = None,
    ) -> None:
        self.name = name
        # As loaded: precision is "fp32" if int8 was asked but not possible.
        self.options = options or VoiceOptions()
        self.model_path = model_path
        self.config = config
        self._info = info
        self._sessions = sessions
        self._vocabulary_size = vocabulary_size
        # Measured when the cut was verified: frame size, receptive fields.
        extra = info.extra if info else {}
        self.samples_per_frame = int(extra.get("samples_per_frame", 256))
        self.flow_context_frames = int(extra.get("flow_context_frames", 32))
        self.decoder_context_frames = int(extra.get("decoder_context_frames", 16))
        self._shrink_arena = shrinking_run_options()
        # Set by the synthesis core once it has spoken its warm-up texts.
        self.warmed_up = False

    def __repr__(self) -> str:
        mode = "streaming" if self.can_stream else "whole-segment only"
        rate, precision = self.config.sample_rate_hz, self.options.precision
        return f"PiperVoice({self.name!r}, {rate} Hz, {mode}, {precision})"

    @property
    def sample_rate_hz(self) -> int:
        return self.config.sample_rate_hz

    @property
    def can_stream(self) -> bool:
        """False when the graph could not be cut: audio comes per segment."""
        return self._info is not None

    # -- loading -----------------------------------------------------------

    @classmethod
    def load(
        cls,
        model_path: Path,
        config_path: Path | None = None,
        *,
        name: str | None = None,
        cache_dir: Path | None = None,
        options: VoiceOptions | None = None,
    ) -> PiperVoice:
        """Load a Piper voice from its files (see :func:`streamtts.load_voice`);
        ``options``: weight precision and threads per part."""
        options = options or VoiceOptions()
        model_path = Path(model_path)
        if model_path.is_dir():
            candidates = sorted(model_path.glob("*.onnx"))
            if len(candidates) != 1:
                raise VoiceError(
                    f"{model_path} is a folder with {len(candidates)} .onnx files; "
                    "pass the path of one Piper .onnx file"
                )
            model_path = candidates[0]
        if not model_path.is_file():
            raise VoiceError(
                f"voice model not found: {model_path}; pass the path of a Piper .onnx file "
                "(with its .onnx.json beside it), or leave out the voice to use the default"
            )
        config_path = Path(config_path) if config_path else Path(f"{model_path}.json")
        config = load_piper_config(config_path)
        info, sessions, vocabulary, precision = load_or_cut(
            model_path, config, cache_dir or default_cache_dir(), options
        )
        name = name or model_path.name.removesuffix(".onnx")
        options = replace(options, precision=precision)  # type: ignore[arg-type]
        voice = cls(name, model_path, config, info, sessions, vocabulary, options)
        voice._check_config_matches(config_path)
        return voice

    def _check_config_matches(self, config_path: Path) -> None:
        biggest = max(i for ids in self.config.phoneme_id_map.values() for i in ids)
        if self._vocabulary_size and biggest >= self._vocabulary_size:
            raise VoiceError(
                f"voice config {config_path} does not match model {self.model_path}: it uses "
                f"phoneme id {biggest}, the model knows {self._vocabulary_size} ids; use the "
                ".onnx.json published with this .onnx"
            )
        multi = "sid" in self._input_names()
        if multi != (self.config.num_speakers > 1):
            raise VoiceError(
                f"voice config {config_path} does not match model {self.model_path}: config says "
                f"{self.config.num_speakers} speaker(s), the model "
                f"{'takes' if multi else 'takes no'} speaker id; use the matching .onnx.json"
            )

    def _input_names(self) -> list[str]:
        first = self._sessions["encoder" if self._info else "whole"]
        return [i.name for i in first.get_inputs()]

    # -- options -----------------------------------------------------------

    def scales(self, options: SynthesisOptions) -> np.ndarray:
        """The graph's [noise, length, noise_w] scales for these options: the
        voice's own noise scales times the delivery's factor, unless given."""
        config = self.config
        factor = DELIVERIES[options.delivery]
        noise, noise_w = options.noise_scale, options.noise_w_scale
        if noise is None:
            noise = config.noise_scale * factor
        if noise_w is None:
            noise_w = config.noise_w_scale * factor
        return np.array([noise, config.length_scale / options.rate, noise_w], dtype=np.float32)

    def speaker_id(self, options: SynthesisOptions) -> int:
        speaker = options.speaker
        if speaker is None:
            return 0
        if isinstance(speaker, str):
            if speaker in self.config.speaker_id_map:
                return self.config.speaker_id_map[speaker]
            if not speaker.isdigit():
                names = ", ".join(sorted(self.config.speaker_id_map)[:10]) or "none"
                raise ConfigError(f"voice {self.name} has no speaker {speaker!r}; known: {names}")
            speaker = int(speaker)
        if not 0 <= speaker < self.config.num_speakers:
            raise ConfigError(
                f"voice {self.name} has speakers 0..{self.config.num_speakers - 1}, not {speaker}"
            )
        return speaker

    def _text_feeds(self, ids: PhonemeIds, options: SynthesisOptions) -> dict[str, np.ndarray]:
        feeds = {
            "input": ids.ids[np.newaxis, :],
            "input_lengths": np.array([len(ids.ids)], dtype=np.int64),
            "scales": self.scales(options),
        }
        if "sid" in self._input_names():
            feeds["sid"] = np.array([self.speaker_id(options)], dtype=np.int64)
        return feeds

    # -- the three parts ---------------------------------------------------

    def encode(
        self,
        ids: PhonemeIds,
        options: SynthesisOptions,
        rng: np.random.Generator,
        stretch: float = 1.0,
    ) -> FramePlan:
        """Text encoder and duration predictor, then the prior sample.

        ``stretch`` lengthens every phoneme by that factor (rounded to whole
        frames) after the duration predictor, so the total is ``stretch``
        times as many frames, which the voice's own length scale does not
        give (x1.3 there made 1.2 times the audio): a pitch change plays it
        back faster by the same factor (``pitch.py``).
        """
        info = self._info
        if info is None:
            raise VoiceError(f"voice {self.name} cannot be cut; use synthesize_ids")
        feeds = self._text_feeds(ids, options)
        if info.has_dp_noise:
            feeds[DP_NOISE_INPUT] = rng.standard_normal(
                (1, info.dp_noise_channels, len(ids.ids)), dtype=np.float32
            )
        encoder = self._sessions["encoder"]
        names = [o.name for o in encoder.get_outputs()]
        outputs = encoder.run(None, feeds, self._shrink_arena)
        results = dict(zip(names, outputs, strict=True))
        m_p = results[info.m_p]
        logs_p = results[info.logs_p]
        frames = m_p.shape[-1]
        frame_inputs: dict[str, np.ndarray] = {}
        fixed_inputs: dict[str, np.ndarray] = {}
        for name in dict.fromkeys(info.flow_externals + info.decoder_externals):
            value = results[name]
            if value.ndim == 3 and value.shape[-1] == frames:
                frame_inputs[name] = value
            else:
                fixed_inputs[name] = value
        id_frames = results[info.durations].reshape(-1).astype(np.int64)
        if stretch != 1.0 and int(id_frames.sum()) == frames:
            # Each frame of a phoneme holds that phoneme's prior (the graph
            # expands them along its alignment), so more frames of it are
            # copies of its first; the noise below is drawn for every frame.
            longer = _stretched_durations(id_frames, stretch)
            starts = np.concatenate([[0], np.cumsum(id_frames)[:-1]]).astype(np.int64)
            index = np.repeat(starts, longer)
            m_p, logs_p = m_p[:, :, index], logs_p[:, :, index]
            frame_inputs = {name: value[:, :, index] for name, value in frame_inputs.items()}
            id_frames = longer
        elif stretch != 1.0:
            _log.warning(
                "voice %s: its durations do not add up to its frames; pitch is not changed",
                self.name,
            )
            stretch = 1.0
        noise_scale = float(feeds["scales"][0])
        # The prior sample, as the graph computed it, with our own noise.
        prior_noise = rng.standard_normal(m_p.shape, dtype=np.float32)
        z_p = (m_p + prior_noise * np.exp(logs_p) * np.float32(noise_scale)).astype(np.float32)
        return FramePlan(ids, z_p, id_frames, frame_inputs, fixed_inputs, stretch)

    def flow(self, plan: FramePlan, start: int, stop: int) -> np.ndarray:
        """The flow over frames [start, stop); returns z [1, channels, n]."""
        assert self._info is not None
        feeds = {self._info.z_p: plan.z_p[:, :, start:stop]}
        for name in self._info.flow_externals:
            if name in plan.frame_inputs:
                feeds[name] = plan.frame_inputs[name][:, :, start:stop]
            else:
                feeds[name] = plan.fixed_inputs[name]
        return self._sessions["flow"].run(None, feeds, self._shrink_arena)[0]

    def decode(self, plan: FramePlan, z: np.ndarray) -> np.ndarray:
        """The vocoder: z [1, channels, n] → float32 samples [n * samples_per_frame]."""
        assert self._info is not None
        feeds = {self._info.z: z}
        for name in self._info.decoder_externals:
            if name in plan.frame_inputs:
                raise VoiceError(f"voice {self.name}: its decoder reads per-frame {name}")
            feeds[name] = plan.fixed_inputs[name]
        audio = self._sessions["decoder"].run(None, feeds)[0]
        return audio.reshape(-1).astype(np.float32, copy=False)

    # -- whole-segment synthesis -------------------------------------------

    def synthesize_ids(
        self, ids: PhonemeIds, options: SynthesisOptions, rng: np.random.Generator
    ) -> np.ndarray:
        """Whole-segment audio (float32, voice rate): the reference path."""
        if self._info is None:
            return self._whole_graph(ids, options)
        plan = self.encode(ids, options, rng)
        return self.decode(plan, self.flow(plan, 0, plan.frames))

    def _whole_graph(self, ids: PhonemeIds, options: SynthesisOptions) -> np.ndarray:
        feeds = self._text_feeds(ids, options)
        audio = self._sessions["whole"].run(None, feeds, self._shrink_arena)[0]
        return audio.reshape(-1).astype(np.float32, copy=False)
