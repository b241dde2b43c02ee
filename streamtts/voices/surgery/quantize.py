"""int8 parts of a cut voice, made with onnxruntime's static quantization.

Why static: dynamic quantization computes each activation's scale from the
tensor it sees, so a chunk would be quantized unlike its whole segment
(measured on the default voice, real chunk schedule: max |chunked - whole|
0.12 for a dynamic decoder, 0.46 for a dynamic flow). Static scales are
calibrated once, on ``calibration.txt`` spoken through the fp32 parts, so
every output sample stays a function of its receptive field: the int8
decoder's chunks equal its whole segment bit for bit (integer arithmetic),
the flow's within 2e-6.

What is quantized, and how, as measured on the default voice (speed per
call on one thread; quality on 89 sentences, same seed, Whisper tiny.en
word error rate and DNSMOS OVRL, fp32: 9.1%, 3.267):

- Conv and ConvTranspose only: weights int8 per output channel, activations
  uint8 per tensor (x86's fast u8s8 kernels; s8s8 ran 2.2x slower), QDQ
  format (QOperator broke chunked == whole by 1e-2 in the decoder). With
  every operator type quantized the encoder changed 85% of phoneme
  durations instead of 13%.
- the encoder: 1.7-1.9x faster (first audio), WER 8.8%, OVRL 3.281.
- the flow: 2.7x less CPU, WER 8.8%, OVRL 3.263.
- the decoder only up to its second upsampling (``_float_tail``): 6% less
  CPU, OVRL 3.262 against fp32's 3.268 on 89 other sentences. At the
  higher sample rates 8-bit activations are heard: quantized up to its
  last upsampling it ran 1.2x faster but OVRL fell to 3.169 (3.134 on the
  other sentences); all of it ran 2.4x faster with a hiss floor at -47
  dBFS in every pause.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import VoiceError
from ...text.phoneme_ids import to_phoneme_ids
from ..piper_config import PiperVoiceConfig
from .graph_cut import DP_NOISE_INPUT, CutInfo

__all__ = ["INT8_PARTS", "calibration_feeds", "calibration_texts", "quantize_part"]

INT8_PARTS = ("encoder", "flow", "decoder")
_QUANTIZED_OPS = ["Conv", "ConvTranspose"]

Feeds = dict[str, np.ndarray]


def calibration_texts() -> list[str]:
    """The package's calibration corpus: one line a sentence, '#' comments."""
    try:
        text = resources.files("streamtts.voices").joinpath("calibration.txt").read_text("utf-8")
    except (FileNotFoundError, OSError) as err:
        raise VoiceError(
            f"streamtts's calibration text is missing ({err}); reinstall streamtts"
        ) from err
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def calibration_feeds(
    sessions: dict[str, Any], info: CutInfo, config: PiperVoiceConfig, seed: int = 0
) -> dict[str, list[Feeds]]:
    """What each fp32 part sees while the voice speaks the calibration text.

    The settings vary line by line as they do at run time: the voice's own
    noise, no noise (a seed-free comparison), and faster and slower speech.
    """
    from ...text.phonemizer import Phonemizer

    phonemizer = Phonemizer(config.espeak_voice)
    rng = np.random.default_rng(seed)
    feeds: dict[str, list[Feeds]] = {part: [] for part in INT8_PARTS}
    variants = [
        (config.noise_scale, config.length_scale, config.noise_w_scale),
        (0.0, config.length_scale, 0.0),
        (config.noise_scale, config.length_scale * 1.25, config.noise_w_scale),
        (config.noise_scale, config.length_scale / 1.6, config.noise_w_scale),
    ]
    for k, text in enumerate(calibration_texts()):
        symbols = phonemizer.phonemize(text).symbols
        ids = to_phoneme_ids(symbols, config.phoneme_id_map).ids
        noise, length, noise_w = variants[k % len(variants)]
        encoder_feeds: Feeds = {
            "input": ids[np.newaxis, :],
            "input_lengths": np.array([ids.size], dtype=np.int64),
            "scales": np.array([noise, length, noise_w], dtype=np.float32),
        }
        if "sid" in info.text_inputs:
            encoder_feeds["sid"] = np.array([k % max(1, config.num_speakers)], dtype=np.int64)
        if info.has_dp_noise:
            shape = (1, info.dp_noise_channels, ids.size)
            encoder_feeds[DP_NOISE_INPUT] = rng.standard_normal(shape, dtype=np.float32)
        feeds["encoder"].append(encoder_feeds)
        encoder = sessions["encoder"]
        names = [o.name for o in encoder.get_outputs()]
        results = dict(zip(names, encoder.run(None, encoder_feeds), strict=True))
        m_p, logs_p = results[info.m_p], results[info.logs_p]
        z_p = m_p + rng.standard_normal(m_p.shape, dtype=np.float32) * np.exp(logs_p) * noise
        flow_feeds = {info.z_p: z_p.astype(np.float32)}
        flow_feeds.update({name: results[name] for name in info.flow_externals})
        feeds["flow"].append(flow_feeds)
        z = sessions["flow"].run(None, flow_feeds)[0]
        decoder_feeds = {info.z: z}
        decoder_feeds.update({name: results[name] for name in info.decoder_externals})
        feeds["decoder"].append(decoder_feeds)
    return feeds


def _float_tail(model: Any) -> list[str]:
    """The decoder's nodes from its second upsampling (ConvTranspose) on:
    they stay float (see the module docstring). Nodes are in graph order."""
    nodes = list(model.graph.node)
    upsamplings = [k for k, node in enumerate(nodes) if node.op_type == "ConvTranspose"]
    start = upsamplings[1] if len(upsamplings) > 1 else len(nodes)
    return [node.name for node in nodes[start:]]


class _Reader:
    """onnxruntime's CalibrationDataReader over a list of feeds."""

    def __init__(self, feeds: list[Feeds]) -> None:
        self._feeds: Iterator[Feeds] = iter(feeds)

    def get_next(self) -> Feeds | None:
        return next(self._feeds, None)


def quantize_part(part: str, model: bytes, feeds: list[Feeds]) -> bytes:
    """One part, statically quantized (see the module docstring); the int8 graph."""
    import onnxruntime as ort

    # The quantizer's own sessions would print onnxruntime's warnings (unused
    # initializers) on a user's terminal; back to onnxruntime's default after.
    ort.set_default_logger_severity(3)
    try:
        return _quantize(part, model, feeds)
    finally:
        ort.set_default_logger_severity(2)


def _quantize(part: str, model: bytes, feeds: list[Feeds]) -> bytes:
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_static,
    )

    class Reader(_Reader, CalibrationDataReader):
        pass

    with tempfile.TemporaryDirectory(prefix="streamtts-int8-") as scratch:
        source, prepared, output = (Path(scratch) / n for n in ("in.onnx", "pre.onnx", "q.onnx"))
        source.write_bytes(model)
        # Shape inference and onnxruntime's basic graph clean-up, as advised
        # before quantizing (symbolic shape inference would need sympy).
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        exclude = _float_tail(onnx.load(str(prepared))) if part == "decoder" else []
        quantize_static(
            str(prepared),
            str(output),
            Reader(feeds),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=_QUANTIZED_OPS,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=exclude,
        )
        return output.read_bytes()
