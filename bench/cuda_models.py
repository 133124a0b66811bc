#!/usr/bin/env python3
"""Gaon's cuda target vs torch eager vs torch.compile on the GPU machine.

BERT-base (1x128, 32x128, 8x512) and GPT-2 small (1x128, 1x1024, 16x512) in
fp16, same weights on both sides: the models come from
examples/make_example_model.py with --init hash (examples/deterministic_init.py),
which any machine regenerates bit for bit from parameter names.

Two steps, because Gaon compiles where MLIR is (here) and runs where the GPU
is (the device has no MLIR, and 64 MiB per call is far less than the
weights):

  prepare (build machine):
      python3 bench/cuda_models.py prepare [--models bert-base,gpt2-small]
    compiles each model/shape for cuda fp16 (timed), finds the parameter
    each artifact weight was made from (same values, possibly transposed),
    and stages the artifacts with those weights zeroed plus a manifest under
    .device-carry/cuda-bench (a few MiB compressed).

  run (GPU machine):
      python3 bench/cuda_models.py run
    regenerates the zeroed weights from the manifest (checked by sha256, and
    the artifact reader then checks the whole weights section's checksum
    again), runs every artifact with gaon-run (device time from CUDA events,
    energy from NVML), runs the same torch module eager and under
    torch.compile (CUDA events, NVML), checks Gaon's output against torch's,
    measures HBM bandwidth for the roofline floor, prints a table and writes
    $OUT/cuda-bench.json.
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAGE = os.path.join(ROOT, ".device-carry", "cuda-bench")
SHAPES = {"bert-base": [(1, 128), (32, 128), (8, 512)],
          "gpt2-small": [(1, 128), (1, 1024), (16, 512)]}
H100_FP16_DENSE_FLOPS = 989e12  # H100 SXM, dense fp16 tensor cores


# --------------------------------------------------------------------------
# prepare (build machine)
# --------------------------------------------------------------------------

def prepare(args):
    import numpy as np
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    import deterministic_init as det
    import make_example_model as mem
    import torch

    build = args.build
    shutil.rmtree(STAGE, ignore_errors=True)
    os.makedirs(STAGE)
    if not args.no_build:
        subprocess.run(["ninja", "-C", build, "gaon-run", "gaon-compile",
                        "gaon-artifact"], check=True)
    bin_dir = os.path.join(ROOT, ".device-carry", "cuda-bench-bin")
    os.makedirs(bin_dir, exist_ok=True)
    shutil.copy(os.path.join(build, "bin", "gaon-run"), bin_dir)
    manifest = {"models": []}
    for config in args.models.split(","):
        onnx_dir = os.path.join(args.work, config)
        model_path = os.path.join(onnx_dir, "model.onnx")
        if not os.path.exists(model_path):
            subprocess.run(["/usr/bin/python3",
                            os.path.join(ROOT, "examples",
                                         "make_example_model.py"),
                            "--config", config, "--init", "hash",
                            "--external-data", "--no-verify", "--out",
                            onnx_dir], check=True)
        module = mem.build_model(config)
        det.init_module(module)
        norms = {n for n, m in module.named_modules()
                 if isinstance(m, torch.nn.LayerNorm)}
        params = {}
        for name, p in module.named_parameters():
            owner, _, leaf = name.rpartition(".")
            params[name] = {
                "shape": list(p.shape),
                "norm_weight": owner in norms and leaf == "weight",
                "norm_bias": owner in norms and leaf == "bias",
                "value": p.detach().numpy()}
        param_bytes = sum(v["value"].size * 2 for v in params.values())
        for batch, seq in SHAPES[config]:
            name = f"{config}_{batch}x{seq}"
            art = os.path.join(STAGE, name + ".gaon")
            t0 = time.time()
            subprocess.run([os.path.join(build, "bin", "gaon-compile"),
                            model_path, "--target=cuda", "--dtype=fp16",
                            f"--input-shape=input_ids={batch}x{seq},"
                            f"attention_mask={batch}x{seq}", "-o", art],
                           check=True)
            compile_s = time.time() - t0
            entries, kept = strip_weights(art, build, params)
            manifest["models"].append({
                "name": name, "config": config, "batch": batch, "seq": seq,
                "artifact": name + ".gaon", "compile_s": compile_s,
                "param_bytes_fp16": param_bytes,
                "regenerated": entries, "kept_weight_bytes": kept})
            print(f"{name}: compiled in {compile_s:.1f} s, "
                  f"{len(entries)} weights regenerable, {kept} bytes kept",
                  flush=True)
        manifest.setdefault("params", {})[config] = {
            n: {k: v for k, v in p.items() if k != "value"}
            for n, p in params.items()}
    with open(os.path.join(STAGE, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    # Zeroed weights compress to almost nothing.
    with tarfile.open(os.path.join(STAGE, "artifacts.tar.gz"), "w:gz") as tar:
        for m in manifest["models"]:
            tar.add(os.path.join(STAGE, m["artifact"]), m["artifact"])
    for m in manifest["models"]:
        os.remove(os.path.join(STAGE, m["artifact"]))
    size = os.path.getsize(os.path.join(STAGE, "artifacts.tar.gz"))
    print(f"staged {size / 2**20:.1f} MiB in {STAGE}")


def column_parts(w, params, npdt):
    """[(param, transpose)] whose column blocks, side by side, are `w`:
    the Q, K and V weights gaon-cuda-merge-sibling-matmuls concatenated."""
    import numpy as np
    parts, col = [], 0
    while col < w.shape[1]:
        for pname, p in params.items():
            v = p["value"]
            if v.ndim != 2:
                continue
            for transpose in (False, True):
                cand = (v.T if transpose else v).astype(npdt)
                n = cand.shape[1]
                if cand.shape[0] == w.shape[0] and col + n <= w.shape[1] and \
                        np.array_equal(w[:, col:col + n], cand):
                    parts.append([pname, transpose])
                    col += n
                    break
            else:
                continue
            break
        else:
            return None
    return parts if len(parts) > 1 else None


def strip_weights(art, build, params):
    """Zeroes every weight of `art` that equals a parameter (or its
    transpose) in its dtype, and returns how to regenerate them."""
    import numpy as np
    listing = json.loads(subprocess.run(
        [os.path.join(build, "bin", "gaon-artifact"), "list", art],
        check=True, capture_output=True, text=True).stdout)
    base = listing["weights_file_offset"]
    by_count = {}
    for pname, p in params.items():
        by_count.setdefault(p["value"].size, []).append(pname)
    entries, kept = [], 0
    with open(art, "r+b") as f:
        for t in listing["tensors"]:
            if t["kind"] != "weight" or t["dtype"] not in ("f16", "f32"):
                if t["kind"] == "weight":
                    kept += t["bytes"]
                continue
            f.seek(base + t["weight_offset"])
            data = f.read(t["bytes"])
            npdt = np.float16 if t["dtype"] == "f16" else np.float32
            found = None
            shape = tuple(t["shape"])
            # Same element count, or a 2-D weight whose last dim the
            # compiler padded for alignment (GPT-2's LM head).
            names = list(by_count.get(len(data) // np.dtype(npdt).itemsize,
                                      []))
            if len(shape) == 2:
                names += [n for n, p in params.items()
                          if p["value"].ndim == 2 and n not in names and
                          shape[0] in p["value"].shape and
                          p["value"].size // shape[0] < shape[1]]
            for pname in names:
                v = params[pname]["value"]
                for transpose in (False, True):
                    if transpose and v.ndim != 2:
                        continue
                    cand = (v.T if transpose else v).astype(npdt)
                    if cand.ndim == 2 and len(shape) == 2 and \
                            cand.shape[0] == shape[0] and \
                            cand.shape[1] < shape[1]:
                        cand = np.pad(cand, ((0, 0),
                                             (0, shape[1] - cand.shape[1])))
                    if cand.size != int(np.prod(shape)):
                        continue
                    if np.ascontiguousarray(cand).tobytes() == data:
                        found = (pname, transpose)
                        break
                if found:
                    break
            parts = None
            if not found and len(shape) == 2:
                parts = column_parts(np.frombuffer(data, npdt).reshape(shape),
                                     params, npdt)
            if not (found or parts) or len(data) < 4096:
                kept += len(data)
                if len(data) >= 1 << 20:
                    print(f"  kept {t['name']} {t['shape']} {t['dtype']}: "
                          "matches no parameter", flush=True)
                continue
            entry = {"tensor": t["name"], "shape": t["shape"],
                     "offset": base + t["weight_offset"], "bytes": len(data),
                     "dtype": t["dtype"],
                     "sha256": hashlib.sha256(data).hexdigest()}
            if found:
                entry.update({"param": found[0], "transpose": found[1]})
            else:
                entry["parts"] = parts
            entries.append(entry)
            f.seek(base + t["weight_offset"])
            f.write(b"\0" * len(data))
    return entries, kept


# --------------------------------------------------------------------------
# run (GPU machine)
# --------------------------------------------------------------------------

def restore(manifest, model, stage):
    """Writes the regenerated weights into the staged artifact."""
    import numpy as np
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    import deterministic_init as det
    params = manifest["params"][model["config"]]
    path = os.path.join(stage, model["artifact"])
    cache = {}
    with open(path, "r+b") as f:
        def value(name, transpose):
            p = params[name]
            if name not in cache:
                cache[name] = det.parameter_values(
                    name, tuple(p["shape"]), p["norm_weight"], p["norm_bias"])
            return cache[name].T if transpose else cache[name]
        for e in model["regenerated"]:
            if "parts" in e:  # merged projections: column blocks
                v = np.concatenate([value(n, t) for n, t in e["parts"]],
                                   axis=1)
            else:
                v = value(e["param"], e["transpose"])
            shape = e.get("shape", list(v.shape))
            if v.ndim == 2 and len(shape) == 2 and v.shape[1] < shape[1]:
                v = np.pad(v, ((0, 0), (0, shape[1] - v.shape[1])))
            data = np.ascontiguousarray(v.astype(
                np.float16 if e["dtype"] == "f16" else np.float32)).tobytes()
            if hashlib.sha256(data).hexdigest() != e["sha256"]:
                raise SystemExit(f"regenerated weight {e['tensor']} differs "
                                 "from the compiled one")
            f.seek(e["offset"])
            f.write(data)
    return path


def torch_peer(config, batch, seq, ids, iters, nvml_handle):
    import torch
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    import deterministic_init as det
    import make_example_model as mem
    torch.backends.cuda.matmul.allow_tf32 = False
    module = mem.build_model(config)
    det.init_module(module)
    module = module.half().cuda().eval()
    x = torch.from_numpy(ids).cuda()
    mask = torch.ones_like(x)
    results = {}
    with torch.no_grad():
        for mode in ("eager", "compile"):
            fn = module
            t0 = time.time()
            if mode == "compile":
                fn = torch.compile(module)
            out = fn(x, mask)
            torch.cuda.synchronize()
            first_s = time.time() - t0
            for _ in range(5):
                fn(x, mask)
            torch.cuda.synchronize()
            times = []
            for _ in range(iters):
                a = torch.cuda.Event(enable_timing=True)
                b = torch.cuda.Event(enable_timing=True)
                a.record()
                out = fn(x, mask)
                b.record()
                b.synchronize()
                times.append(a.elapsed_time(b) / 1e3)
            times.sort()
            median = times[len(times) // 2]
            # Energy over a back-to-back stretch of >= 2 s (NVML's counter
            # is coarse), as for Gaon's replays.
            n = max(iters, int(2.0 / median))
            torch.cuda.synchronize()
            e0 = nvml_energy(nvml_handle)
            t0 = time.time()
            for _ in range(n):
                fn(x, mask)
            torch.cuda.synchronize()
            elapsed = time.time() - t0
            e1 = nvml_energy(nvml_handle)
            results[mode] = {
                "median_s": median,
                "energy_j": (e1 - e0) / n if e0 is not None else None,
                "avg_power_w": (e1 - e0) / elapsed if e0 is not None
                else None,
                "first_call_s": first_s}
            if mode == "eager":
                results["eager_output"] = (out[0] if isinstance(out, tuple)
                                           else out).float().cpu().numpy()
    return results


def nvml_energy(handle):
    if handle is None:
        return None
    import pynvml
    return pynvml.nvmlDeviceGetTotalEnergyConsumption(handle) / 1e3


def hbm_bandwidth():
    import torch
    n = 1 << 30
    a = torch.empty(n, dtype=torch.uint8, device="cuda")
    b = torch.empty_like(a)
    for _ in range(3):
        b.copy_(a)
    torch.cuda.synchronize()
    s = torch.cuda.Event(enable_timing=True)
    e = torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(20):
        b.copy_(a)
    e.record()
    e.synchronize()
    return 2 * n * 20 / (s.elapsed_time(e) / 1e3)


def model_flops(config, batch, seq, params):
    # 2 flops per weight per token for the matmuls, plus attention's
    # QK^T and PV (4 * seq^2 * hidden per layer and sequence).
    weights = sum(int(__import__("numpy").prod(p["shape"]))
                  for n, p in params.items() if len(p["shape"]) == 2
                  and not n.endswith("wpe.weight")
                  and "position" not in n and "token_type" not in n)
    layers = 12
    hidden = 768
    flops = 2 * weights * batch * seq + 4 * layers * batch * seq * seq * hidden
    return flops


def floor_bytes(batch, seq, params, ids):
    """fp16 bytes a forward must read at least: every weight once, but of an
    embedding table that only a gather reads (the tied GPT-2 wte is also the
    LM head, so it counts whole) only the rows taken: one per distinct token
    id, the first seq positions, token type 0."""
    import numpy as np
    total = 0
    for name, p in params.items():
        shape = p["shape"]
        size = int(np.prod(shape))
        row_bytes = 2 * int(np.prod(shape[1:])) if shape else 2
        if name.endswith("word_embeddings.weight"):
            total += len(np.unique(ids)) * row_bytes
        elif name.endswith("position_embeddings.weight") or \
                name.endswith("wpe.weight"):
            total += min(seq, shape[0]) * row_bytes
        elif name.endswith("token_type_embeddings.weight"):
            total += row_bytes
        else:
            total += 2 * size
    return total


def run(args):
    import numpy as np
    out_dir = os.environ.get("OUT", "/tmp/gaon-cuda-bench")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(STAGE, "manifest.json")) as f:
        manifest = json.load(f)
    work = "/tmp/gaon-cuda-bench-work"
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    with tarfile.open(os.path.join(STAGE, "artifacts.tar.gz")) as tar:
        tar.extractall(work)
    try:
        import pynvml
        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
    except Exception:  # energy is optional
        handle = None
    bw = hbm_bandwidth()
    print(f"HBM bandwidth (device copy): {bw / 1e12:.2f} TB/s", flush=True)
    gaon_run = os.path.join(ROOT, ".device-carry", "cuda-bench-bin",
                            "gaon-run")
    rows = []
    only = set(args.only.split(",")) if args.only else None
    for m in manifest["models"]:
        if (only and m["name"] not in only) or args.profile_only:
            continue
        art = restore(manifest, m, work)
        rng = np.random.default_rng(0)
        vocab = 30522 if m["config"] == "bert-base" else 50257
        ids = rng.integers(0, vocab, (m["batch"], m["seq"]), dtype=np.int64)
        ids_path = os.path.join(work, m["name"] + ".ids.npy")
        mask_path = os.path.join(work, m["name"] + ".mask.npy")
        np.save(ids_path, ids)
        np.save(mask_path, np.ones_like(ids))
        report = os.path.join(work, m["name"] + ".json")
        outs = os.path.join(work, m["name"] + ".out")
        r = subprocess.run([gaon_run, art, "--input", "input_ids=" + ids_path,
                            "--input", "attention_mask=" + mask_path,
                            "--device-option", f"replays={args.replays}",
                            *[a for o in args.device_option
                              for a in ("--device-option", o)],
                            "--warmup", "3", "--repeat", str(args.repeat),
                            "--output-dir", outs, "--json", report],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stdout[-2000:], r.stderr[-2000:])
            rows.append({"name": m["name"], "error": r.stderr[-500:]})
            continue
        with open(report) as f:
            rep = json.load(f)
        for line in r.stderr.splitlines():
            if line.startswith("gaon cuda: "):  # matmul_log=1 or 2
                print("  " + line, flush=True)
        if args.gaon_only:
            g = rep["device_s_median"] / args.replays
            rows.append({"name": m["name"], "gaon_s": g,
                         "device_options": args.device_option})
            print(f"{m['name']:18s} gaon {g*1e3:8.3f} ms "
                  f"{' '.join(args.device_option)}", flush=True)
            continue
        peer = torch_peer(m["config"], m["batch"], m["seq"], ids, args.iters,
                          handle)
        gaon_out = np.load(os.path.join(outs, os.listdir(outs)[0])).astype(
            np.float32)
        ref = peer.pop("eager_output")
        rel = float(np.linalg.norm(gaon_out - ref) /
                    max(np.linalg.norm(ref), 1e-30))
        params = manifest["params"][m["config"]]
        flops = model_flops(m["config"], m["batch"], m["seq"], params)
        min_bytes = floor_bytes(m["batch"], m["seq"], params, ids)
        floor = max(min_bytes / bw, flops / H100_FP16_DENSE_FLOPS)
        # Each run replays the captured forward `replays` times back to
        # back (device option), so NVML's coarse energy counter covers long
        # stretches of work.
        g = rep["device_s_median"] / args.replays
        energy = rep.get("energy_j_per_run")
        row = {"name": m["name"], "gaon_s": g,
               "gaon_wall_s": rep["latency_s"],
               "gaon_energy_j": energy / args.replays if energy else None,
               "gaon_avg_power_w": energy / rep["device_s_median"]
               if energy else None,
               "eager_s": peer["eager"]["median_s"],
               "eager_energy_j": peer["eager"]["energy_j"],
               "compile_s": peer["compile"]["median_s"],
               "compile_energy_j": peer["compile"]["energy_j"],
               "torch_compile_time_s": peer["compile"]["first_call_s"],
               "gaon_compile_time_s": m["compile_s"],
               "roofline_floor_s": floor, "flops": flops,
               "floor_bytes": min_bytes,
               "rel_l2_vs_torch": rel}
        rows.append(row)
        print(f"{m['name']:18s} gaon {g*1e3:8.3f} ms  eager "
              f"{row['eager_s']*1e3:8.3f} ms  compile {row['compile_s']*1e3:8.3f}"
              f" ms  -> vs compile x{row['compile_s']/g:.2f}, floor "
              f"{floor*1e3:.3f} ms (x{g/floor:.2f}), rel L2 {rel:.2e}",
              flush=True)
    if not args.gaon_only:
        print_table(rows)
    with open(os.path.join(out_dir, args.json_name), "w") as f:
        json.dump({"hbm_bandwidth_Bps": bw, "rows": rows}, f, indent=1)
    if args.profile or args.profile_only:
        name = args.profile or args.profile_only
        m = next(m for m in manifest["models"] if m["name"] == name)
        restore(manifest, m, work)
        rng = np.random.default_rng(0)
        vocab = 30522 if m["config"] == "bert-base" else 50257
        ids = rng.integers(0, vocab, (m["batch"], m["seq"]), dtype=np.int64)
        np.save(os.path.join(work, m["name"] + ".ids.npy"), ids)
        np.save(os.path.join(work, m["name"] + ".mask.npy"), np.ones_like(ids))
        profile_kernels(gaon_run, os.path.join(work, m["artifact"]),
                        os.path.join(work, m["name"] + ".ids.npy"),
                        os.path.join(work, m["name"] + ".mask.npy"), out_dir,
                        args.device_option)


def forward_period(names):
    """Length of one forward at the end of `names`: the largest K with the
    last K kernels equal to the K before them (the first, eager run also
    holds cuBLASLt's tuning runs, so it is not compared)."""
    for k in range(len(names) // 2, 0, -1):
        if names[-k:] == names[-2 * k:-k]:
            return k
    return len(names)


def profile_kernels(gaon_run, art, ids, mask, out_dir, device_options):
    """Per-kernel GPU time of one eager forward, from Nsight Compute."""
    import csv
    import io
    extra = [a for o in device_options for a in ("--device-option", o)]
    # Clocks and caches as in a normal run: ncu's defaults (base clocks,
    # caches flushed before every kernel) inflate short kernels.
    r = subprocess.run(["ncu", "--clock-control", "none", "--cache-control",
                        "none", "--metrics", "gpu__time_duration.sum", "--csv",
                        "--print-units", "base", gaon_run, art, "--input",
                        "input_ids=" + ids, "--input", "attention_mask=" + mask,
                        "--device-option", "graphs=0", *extra, "--warmup", "1",
                        "--repeat", "2"], capture_output=True, text=True)
    text = r.stdout[r.stdout.find('"ID"'):]
    kernels = []
    for row in csv.DictReader(io.StringIO(text)):
        if row.get("Metric Name") != "gpu__time_duration.sum":
            continue
        kernels.append((row["Kernel Name"].split("(")[0][:60],
                        float(row["Metric Value"].replace(",", "")) * 1e-9))
    kernels = kernels[-forward_period([n for n, _ in kernels]):]
    totals = {}
    for name, value in kernels:
        t, c = totals.get(name, (0.0, 0))
        totals[name] = (t + value, c + 1)
    total = sum(t for t, _ in totals.values())
    print(f"ncu: {sum(c for _, c in totals.values())} kernels, "
          f"{total * 1e3:.3f} ms")
    for name, (t, c) in sorted(totals.items(), key=lambda kv: -kv[1][0])[:25]:
        print(f"  {t * 1e3:8.3f} ms {100 * t / max(total, 1e-12):5.1f}% "
              f"x{c:<4d} {name}")
    with open(os.path.join(out_dir, "ncu-summary.json"), "w") as f:
        json.dump({"totals": totals, "sequence": kernels}, f, indent=1)


def print_table(rows):
    head = ("model", "gaon ms", "eager ms", "compile ms", "vs eager",
            "vs compile", "floor ms", "x floor", "gaon mJ", "compile mJ",
            "gaon c s", "torch c s", "rel L2")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        if "error" in r:
            print(f"| {r['name']} | error |")
            continue
        mj = lambda j: f"{j * 1e3:.1f}" if j is not None else "n/a"
        print(f"| {r['name']} | {r['gaon_s']*1e3:.3f} | {r['eager_s']*1e3:.3f}"
              f" | {r['compile_s']*1e3:.3f} | {r['eager_s']/r['gaon_s']:.2f}x"
              f" | {r['compile_s']/r['gaon_s']:.2f}x | "
              f"{r['roofline_floor_s']*1e3:.3f} | "
              f"{r['gaon_s']/r['roofline_floor_s']:.2f} | "
              f"{mj(r['gaon_energy_j'])} | {mj(r['compile_energy_j'])} | "
              f"{r['gaon_compile_time_s']:.1f} | "
              f"{r['torch_compile_time_s']:.1f} | {r['rel_l2_vs_torch']:.1e} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--work", default="/tmp/benchwork")
    p.add_argument("--models", default="bert-base,gpt2-small")
    p.add_argument("--no-build", action="store_true",
                   help="use the tools already built in --build")
    r = sub.add_parser("run")
    r.add_argument("--iters", type=int, default=50,
                   help="timed torch iterations")
    r.add_argument("--repeat", type=int, default=20,
                   help="timed gaon-run runs")
    r.add_argument("--replays", type=int, default=50,
                   help="forwards per gaon-run run (graph replays)")
    r.add_argument("--profile", default="",
                   help="also profile this model's kernels with ncu")
    r.add_argument("--profile-only", default="",
                   help="only profile this model's kernels with ncu")
    r.add_argument("--only", default="")
    r.add_argument("--gaon-only", action="store_true",
                   help="time Gaon only (no torch peers), e.g. to compare "
                   "device options")
    r.add_argument("--device-option", action="append", default=[],
                   help="KEY=VALUE passed to gaon-run (repeatable)")
    r.add_argument("--json-name", default="cuda-bench.json",
                   help="file name of the JSON written under $OUT")
    args = ap.parse_args()
    if args.cmd == "prepare":
        prepare(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
