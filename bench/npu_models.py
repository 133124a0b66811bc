#!/usr/bin/env python3
"""Quality of the NPU code: transformers on a simulated NPU against its roofline.

For each case (model x batch x sequence) this runs `gaon-bench --targets
npu-sim:<chip> --dtype <dtype> --timing-only`: it compiles the model (timed:
compile time), simulates it, and compares the simulated latency with the
chip's roofline bound for that model, the larger of
  compute:  FLOPs / peak FLOP/s (the chip's tensor units at the dtype), and
  memory:   minimum DRAM bytes / DRAM bandwidth, the minimum being every
            weight, input and output once, except that of an embedding table
            only the rows gathered count.
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = "/usr/bin/python3"

# Longest sequence each model takes (its position table).
GPT2_SMALL = dict(positions=1024)
BERT_BASE = dict(positions=512)

# name -> (config, artifact prefix, cached sub-folders of --work-dir, cases)
MODELS = {
    "gpt2-small": (GPT2_SMALL, "gpt2s", ("gpt2_small_external", "gpt2-small"),
                   "1x128,8x128,1x1024"),
    "bert-base": (BERT_BASE, "bertb", ("bert-base",), "1x128,8x128"),
}


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


def run_case(args, model, batch, seq, chip, name="gpt2-small"):
    """Compiles and simulates one case with gaon-bench, whose roofline is
    the one gaon-bench reports for any model (tools/gaon-bench)."""
    prefix = MODELS[name][1]
    shape = "%dx%d" % (batch, seq)
    report_path = os.path.join(args.work_dir, "%s_%s_%s_%s.bench.json" %
                               (prefix, chip, args.dtype, shape))
    subprocess.run([os.path.join(args.gaon_bin, "gaon-bench"), model,
                    "--targets", "npu-sim:" + chip, "--dtype", args.dtype,
                    "--input-shape", "input_ids=%s,attention_mask=%s" %
                    (shape, shape), "--timing-only", "--json", report_path],
                   check=True, stdout=subprocess.DEVNULL)
    with open(report_path) as f:
        t = json.load(f)["targets"][0]
    if t.get("status") != "ok" or "roofline" not in t:
        raise SystemExit("error: gaon-bench failed on %s %s %s: %s" %
                         (name, shape, chip, t.get("error") or
                          t.get("roofline_error")))
    dev, roof = t["device_report"], t["roofline"]
    dram = dev["bytes"]["dram_read"] + dev["bytes"]["dram_write"]
    return {
        "model": name, "chip": chip, "dtype": args.dtype,
        "batch": batch, "seq": seq, "compile_s": t["compile_s"],
        "latency_s": t["latency_s"], "cycles": t["cycles"],
        "energy_j": t.get("energy_j"),
        "flops": roof["flops"], "roofline_s": roof["bound_s"],
        "bound": roof["bound"],
        "ratio_to_roofline": roof["latency_over_bound"],
        "mac_utilization": t["mac_utilization"],
        "dram_bytes": dram, "min_dram_bytes": roof["min_bytes"],
        "dram_ratio": dram / roof["min_bytes"],
        "tokens_per_s": batch * seq / t["latency_s"],
        "joules_per_token": (t.get("energy_j") or 0) / (batch * seq),
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
    for tool in ("gaon-bench",):
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
