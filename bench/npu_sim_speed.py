#!/usr/bin/env python3
"""Simulator speed benchmark for gaon_npu_sim.

Builds bench/npu_sim_speed (standalone CMake project, or reuses a binary
given with --binary), runs it, prints a table and writes JSON.

Peer figure: ONNXim (Ham et al., "ONNXim: A Fast, Cycle-level Multi-core NPU
Simulator", 2024), a cycle-level multi-core NPU simulator, at about 40,000
simulated cycles per second, the figure quoted in the project's design notes;
it is a published/observed figure, not measured on this machine.
"""
import argparse
import json
import os
import subprocess
import sys

ONNXIM_CYCLES_PER_SECOND = 40_000.0
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build(build_dir):
    src = os.path.join(ROOT, "bench", "npu_sim_speed")
    subprocess.run(["cmake", "-G", "Ninja", "-S", src, "-B", build_dir,
                    "-DCMAKE_BUILD_TYPE=Release"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", build_dir, "-j2"], check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(build_dir, "npu-sim-speed")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", help="prebuilt npu-sim-speed")
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build-bench-npu-sim"))
    parser.add_argument("--json", default="npu_sim_speed.json", help="output JSON path")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="smaller GEMMs")
    args = parser.parse_args()

    binary = args.binary or build(args.build_dir)
    command = [binary, "--repeat", str(args.repeat)] + (["--quick"] if args.quick else [])
    result = json.loads(subprocess.run(command, check=True, capture_output=True,
                                       text=True).stdout)
    header = (f"{'case':44} {'chip':5} {'mode':10} {'instrs':>8} {'sim cycles':>12} "
              f"{'sim time':>10} {'wall':>9} {'cycles/s':>10} {'vs ONNXim':>10}")
    print(header)
    print("-" * len(header))
    for case in result["cases"]:
        ratio = case["cycles_per_second"] / ONNXIM_CYCLES_PER_SECOND
        case["ratio_vs_onnxim"] = ratio
        print(f"{case['name']:44} {case['chip']:5} {case['mode']:10} "
              f"{case['instructions']:8d} {case['simulated_cycles']:12.0f} "
              f"{case['simulated_seconds'] * 1e6:8.1f}us {case['wall_seconds'] * 1e3:7.2f}ms "
              f"{case['cycles_per_second']:10.3g} {ratio:9.0f}x")
    print(f"\nONNXim peer figure: ~{ONNXIM_CYCLES_PER_SECOND:.0f} simulated cycles/s "
          "(published, not measured here). Goals: >= 4e6 cycles/s on the GEMM stream; "
          "BERT-base in < 1 s.")
    result["onnxim_cycles_per_second_published"] = ONNXIM_CYCLES_PER_SECOND
    result["host"] = os.uname().nodename
    with open(args.json, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
