"""Gaon: compile ONNX models for AI accelerators and run them from Python.

    import gaon, numpy as np
    m = gaon.compile("model.onnx", target="npu-sim:rngd",
                     input_shapes={"input_ids": [1, 128]}, dtype="fp32")
    out = m.run({"input_ids": np.zeros((1, 128), np.int64)})  # {name: ndarray}
    m.report()        # latency, cycles, energy of the last run
    gaon.bench("model.onnx", targets=["npu-sim:rngd", "npu-sim:atom"])

See docs/python.md. Errors raise GaonError (a RuntimeError) or ValueError
with the messages the command-line tools print.
"""

import os as _os

from . import _gaon
from ._gaon import GaonError, Module

__all__ = ["GaonError", "Module", "compile", "load", "bench", "bench_table",
           "bench_html", "available_targets"]


def _shape_specs(input_shapes):
    """{name: [1, 128]} -> ["name=1x128"] (gaon-compile's --input-shape)."""
    if input_shapes is None:
        return []
    if not isinstance(input_shapes, dict):
        raise TypeError("input_shapes must be a dict {name: [dims]}, got %s"
                        % type(input_shapes).__name__)
    specs = []
    for name, shape in input_shapes.items():
        if isinstance(shape, str):
            specs.append("%s=%s" % (name, shape))
            continue
        try:
            dims = [int(d) for d in shape]
        except TypeError:
            raise TypeError("input_shapes['%s'] must be a list of ints, got %r"
                            % (name, shape)) from None
        specs.append("%s=%s" % (name, "x".join(str(d) for d in dims)
                                if dims else "scalar"))
    return specs


def _device_options(options):
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise TypeError("device_options must be a dict {key: value}")

    def text(value):
        if isinstance(value, bool):
            return "1" if value else "0"
        return str(value)
    return {str(k): text(v) for k, v in options.items()}


def compile(path, target="npu-sim:rngd", input_shapes=None, dtype="fp32",
            device_options=None, output=None):
    """Compiles the ONNX model at `path` for `target` and loads it.

    target: "npu-sim[:rngd|atom|tiny|chip.json]", "cuda[:sm_90]" (where
    built and a GPU is present) or "reference" (the host interpreter of
    gaon.graph, the numerical golden model). input_shapes fixes dynamic
    dimensions ({"input_ids": [1, 128]}); dtype is "fp32", "bf16", "fp16" or
    "int8" (npu-sim: products over constant weights in int8).
    device_options go to the runtime driver ({"timing-only": 1} on npu-sim).
    output keeps the .gaon artifact at that path (default: a temporary file,
    removed once loaded). Returns a Module.
    """
    return _gaon.compile(_os.fspath(path), str(target),
                         _shape_specs(input_shapes), str(dtype),
                         _device_options(device_options),
                         _os.fspath(output) if output is not None else "")


def load(path, device_options=None):
    """Loads a .gaon artifact (from gaon-compile or compile(output=...))."""
    return _gaon.load(_os.fspath(path), _device_options(device_options))


def bench(path, targets, input_shapes=None, dtype="fp32", iterations=None,
          warmup=None, functional=None, breakdown=True, seed=0, inputs=None,
          json=None, html=None):
    """Runs gaon-bench in-process and returns its report (the same JSON).

    targets: list such as ["cuda", "npu-sim:rngd", "npu-sim:atom"]; targets
    that cannot run here are reported as skipped. functional: None (npu-sim
    decides by model size), True or False (timing-only). inputs: {name:
    file.npy|file.pb} (others are random). json / html: also write the
    report / the HTML page there.
    """
    if isinstance(targets, str):
        targets = [t for t in targets.split(",") if t]
    mode = "auto" if functional is None else (
        "functional" if functional else "timing-only")
    files = ["%s=%s" % (k, _os.fspath(v)) for k, v in (inputs or {}).items()]
    return _gaon.bench(_os.fspath(path), list(targets),
                       _shape_specs(input_shapes), str(dtype),
                       int(iterations or 0),
                       -1 if warmup is None else int(warmup), mode,
                       bool(breakdown), int(seed), files,
                       _os.fspath(json) if json is not None else "",
                       _os.fspath(html) if html is not None else "")


def bench_table(report):
    """The table gaon-bench prints, for a report from bench()."""
    return _gaon.bench_table(report)


def bench_html(report):
    """The self-contained HTML page of a report from bench()."""
    return _gaon.bench_html(report)


def available_targets():
    """Targets compile() accepts in this build, as text."""
    return _gaon.available_targets()
