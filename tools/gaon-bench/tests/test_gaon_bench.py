"""gaon-bench end to end on the bundled example (examples/tiny_gpt): the
table, the JSON's arithmetic, the per-kernel breakdown, skipped and unknown
targets, the HTML report in a headless chromium, and the progress display
of gaon-bench, gaon-compile and gaon-run on a terminal."""

import html.parser
import json
import os
import re
import subprocess

import pytest

from helpers import (TINY_GPT, TINY_SHAPES, chromium, decode_png,
                     run_chromium, run_on_terminal)

BIN = os.environ.get("GAON_BIN", os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "build", "bin"))
BENCH = os.path.join(BIN, "gaon-bench")
MODEL = os.path.join(TINY_GPT, "model.onnx")
SHAPE_ARGS = [a for s in TINY_SHAPES for a in ("--input-shape", s)]


def bench(*args, **kwargs):
    return subprocess.run([BENCH, MODEL] + SHAPE_ARGS + list(args),
                          capture_output=True, text=True, timeout=600,
                          **kwargs)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    json_path, html_path = out / "r.json", out / "r.html"
    result = bench("--targets", "npu-sim:tiny,npu-sim:rngd,cuda",
                   "--json", str(json_path), "--html", str(html_path))
    assert result.returncode == 0, result.stderr
    return {"stdout": result.stdout, "stderr": result.stderr,
            "json": json.loads(json_path.read_text()),
            "html_path": html_path, "dir": out}


def target(report, name):
    return next(t for t in report["json"]["targets"] if t["target"] == name)


def test_table_puts_targets_side_by_side(report):
    lines = report["stdout"].splitlines()
    assert lines[0].startswith("tiny_gpt, fp32, batch 1, seq 16")
    header = lines[1].split()
    assert header == ["npu-sim:tiny", "npu-sim:rngd", "cuda"]
    rows = {line.split("  ")[0].strip(): line for line in lines[2:]}
    for metric in ("status", "latency", "tokens/s", "energy/inference",
                   "avg power", "perf/W (inf/s/W)", "roofline bound"):
        assert metric in rows, metric
    assert rows["status"].split()[1:] == ["ok", "ok", "skipped"]
    assert "cuda: skipped: " in report["stdout"]
    # Nothing on stderr when it is not a terminal.
    assert report["stderr"] == ""


def test_json_metrics_are_consistent(report):
    r = report["json"]
    assert r["schema"] == "gaon-bench/1"
    assert r["workload"]["batch"] == 1 and r["workload"]["seq"] == 16
    # FLOPs by bench/npu_models.py's formula for the example's config
    # (2 layers, hidden 64, ffn 256, vocab 256, LM head).
    tokens, h, f, layers, vocab = 16, 64, 256, 2, 256
    flops = 2 * (layers * (tokens * (4 * h * h + 2 * h * f) +
                           2 * 16 * 16 * h) + tokens * h * vocab)
    assert r["graph"]["flops"] == flops
    for name in ("npu-sim:tiny", "npu-sim:rngd"):
        t = target(report, name)
        assert t["status"] == "ok" and t["simulated"]
        assert t["mode"] == "functional"
        dev = t["device_report"]
        lat, energy = t["latency_s"], t["energy_j"]
        assert lat == pytest.approx(dev["seconds"], rel=1e-9)
        assert t["cycles"] == round(dev["cycles"])
        assert energy == pytest.approx(dev["energy_joules"]["total"], rel=1e-9)
        assert t["inferences_per_s"] == pytest.approx(1 / lat)
        assert t["tokens_per_s"] == pytest.approx(16 / lat)
        assert t["avg_power_w"] == pytest.approx(energy / lat)
        assert t["inferences_per_j"] == pytest.approx(1 / energy)
        assert t["joules_per_token"] == pytest.approx(energy / 16)
        roof = t["roofline"]
        assert roof["flops"] == flops
        assert roof["compute_s"] == pytest.approx(flops / roof["peak_flops"])
        assert roof["memory_s"] == pytest.approx(
            roof["min_bytes"] / roof["mem_bytes_per_s"])
        assert roof["bound_s"] == max(roof["compute_s"], roof["memory_s"])
        # A simulated run can never beat its chip's roofline.
        assert roof["latency_over_bound"] >= 1
    # The two presets differ: the table compares something real.
    assert (target(report, "npu-sim:tiny")["cycles"] !=
            target(report, "npu-sim:rngd")["cycles"])


def test_breakdown_accounts_for_the_whole_run(report):
    t = target(report, "npu-sim:tiny")
    b = t["breakdown"]
    assert b["labelled"], "kernels did not match the lowered ops"
    assert b["kernel_count"] == len(b["kernels"]) > 10
    # Kernels are fenced by barriers: simulated alone they add up to the run,
    # up to the weight prefetch that the emitter issues before a barrier
    # (it overlaps the previous kernel in the run, not when each piece is
    # simulated alone): 30,280 summed against 30,120 cycles on tiny (+0.53%).
    assert b["sum_cycles"] == pytest.approx(t["cycles"], rel=1e-2)
    ops = {o["op"]: o for o in b["by_op"]}
    assert {"matmul", "attention", "layer_norm"} <= set(ops)
    assert ops["matmul"]["kernels"] == r_matmuls(report)
    assert sum(o["share_time"] for o in b["by_op"]) == pytest.approx(1)
    layers = [l["layer"] for l in b["by_layer"]]
    assert "0" in layers and "1" in layers
    assert any(k["name"].startswith("/blocks.0/") for k in b["kernels"])


def r_matmuls(report):
    return report["json"]["graph"]["matmuls"]


def test_cuda_is_skipped_with_a_reason(report):
    t = target(report, "cuda")
    assert t["status"] == "skipped"
    assert "cuda" in t["reason"]


def test_timing_only_gives_the_same_cycles(report):
    result = bench("--targets", "npu-sim:tiny", "--timing-only", "--json",
                   str(report["dir"] / "t.json"), "--no-breakdown")
    assert result.returncode == 0, result.stderr
    t = json.loads((report["dir"] / "t.json").read_text())["targets"][0]
    assert t["mode"] == "timing-only"
    assert "breakdown" not in t
    assert t["cycles"] == target(report, "npu-sim:tiny")["cycles"]


@pytest.mark.parametrize("args,message", [
    (["--targets", "npu-sim:tiny,tpu"],
     "unknown target 'tpu' (known: cuda, npu-sim[:rngd|atom|tiny|chip.json])"),
    ([], "no targets given"),
    (["--targets", "npu-sim:tiny", "--dtype", "int4"],
     "unknown --dtype 'int4' (fp32, bf16, fp16 or int8)"),
    (["--targets", "npu-sim:tiny", "--iterations", "0"],
     "--iterations needs a positive integer"),
    (["--targets", "npu-sim:tiny", "--frobnicate"],
     "unknown option '--frobnicate'"),
])
def test_usage_errors(args, message):
    result = bench(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_model_errors_exit_1_with_the_compiler_message(tmp_path):
    result = subprocess.run(
        [BENCH, str(tmp_path / "missing.onnx"), "--targets", "npu-sim:tiny",
         "--json", str(tmp_path / "e.json")],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "gaon-bench: error: cannot open ONNX model" in result.stderr
    assert json.loads((tmp_path / "e.json").read_text())["status"] == "error"
    # Dynamic shapes not fixed: the importer's message, as gaon-compile's.
    result = subprocess.run([BENCH, MODEL, "--targets", "npu-sim:tiny"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "has dynamic dimensions" in result.stderr


def test_a_chip_file_that_does_not_exist_is_a_target_error(tmp_path):
    result = bench("--targets", "npu-sim:tiny,npu-sim:/nonexistent/chip.json",
                   "--json", str(tmp_path / "r.json"))
    assert result.returncode == 1
    targets = json.loads((tmp_path / "r.json").read_text())["targets"]
    assert targets[0]["status"] == "ok"
    assert targets[1]["status"] == "error"
    assert "chip.json" in result.stdout


# ---------------------------------------------------------------- HTML

def test_html_is_self_contained(report):
    text = report["html_path"].read_text()
    assert text.startswith("<!DOCTYPE html>")
    for forbidden in ("<script", "<link", " src=", "@import", "url("):
        assert forbidden not in text, forbidden
    # The only URL is SVG's namespace, which is never fetched.
    stripped = text.replace("http://www.w3.org/2000/svg", "")
    assert "http://" not in stripped and "https://" not in stripped


class SvgCollector(html.parser.HTMLParser):
    """svg id -> list of the attributes of its rect.bar elements."""

    def __init__(self):
        super().__init__()
        self.charts, self.current = {}, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "svg" and "id" in attrs:
            self.current = attrs["id"]
            self.charts[self.current] = []
        elif tag == "rect" and self.current and "bar" in attrs.get(
                "class", "").split():
            self.charts[self.current].append(attrs)

    def handle_endtag(self, tag):
        if tag == "svg":
            self.current = None


@pytest.fixture(scope="module")
def browser():
    path = chromium()
    if not path:
        pytest.skip("chromium is not installed (scripts/setup.sh installs it)")
    return path


def test_charts_render_in_a_browser(report, browser):
    url = "file://" + str(report["html_path"])
    result = run_chromium(browser, ["--dump-dom", url])
    assert result.returncode == 0, result.stderr[-2000:]
    dom = SvgCollector()
    dom.feed(result.stdout.decode())
    charts = dom.charts
    # One bar per target that ran; the skipped one gets a note instead.
    for chart in ("chart-latency", "chart-energy", "chart-perf-per-watt"):
        bars = charts[chart]
        assert [b["data-label"] for b in bars] == ["npu-sim:tiny",
                                                  "npu-sim:rngd"], chart
        assert all(float(b["data-value"]) > 0 for b in bars)
        assert all(float(b["width"]) >= 1 for b in bars)
    latency = {b["data-label"]: float(b["data-value"])
               for b in charts["chart-latency"]}
    assert latency["npu-sim:tiny"] == pytest.approx(
        target(report, "npu-sim:tiny")["latency_s"], rel=1e-5)
    ops = target(report, "npu-sim:tiny")["breakdown"]["by_op"]
    assert len(charts["chart-ops-time-npu-sim-tiny"]) == len(ops)
    assert len(charts["chart-ops-energy-npu-sim-tiny"]) == len(ops)
    assert len(charts["chart-energy-components-npu-sim-tiny"]) >= 3
    assert len(charts["chart-units-npu-sim-tiny"]) >= 3
    assert len(charts["chart-layers-time-npu-sim-rngd"]) == 3


def test_screenshot_is_not_blank(report, browser):
    png = report["dir"] / "shot.png"
    result = run_chromium(browser, ["--screenshot=" + str(png),
                                    "--window-size=1200,1600",
                                    "file://" + str(report["html_path"])])
    assert png.exists(), result.stderr[-2000:]
    width, height, rows = decode_png(png.read_bytes())
    assert (width, height) == (1200, 1600)
    colours = {}
    for row in rows:
        for pixel in row:
            colours[pixel] = colours.get(pixel, 0) + 1
    assert len(colours) > 50, "too few colours: the page did not render"
    white = colours.get((255, 255, 255), 0)
    assert white < 0.97 * width * height, "the page is (almost) blank"
    # The first two targets' bar colours (Okabe-Ito blue and orange) show up
    # as solid areas.
    assert colours.get((0x00, 0x72, 0xB2), 0) > 500
    assert colours.get((0xE6, 0x9F, 0x00), 0) > 500


# ------------------------------------------------------------ progress

def test_progress_only_on_a_terminal(tmp_path):
    cmd = [BENCH, MODEL] + SHAPE_ARGS + ["--targets", "npu-sim:tiny"]
    rc, out, seen = run_on_terminal(cmd)
    assert rc == 0
    # Pass counts follow the pipelines; plan-memory is the NPU's last pass.
    assert re.search(rb"\[graph\] \[1/\d+\] canonicalize", seen)
    assert re.search(rb"\[npu-sim:tiny\] \[(\d+)/\1\] gaon-npu-plan-memory",
                     seen)
    assert seen.endswith(b"\r\x1b[K"), "the line is not cleared at the end"
    assert b"\x1b[K" not in out  # the table (stdout) is untouched
    env = dict(os.environ, GAON_PROGRESS="0")
    rc, _, seen = run_on_terminal(cmd, env=env)
    assert rc == 0 and seen == b""


def test_gaon_compile_and_gaon_run_progress(tmp_path):
    artifact = str(tmp_path / "m.gaon")
    rc, _, seen = run_on_terminal(
        [os.path.join(BIN, "gaon-compile"), MODEL] + SHAPE_ARGS +
        ["--target=npu-sim:tiny", "-o", artifact])
    assert rc == 0, seen
    assert re.search(rb"\[(\d+)/\1\] gaon-npu-plan-memory", seen)
    # Not a terminal: nothing.
    result = subprocess.run([os.path.join(BIN, "gaon-compile"), MODEL] +
                            SHAPE_ARGS + ["--target=npu-sim:tiny", "-o",
                                          artifact],
                            capture_output=True, timeout=120)
    assert result.returncode == 0 and result.stderr == b""
    # A run long enough for the spinner (it waits 250 ms before drawing).
    rc, out, seen = run_on_terminal(
        [os.path.join(BIN, "gaon-run"), artifact, "--repeat", "500"])
    assert rc == 0
    assert b"run " in seen and b"/500" in seen and b"%" in seen
    assert b"cycles" in out


def test_errors_do_not_land_on_a_progress_line(tmp_path):
    rc, _, seen = run_on_terminal(
        [os.path.join(BIN, "gaon-compile"), MODEL, "--target=npu-sim:tiny",
         "-o", str(tmp_path / "m.gaon")])
    assert rc == 1
    text = seen.decode(errors="replace")
    line = [l for l in text.split("\n") if "dynamic dimensions" in l][0]
    assert "\r" not in line.rstrip("\r"), repr(line)


def test_per_token_figures_need_ids(tmp_path):
    # A float-input model: batch from the first input, no sequence length.
    model = "/usr/share/libonnx-testdata/data/node/test_matmul_2d/model.onnx"
    if not os.path.exists(model):
        pytest.skip("libonnx-testdata is not installed")
    result = subprocess.run([BENCH, model, "--targets", "npu-sim:tiny",
                             "--json", str(tmp_path / "r.json")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["workload"]["seq"] is None
    assert "not an integer id tensor" in r["workload"]["seq_note"]
    t = r["targets"][0]
    assert t["tokens_per_s"] is None and t["joules_per_token"] is None
    assert t["inferences_per_s"] > 0 and t["inferences_per_j"] > 0
    rows = {l.split("  ")[0]: l.split()[-1] for l in result.stdout.splitlines()}
    assert rows["tokens/s"] == "n/a" and rows["energy/token"] == "n/a"
