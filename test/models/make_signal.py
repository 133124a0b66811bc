#!/usr/bin/env python3
"""Spectral front ends exported from PyTorch (opset 17) in the backend-test
layout, for the importer's DFT and STFT (compiler/onnx/ops/SignalOps.cpp):

- `stft_hann`: torch.stft with a Hann window (n_fft 64, hop 16, no
  centering), as real/imaginary pairs (`return_complex=False`: the
  TorchScript exporter takes no complex tensors);
- `log_mel`: a Whisper-style log-mel spectrogram (n_fft 128, hop 32, power
  spectrum, a constant 20-band mel filter bank, log10 with a floor).

(torch.fft.rfft does not export with the TorchScript exporter at opset 17:
`aten::fft_rfft` is not supported; DFT itself is covered by the node tests.)

Expected outputs are onnxruntime's; the script prints how far torch's own
outputs are from them.

    python3 test/models/make_signal.py --out test/models/signal

Needs numpy, onnx, onnxruntime and torch (the GPU machine has them).
"""
import argparse
import os

import numpy as np
import onnxruntime as ort
import torch
import torch.nn as nn
from onnx import numpy_helper


class StftHann(nn.Module):
    def forward(self, x):
        # The TorchScript exporter takes real/imaginary pairs only.
        return torch.stft(x, n_fft=64, hop_length=16,
                          window=torch.hann_window(64), center=False,
                          return_complex=False)


class LogMel(nn.Module):
    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(3)
        # A fixed filter bank (triangular bands over 65 bins).
        bins, bands = 65, 20
        centers = torch.linspace(0, bins - 1, bands + 2)
        k = torch.arange(bins, dtype=torch.float32)
        fb = []
        for b in range(bands):
            lo, c, hi = centers[b], centers[b + 1], centers[b + 2]
            fb.append(torch.clamp(torch.minimum((k - lo) / (c - lo),
                                                (hi - k) / (hi - c)), min=0))
        self.register_buffer("fb", torch.stack(fb) *
                             (1 + 0.1 * torch.rand(bands, 1, generator=g)))

    def forward(self, x):
        spec = torch.stft(x, n_fft=128, hop_length=32,
                          window=torch.hann_window(128), center=False,
                          return_complex=False)
        power = spec[..., 0] ** 2 + spec[..., 1] ** 2
        mel = self.fb @ power
        return torch.log10(torch.clamp(mel, min=1e-10))


def save(out, name, model, x):
    d = os.path.join(out, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    path = os.path.join(d, "model.onnx")
    torch.onnx.export(model, (x,), path, opset_version=17,
                      input_names=["x"], output_names=["y"], dynamo=False)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {"x": x.numpy()})
    with torch.no_grad():
        t = model(x).numpy()
    print("%-10s %s torch vs onnxruntime max |diff| %.2e" %
          (name, y.shape, float(np.abs(t - y).max())))
    with open(os.path.join(d, "test_data_set_0", "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(x.numpy(), "x").SerializeToString())
    with open(os.path.join(d, "test_data_set_0", "output_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(y, "y").SerializeToString())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "signal"))
    args = ap.parse_args()
    g = torch.Generator().manual_seed(9)
    save(args.out, "stft_hann", StftHann(), torch.randn(2, 400, generator=g))
    save(args.out, "log_mel", LogMel(), torch.randn(1, 1024, generator=g))


if __name__ == "__main__":
    main()
