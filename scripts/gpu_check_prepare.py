#!/usr/bin/env python3
"""Stages everything the GPU check needs into .device-carry/gpu-check.

Runs on the build machine (which has MLIR but no GPU): compiles the six
reference models for `cuda` in fp32, fp16 and bf16, the model zoo
(test/models/zoo, every data set) in fp32 and fp16, and every ONNX node test
that the cuda target compiles (fp32), next to their inputs and expected
outputs; copies the runtime-only binaries (gaon-run with the cuda driver,
the GPU unit tests, the attention bench). scripts/gpu-check.sh then runs it
all on the GPU machine in one call.

    python3 scripts/gpu_check_prepare.py [--build build] [--suites models,zoo,node]
                                         [--no-unit-tests] [--part K/N]

The device call carries the working tree (~39 MB, most of it the zoo's ONNX
files) and the staging, 64 MiB in all: the whole zoo's artifacts (~44 MB)
go in three calls, `--suites zoo --no-unit-tests --part 1/3` to `3/3`.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

try:
    import onnx  # noqa: F401  (Debian's python3-onnx)
except ImportError:
    # A python3 earlier on PATH (pyenv) lacks Debian's packages.
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = ["gpt2_torchscript", "gpt2_dynamo", "bert_torchscript",
          "bert_dynamo", "llama_torchscript", "llama_dynamo"]
# Relative L2 bounds from the issue: fp32 1e-4, fp16/bf16 2e-2.
DTYPES = {"fp32": 1e-4, "fp16": 2e-2, "bf16": 2e-2}
BINARIES = ["gaon-run", "gaon-cuda-driver-tests", "gaon-cuda-plan-tests",
            "gaon-cuda-kernels-tests", "gaon-cuda-attention-bench"]
NODE_TESTS = "/usr/share/libonnx-testdata/data/node"
ZOO = os.path.join(ROOT, "test", "models", "zoo")
QUANTIZED = os.path.join(ROOT, "test", "models", "quantized")
# Quantized exports in fp16: an activation that differs in its last bits
# lands on the neighbouring quantization level (docs/npu-backend.md).
QUANTIZED_DTYPES = {"fp32": 1e-4, "fp16": 5e-2}
SCATTER = os.path.join(ROOT, "test", "models", "scatter")
GRID_SAMPLE = os.path.join(ROOT, "test", "models", "grid_sample")
SIGNAL = os.path.join(ROOT, "test", "models", "signal")


def output_names(model_path):
    import onnx  # Debian's python3-onnx
    model = onnx.load(model_path, load_external_data=False)
    return [o.name for o in model.graph.output]


def compile_model(compiler, model, out, extra, target="cuda"):
    cmd = [compiler, model, "--target=" + target, "-o", out] + extra
    r = subprocess.run(cmd, capture_output=True, text=True)
    return r.returncode == 0, (r.stderr or r.stdout).strip().splitlines()[:3]


def stage_more_sets(src_dir, case):
    """Cases for src_dir's other data sets, on the artifact `case` staged
    (same shapes), each set's files in its own subfolder."""
    more = []
    for data in sorted(os.listdir(src_dir)):
        if not data.startswith("test_data_set_") or data == "test_data_set_0":
            continue
        dst = os.path.join(STAGE, case["dir"], data)
        os.makedirs(dst, exist_ok=True)
        for f in os.listdir(os.path.join(src_dir, data)):
            shutil.copy(os.path.join(src_dir, data, f), dst)
        more.append(dict(case,
                         inputs=[f"{data}/{i}" for i in case["inputs"]],
                         expect={k: f"{data}/{v}"
                                 for k, v in case["expect"].items()},
                         name=f"{case['name']}.{data[len('test_data_'):]}"))
    return more


def stage_case(compiler, src_dir, dst_dir, dtype, tolerance, extra=(),
               target="cuda"):
    """Compiles src_dir/model.onnx and copies its first data set."""
    os.makedirs(dst_dir, exist_ok=True)
    model = os.path.join(src_dir, "model.onnx")
    data = os.path.join(src_dir, "test_data_set_0")
    inputs = sorted(f for f in os.listdir(data) if f.startswith("input_"))
    outputs = sorted(f for f in os.listdir(data) if f.startswith("output_"))
    # Static shapes from the data set (the models have dynamic dims).
    import onnx
    graph = onnx.load(model, load_external_data=False).graph
    initializers = {i.name for i in graph.initializer}
    names = [i.name for i in graph.input if i.name not in initializers]
    shapes, small = [], []
    for k, name in enumerate(names):
        path = os.path.join(data, f"input_{k}.pb")
        if os.path.exists(path):
            t = onnx.TensorProto()
            with open(path, "rb") as f:
                t.ParseFromString(f.read())
            if len(t.dims):
                shapes.append(name + "=" + "x".join(str(d) for d in t.dims))
            # What gaon-onnx-conformance binds when an operand must be a
            # compile-time constant (shapes, axes, bounds, Resize's scales):
            # scalars, integer vectors and float vectors of up to 8 values
            # (compiler/onnx/DataSet.cpp).
            floats = (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE,
                      onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16)
            if not len(t.dims) or (len(t.dims) == 1 and
                                   (t.data_type not in floats or
                                    t.dims[0] <= 8)):
                small.append((k, name, path))
    shape_args = ["--input-shape=" + ",".join(shapes)] if shapes else []
    out = os.path.join(dst_dir, f"model.{dtype}.gaon")
    flags = ["--dtype=" + dtype] + list(extra) + shape_args
    ok, why = compile_model(compiler, model, out, flags, target)
    bound = set()
    if not ok and small and any("compile-time constant" in w for w in why):
        ok, why = compile_model(
            compiler, model, out,
            flags + [f"--bind-input={n}={p}" for _, n, p in small], target)
        bound = {k for k, _, _ in small}
    if not ok:
        return {"dir": dst_dir, "dtype": dtype, "compiled": False,
                "error": why}
    for f in inputs + outputs:
        shutil.copy(os.path.join(data, f), dst_dir)
    out_names = output_names(model)
    case = {"dir": os.path.relpath(dst_dir, STAGE), "dtype": dtype,
            "compiled": True, "rel_l2_max": tolerance,
            "artifact": f"model.{dtype}.gaon",
            "inputs": inputs,
            "expect": {out_names[int(f[7:-3])]: f for f in outputs
                       if int(f[7:-3]) < len(out_names)}}
    if bound:
        # The bound inputs are constants now: feed the others by name.
        kept = [k for k in range(len(inputs)) if k not in bound]
        case["inputs"] = [inputs[k] for k in kept]
        case["input_names"] = [names[k] for k in kept]
    return case


def main():
    global STAGE
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--shared-models",
                    default=os.path.join(os.path.dirname(ROOT), "shared",
                                         "models"))
    ap.add_argument("--no-node-tests", action="store_true")
    ap.add_argument("--suites", default="models,zoo,node",
                    help="comma-separated of: models (../shared/models in "
                    "fp32/fp16/bf16), zoo (test/models/zoo in fp32/fp16, "
                    "every data set), node (ONNX node tests), sm80 "
                    "(../shared/models compiled for cuda:sm_80 in fp32/fp16: "
                    "the driver JIT-compiles that PTX on a newer GPU), "
                    "quantized (test/models/quantized in fp32/fp16), "
                    "scatter (test/models/scatter in fp32/fp16), "
                    "grid_sample (test/models/grid_sample in fp32/fp16), "
                    "signal (test/models/signal in fp32/fp16)")
    ap.add_argument("--no-unit-tests", action="store_true",
                    help="stage gaon-run only, not the GPU unit tests and "
                    "the attention bench (when the carry limit is tight)")
    ap.add_argument("--part", default="1/1", metavar="K/N",
                    help="stage only the K-th of N interleaved shares of the "
                    "zoo and quantized models (sorted by name), so that "
                    "several device calls, each within the carry limit, "
                    "cover them all")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    try:
        part, parts = (int(v) for v in args.part.split("/"))
        if not 1 <= part <= parts:
            raise ValueError
    except ValueError:
        ap.error(f"--part takes K/N with 1 <= K <= N, not '{args.part}'")
    STAGE = os.path.join(ROOT, ".device-carry", "gpu-check")
    shutil.rmtree(STAGE, ignore_errors=True)
    os.makedirs(os.path.join(STAGE, "bin"))

    subprocess.run(["ninja", "-C", args.build, "gaon-compile", "gaon-run"],
                   check=True)
    suites = set(args.suites.split(","))
    if args.no_node_tests:
        suites.discard("node")
    for b in BINARIES[:1] if args.no_unit_tests else BINARIES:
        # Test binaries are optional (a build without GoogleTest).
        r = subprocess.run(["ninja", "-C", args.build, b], capture_output=True)
        if r.returncode != 0:
            print(f"warning: {b} did not build; not staged", file=sys.stderr)
            continue
        shutil.copy(os.path.join(args.build, "bin", b),
                    os.path.join(STAGE, "bin"))
    compiler = os.path.join(args.build, "bin", "gaon-compile")

    cases = []
    for m in MODELS if "models" in suites else []:
        for dtype, tol in DTYPES.items():
            case = stage_case(compiler, os.path.join(args.shared_models, m),
                              os.path.join(STAGE, "models", m), dtype, tol)
            case["suite"] = "models"
            case["name"] = f"{m}.{dtype}"
            print(("staged " if case["compiled"] else "FAILED ") + case["name"],
                  flush=True)
            cases.append(case)

    # sm_80 code on the GPU at hand: the plan's PTX targets sm_80 and the
    # driver JIT-compiles it (the prebuilt attention and GEMM kernels load
    # their SASS for the GPU's own arch).
    for m in MODELS if "sm80" in suites else []:
        for dtype in ["fp32", "fp16"]:
            case = stage_case(compiler, os.path.join(args.shared_models, m),
                              os.path.join(STAGE, "sm80", m), dtype,
                              DTYPES[dtype], target="cuda:sm_80")
            case["suite"] = "sm80"
            case["name"] = f"{m}.{dtype}.sm_80"
            print(("staged " if case["compiled"] else "FAILED ") + case["name"],
                  flush=True)
            cases.append(case)

    # Model folders in the backend-test layout, every data set a case.
    folders = [("zoo", ZOO, {d: DTYPES[d] for d in ["fp32", "fp16"]}),
               ("quantized", QUANTIZED, QUANTIZED_DTYPES),
               ("scatter", SCATTER, {d: DTYPES[d] for d in ["fp32", "fp16"]}),
               ("grid_sample", GRID_SAMPLE,
                {d: DTYPES[d] for d in ["fp32", "fp16"]}),
               ("signal", SIGNAL, {d: DTYPES[d] for d in ["fp32", "fp16"]})]
    for suite, root, dtypes in folders:
        if suite not in suites:
            continue
        names = [m for m in sorted(os.listdir(root))
                 if os.path.isdir(os.path.join(root, m))]
        for m in names[part - 1::parts]:
            for dtype, tol in dtypes.items():
                case = stage_case(compiler, os.path.join(root, m),
                                  os.path.join(STAGE, suite, m), dtype, tol)
                case["suite"] = suite
                case["name"] = f"{m}.{dtype}"
                print(("staged " if case["compiled"] else "FAILED ") +
                      case["name"], flush=True)
                cases.append(case)
                if case["compiled"]:
                    cases += stage_more_sets(os.path.join(root, m), case)

    if "node" in suites and os.path.isdir(NODE_TESTS):
        tests = sorted(os.listdir(NODE_TESTS))

        def one(t):
            case = stage_case(compiler, os.path.join(NODE_TESTS, t),
                              os.path.join(STAGE, "node", t), "fp32", None)
            case["suite"] = "node"
            case["name"] = t
            if not case["compiled"]:
                shutil.rmtree(os.path.join(STAGE, "node", t),
                              ignore_errors=True)
            return case

        with ThreadPoolExecutor(args.jobs) as pool:
            node_cases = list(pool.map(one, tests))
        compiled = [c for c in node_cases if c["compiled"]]
        print(f"node tests: {len(compiled)} of {len(tests)} compile for cuda")
        cases += node_cases

    with open(os.path.join(STAGE, "manifest.json"), "w") as f:
        json.dump({"cases": cases}, f, indent=1)
    size = sum(os.path.getsize(os.path.join(d, f))
               for d, _, fs in os.walk(STAGE) for f in fs)
    print(f"staged {size / 2**20:.1f} MiB in {STAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
