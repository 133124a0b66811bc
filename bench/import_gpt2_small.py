#!/usr/bin/python3
"""Benchmark: import a GPT-2-small ONNX export with `gaon-compile --emit=graph`.

Generates a GPT-2-small-size model (hidden 768, 12 layers, 12 heads, vocab 50257,
1024 positions, ~124 M parameters; ~650 MB) with the model definition of
examples/make_example_model.py, exported by torch's TorchScript exporter at opset
17 with dynamic batch/seq axes, in two variants:

  inline     all initializers inside model.onnx
  external   initializers in model.onnx.data (ONNX external-data format)

then, for each variant, measures N runs (median) of

  gaon-compile MODEL --emit=graph -o OUT.mlir

(wall time and peak RSS of the child process), and, as a peer figure in the same
run, `onnx.load` + `onnx.shape_inference.infer_shapes` in Python (Debian's onnx
1.12) on the same file, in a child process. Prints a table and writes JSON.

The models go into a temp folder (removed afterwards) or into --work-dir (kept and
reused by later runs while the generator script is unchanged). Never commit them.

Run with Debian's python: /usr/bin/python3 bench/import_gpt2_small.py
"""

import argparse
import datetime
import hashlib
import json
import multiprocessing
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(REPO, "examples")
GENERATOR = os.path.join(EXAMPLES, "make_example_model.py")
CONFIG = "gpt2-small"
VARIANTS = ("inline", "external")
DATA_NAME = "model.onnx.data"


def file_sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


# ---------------------------------------------------------------------------
# Model generation (in a child process, so that torch's memory is given back)
# ---------------------------------------------------------------------------

def _generate(inline_dir, external_dir):
    sys.path.insert(0, EXAMPLES)
    import make_example_model as mem
    if inline_dir:
        rc = mem.main(["--config", CONFIG, "--out", inline_dir, "--seq", "16",
                       "--no-verify", "--quiet"])
        if rc:
            sys.exit(rc)
    if external_dir:
        src = os.path.join(inline_dir, "model.onnx")
        os.makedirs(external_dir, exist_ok=True)
        mem.to_external_data(src, DATA_NAME, dst=os.path.join(external_dir, "model.onnx"))
        for d in os.listdir(inline_dir):
            if d.startswith("test_data_set_"):
                shutil.copytree(os.path.join(inline_dir, d),
                                os.path.join(external_dir, d), dirs_exist_ok=True)


def ensure_models(work_dir, variants, regenerate, log):
    """Generate (or reuse) the models; returns {variant: model.onnx path}."""
    stamp = {"config": CONFIG, "generator_sha256": file_sha(GENERATOR)}
    dirs = {v: os.path.join(work_dir, f"gpt2_small_{v}") for v in VARIANTS}

    def fresh(v):
        p = os.path.join(dirs[v], "stamp.json")
        if regenerate or not os.path.exists(os.path.join(dirs[v], "model.onnx")) \
                or not os.path.exists(p):
            return False
        with open(p) as f:
            return json.load(f) == stamp

    # The external variant is converted from the inline one.
    need_inline = not fresh("inline") or ("external" in variants and not fresh("external"))
    need_external = "external" in variants and not fresh("external")
    if need_inline or need_external:
        what = [v for v, n in (("inline", need_inline), ("external", need_external)) if n]
        log(f"generating {CONFIG} ({', '.join(what)}) in {work_dir} "
            f"(torch export, ~1 min, ~3 GB of memory) ...")
        t0 = time.perf_counter()
        for v in what:
            shutil.rmtree(dirs[v], ignore_errors=True)
        ctx = multiprocessing.get_context("fork")
        p = ctx.Process(target=_generate,
                        args=(dirs["inline"], dirs["external"] if need_external else None))
        p.start()
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"error: model generation failed (exit {p.exitcode})")
        for v in what:
            with open(os.path.join(dirs[v], "stamp.json"), "w") as f:
                json.dump(stamp, f)
        log(f"  generated in {time.perf_counter() - t0:.1f} s")
    else:
        log(f"reusing models in {work_dir}")
    return {v: os.path.join(dirs[v], "model.onnx") for v in variants}


def model_info(path):
    """Graph facts; parsed in a child process so that this process stays small
    (children measured without GNU time would inherit its RSS)."""
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        return pool.apply(_model_info, (path,))


def _model_info(path):
    import onnx
    m = onnx.load(path, load_external_data=False)
    size = os.path.getsize(path)
    data = os.path.join(os.path.dirname(path), DATA_NAME)
    data_size = os.path.getsize(data) if os.path.exists(data) else 0
    return {"path": path, "model_bytes": size, "external_data_bytes": data_size,
            "total_bytes": size + data_size, "nodes": len(m.graph.node),
            "initializers": len(m.graph.initializer),
            "opset": m.opset_import[0].version, "ir_version": m.ir_version}


# ---------------------------------------------------------------------------
# Measurement
# ---------------------------------------------------------------------------

GNU_TIME = "/usr/bin/time"


def run_measured(cmd):
    """Run cmd; returns (returncode, wall_s, peak_rss_bytes, stdout, stderr).

    Peak RSS comes from GNU time (`/usr/bin/time -f %M`) when it is installed.
    Without it, it is the child's ru_maxrss from wait4, which on Linux also counts
    this (parent) process's RSS at fork time: the table then says so."""
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe, \
            tempfile.NamedTemporaryFile("r") as ft:
        use_time = os.access(GNU_TIME, os.X_OK)
        full = [GNU_TIME, "-f", "%M", "-o", ft.name] + cmd if use_time else cmd
        t0 = time.perf_counter()
        p = subprocess.Popen(full, stdout=fo, stderr=fe)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        rc = os.waitstatus_to_exitcode(status)
        p.returncode = rc
        rss = ru.ru_maxrss * 1024
        if use_time:
            lines = [l for l in ft.read().splitlines() if l.strip()]
            if lines and lines[-1].strip().isdigit():
                rss = int(lines[-1]) * 1024
        fo.seek(0)
        fe.seek(0)
        return (rc, wall, rss, fo.read().decode(errors="replace"),
                fe.read().decode(errors="replace"))


PEER_CODE = r"""
import json, resource, sys, time
import onnx
import onnx.shape_inference
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
t0 = time.perf_counter()
m = onnx.load(sys.argv[1])
t1 = time.perf_counter()
inferred = onnx.shape_inference.infer_shapes(m)
t2 = time.perf_counter()
print(json.dumps({"load_s": t1 - t0, "infer_s": t2 - t1, "total_s": t2 - t0,
                  "baseline_rss_bytes": base, "onnx_version": onnx.__version__,
                  "value_infos": len(inferred.graph.value_info)}))
"""


def bench_gaon(gaon, model, out_mlir, extra, repeat, log):
    cmd = [gaon, model, "--emit=graph", "-o", out_mlir] + extra
    runs = []
    for i in range(repeat):
        if os.path.exists(out_mlir):
            os.remove(out_mlir)
        rc, wall, rss, _, err = run_measured(cmd)
        run = {"wall_s": wall, "peak_rss_bytes": rss, "returncode": rc,
               "output_bytes": os.path.getsize(out_mlir) if os.path.exists(out_mlir) else None}
        runs.append(run)
        log(f"    gaon-compile run {i + 1}: {wall:7.3f} s  {rss / 2**20:8.1f} MiB"
            + ("" if rc == 0 else f"  FAILED (exit {rc})"))
        if rc != 0:
            run["stderr_tail"] = err[-4000:]
            sys.stderr.write(err[-4000:])
            break
    return {"command": cmd, "runs": runs}


def bench_peer(python, model, repeat, log):
    runs = []
    for i in range(repeat):
        rc, wall, rss, out, err = run_measured([python, "-c", PEER_CODE, model])
        if rc != 0:
            sys.stderr.write(err[-4000:])
            runs.append({"returncode": rc, "stderr_tail": err[-4000:]})
            break
        r = json.loads(out.strip().splitlines()[-1])
        r.update({"process_wall_s": wall, "peak_rss_bytes": rss, "returncode": 0})
        runs.append(r)
        log(f"    onnx load+infer run {i + 1}: {r['total_s']:7.3f} s "
            f"(load {r['load_s']:.3f}, infer {r['infer_s']:.3f}; process {wall:.3f} s)"
            f"  {rss / 2**20:8.1f} MiB")
    return {"python": python, "runs": runs}


def rss_self():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def med(runs, key):
    vals = [r[key] for r in runs if r.get("returncode") == 0 and r.get(key) is not None]
    return statistics.median(vals) if vals else None


def git_rev():
    try:
        return subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], check=True,
                              capture_output=True, text=True).stdout.strip()
    except Exception:
        return None


# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(
        description="Time gaon-compile --emit=graph on a GPT-2-small ONNX export.")
    ap.add_argument("--gaon-compile", default="build/bin/gaon-compile",
                    help="path to gaon-compile (relative paths: from the repo root)")
    ap.add_argument("--repeat", "-n", type=int, default=3, help="runs per measurement")
    ap.add_argument("--work-dir", help="keep/reuse generated models here "
                    "(default: a temp folder, removed afterwards)")
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help="comma-separated subset of: " + ", ".join(VARIANTS))
    ap.add_argument("--input-shape", action="append", default=[], metavar="NAME=DxD",
                    help="passed to gaon-compile as --input-shape (repeatable)")
    ap.add_argument("--regenerate", action="store_true",
                    help="regenerate models in --work-dir even if up to date")
    ap.add_argument("--python", default="/usr/bin/python3",
                    help="python with onnx for the peer measurement")
    ap.add_argument("--no-peer", action="store_true", help="skip the onnx peer figure")
    ap.add_argument("--peer-only", action="store_true",
                    help="measure only the onnx peer (no gaon-compile needed)")
    ap.add_argument("--json", default=os.path.join("bench", "results", "import_gpt2_small.json"),
                    help="result file (relative paths: from the repo root)")
    args = ap.parse_args()
    log = lambda *a: print(*a, flush=True)

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    for v in variants:
        if v not in VARIANTS:
            ap.error(f"unknown variant {v!r}")
    if args.peer_only and args.no_peer:
        ap.error("--peer-only and --no-peer exclude each other")

    gaon = args.gaon_compile
    if not os.path.isabs(gaon):
        gaon = os.path.join(REPO, gaon)
    if not args.peer_only:
        if not (os.path.isfile(gaon) and os.access(gaon, os.X_OK)):
            print(f"error: gaon-compile not found (or not executable) at {gaon}\n"
                  f"  Build it first (e.g. scripts/build.sh; it needs GAON_ENABLE_COMPILER)"
                  f" or pass --gaon-compile PATH.\n"
                  f"  (--peer-only measures only the onnx peer figure.)", file=sys.stderr)
            return 2
    extra = []
    for s in args.input_shape:
        extra += ["--input-shape", s]

    tmp = None
    work = args.work_dir
    if work is None:
        tmp = work = tempfile.mkdtemp(prefix="gaon-bench-gpt2-small-")
    work = os.path.abspath(work)
    os.makedirs(work, exist_ok=True)

    failed = False
    try:
        models = ensure_models(work, variants, args.regenerate, log)
        results = []
        for v in variants:
            info = model_info(models[v])
            log(f"\n[{v}] {info['path']}: {info['total_bytes'] / 2**20:.1f} MiB"
                f" ({info['nodes']} nodes, {info['initializers']} initializers)")
            entry = {"variant": v, "model": info}
            if not args.peer_only:
                out_mlir = os.path.join(work, f"gpt2_small_{v}.mlir")
                g = bench_gaon(gaon, models[v], out_mlir, extra, args.repeat, log)
                if os.path.exists(out_mlir):
                    os.remove(out_mlir)
                g["median_wall_s"] = med(g["runs"], "wall_s")
                g["min_wall_s"] = min((r["wall_s"] for r in g["runs"]
                                       if r["returncode"] == 0), default=None)
                g["median_peak_rss_bytes"] = med(g["runs"], "peak_rss_bytes")
                g["ok"] = all(r["returncode"] == 0 for r in g["runs"])
                failed |= not g["ok"]
                entry["gaon_compile"] = g
            if not args.no_peer:
                p = bench_peer(args.python, models[v], args.repeat, log)
                p["median_total_s"] = med(p["runs"], "total_s")
                p["median_load_s"] = med(p["runs"], "load_s")
                p["median_infer_s"] = med(p["runs"], "infer_s")
                p["median_process_wall_s"] = med(p["runs"], "process_wall_s")
                p["median_peak_rss_bytes"] = med(p["runs"], "peak_rss_bytes")
                p["ok"] = all(r["returncode"] == 0 for r in p["runs"])
                failed |= not p["ok"]
                entry["onnx_peer"] = p
            g, p = entry.get("gaon_compile"), entry.get("onnx_peer")
            if g and p and g["median_wall_s"] and p["median_total_s"]:
                entry["time_ratio_gaon_over_onnx"] = g["median_wall_s"] / p["median_total_s"]
            if g and p and g["median_peak_rss_bytes"] and p["median_peak_rss_bytes"]:
                entry["rss_ratio_gaon_over_onnx"] = (g["median_peak_rss_bytes"]
                                                     / p["median_peak_rss_bytes"])
            results.append(entry)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)

    # Table.
    def fmt(x, unit):
        if x is None:
            return "-"
        return f"{x:.3f} s" if unit == "s" else f"{x / 2**20:.0f} MiB"

    log(f"\nGPT-2 small import, median of {args.repeat} "
        f"({platform.node()}, {os.cpu_count()} CPUs)")
    hdr = ["variant", "size", "gaon wall", "gaon RSS", "onnx load+infer", "onnx RSS",
           "time gaon/onnx", "RSS gaon/onnx"]
    rows = []
    for e in results:
        g, p = e.get("gaon_compile", {}), e.get("onnx_peer", {})
        tr, rr = e.get("time_ratio_gaon_over_onnx"), e.get("rss_ratio_gaon_over_onnx")
        rows.append([e["variant"], f"{e['model']['total_bytes'] / 2**20:.0f} MiB",
                     fmt(g.get("median_wall_s"), "s"), fmt(g.get("median_peak_rss_bytes"), "b"),
                     fmt(p.get("median_total_s"), "s"), fmt(p.get("median_peak_rss_bytes"), "b"),
                     f"{tr:.3g}x" if tr else "-", f"{rr:.3g}x" if rr else "-"])
    widths = [max(len(str(r[i])) for r in rows + [hdr]) for i in range(len(hdr))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
    log(line(hdr))
    log("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        log(line(r))
    if not os.access(GNU_TIME, os.X_OK):
        log(f"note: {GNU_TIME} not found: RSS from wait4, which includes this "
            f"script's RSS at fork ({rss_self() / 2**20:.0f} MiB); "
            f"apt-get install time for exact figures")
    log("(time gaon/onnx < 1: gaon-compile, including process start, is faster than "
        "onnx.load + infer_shapes, excluding interpreter start)")

    import onnx
    try:
        import torch
        torch_version = torch.__version__
    except Exception:
        torch_version = None
    report = {
        "benchmark": "import_gpt2_small",
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "git_commit": git_rev(),
        "host": {"node": platform.node(), "machine": platform.machine(),
                 "cpus": os.cpu_count(), "python": platform.python_version(),
                 "onnx": onnx.__version__, "torch": torch_version},
        "config": CONFIG, "repeat": args.repeat,
        "gaon_compile": None if args.peer_only else gaon,
        "gaon_extra_args": extra,
        "rss_method": "gnu-time %M" if os.access(GNU_TIME, os.X_OK) else "wait4 ru_maxrss",
        "time_method": "wall clock around the child process (median over runs)",
        "results": results, "ok": not failed,
    }
    json_path = args.json if os.path.isabs(args.json) else os.path.join(REPO, args.json)
    os.makedirs(os.path.dirname(json_path), exist_ok=True)
    with open(json_path, "w") as f:
        json.dump(report, f, indent=2)
    log(f"wrote {json_path}")
    if failed:
        print("error: some runs failed (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
