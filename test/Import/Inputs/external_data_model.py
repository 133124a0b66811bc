#!/usr/bin/env python3
"""Writes y = x + W with W (4 x 300 fp32) in an external data file, in the
ONNX backend-test layout (model.onnx, weights.bin, test_data_set_0/), then
damages a copy of it as --damage says:

  none       the model as written
  truncated  weights.bin cut short by 100 bytes
  missing    weights.bin deleted
  escape     the location points outside the model's directory (../w.bin)
  length     the recorded length disagrees with the tensor's size
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

parser = argparse.ArgumentParser()
parser.add_argument("out_dir")
parser.add_argument("--damage", default="none",
                    choices=["none", "truncated", "missing", "escape",
                             "length"])
args = parser.parse_args()

os.makedirs(os.path.join(args.out_dir, "test_data_set_0"), exist_ok=True)
rng = np.random.default_rng(0)
w = rng.standard_normal((4, 300)).astype(np.float32)
x = rng.standard_normal((4, 300)).astype(np.float32)
with open(os.path.join(args.out_dir, "weights.bin"), "wb") as f:
    f.write(b"\0" * 64)  # the tensor starts at an offset
    f.write(w.tobytes())

weight = onnx.TensorProto()
weight.name = "w"
weight.data_type = TensorProto.FLOAT
weight.dims.extend(w.shape)
weight.data_location = TensorProto.EXTERNAL
location = "../w.bin" if args.damage == "escape" else "weights.bin"
length = w.nbytes + (4 if args.damage == "length" else 0)
for key, value in [("location", location), ("offset", "64"),
                   ("length", str(length))]:
    entry = weight.external_data.add()
    entry.key, entry.value = key, value
graph = helper.make_graph(
    [helper.make_node("Add", ["x", "w"], ["y"])], "external",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 300])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 300])],
    [weight])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
onnx.save(model, os.path.join(args.out_dir, "model.onnx"))
for name, array in [("input_0.pb", x), ("output_0.pb", x + w)]:
    with open(os.path.join(args.out_dir, "test_data_set_0", name), "wb") as f:
        f.write(numpy_helper.from_array(array).SerializeToString())

if args.damage == "truncated":
    path = os.path.join(args.out_dir, "weights.bin")
    os.truncate(path, os.path.getsize(path) - 100)
elif args.damage == "missing":
    os.remove(os.path.join(args.out_dir, "weights.bin"))
