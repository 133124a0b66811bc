#!/usr/bin/env python3
"""Writes grouped convolutions in the ONNX backend-test layout, with outputs
computed here by direct summation (numpy, float64):

  OUT/conv2d    Conv 2-D, 3 groups (6 -> 9 channels), kernel 3x3, stride 2,
                pads 1, plus bias
  OUT/depthwise Conv 1-D, depthwise (groups = channels = 4), kernel 5,
                pads 2 (a Whisper/wav2vec2-style filter)
  OUT/long1d    Conv 1-D, 4 groups (16 -> 16 channels), kernel 80, pads 40:
                wav2vec2's positional convolution in small (more kernel
                offsets than gaon-conv-to-matmul slices one by one)
  OUT/wide2d    Conv 2-D, kernel 9x9 (81 offsets), stride 2, dilation 2,
                pads 3, plus bias
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def conv(x, w, b, groups, strides, pads, dilations=None):
    n, c = x.shape[:2]
    o, cg = w.shape[:2]
    k = w.shape[2:]
    spatial = len(k)
    dil = dilations or [1] * spatial
    x = np.pad(x, [(0, 0), (0, 0)] + [(pads[i], pads[spatial + i])
                                      for i in range(spatial)])
    out = [(x.shape[2 + i] - (k[i] - 1) * dil[i] - 1) // strides[i] + 1
           for i in range(spatial)]
    y = np.zeros((n, o, *out))
    og = o // groups
    for oc in range(o):
        g = oc // og
        for pos in np.ndindex(*out):
            window = tuple(slice(pos[i] * strides[i],
                                 pos[i] * strides[i] + (k[i] - 1) * dil[i] + 1,
                                 dil[i]) for i in range(spatial))
            patch = x[(slice(None), slice(g * cg, (g + 1) * cg)) + window]
            y[(slice(None), oc) + pos] = (patch * w[oc]).reshape(n, -1).sum(1)
        if b is not None:
            y[:, oc] += b[oc]
    return y


def write(d, x, w, b, groups, strides, pads, dilations=None):
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    y = conv(x.astype(np.float64), w.astype(np.float64),
             None if b is None else b.astype(np.float64), groups, strides,
             pads, dilations).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w")]
    inputs = ["x", "w"]
    if b is not None:
        inits.append(numpy_helper.from_array(b, "b"))
        inputs.append("b")
    node = helper.make_node("Conv", inputs, ["y"], group=groups,
                            strides=strides, pads=pads,
                            dilations=dilations or [1] * len(strides))
    graph = helper.make_graph(
        [node], "grouped_conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(y.shape))],
        inits)
    onnx.save(helper.make_model(graph,
                                opset_imports=[helper.make_opsetid("", 17)]),
              os.path.join(d, "model.onnx"))
    for name, a in [("input_0.pb", x), ("output_0.pb", y)]:
        with open(os.path.join(d, "test_data_set_0", name), "wb") as f:
            f.write(numpy_helper.from_array(a).SerializeToString())


out = sys.argv[1]
rng = np.random.default_rng(0)
f32 = np.float32
write(os.path.join(out, "conv2d"),
      rng.standard_normal((2, 6, 7, 9)).astype(f32),
      rng.standard_normal((9, 2, 3, 3)).astype(f32),
      rng.standard_normal(9).astype(f32), 3, [2, 2], [1, 1, 1, 1])
write(os.path.join(out, "depthwise"),
      rng.standard_normal((1, 4, 16)).astype(f32),
      rng.standard_normal((4, 1, 5)).astype(f32), None, 4, [1], [2, 2])
write(os.path.join(out, "long1d"),
      rng.standard_normal((2, 16, 24)).astype(f32),
      (0.1 * rng.standard_normal((16, 4, 80))).astype(f32),
      rng.standard_normal(16).astype(f32), 4, [1], [40, 40])
write(os.path.join(out, "wide2d"),
      rng.standard_normal((1, 3, 20, 18)).astype(f32),
      (0.1 * rng.standard_normal((4, 3, 9, 9))).astype(f32),
      rng.standard_normal(4).astype(f32), 1, [2, 2], [3, 3, 3, 3], [2, 2])
