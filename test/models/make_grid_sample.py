#!/usr/bin/env python3
"""GridSample models in the backend-test layout for the importer's GridSample
(compiler/onnx/ops/GridSampleOps.cpp): PyTorch's `F.grid_sample` exported
(opset 16) in every mode (nearest, bilinear, bicubic), padding mode (zeros,
border, reflection) and align_corners, over a grid that reaches past the
image on every side. Expected outputs are onnxruntime's (the ONNX
semantics); the script prints how far torch's own outputs are from them.

    python3 test/models/make_grid_sample.py --out test/models/grid_sample

Needs numpy, onnx, onnxruntime and torch (the GPU machine has them).
"""
import argparse
import os

import numpy as np
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper


class Sample(nn.Module):
    def __init__(self, mode, padding, align):
        super().__init__()
        self.mode, self.padding, self.align = mode, padding, align

    def forward(self, x, grid):
        return F.grid_sample(x, grid, mode=self.mode,
                             padding_mode=self.padding,
                             align_corners=self.align)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "grid_sample"))
    args = ap.parse_args()
    g = torch.Generator().manual_seed(5)
    x = torch.randn(2, 3, 5, 6, generator=g)
    # Normalized positions in [-1.7, 1.7]: some a few pixels outside.
    grid = (torch.rand(2, 4, 7, 2, generator=g) * 2 - 1) * 1.7
    for mode in ("nearest", "bilinear", "bicubic"):
        for padding in ("zeros", "border", "reflection"):
            for align in (False, True):
                name = "%s_%s_%s" % (mode, padding,
                                     "align" if align else "noalign")
                d = os.path.join(args.out, name)
                os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
                model = Sample(mode, padding, align)
                path = os.path.join(d, "model.onnx")
                torch.onnx.export(model, (x, grid), path, opset_version=16,
                                  input_names=["x", "grid"],
                                  output_names=["y"], dynamo=False)
                sess = ort.InferenceSession(
                    path, providers=["CPUExecutionProvider"])
                (y,) = sess.run(None, {"x": x.numpy(), "grid": grid.numpy()})
                with torch.no_grad():
                    t = model(x, grid).numpy()
                print("%-28s torch vs onnxruntime max |diff| %.2e" %
                      (name, float(np.abs(t - y).max())))
                for i, (tname, value) in enumerate(
                        (("x", x.numpy()), ("grid", grid.numpy()))):
                    with open(os.path.join(d, "test_data_set_0",
                                           "input_%d.pb" % i), "wb") as f:
                        f.write(numpy_helper.from_array(
                            value, tname).SerializeToString())
                with open(os.path.join(d, "test_data_set_0", "output_0.pb"),
                          "wb") as f:
                    f.write(numpy_helper.from_array(y, "y").SerializeToString())


if __name__ == "__main__":
    main()
