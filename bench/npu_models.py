#!/usr/bin/env python3
"""Quality of the NPU code: transformers on a simulated NPU against its roofline.

For each case (model x batch x sequence) this compiles the model with
`gaon-compile --target=npu-sim:<chip> --dtype <dtype>` (timed: compile time),
runs it with `gaon-run` in timing-only mode, and compares the simulated
latency with the chip's roofline bound for that model, the larger of
  compute:  FLOPs / peak FLOP/s (the chip's tensor units at the dtype), and
  memory:   minimum DRAM bytes (weights + inputs + outputs) / DRAM bandwidth.
It also reports tensor-unit (MAC) utilization and DRAM traffic against its
minimum. Prints a table and writes JSON.

Models (--models, default gpt2-small,bert-base) are the GPT-2-style decoder and
the BERT-style encoder of examples/make_example_model.py (torch is needed to
generate them once; they are cached in --work-dir with external data).
Default cases: GPT-2 small 1x128, 8x128, 1x1024; BERT-base 1x128, 8x128
(--cases overrides them for every model; cases longer than a model's
positions are skipped).
"""

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = "/usr/bin/python3"

GPT2_SMALL = dict(layers=12, hidden=768, ffn=3072, vocab=50257, positions=1024,
                  lm_head=True, out_width=50257)      # output: logits
BERT_BASE = dict(layers=12, hidden=768, ffn=3072, vocab=30522, positions=512,
                 lm_head=False, out_width=768)       # output: last hidden state

# name -> (config, artifact prefix, cached sub-folders of --work-dir, cases)
MODELS = {
    "gpt2-small": (GPT2_SMALL, "gpt2s", ("gpt2_small_external", "gpt2-small"),
                   "1x128,8x128,1x1024"),
    "bert-base": (BERT_BASE, "bertb", ("bert-base",), "1x128,8x128"),
}


def model_flops(cfg, batch, seq):
    """Multiply-adds x 2 of the matmuls and attention of one forward pass
    (decoder: plus the LM head; encoder: no head)."""
    h, f, L = cfg["hidden"], cfg["ffn"], cfg["layers"]
    tokens = batch * seq
    per_layer = tokens * (4 * h * h + 2 * h * f)  # qkv + proj, fc + proj
    attention = batch * 2 * seq * seq * h         # QK^T and PV
    lm_head = tokens * h * cfg["vocab"] if cfg["lm_head"] else 0
    return 2 * (L * (per_layer + attention) + lm_head)


def gpt2_flops(cfg, batch, seq):
    return model_flops(cfg, batch, seq)


def ensure_model(work_dir, name="gpt2-small"):
    subs = MODELS[name][2]
    for sub in subs:
        path = os.path.join(work_dir, sub, "model.onnx")
        if os.path.exists(path):
            return path
    out = os.path.join(work_dir, subs[-1])
    print("generating %s in %s (torch export, ~1 min) ..." % (name, out),
          file=sys.stderr)
    subprocess.run([PYTHON, os.path.join(ROOT, "examples",
                                         "make_example_model.py"),
                    "--config", name, "--out", out, "--external-data",
                    "--no-verify", "--quiet"], check=True)
    return os.path.join(out, "model.onnx")


def chip_numbers(gaon_bin, chip, dtype):
    text = subprocess.run([os.path.join(gaon_bin, "gaon-npu-sim"),
                           "--print-chip", chip], capture_output=True,
                          text=True, check=True).stdout
    c = json.loads(text)
    tu = c["cores"]["tensor_unit"]
    key = {"bf16": "bf16", "fp16": "fp16", "int8": "int8"}.get(dtype)
    macs = tu["macs_per_cycle"].get(key) if key else None
    if macs is None:  # fp32: emulated at the bf16 rate / slowdown
        macs = tu["macs_per_cycle"]["bf16"] / tu.get(
            "fp32_emulation_slowdown", 4.0)
    clock = c["clock_ghz"] * 1e9
    return {
        "peak_flops": 2 * macs * c["cores"]["count"] * clock,
        "dram_bytes_per_s": c["dram"]["bandwidth_gbps"] * 1e9,
        "tdp_watts": c.get("tdp_watts"),
    }


def run_case(args, model, batch, seq, chip, name="gpt2-small"):
    cfg, prefix = MODELS[name][0], MODELS[name][1]
    shape = "%dx%d" % (batch, seq)
    artifact = os.path.join(args.work_dir, "%s_%s_%s_%s.gaon" %
                            (prefix, chip, args.dtype, shape))
    t0 = time.monotonic()
    subprocess.run([os.path.join(args.gaon_bin, "gaon-compile"), model,
                    "--target=npu-sim:" + chip, "--dtype", args.dtype,
                    "--input-shape", "input_ids=" + shape,
                    "--input-shape", "attention_mask=" + shape,
                    "-o", artifact], check=True)
    compile_s = time.monotonic() - t0
    report_path = artifact + ".json"
    subprocess.run([os.path.join(args.gaon_bin, "gaon-run"), artifact,
                    "--device-option", "timing-only=1", "--json",
                    report_path], check=True, stdout=subprocess.DEVNULL)
    report = json.load(open(report_path))
    dev = report["device_report"]
    numbers = chip_numbers(args.gaon_bin, chip, args.dtype)
    flops = model_flops(cfg, batch, seq)
    weights = report["memory"]["weights_bytes"]
    # int64 input_ids + attention_mask, float32 output per token
    io_bytes = batch * seq * (8 + 8 + 4 * cfg["out_width"])
    min_bytes = weights + io_bytes
    compute_s = flops / numbers["peak_flops"]
    memory_s = min_bytes / numbers["dram_bytes_per_s"]
    bound_s = max(compute_s, memory_s)
    dram = dev["bytes"]["dram_read"] + dev["bytes"]["dram_write"]
    return {
        "model": name, "chip": chip, "dtype": args.dtype,
        "batch": batch, "seq": seq, "compile_s": compile_s,
        "latency_s": dev["seconds"], "cycles": dev["cycles"],
        "energy_j": report.get("energy_j"),
        "roofline_s": bound_s, "bound": "compute" if compute_s >= memory_s
        else "memory", "ratio_to_roofline": dev["seconds"] / bound_s,
        "mac_utilization": dev["mac_utilization"],
        "dram_bytes": dram, "min_dram_bytes": min_bytes,
        "dram_ratio": dram / min_bytes,
        "tokens_per_s": batch * seq / dev["seconds"],
        "joules_per_token": (report.get("energy_j") or 0) / (batch * seq),
        "sim_wall_s": dev.get("wall_seconds"),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gaon-bin", default=os.path.join(ROOT, "build", "bin"))
    ap.add_argument("--work-dir", default="/tmp/benchwork")
    ap.add_argument("--chips", default="rngd,atom")
    ap.add_argument("--dtype", default="bf16",
                    choices=["bf16", "fp16", "fp32", "int8"])
    ap.add_argument("--models", default="gpt2-small,bert-base",
                    help="comma-separated, of: " + ", ".join(sorted(MODELS)))
    ap.add_argument("--cases", default=None,
                    help="batch x sequence, comma-separated (default: per "
                    "model, see above)")
    ap.add_argument("--json", default=os.path.join(ROOT, "bench", "results",
                                                   "npu_models.json"))
    args = ap.parse_args()
    for tool in ("gaon-compile", "gaon-run", "gaon-npu-sim"):
        if not os.path.exists(os.path.join(args.gaon_bin, tool)):
            print("error: %s not built in %s (run scripts/build.sh)" %
                  (tool, args.gaon_bin), file=sys.stderr)
            return 2
    names = [m for m in args.models.split(",") if m]
    for name in names:
        if name not in MODELS:
            print("error: unknown model %s (known: %s)" %
                  (name, ", ".join(sorted(MODELS))), file=sys.stderr)
            return 2
    os.makedirs(args.work_dir, exist_ok=True)
    models = {name: ensure_model(args.work_dir, name) for name in names}
    rows = []
    for chip in args.chips.split(","):
        for name in names:
            cfg, cases = MODELS[name][0], args.cases or MODELS[name][3]
            for case in cases.split(","):
                batch, seq = (int(v) for v in case.split("x"))
                if seq > cfg["positions"]:
                    print("  skipping %s %s: seq > %d positions" %
                          (name, case, cfg["positions"]), file=sys.stderr)
                    continue
                rows.append(run_case(args, models[name], batch, seq, chip,
                                     name))
                r = rows[-1]
                print("  %s %s %s %s: %.3f ms simulated, %.2fx roofline" %
                      (chip, name, case, args.dtype, r["latency_s"] * 1e3,
                       r["ratio_to_roofline"]), file=sys.stderr)
    header = ("| model | chip | batch x seq | compile | simulated "
              "| roofline (bound) | x roofline | MAC util | DRAM / min "
              "| tokens/s | mJ/token |")
    print("\n%s on simulated NPUs (%s, timing-only)" %
          (", ".join(names), args.dtype))
    print(header)
    print("|" + "---|" * 11)
    for r in rows:
        print("| %s | %s | %dx%d | %.1f s | %.3f ms | %.3f ms (%s) | %.2fx "
              "| %.0f%% | %.2fx | %.0f | %.3f |" %
              (r["model"], r["chip"], r["batch"], r["seq"], r["compile_s"],
               r["latency_s"] * 1e3, r["roofline_s"] * 1e3, r["bound"],
               r["ratio_to_roofline"], r["mac_utilization"] * 100,
               r["dram_ratio"], r["tokens_per_s"],
               r["joules_per_token"] * 1e3))
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json + ".tmp", "w") as f:
        json.dump({"benchmark": "npu_models", "results": rows}, f, indent=2)
    os.replace(args.json + ".tmp", args.json)
    print("wrote " + args.json, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
