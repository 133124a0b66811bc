#!/usr/bin/env python3
"""Writes ReduceMax/Min/Sum/Prod, ArgMax and CumSum over uint8 and uint32
data in the ONNX backend-test layout (OUT/u8, OUT/u32: model.onnx +
test_data_set_0), with numpy's outputs: sums, products and running sums
wrap in the data's type, max/min/argmax compare unsigned. Values span the whole type (uint8 up to 255, uint32 up
to 2^32 - 1), so a float accumulator, a signed compare or a saturating
store each give a different answer.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
for name, dt, npdt in [("u8", TensorProto.UINT8, np.uint8),
                       ("u32", TensorProto.UINT32, np.uint32)]:
    d = os.path.join(out, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    rng = np.random.default_rng(1)
    hi = 256 if npdt == np.uint8 else 2**32
    x = rng.integers(0, hi, size=(4, 8), dtype=np.uint64).astype(npdt)
    axes0 = helper.make_tensor("a0", TensorProto.INT64, [1], [0])
    axes1 = helper.make_tensor("a1", TensorProto.INT64, [1], [1])
    nodes = [helper.make_node("ReduceMax", ["x", "a0"], ["mx"], keepdims=1),
             helper.make_node("ReduceMin", ["x", "a1"], ["mn"], keepdims=1),
             helper.make_node("ReduceSum", ["x", "a1"], ["sm"], keepdims=1),
             helper.make_node("ReduceProd", ["x", "a1"], ["pr"], keepdims=1),
             helper.make_node("ArgMax", ["x"], ["am"], axis=1, keepdims=1),
             helper.make_node("CumSum", ["x", "ax"], ["cs"])]
    outs = {"mx": x.max(0, keepdims=True), "mn": x.min(1, keepdims=True),
            "sm": x.sum(1, keepdims=True, dtype=npdt),
            "pr": x.prod(1, keepdims=True, dtype=npdt),
            "am": x.argmax(1).reshape(4, 1).astype(np.int64),
            "cs": np.cumsum(x, axis=1, dtype=npdt)}
    graph = helper.make_graph(
        nodes, "integer_reductions",
        [helper.make_tensor_value_info("x", dt, [4, 8])],
        [helper.make_tensor_value_info(
            k, TensorProto.INT64 if k == "am" else dt, list(v.shape))
         for k, v in outs.items()],
        [axes0, axes1, helper.make_tensor("ax", TensorProto.INT64, [], [1])])
    onnx.save(helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 18)]),
        os.path.join(d, "model.onnx"))
    with open(os.path.join(d, "test_data_set_0", "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(x, "x").SerializeToString())
    for i, (k, v) in enumerate(outs.items()):
        with open(os.path.join(d, "test_data_set_0", f"output_{i}.pb"),
                  "wb") as f:
            f.write(numpy_helper.from_array(v, k).SerializeToString())
