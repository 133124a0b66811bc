#!/usr/bin/env python3
"""Writes GroupNormalization models in the ONNX backend-test layout, with
outputs computed here in float64 (Debian's onnx 1.12 has no test data for
the op):

  OUT/group18   opset 18: 3 groups of 2 channels, scale and bias per group,
                input [2, 6, 5, 4]
  OUT/group21   opset 21: 2 groups of 3 channels, scale and bias per
                channel, input [2, 6, 10], epsilon 1e-3
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def group_norm(x, scale, bias, groups, eps, per_channel):
    n, c = x.shape[:2]
    g = x.reshape(n, groups, -1)
    mean = g.mean(axis=2, keepdims=True)
    var = ((g - mean) ** 2).mean(axis=2, keepdims=True)
    y = ((g - mean) / np.sqrt(var + eps)).reshape(x.shape)
    if not per_channel:  # one value per group, repeated over its channels
        scale, bias = (np.repeat(v, c // groups) for v in (scale, bias))
    shape = (1, c) + (1,) * (x.ndim - 2)
    return y * scale.reshape(shape) + bias.reshape(shape)


def write(d, opset, x, groups, eps, per_channel, rng):
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    count = x.shape[1] if per_channel else groups
    scale = rng.standard_normal(count).astype(np.float32)
    bias = rng.standard_normal(count).astype(np.float32)
    y = group_norm(x.astype(np.float64), scale.astype(np.float64),
                   bias.astype(np.float64), groups, eps,
                   per_channel).astype(np.float32)
    node = helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"],
                            num_groups=groups, epsilon=eps)
    graph = helper.make_graph(
        [node], "group_norm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(y.shape))],
        [numpy_helper.from_array(scale, "s"), numpy_helper.from_array(bias, "b")])
    model = helper.make_model(graph,
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.save(model, os.path.join(d, "model.onnx"))
    for name, a in [("input_0.pb", x), ("output_0.pb", y)]:
        with open(os.path.join(d, "test_data_set_0", name), "wb") as f:
            f.write(numpy_helper.from_array(a).SerializeToString())


out = sys.argv[1]
rng = np.random.default_rng(0)
write(os.path.join(out, "group18"), 18,
      (3 * rng.standard_normal((2, 6, 5, 4)) + 1).astype(np.float32), 3,
      1e-5, False, rng)
write(os.path.join(out, "group21"), 21,
      (2 * rng.standard_normal((2, 6, 10)) - 1).astype(np.float32), 2, 1e-3,
      True, rng)
