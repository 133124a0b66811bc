#!/usr/bin/env python3
"""The whole GPU check, on the GPU machine, in one call.

Runs what scripts/gpu_check_prepare.py staged in .device-carry/gpu-check:
the GPU unit tests (cuda driver, plan codec, attention kernels), the six
reference models in fp32/fp16/bf16 and the model zoo (test/models/zoo) in
fp32/fp16 against their torch outputs (relative L2 within 1e-4 / 2e-2 /
2e-2), and the ONNX node tests that compile for cuda
(gaon-run's elementwise tolerance). Prints a summary, writes
$OUT/gpu-check.json and the logs, and exits non-zero on any failure.
"""
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAGE = os.path.join(ROOT, ".device-carry", "gpu-check")
OUT = os.environ.get("OUT", "/tmp/gaon-gpu-check")


def run(cmd, log, timeout=600):
    t = time.time()
    with open(log, "w") as f:
        r = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT,
                           timeout=timeout)
    return r.returncode, time.time() - t


def run_case(case):
    d = os.path.join(STAGE, case["dir"])
    report = os.path.join(d, f"report.{case['dtype']}.json")
    cmd = [os.path.join(STAGE, "bin", "gaon-run"),
           os.path.join(d, case["artifact"]), "--json", report]
    # Inputs bind in order, or by name where some were compiled in as
    # constants (gpu_check_prepare.py: input_names).
    names = case.get("input_names") or [None] * len(case["inputs"])
    for name, i in zip(names, case["inputs"]):
        path = os.path.join(d, i)
        cmd += ["--input", f"{name}={path}" if name else path]
    for name, f in case["expect"].items():
        cmd += ["--expect", f"{name}={os.path.join(d, f)}"]
    if case["rel_l2_max"] is not None:
        # Judged by relative L2 below, not elementwise.
        cmd += ["--rtol", "1e30", "--atol", "1e30"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    result = {"name": case["name"], "suite": case["suite"],
              "dtype": case["dtype"], "exit": r.returncode}
    try:
        with open(report) as f:
            rep = json.load(f)
    except (OSError, ValueError):
        rep = {}
    outs = rep.get("outputs", [])
    rel = [o.get("rel_l2") for o in outs if "rel_l2" in o]
    result["rel_l2"] = max((x for x in rel if x is not None), default=None)
    if case["rel_l2_max"] is not None:
        ok = (r.returncode == 0 and len(rel) == len(case["expect"]) and
              all(x is not None and x <= case["rel_l2_max"] for x in rel))
        result["limit"] = case["rel_l2_max"]
    else:
        ok = r.returncode == 0 and all(o.get("pass", True) for o in outs)
    result["pass"] = ok
    if not ok:
        result["log"] = (r.stderr + r.stdout)[-600:]
    return result


def main():
    os.makedirs(OUT, exist_ok=True)
    summary = {"gpu": subprocess.run(["nvidia-smi", "-L"], capture_output=True,
                                     text=True).stdout.strip()}
    failures = 0
    tests = {}
    for binary in ["gaon-cuda-plan-tests", "gaon-cuda-driver-tests",
                   "gaon-cuda-kernels-tests"]:
        path = os.path.join(STAGE, "bin", binary)
        if not os.path.exists(path):
            continue
        # The CPU emulation of the kernels runs in CI; here only the GPU.
        extra = (["--gtest_filter=-*Emulated*:*GemmEmulation*"]
                 if binary == "gaon-cuda-kernels-tests" else [])
        rc, secs = run([path, f"--gtest_output=json:{OUT}/{binary}.json",
                        *extra], os.path.join(OUT, binary + ".log"))
        tests[binary] = {"exit": rc, "seconds": round(secs, 1)}
        failures += rc != 0
        print(f"{binary:28s} {'PASS' if rc == 0 else 'FAIL'} ({secs:.1f} s)",
              flush=True)
    summary["unit_tests"] = tests

    # The attention kernels' speed (checked results; informative, not gating).
    bench = os.path.join(STAGE, "bin", "gaon-cuda-attention-bench")
    if os.path.exists(bench):
        rc, secs = run([bench, "--json", os.path.join(OUT, "attention.json")],
                       os.path.join(OUT, "attention-bench.log"))
        failures += rc != 0
        print(f"{'gaon-cuda-attention-bench':28s} {'PASS' if rc == 0 else 'FAIL'}"
              f" ({secs:.1f} s, table in attention-bench.log)", flush=True)

    with open(os.path.join(STAGE, "manifest.json")) as f:
        cases = [c for c in json.load(f)["cases"] if c["compiled"]]
    results = []
    for case in cases:
        res = run_case(case)
        results.append(res)
        if case["suite"] != "node":
            print(f"{res['name']:28s} rel L2 {res['rel_l2'] if res['rel_l2'] is not None else float('nan'):.3g}"
                  f" (<= {res['limit']:g}) {'PASS' if res['pass'] else 'FAIL'}",
                  flush=True)
    models = [r for r in results if r["suite"] == "models"]
    zoo = [r for r in results if r["suite"] == "zoo"]
    nodes = [r for r in results if r["suite"] == "node"]
    sm80 = [r for r in results if r["suite"] == "sm80"]
    quantized = [r for r in results if r["suite"] == "quantized"]
    failures += sum(not r["pass"] for r in results if r["suite"] != "node")
    node_failed = [r["name"] for r in nodes if not r["pass"]]
    failures += len(node_failed)
    print(f"models: {sum(r['pass'] for r in models)}/{len(models)} pass")
    print(f"zoo: {sum(r['pass'] for r in zoo)}/{len(zoo)} pass")
    if sm80:
        print(f"sm_80 PTX (JIT): {sum(r['pass'] for r in sm80)}/{len(sm80)}"
              " pass")
    if quantized:
        print(f"quantized: {sum(r['pass'] for r in quantized)}/"
              f"{len(quantized)} pass")
    for suite in ("scatter", "grid_sample", "signal"):
        rs = [r for r in results if r["suite"] == suite]
        if rs:
            print(f"{suite}: {sum(r['pass'] for r in rs)}/{len(rs)} pass")
            summary[suite] = rs
    print(f"node tests: {len(nodes) - len(node_failed)}/{len(nodes)} pass"
          + (f"; failing: {' '.join(node_failed[:40])}" if node_failed else ""))
    summary["models"] = models
    summary["zoo"] = zoo
    summary["sm80"] = sm80
    summary["quantized"] = quantized
    summary["node_tests"] = {"run": len(nodes),
                             "passed": len(nodes) - len(node_failed),
                             "failed": [r for r in nodes if not r["pass"]]}
    with open(os.path.join(OUT, "gpu-check.json"), "w") as f:
        json.dump(summary, f, indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
