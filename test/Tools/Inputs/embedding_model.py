#!/usr/bin/env python3
"""Writes a small embedding + projection model for the roofline test.

out = Gather(table, ids) @ W, with table [1000, 64], W [64, 32] (fp32).
With --tied the same table also feeds a MatMul (probe [1, 1000] @ table),
so every row of it is read.
"""
import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("--tied", action="store_true")
args = parser.parse_args()

rng = np.random.default_rng(0)
table = numpy_helper.from_array(
    rng.standard_normal((1000, 64)).astype(np.float32), "table")
w = numpy_helper.from_array(
    rng.standard_normal((64, 32)).astype(np.float32), "w")
nodes = [helper.make_node("Gather", ["table", "ids"], ["emb"]),
         helper.make_node("MatMul", ["emb", "w"], ["out"])]
outputs = [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 8, 32])]
if args.tied:
    nodes.append(helper.make_node("MatMul", ["probe", "table"], ["mix"]))
    outputs.append(helper.make_tensor_value_info("mix", TensorProto.FLOAT,
                                                 [1, 64]))
inputs = [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, 8])]
if args.tied:
    inputs.append(helper.make_tensor_value_info("probe", TensorProto.FLOAT,
                                                [1, 1000]))
graph = helper.make_graph(nodes, "embedding", inputs, outputs, [table, w])
onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
          args.out)
