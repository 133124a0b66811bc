#!/usr/bin/env python3
"""Exports small PyTorch recurrent layers to ONNX (opset 14) with torch's
outputs, in the backend-test layout, for the importer's unrolled RNN, GRU
and LSTM (compiler/onnx/ops/RecurrentOps.cpp). They cover what the ONNX node
tests do not: bidirectional layers, batch-first LSTM, PyTorch's GRU
(linear_before_reset = 1, two layers) and a ReLU RNN.

    python3 test/models/make_recurrent.py --out test/models/recurrent

Needs torch and onnx (Debian's python3-torch and python3-onnx will do).
"""
import argparse
import os

import onnx
import torch
import torch.nn as nn
from onnx import numpy_helper


class BiLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.LSTM(5, 4, batch_first=True, bidirectional=True)

    def forward(self, x):
        return self.layer(x)[0]


class TwoLayerGRU(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.GRU(5, 6, num_layers=2)

    def forward(self, x):
        return self.layer(x)[0]


class BiReluRNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.RNN(5, 3, nonlinearity="relu", bidirectional=True)

    def forward(self, x):
        return self.layer(x)[0]


def save(out, name, model, x):
    d = os.path.join(out, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    model.eval()
    with torch.no_grad():
        y = model(x)
    torch.onnx.export(model, (x,), os.path.join(d, "model.onnx"),
                      opset_version=14, input_names=["x"],
                      output_names=["y"])
    for file, tensor, tname in [("input_0.pb", x, "x"), ("output_0.pb", y, "y")]:
        with open(os.path.join(d, "test_data_set_0", file), "wb") as f:
            f.write(numpy_helper.from_array(tensor.numpy(),
                                            tname).SerializeToString())
    ops = sorted({n.op_type for n in onnx.load(
        os.path.join(d, "model.onnx")).graph.node})
    print(name, " ".join(ops))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.manual_seed(0)
    save(args.out, "bilstm", BiLSTM(), torch.randn(2, 7, 5))
    save(args.out, "gru2", TwoLayerGRU(), torch.randn(6, 3, 5))
    save(args.out, "birnn_relu", BiReluRNN(), torch.randn(4, 2, 5))


if __name__ == "__main__":
    main()
