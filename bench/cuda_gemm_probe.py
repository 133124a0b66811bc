#!/usr/bin/env python3
"""Where the time of a few-row GEMM goes on the GPU (run on the GPU machine).

Builds bench/cuda_gemm_probe.cu with nvcc (timed and traced variants), runs
both, and times the peer, torch.matmul (cuBLAS), the same two ways: once
after an L2 flush, and back to back in a CUDA graph over 48 weights that do
not fit in L2. Prints a table per problem and writes JSON.

    python3 bench/cuda_gemm_probe.py [--out DIR] [--arch sm_90]
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROBLEMS = [("qkv 128x2304x768", 128, 2304, 768),
            ("out 128x768x768", 128, 768, 768),
            ("ffn_up 128x3072x768", 128, 3072, 768),
            ("ffn_down 128x768x3072", 128, 768, 3072)]


def build(arch, out_dir, trace, variant):
    bk, stages = variant.split(":")
    exe = os.path.join(out_dir,
                       f"probe{'_trace' if trace else ''}_{bk}_{stages}")
    kernels = os.path.join(ROOT, "backends", "cuda", "kernels")
    cmd = ["nvcc", "-O3", "-std=c++17", f"-arch={arch}", "-I" + kernels,
           "-I" + os.path.join(kernels, "include"),
           os.path.join(ROOT, "bench", "cuda_gemm_probe.cu"), "-o", exe]
    if trace:
        cmd.insert(1, "-DPROBE_TRACE")
    cmd[1:1] = [f"-DGAON_GEMM_STAGES={stages}", f"-DGAON_GEMM_BK={bk}"]
    subprocess.run(cmd, check=True)
    return exe


def run_lines(exe):
    out = subprocess.run([exe], check=True, capture_output=True, text=True)
    return [json.loads(line) for line in out.stdout.splitlines() if line]


def torch_peer():
    import torch
    from torch_timing import graph_us, single_us
    rows = []
    flush = torch.empty(256 << 20, dtype=torch.uint8, device="cuda")
    for name, m, n, k in PROBLEMS:
        a = torch.randn(m, k, device="cuda", dtype=torch.float16)
        for bt in (False, True):
            ws = [torch.randn((n, k) if bt else (k, n), device="cuda",
                              dtype=torch.float16) for _ in range(48)]
            f = (lambda i: a @ ws[i].t()) if bt else (lambda i: a @ ws[i])
            for i in range(3):
                f(i)
            rows.append({"kind": "torch", "problem": name, "bt": int(bt),
                         "single_us": single_us(f, 16, before=flush.fill_,
                                                skip_first=True),
                         "graph_us": graph_us(f, 48)})
            del ws
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.environ.get("OUT", "/tmp/gemm-probe"))
    ap.add_argument("--arch", default="sm_90")
    ap.add_argument("--variants", default="32:4,32:8,64:4",
                    help="K per stage:pipeline depth pairs to build and time")
    ap.add_argument("--trace", default="32:8",
                    help="variant of the traced build ('': no trace)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    from concurrent.futures import ThreadPoolExecutor
    builds = [(False, v) for v in args.variants.split(",")]
    if args.trace:
        builds.append((True, args.trace))
    with ThreadPoolExecutor(len(builds)) as pool:
        exes = list(pool.map(lambda b: build(args.arch, args.out, *b),
                             builds))
    rows = []
    for exe in exes:
        rows += run_lines(exe)
    rows += torch_peer()
    with open(os.path.join(args.out, "gemm-probe.json"), "w") as f:
        json.dump(rows, f, indent=1)
    for r in rows:
        if r.get("kind") in ("empty", "stream"):
            print(f"{r['kind']:6s} {r.get('problem', ''):24s} ctas "
                  f"{r['ctas']:4d} single {r['single_us']:7.2f} us graph "
                  f"{r['graph_us']:7.2f} us")
    for name, *_ in PROBLEMS:
        print(f"\n== {name}")
        best = {}
        for r in rows:
            if r.get("problem") != name:
                continue
            if r.get("kind") == "torch":
                print(f"  torch bt{r['bt']}: single {r['single_us']:.2f} us,"
                      f" graph {r['graph_us']:.2f} us")
            elif r.get("kind") == "gemm":
                key = (r["bt"], r["bk"], r["stages"])
                if key not in best or r["graph_us"] < best[key]["graph_us"]:
                    best[key] = r
        for key, r in sorted(best.items()):
            print(f"  best gaon bk{r['bk']} st{r['stages']:<2d} {r['tile']:7s}"
                  f" bt{r['bt']}"
                  f" split{r['splits']:<2d} ctas {r['ctas']:4d}: single "
                  f"{r['single_us']:6.2f} graph {r['graph_us']:6.2f}")
        for r in rows:
            if r.get("trace", "").startswith(name) and "32x64 bt1" in r["trace"]:
                print(f"  trace {r['trace'][len(name):]:22s} start spread "
                      f"{r['start_spread_us']:5.2f} loop {r['loop_med_us']:5.2f}"
                      f"/{r['loop_max_us']:5.2f} exch {r['exch_med_us']:5.2f}/"
                      f"{r['exch_max_us']:5.2f} epi {r['epi_med_us']:5.2f}/"
                      f"{r['epi_max_us']:5.2f} span {r['span_us']:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
