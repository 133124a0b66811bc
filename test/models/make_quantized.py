#!/usr/bin/env python3
"""Quantized exports of zoo models, made with onnxruntime's quantization tools.

Model teams and NPU toolchains ship quantized ONNX in two forms, both made
here from test/models/zoo with onnxruntime.quantization:

  NAME_qdq      quantize_static, QDQ format: QuantizeLinear/DequantizeLinear
                pairs around every MatMul/Gemm input (int8 per-channel
                weights, uint8 per-tensor activations calibrated on the
                model's own data sets).
  NAME_dynamic  quantize_dynamic: int8 weights, DynamicQuantizeLinear +
                MatMulInteger at run time.

Each output folder is in the ONNX backend-test layout (model.onnx +
test_data_set_N/ with the zoo's inputs). The expected outputs are
onnxruntime's with graph optimizations off (ORT_DISABLE_ALL), which runs
every QuantizeLinear/DequantizeLinear node as written: the model's defined
semantics. (With optimizations on, onnxruntime fuses QDQ groups into integer
kernels whose rounding differs; the script prints that difference.)

Run on a machine with onnxruntime (the GPU machine has it):

    python3 test/models/make_quantized.py --zoo test/models/zoo --out OUT
"""

import argparse
import glob
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import numpy_helper

MODELS = {
    # name: (zoo folder, variants)
    "distilbert": ("distilbert_torchscript", ("qdq", "dynamic")),
    "qwen2": ("qwen2_torchscript", ("qdq",)),
}


def load_sets(folder):
    sets = []
    for d in sorted(glob.glob(os.path.join(folder, "test_data_set_*"))):
        inputs = [numpy_helper.to_array(onnx.load_tensor(p))
                  for p in sorted(glob.glob(os.path.join(d, "input_*.pb")))]
        sets.append((d, inputs))
    return sets


def run_ort(path, names, inputs, optimize):
    import onnxruntime as ort
    options = ort.SessionOptions()
    if not optimize:
        options.graph_optimization_level = (
            ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    session = ort.InferenceSession(path, options,
                                   providers=["CPUExecutionProvider"])
    return session.run(None, dict(zip(names, inputs)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zoo", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "zoo"))
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    import onnxruntime
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat,
                                          QuantType, quantize_dynamic,
                                          quantize_static)
    print("onnxruntime", onnxruntime.__version__, "onnx", onnx.__version__)

    for name, (zoo_name, variants) in MODELS.items():
        src = os.path.join(args.zoo, zoo_name)
        model_path = os.path.join(src, "model.onnx")
        model = onnx.load(model_path)
        names = [i.name for i in model.graph.input]
        sets = load_sets(src)

        class Reader(CalibrationDataReader):
            def __init__(self):
                self.items = iter([dict(zip(names, inputs))
                                   for _, inputs in sets])

            def get_next(self):
                return next(self.items, None)

        for variant in variants:
            dst = os.path.join(args.out, f"{name}_{variant}")
            shutil.rmtree(dst, ignore_errors=True)
            os.makedirs(dst)
            out_model = os.path.join(dst, "model.onnx")
            if variant == "qdq":
                quantize_static(model_path, out_model, Reader(),
                                quant_format=QuantFormat.QDQ,
                                op_types_to_quantize=["MatMul", "Gemm"],
                                per_channel=True,
                                activation_type=QuantType.QUInt8,
                                weight_type=QuantType.QInt8)
            else:
                quantize_dynamic(model_path, out_model,
                                 op_types_to_quantize=["MatMul", "Gemm"],
                                 weight_type=QuantType.QInt8)
            ops = {}
            for node in onnx.load(out_model).graph.node:
                ops[node.op_type] = ops.get(node.op_type, 0) + 1
            print(f"{name}_{variant}: " + ", ".join(
                f"{k} {v}" for k, v in sorted(ops.items())
                if "Quant" in k or "Integer" in k or k == "MatMul"))
            for set_dir, inputs in sets:
                out_set = os.path.join(dst, os.path.basename(set_dir))
                os.makedirs(out_set)
                for p in sorted(glob.glob(os.path.join(set_dir,
                                                       "input_*.pb"))):
                    shutil.copy(p, out_set)
                exact = run_ort(out_model, names, inputs, optimize=False)
                fused = run_ort(out_model, names, inputs, optimize=True)
                float_ref = [numpy_helper.to_array(onnx.load_tensor(p))
                             for p in sorted(glob.glob(os.path.join(
                                 set_dir, "output_*.pb")))]
                for i, value in enumerate(exact):
                    tensor = numpy_helper.from_array(
                        value, model.graph.output[i].name)
                    onnx.save_tensor(tensor, os.path.join(
                        out_set, f"output_{i}.pb"))
                    rel = lambda a, b: float(np.linalg.norm(a - b) / max(
                        np.linalg.norm(b), 1e-30))
                    print(f"  {os.path.basename(set_dir)} output {i}: "
                          f"vs float model {rel(value, float_ref[i]):.2e}, "
                          f"ORT fused kernels vs as written "
                          f"{rel(fused[i], value):.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
