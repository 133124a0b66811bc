#!/usr/bin/env python3
"""Scatter models with indices given at run time, in the backend-test layout
(model.onnx + test_data_set_0), for the importer's run-time scatters
(compiler/onnx/ops/ScatterOps.cpp). They cover what Debian's ONNX node tests
do not:

- ScatterND and ScatterElements with reduction max, min and mul (opset 18),
  duplicate and negative indices, outputs from onnxruntime;
- a key/value cache written at run-time positions, as decoders with a
  static cache export it from PyTorch (`index_copy_` and `cache[:, :, pos]
  = new`), outputs from torch.

    python3 test/models/make_scatter.py --out test/models/scatter

Needs numpy, onnx, onnxruntime and torch (the GPU machine has them).
"""
import argparse
import os

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
from onnx import TensorProto, helper, numpy_helper


def write_case(out, name, model_bytes, inputs, outputs):
    d = os.path.join(out, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(model_bytes)
    for kind, tensors in (("input", inputs), ("output", outputs)):
        for i, (tname, value) in enumerate(tensors):
            path = os.path.join(d, "test_data_set_0", "%s_%d.pb" % (kind, i))
            with open(path, "wb") as f:
                f.write(numpy_helper.from_array(np.asarray(value),
                                                tname).SerializeToString())
    print("wrote", d)


def onnx_case(out, name, op, attrs, data, indices, updates, opset=18):
    """One scatter node; the expected output comes from onnxruntime."""
    elem = helper.np_dtype_to_tensor_dtype(data.dtype)
    graph = helper.make_graph(
        [helper.make_node(op, ["d", "i", "u"], ["y"], **attrs)], name,
        [helper.make_tensor_value_info("d", elem, data.shape),
         helper.make_tensor_value_info("i", TensorProto.INT64, indices.shape),
         helper.make_tensor_value_info("u", elem, updates.shape)],
        [helper.make_tensor_value_info("y", elem, data.shape)])
    model = helper.make_model(graph,
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    raw = model.SerializeToString()
    sess = ort.InferenceSession(raw, providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {"d": data, "i": indices, "u": updates})
    write_case(out, name, raw, [("d", data), ("i", indices), ("u", updates)],
               [("y", y)])


class IndexCopyCache(nn.Module):
    """k/v caches [B, H, S, D] written at run-time positions, then attention
    of the new queries over the whole cache."""

    def forward(self, q, k_cache, v_cache, k_new, v_new, pos):
        k = k_cache.index_copy(2, pos, k_new)
        v = v_cache.index_copy(2, pos, v_new)
        scores = torch.matmul(q, k.transpose(-1, -2)) / 2.0
        return torch.matmul(torch.softmax(scores, -1), v), k


class IndexPutCache(nn.Module):
    """The same with `cache[:, :, pos] = new` (index_put)."""

    def forward(self, q, k_cache, v_cache, k_new, v_new, pos):
        k = k_cache.clone()
        v = v_cache.clone()
        k[:, :, pos] = k_new
        v[:, :, pos] = v_new
        scores = torch.matmul(q, k.transpose(-1, -2)) / 2.0
        return torch.matmul(torch.softmax(scores, -1), v), v


def torch_case(out, name, module):
    g = torch.Generator().manual_seed(7)
    B, H, S, D, N = 1, 2, 12, 4, 3
    q = torch.randn(B, H, N, D, generator=g)
    k_cache = torch.randn(B, H, S, D, generator=g)
    v_cache = torch.randn(B, H, S, D, generator=g)
    k_new = torch.randn(B, H, N, D, generator=g)
    v_new = torch.randn(B, H, N, D, generator=g)
    pos = torch.tensor([5, 6, 7], dtype=torch.int64)
    args = (q, k_cache, v_cache, k_new, v_new, pos)
    names = ["q", "k_cache", "v_cache", "k_new", "v_new", "pos"]
    with torch.no_grad():
        outs = module(*args)
    path = os.path.join(out, name + ".onnx.tmp")
    torch.onnx.export(module, args, path, opset_version=17, input_names=names,
                      output_names=["y", "cache"], dynamo=False)
    with open(path, "rb") as f:
        raw = f.read()
    os.remove(path)
    ops = sorted({n.op_type for n in onnx.load_from_string(raw).graph.node})
    print(name, "ops:", " ".join(ops))
    write_case(out, name, raw, [(n, a.numpy()) for n, a in zip(names, args)],
               [("y", outs[0].numpy()), ("cache", outs[1].numpy())])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "scatter"))
    args = ap.parse_args()
    rng = np.random.default_rng(11)
    f32 = np.float32
    data = rng.standard_normal((5, 3)).astype(f32)
    # Row 1 twice (the reduction combines both), row 4 as -1.
    idx = np.array([[1], [-1], [1], [0]], dtype=np.int64)
    upd = rng.standard_normal((4, 3)).astype(f32)
    for red in ("max", "min", "mul", "add"):
        onnx_case(args.out, "scatternd_" + red, "ScatterND",
                  {"reduction": red}, data, idx, upd)
    data2 = rng.standard_normal((3, 5)).astype(f32)
    idx2 = np.array([[0, 4, 0], [-1, 2, 2], [3, 3, 1]], dtype=np.int64)
    upd2 = rng.standard_normal((3, 3)).astype(f32)
    for red in ("max", "min", "mul"):
        onnx_case(args.out, "scatter_elements_" + red, "ScatterElements",
                  {"axis": 1, "reduction": red}, data2, idx2, upd2)
    # Integer data, axis 0, duplicates added.
    idata = rng.integers(-50, 50, (4, 2)).astype(np.int32)
    iidx = np.array([[3, 0], [3, 1], [-4, 0]], dtype=np.int64)
    iupd = rng.integers(-50, 50, (3, 2)).astype(np.int32)
    onnx_case(args.out, "scatter_elements_add_int32", "ScatterElements",
              {"axis": 0, "reduction": "add"}, idata, iidx, iupd)
    torch_case(args.out, "kv_cache_index_copy", IndexCopyCache())
    torch_case(args.out, "kv_cache_index_put", IndexPutCache())


if __name__ == "__main__":
    main()
