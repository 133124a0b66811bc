#!/usr/bin/env python3
"""Where the fused attention's time goes on the GPU (run on the GPU machine).

Builds bench/cuda_attention_probe.cu with nvcc (the kernels as they are,
a traced build, and with --baseline another copy of attention.cu, e.g. the
last commit's), runs them, and times the peer, torch's
scaled_dot_product_attention, on the same shapes and layout (Q, K, V as
views of one packed [B, S, 3, H, D] projection) the same two ways: events
around one launch, and back to back in a CUDA graph. Prints a table per
shape with each kernel's ratio to torch, and writes JSON.

    python3 bench/cuda_attention_probe.py [--out DIR] [--arch sm_90]
        [--baseline PATH/attention.cu] [--no-trace]
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# (batch, heads, sequence, causal, padding mask [B, 1, 1, S])
SHAPES = [(1, 12, 128, False, False), (1, 12, 128, True, False),
          (1, 12, 1024, True, False), (16, 12, 512, True, False),
          (32, 12, 128, False, False), (8, 12, 512, False, False),
          (1, 12, 128, False, True), (32, 12, 128, False, True),
          (8, 12, 512, False, True)]


def shape_name(b, h, s, causal, mask):
    return (f"{b}x{h}x{s}x64" + (" causal" if causal else "") +
            (" mask" if mask else ""))


def build(arch, out_dir, name, defines):
    exe = os.path.join(out_dir, "probe_" + name)
    kernels = os.path.join(ROOT, "backends", "cuda", "kernels")
    cmd = ["nvcc", "-O3", "-std=c++17", f"-arch={arch}", "-I" + kernels,
           "-I" + os.path.join(kernels, "include"), *defines,
           os.path.join(ROOT, "bench", "cuda_attention_probe.cu"), "-o", exe]
    subprocess.run(cmd, check=True)
    return name, exe


def run_lines(name, exe):
    out = subprocess.run([exe], check=True, capture_output=True, text=True)
    rows = [json.loads(line) for line in out.stdout.splitlines() if line]
    for r in rows:
        r["build"] = name
    return rows


def torch_peer():
    import torch
    import torch.nn.functional as F
    from torch_timing import graph_us, single_us
    rows = []
    for b, h, s, causal, masked in SHAPES:
        qkv = torch.randn(b, s, 3, h, 64, device="cuda", dtype=torch.float16)
        q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))
        mask = None
        if masked:  # the last eighth of every sequence is padding
            mask = torch.zeros(b, 1, 1, s, device="cuda", dtype=torch.float16)
            mask[..., s - s // 8:] = -10000.0

        def f(_):
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                                  is_causal=causal)
        for _ in range(3):
            f(0)
        rows.append({"kind": "torch",
                     "shape": shape_name(b, h, s, causal, masked),
                     "single_us": single_us(f, 30),
                     "graph_us": graph_us(f, 20)})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.environ.get("OUT",
                                                    "/tmp/attention-probe"))
    ap.add_argument("--arch", default="sm_90")
    ap.add_argument("--baseline", default="",
                    help="another attention.cu to time beside this one")
    ap.add_argument("--no-trace", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    from concurrent.futures import ThreadPoolExecutor
    builds = [("current", [])]
    if args.baseline:
        builds.append(("baseline", ['-DPROBE_ATTENTION_SOURCE="%s"' %
                                    os.path.abspath(args.baseline)]))
    if not args.no_trace:
        builds.append(("trace", ["-DPROBE_TRACE"]))
    with ThreadPoolExecutor(len(builds)) as pool:
        exes = list(pool.map(lambda b: build(args.arch, args.out, *b), builds))
    rows = []
    for name, exe in exes:
        rows += run_lines(name, exe)
    rows += torch_peer()
    with open(os.path.join(args.out, "attention-probe.json"), "w") as f:
        json.dump(rows, f, indent=1)
    for shape in (shape_name(*s) for s in SHAPES):
        torch_row = next(r for r in rows
                         if r["kind"] == "torch" and r["shape"] == shape)
        print(f"\n== {shape}: torch sdpa single {torch_row['single_us']:.2f}"
              f" us, graph {torch_row['graph_us']:.2f} us")
        print(f"  {'kernel':30s} {'build':16s} {'ctas':>5s} {'single':>7s} "
              f"{'graph':>7s} {'/torch':>6s} {'maxdiff':>8s}")
        for r in rows:
            if r["kind"] != "gaon" or r["shape"] != shape:
                continue
            print(f"  {r['kernel']:30s} {r['build']:16s} {r['ctas']:5d} "
                  f"{r['single_us']:7.2f} {r['graph_us']:7.2f} "
                  f"{r['graph_us'] / torch_row['graph_us']:6.2f} "
                  f"{r['max_diff']:8.3g}")
        for r in rows:
            if r["kind"] == "trace" and r["shape"] == shape:
                print(f"  trace {r['kernel']:30s} span {r['span_us']:6.2f} "
                      f"starts {r['start_spread_us']:5.2f} cta "
                      f"{r['cta_med_us']:5.2f}/{r['cta_max_us']:5.2f} round "
                      f"wait {r['wait_per_round_us']:.3f} work "
                      f"{r['work_per_round_us']:.3f} tail {r['tail_us']:.2f}"
                      f" longest@{r['longest_start_us']:.2f}"
                      f"x{r['longest_rounds']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
