"""Cut a stock Piper (VITS) ONNX graph into encoder, flow and decoder.

A Piper ``.onnx`` runs text encoder → duration predictor → prior sampling →
flow (reverse) → HiFi-GAN decoder in one graph, so nothing can be heard until
the whole segment is vocoded. Flow and decoder are convolutional over time:
cut out as their own graphs, they can run on chunks of frames. The cut is
found by structure, not by tensor names alone:

- the prior sample is ``Add(m_p, RandomNormalLike(m_p) * Exp(logs_p) * s)``;
  the encoder part stops at ``m_p`` and ``logs_p`` and the sampling moves to
  numpy, where a seeded generator makes it reproducible;
- every other ``RandomNormalLike`` (the stochastic duration predictor's
  noise) becomes a graph input, for the same reason;
- the decoder starts at the data input of its first convolution (the
  ``dec.conv_pre`` weights, or the first node of the ``/dec/`` scope);
- the flow is every node on a path from the prior sample to that input;
- the frames of each phoneme id are the output of the graph's ``Ceil``;
- the encoder's layer norms, exported op by op, are folded into single
  nodes (``layer_norm_fusion``).

Tensors the flow or decoder need from elsewhere (the frame mask, a speaker
embedding) become extra outputs of the encoder and inputs of the part.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from .layer_norm_fusion import fuse_layer_norms

if TYPE_CHECKING:  # onnx is slow to import and only needed to cut a new voice
    import onnx

__all__ = ["CutError", "CutGraph", "cut_piper_graph"]

DP_NOISE_INPUT = "streamtts_dp_noise"


class CutError(Exception):
    """The graph does not have the shape this cutter knows how to split."""


@dataclass(frozen=True)
class CutInfo:
    """Tensor names of a cut, saved beside the cut models."""

    text_inputs: list[str]
    m_p: str
    logs_p: str
    durations: str
    z_p: str
    z: str
    audio: str
    flow_externals: list[str]
    decoder_externals: list[str]
    dp_noise_channels: int
    has_dp_noise: bool
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> CutInfo:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class CutGraph:
    info: CutInfo
    encoder: bytes
    flow: bytes
    decoder: bytes


def _producers(graph: onnx.GraphProto) -> dict[str, onnx.NodeProto]:
    return {out: node for node in graph.node for out in node.output if out}


def _consumers(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    table: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            table.setdefault(name, []).append(node)
    return table


def _find_prior(graph: onnx.GraphProto) -> tuple[onnx.NodeProto, str, str, str]:
    """The RandomNormalLike of the prior, and (m_p, logs_p, z_p) names."""
    producers = _producers(graph)
    consumers = _consumers(graph)
    for node in graph.node:
        if node.op_type != "RandomNormalLike":
            continue
        m_p = node.input[0]
        frontier = [(node.output[0], 0)]
        logs_p = ""
        while frontier:
            tensor, depth = frontier.pop()
            for user in consumers.get(tensor, []):
                if user.op_type == "Mul" and not logs_p:
                    other = [i for i in user.input if i != tensor]
                    source = producers.get(other[0]) if other else None
                    if source is not None and source.op_type == "Exp":
                        logs_p = source.input[0]
                if user.op_type == "Add" and m_p in user.input and logs_p:
                    return node, m_p, logs_p, user.output[0]
                if depth < 3:
                    frontier.append((user.output[0], depth + 1))
    raise CutError("no prior sample Add(m_p, noise * exp(logs_p) * scale) found")


def _find_decoder_input(graph: onnx.GraphProto) -> str:
    for node in graph.node:
        if node.op_type == "Conv" and (
            "dec/conv_pre" in node.name
            or any(name.startswith("dec.conv_pre") for name in node.input[1:])
        ):
            return node.input[0]
    for node in graph.node:
        if node.name.startswith("/dec/"):
            return node.input[0]
    raise CutError("no decoder (dec.conv_pre or /dec/ scope) found")


def _between(graph: onnx.GraphProto, start: str, end: str) -> list[onnx.NodeProto]:
    """Nodes on some path from tensor ``start`` to tensor ``end``."""
    consumers = _consumers(graph)
    producers = _producers(graph)
    forward: set[int] = set()
    stack = [start]
    seen_tensors = {start}
    while stack:
        for user in consumers.get(stack.pop(), []):
            if id(user) in forward:
                continue
            forward.add(id(user))
            for out in user.output:
                if out not in seen_tensors:
                    seen_tensors.add(out)
                    stack.append(out)
    backward: set[int] = set()
    stack = [end]
    while stack:
        node = producers.get(stack.pop())
        if node is None or id(node) in backward:
            continue
        backward.add(id(node))
        stack.extend(node.input)
    region = [node for node in graph.node if id(node) in forward and id(node) in backward]
    if not region:
        raise CutError(f"no path from {start} to {end}")
    return region


def _externals(graph: onnx.GraphProto, region: list[onnx.NodeProto], start: str) -> list[str]:
    """Tensors the region reads that neither it, the start, nor constants make."""
    made = {out for node in region for out in node.output}
    initializers = {init.name for init in graph.initializer}
    producers = _producers(graph)
    names: list[str] = []
    for node in region:
        for name in node.input:
            if not name or name == start or name in made or name in initializers:
                continue
            source = producers.get(name)
            if source is not None and source.op_type == "Constant":
                continue
            if name not in names:
                names.append(name)
    return names


def cut_piper_graph(model: onnx.ModelProto) -> CutGraph:
    """Split ``model`` (a loaded Piper graph); raises CutError if it can't."""
    graph = model.graph
    text_inputs = [i.name for i in graph.input]
    if not {"input", "input_lengths", "scales"} <= set(text_inputs):
        raise CutError(f"unexpected graph inputs {text_inputs}")
    prior_noise, m_p, logs_p, z_p = _find_prior(graph)
    z = _find_decoder_input(graph)
    audio = graph.output[0].name
    ceils = [node for node in graph.node if node.op_type == "Ceil"]
    if len(ceils) != 1:
        raise CutError(f"expected one Ceil (frames per phoneme), found {len(ceils)}")
    durations = ceils[0].output[0]

    other_noise = [
        node
        for node in graph.node
        if node.op_type == "RandomNormalLike" and node is not prior_noise
    ]
    if len(other_noise) > 1:
        raise CutError("more than one duration-predictor noise source")
    dp_channels = 0
    if other_noise:
        dp_channels = _probe_noise_channels(model, other_noise[0])
        _replace_with_input(model, other_noise[0], DP_NOISE_INPUT)

    flow_region = _between(graph, z_p, z)
    decoder_region = _between(graph, z, audio)
    flow_externals = _externals(graph, flow_region, z_p)
    decoder_externals = _externals(graph, decoder_region, z)
    info = CutInfo(
        text_inputs=text_inputs,
        m_p=m_p,
        logs_p=logs_p,
        durations=durations,
        z_p=z_p,
        z=z,
        audio=audio,
        flow_externals=flow_externals,
        decoder_externals=decoder_externals,
        dp_noise_channels=dp_channels,
        has_dp_noise=bool(other_noise),
    )
    from onnx import utils

    extractor = utils.Extractor(model)
    encoder_inputs = text_inputs + ([DP_NOISE_INPUT] if other_noise else [])
    encoder_outputs = [m_p, logs_p, durations]
    for name in flow_externals + decoder_externals:
        if name not in encoder_outputs:
            encoder_outputs.append(name)
    try:
        encoder = extractor.extract_model(encoder_inputs, encoder_outputs)
        flow = extractor.extract_model([z_p, *flow_externals], [z])
        decoder = extractor.extract_model([z, *decoder_externals], [audio])
    except Exception as err:  # onnx raises bare errors for unreachable tensors
        raise CutError(f"extracting the parts failed: {err}") from err
    fuse_layer_norms(encoder)
    for part, expected in ((flow, [z_p, *flow_externals]), (decoder, [z, *decoder_externals])):
        got = [i.name for i in part.graph.input]
        if sorted(got) != sorted(expected):
            raise CutError(f"part needs inputs {got}, expected {expected}")
    return CutGraph(
        info,
        encoder.SerializeToString(),
        flow.SerializeToString(),
        decoder.SerializeToString(),
    )


def _replace_with_input(model: onnx.ModelProto, node: onnx.NodeProto, name: str) -> None:
    """Make ``node``'s output a graph input called ``name``."""
    from onnx import TensorProto, helper

    graph = model.graph
    old = node.output[0]
    graph.node.remove(node)
    for other in graph.node:
        for k, value in enumerate(other.input):
            if value == old:
                other.input[k] = name
    graph.input.append(
        helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch_size", None, "phonemes"])
    )


def _probe_noise_channels(model: onnx.ModelProto, node: onnx.NodeProto) -> int:
    """Run the graph up to the noise's template to learn its [1, C, T] shape."""
    import numpy as np
    import onnxruntime as ort
    from onnx import utils

    part = utils.Extractor(model).extract_model(
        [i.name for i in model.graph.input], [node.input[0]]
    )
    session = ort.InferenceSession(part.SerializeToString(), providers=["CPUExecutionProvider"])
    shapes = []
    for length in (5, 9):
        feeds = {
            "input": np.ones((1, length), dtype=np.int64),
            "input_lengths": np.array([length], dtype=np.int64),
            "scales": np.array([0.0, 1.0, 0.0], dtype=np.float32),
        }
        if "sid" in [i.name for i in model.graph.input]:
            feeds["sid"] = np.zeros((1,), dtype=np.int64)
        feeds = {k: v for k, v in feeds.items() if k in {i.name for i in session.get_inputs()}}
        shapes.append(session.run(None, feeds)[0].shape)
    (b1, c1, t1), (b2, c2, t2) = shapes
    if (b1, b2, t1, t2) != (1, 1, 5, 9) or c1 != c2:
        raise CutError(f"duration noise has shape {shapes}, expected [1, C, phonemes]")
    return int(c1)
