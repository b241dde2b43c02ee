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

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import SynthesisOptions
from ..errors import ConfigError, VoiceError
from ..text.phoneme_ids import PhonemeIds
from .graph_cut import DP_NOISE_INPUT, CutError, CutInfo, cut_piper_graph
from .piper_config import PiperVoiceConfig, load_piper_config

__all__ = ["FramePlan", "PiperVoice", "default_cache_dir"]

_log = logging.getLogger(__name__)

CUT_FORMAT = "cut-v3"  # bump when the cut's files or meaning change
_VERIFY_TOLERANCE = 1e-4


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

    @property
    def frames(self) -> int:
        return int(self.z_p.shape[-1])

    def __repr__(self) -> str:
        return f"FramePlan(frames={self.frames}, ids={len(self.id_frames)})"


def _session_options(arena: bool, spin: bool = False) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    # Two intra-op threads nearly halve the decoder's time on a 2-core
    # machine (measured: 0.65 -> 0.36 ms a frame), first chunk included.
    options.intra_op_num_threads = int(
        os.environ.get("STREAMTTS_ORT_THREADS", str(min(2, os.cpu_count() or 1)))
    )
    # See _SPINNING_PARTS. A part that does not spin lets its idle pool
    # thread sleep between operators; waking it costs tens of microseconds.
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    # Spinning, if any, stops the moment a run returns: between runs the
    # audio path and the other parts need the cores.
    options.add_session_config_entry("session.force_spinning_stop", "1")
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # See _ARENA_PARTS for which parts get onnxruntime's arena and why.
    options.enable_cpu_mem_arena = arena
    return options


# Parts that run with onnxruntime's arena, shrunk back to its first block
# after every run (_shrinking_run_options); kept, an arena would hold the
# largest run's buffers for good. The encoder runs twice as fast with one
# (a 313-id sentence: 53 ms, 105 ms without); shrunk, the encoder's and the
# flow's leave RSS flat. The decoder runs without (about 20% slower): kept,
# its arena held tens of megabytes (RSS 355 MB instead of 240 MB), and
# shrunk it was no faster than none. With glibc tamed (_memory.py), memory
# stays flat however long the text.
_ARENA_PARTS = frozenset({"encoder", "flow", "whole"})

# Parts whose pool thread spins between operators while a run lasts. The
# encoder runs ~2,000 mostly small operators and the flow ~300, so sleeping
# and waking the second thread between them dominated their short runs:
# with spinning, warm TTFA p50 fell from 48.2 to 43.4 ms on the sentence
# corpus (6 interleaved rounds), with the same CPU seconds per audio second
# (0.144). The decoder's operators are few and large; spinning there added
# 6% CPU and no speed.
_SPINNING_PARTS = frozenset({"encoder", "flow", "whole"})


def _shrinking_run_options() -> Any:
    import onnxruntime as ort

    options = ort.RunOptions()
    options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return options


def _session(model: bytes | Path, part: str = "whole") -> Any:
    import onnxruntime as ort

    from .._memory import limit_allocator_retention

    limit_allocator_retention()
    source = str(model) if isinstance(model, Path) else model
    options = _session_options(arena=part in _ARENA_PARTS, spin=part in _SPINNING_PARTS)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
    ) -> None:
        self.name = name
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
        self._shrink_arena = _shrinking_run_options()

    def __repr__(self) -> str:
        mode = "streaming" if self.can_stream else "whole-segment only"
        return f"PiperVoice({self.name!r}, {self.config.sample_rate_hz} Hz, {mode})"

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
    ) -> PiperVoice:
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
        digest = _file_digest(model_path)
        cache = (cache_dir or default_cache_dir()) / CUT_FORMAT / digest[:32]
        info, sessions, vocabulary = _load_cached(cache)
        if info is None:
            info, sessions, vocabulary = _cut_and_cache(model_path, config, cache)
        name = name or model_path.name.removesuffix(".onnx")
        voice = cls(name, model_path, config, info, sessions, vocabulary)
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

    def warm_up(self) -> None:
        """Run every part once on small inputs, so the first utterance does
        not pay onnxruntime's first-run allocations."""
        from ..text.phoneme_ids import to_phoneme_ids

        symbols = [s for s in "həlˈoʊ." if s in self.config.phoneme_id_map]
        ids = to_phoneme_ids(symbols, self.config.phoneme_id_map)
        quiet = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0)
        rng = np.random.default_rng(0)
        if self._info is None:
            self._whole_graph(ids, quiet)
            return
        plan = self.encode(ids, quiet, rng)
        for frames in (8, 24):
            stop = min(plan.frames, frames)
            self.decode(plan, self.flow(plan, 0, stop))

    # -- options -----------------------------------------------------------

    def scales(self, options: SynthesisOptions) -> np.ndarray:
        """The graph's [noise, length, noise_w] scales for these options."""
        config = self.config
        noise = config.noise_scale if options.noise_scale is None else options.noise_scale
        noise_w = config.noise_w_scale if options.noise_w_scale is None else options.noise_w_scale
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
        self, ids: PhonemeIds, options: SynthesisOptions, rng: np.random.Generator
    ) -> FramePlan:
        """Text encoder and duration predictor, then the prior sample."""
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
        noise_scale = float(feeds["scales"][0])
        # The prior sample, as the graph computed it, with our own noise.
        prior_noise = rng.standard_normal(m_p.shape, dtype=np.float32)
        z_p = (m_p + prior_noise * np.exp(logs_p) * np.float32(noise_scale)).astype(np.float32)
        frames = z_p.shape[-1]
        frame_inputs: dict[str, np.ndarray] = {}
        fixed_inputs: dict[str, np.ndarray] = {}
        for name in dict.fromkeys(info.flow_externals + info.decoder_externals):
            value = results[name]
            if value.ndim == 3 and value.shape[-1] == frames:
                frame_inputs[name] = value
            else:
                fixed_inputs[name] = value
        id_frames = results[info.durations].reshape(-1).astype(np.int64)
        return FramePlan(ids, z_p, id_frames, frame_inputs, fixed_inputs)

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


# -- the cut, cached on disk ----------------------------------------------


def _load_cached(cache: Path) -> tuple[CutInfo | None, dict[str, Any], int]:
    info_path = cache / "cut.json"
    try:
        info = CutInfo.from_json(info_path.read_text())
        sessions = {
            part: _session(cache / f"{part}.onnx", part) for part in ("encoder", "flow", "decoder")
        }
        vocabulary = int(info.extra.get("vocabulary_size", "0"))
    except FileNotFoundError:
        return None, {}, 0
    except Exception as err:  # a damaged cache is rebuilt, never trusted
        _log.warning("ignoring damaged voice cache %s (%s); rebuilding it", cache, err)
        return None, {}, 0
    return info, sessions, vocabulary


def _vocabulary_size(model: Any) -> int:
    """Rows of the phoneme embedding: the Gather that reads ``input``."""
    initializers = {init.name: init for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Gather" and len(node.input) == 2 and node.input[1] == "input":
            table = initializers.get(node.input[0])
            if table is not None:
                return int(table.dims[0])
    return 0


def _cut_and_cache(
    model_path: Path, config: PiperVoiceConfig, cache: Path
) -> tuple[CutInfo | None, dict[str, Any], int]:
    import onnx

    try:
        model = onnx.load(str(model_path))
    except Exception as err:
        raise VoiceError(
            f"voice model {model_path} is damaged or not an ONNX file ({type(err).__name__}: "
            f"{err}); download or reinstall the voice"
        ) from err
    vocabulary = _vocabulary_size(model)
    original = model.SerializeToString()
    try:
        cut = cut_piper_graph(model)  # edits `model` in place
        sessions = {
            "encoder": _session(cut.encoder, "encoder"),
            "flow": _session(cut.flow, "flow"),
            "decoder": _session(cut.decoder, "decoder"),
        }
        samples_per_frame, fixed = _verify_cut(original, cut.info, sessions, config)
        flow_radius, decoder_radius = _receptive_fields(
            cut.info, sessions, fixed, samples_per_frame
        )
        extra = {
            "vocabulary_size": str(vocabulary),
            "samples_per_frame": str(samples_per_frame),
            "flow_context_frames": str(flow_radius),
            "decoder_context_frames": str(decoder_radius),
        }
        info = CutInfo(**{**cut.info.__dict__, "extra": extra})
    except (CutError, VoiceError) as err:
        warnings.warn(
            f"voice {model_path.name} cannot be cut for streaming ({err}); it will speak "
            "whole segments at a time (higher latency), and a seed cannot fix its noise",
            RuntimeWarning,
            stacklevel=4,
        )
        try:
            return None, {"whole": _session(original)}, vocabulary
        except Exception as load_err:
            raise VoiceError(
                f"voice model {model_path} cannot be run by onnxruntime ({load_err}); "
                "download or reinstall the voice"
            ) from load_err
    _store(cache, info, cut.encoder, cut.flow, cut.decoder)
    return info, sessions, vocabulary


def _verify_cut(
    original: bytes, info: CutInfo, sessions: dict[str, Any], config: PiperVoiceConfig
) -> tuple[int, dict[str, np.ndarray]]:
    """The three parts with noise off must equal the whole graph.

    Returns the decoder's samples per frame, and the encoder outputs the
    flow and decoder read besides z (a speaker embedding, the mask).
    """
    from ..text.phoneme_ids import to_phoneme_ids

    symbols = [s for s in "həlˈoʊ ðˈɛɹ, wˈʌn tˈuː θɹˈiː." if s in config.phoneme_id_map]
    ids = to_phoneme_ids(symbols, config.phoneme_id_map)
    feeds: dict[str, np.ndarray] = {
        "input": ids.ids[np.newaxis, :],
        "input_lengths": np.array([len(ids.ids)], dtype=np.int64),
        "scales": np.array([0.0, 1.0, 0.0], dtype=np.float32),
    }
    if "sid" in info.text_inputs:
        feeds["sid"] = np.zeros((1,), dtype=np.int64)
    try:
        whole = _session(original).run(None, feeds)[0].reshape(-1)
    except Exception as err:
        raise VoiceError(f"the voice model fails to run ({err}); reinstall the voice") from err
    enc_feeds = dict(feeds)
    if info.has_dp_noise:
        enc_feeds[DP_NOISE_INPUT] = np.zeros((1, info.dp_noise_channels, len(ids.ids)), np.float32)
    names = [o.name for o in sessions["encoder"].get_outputs()]
    results = dict(zip(names, sessions["encoder"].run(None, enc_feeds), strict=True))
    flow_feeds = {info.z_p: results[info.m_p]}
    flow_feeds.update({name: results[name] for name in info.flow_externals})
    z = sessions["flow"].run(None, flow_feeds)[0]
    decoder_feeds = {info.z: z}
    decoder_feeds.update({name: results[name] for name in info.decoder_externals})
    parts = sessions["decoder"].run(None, decoder_feeds)[0].reshape(-1)
    if parts.shape != whole.shape:
        raise CutError(f"cut gives {parts.shape[0]} samples, whole graph {whole.shape[0]}")
    error = float(np.max(np.abs(parts - whole))) if whole.size else 0.0
    if error > _VERIFY_TOLERANCE:
        raise CutError(f"cut differs from the whole graph by {error:.2e}")
    frames = int(results[info.durations].sum())
    if frames <= 0 or whole.size % max(frames, 1):
        raise CutError(f"durations ({frames} frames) do not divide {whole.size} samples")
    extras = {name: results[name] for name in info.flow_externals + info.decoder_externals}
    extras[info.m_p] = results[info.m_p]  # for its shape: [1, channels, frames]
    return whole.size // frames, extras


def _receptive_fields(
    info: CutInfo, sessions: dict[str, Any], extras: dict[str, np.ndarray], hop: int
) -> tuple[int, int]:
    """How many frames either side each part looks at, by perturbation.

    Nudge one frame in the middle of a random input and see how far the
    output changes: outside its receptive field a convolutional part gives
    bit-identical output (same shapes, same kernels). That radius is the
    context a chunk needs to equal whole-segment synthesis.
    """
    rng = np.random.default_rng(0)
    frames, middle = 160, 80
    channels = int(extras[info.m_p].shape[1])

    def feeds(start: str, value: np.ndarray, externals: list[str]) -> dict[str, np.ndarray]:
        out = {start: value}
        for name in externals:
            tensor = extras[name]
            if tensor.ndim == 3 and tensor.shape[-1] > 1 and tensor.shape[1] == 1:
                tensor = np.ones((1, 1, frames), dtype=tensor.dtype)  # the frame mask
            out[name] = tensor
        return out

    def radius(part: str, start: str, externals: list[str], per_frame: int) -> int:
        base = rng.standard_normal((1, channels, frames)).astype(np.float32)
        nudged = base.copy()
        nudged[:, :, middle] += 1.0
        a = sessions[part].run(None, feeds(start, base, externals))[0].reshape(-1)
        b = sessions[part].run(None, feeds(start, nudged, externals))[0]
        changed = np.flatnonzero(b.reshape(-1) != a)
        # flow output [1, C, frames]: index -> frame; decoder: sample -> frame
        changed = changed % frames if part == "flow" else changed // per_frame
        if changed.size == 0:
            raise CutError(f"the {part} ignores its input")
        reach = int(max(middle - changed.min(), changed.max() - middle))
        if reach >= middle - 1:
            raise CutError(f"the {part} sees {reach}+ frames away: too far to stream")
        return reach

    return (
        radius("flow", info.z_p, info.flow_externals, 1),
        radius("decoder", info.z, info.decoder_externals, hop),
    )


def _store(cache: Path, info: CutInfo, encoder: bytes, flow: bytes, decoder: bytes) -> None:
    """Write the cut atomically; a read-only cache only costs the next load."""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=cache.parent))
    except OSError as err:
        _log.warning(
            "cannot cache the cut voice in %s (%s); it will be cut on every load", cache, err
        )
        return
    try:
        for part, data in (("encoder", encoder), ("flow", flow), ("decoder", decoder)):
            (staging / f"{part}.onnx").write_bytes(data)
        (staging / "cut.json").write_text(info.to_json())
        with contextlib.suppress(OSError):  # another process stored it first
            staging.rename(cache)
    except OSError as err:
        _log.warning("cannot cache the cut voice in %s (%s)", cache, err)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
