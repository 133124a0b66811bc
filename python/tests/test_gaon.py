"""The Python package against the bundled example (examples/tiny_gpt):
compile for npu-sim:tiny and the reference interpreter, run, compare with
torch's outputs; reports; zero-copy outputs; errors; gaon.bench."""

import json
import os
import sys

import numpy as np
import pytest

import gaon

SOURCE_DIR = os.environ.get(
    "GAON_SOURCE_DIR",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
TINY_GPT = os.path.join(SOURCE_DIR, "examples", "tiny_gpt")
MODEL = os.path.join(TINY_GPT, "model.onnx")

# fp32 on the simulator and the interpreter is within ~3e-7 relative L2 of
# torch (README); 1e-5 leaves room for summation order, and is far below
# what a wrong kernel gives (a bias dropped or a mask ignored is > 1e-2).
RTOL_FP32 = 1e-5
# bf16 weights and activations with fp32 accumulation: ~6e-3 (docs).
RTOL_BF16 = 2e-2
# int8 products over constant weights, the rest bf16 (docs/npu-backend.md).
RTOL_INT8 = 5e-2


def read_pb(path):
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper
    return numpy_helper.to_array(onnx.load_tensor(path))


def data_set(index):
    d = os.path.join(TINY_GPT, "test_data_set_%d" % index)
    ids, mask = (read_pb(os.path.join(d, "input_%d.pb" % i)) for i in (0, 1))
    return {"input_ids": ids, "attention_mask": mask}, read_pb(
        os.path.join(d, "output_0.pb"))


def rel_l2(actual, expected):
    return float(np.linalg.norm(actual.astype(np.float64) - expected) /
                 np.linalg.norm(expected))


def shapes_of(inputs):
    return {name: list(a.shape) for name, a in inputs.items()}


@pytest.fixture(scope="module")
def npu_model():
    inputs, _ = data_set(0)
    return gaon.compile(MODEL, target="npu-sim:tiny",
                        input_shapes=shapes_of(inputs), dtype="fp32")


@pytest.mark.parametrize("target", ["npu-sim:tiny", "reference"])
@pytest.mark.parametrize("index", [0, 1])
def test_matches_torch(target, index):
    inputs, expected = data_set(index)
    m = gaon.compile(MODEL, target=target, input_shapes=shapes_of(inputs),
                     dtype="fp32")
    assert m.target == target and m.name == "tiny_gpt"
    assert [i["name"] for i in m.inputs] == ["input_ids", "attention_mask"]
    out = m.run(inputs)
    assert list(out) == ["logits"]
    logits = out["logits"]
    assert logits.shape == expected.shape and logits.dtype == np.float32
    assert rel_l2(logits, expected) < RTOL_FP32
    # The comparison can fail: a wrong mask changes the padded batch.
    if index == 1:
        wrong = dict(inputs, attention_mask=np.ones_like(
            inputs["attention_mask"]))
        assert rel_l2(m.run(wrong)["logits"], expected) > 100 * RTOL_FP32


def test_bf16_within_its_tolerance():
    inputs, expected = data_set(0)
    m = gaon.compile(MODEL, target="npu-sim:tiny",
                     input_shapes=shapes_of(inputs), dtype="bf16")
    err = rel_l2(m.run(inputs)["logits"], expected)
    assert RTOL_FP32 < err < RTOL_BF16  # really bf16, and close enough


def test_int8_within_its_tolerance():
    inputs, expected = data_set(0)
    m = gaon.compile(MODEL, target="npu-sim:tiny",
                     input_shapes=shapes_of(inputs), dtype="int8")
    err = rel_l2(m.run(inputs)["logits"], expected)
    bf16 = gaon.compile(MODEL, target="npu-sim:tiny",
                        input_shapes=shapes_of(inputs), dtype="bf16")
    # really int8 (coarser than bf16), and close enough
    assert rel_l2(bf16.run(inputs)["logits"], expected) < err < RTOL_INT8


def test_report_of_the_last_run(npu_model):
    before = npu_model.report()
    assert before["target"] == "npu-sim:tiny" and "cycles" not in before
    inputs, _ = data_set(0)
    npu_model.run(inputs)
    r = npu_model.report()
    assert r["driver"] == "npu-sim" and r["dispatches"] == 1
    assert r["cycles"] > 0 and r["energy_j"] > 0
    dev = r["device_report"]
    assert r["latency_s"] == pytest.approx(dev["seconds"])
    assert r["energy_j"] == pytest.approx(dev["energy_joules"]["total"])
    assert dev["driver"]["mode"] == "functional"
    json.dumps(r)  # plain Python values


def test_outputs_are_zero_copy(npu_model):
    inputs, _ = data_set(0)
    a = npu_model.run(inputs)["logits"]
    b = npu_model.run(inputs)["logits"]
    # The array does not own its data: a capsule holding the runtime's
    # result buffer does (no copy after the device read).
    assert not a.flags["OWNDATA"]
    assert type(a.base).__name__ == "PyCapsule"
    assert a.flags["C_CONTIGUOUS"] and a.flags["WRITEABLE"]
    assert not np.shares_memory(a, b)
    np.testing.assert_array_equal(a, b)
    a[...] = 0  # the buffer is the caller's to keep and change
    assert b.any()
    del b  # freeing through the capsule must not disturb the next run
    assert npu_model.run(inputs)["logits"].any()


def test_inputs_are_converted_only_when_needed(npu_model):
    inputs, _ = data_set(0)
    reference = npu_model.run(inputs)["logits"]
    # Same-kind casts (int32 ids) and non-contiguous arrays are accepted.
    ids32 = {k: v.astype(np.int32) for k, v in inputs.items()}
    np.testing.assert_array_equal(npu_model.run(ids32)["logits"], reference)
    strided = {k: np.asfortranarray(np.repeat(v, 2, axis=0))[:1]
               for k, v in inputs.items()}
    assert not strided["input_ids"].flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(npu_model.run(strided)["logits"], reference)
    # Lists work too.
    lists = {k: v.tolist() for k, v in inputs.items()}
    np.testing.assert_array_equal(npu_model.run(lists)["logits"], reference)


@pytest.mark.parametrize("change,error,message", [
    (lambda i: {"input_ids": i["input_ids"]}, gaon.GaonError,
     "missing input 'attention_mask' (i64 [1, 16])"),
    (lambda i: dict(i, input_ids=i["input_ids"].astype(np.float32)),
     gaon.GaonError, "input 'input_ids': expected i64 [1, 16], got float32"),
    (lambda i: dict(i, input_ids=i["input_ids"][:, :8]), gaon.GaonError,
     "input 'input_ids': expected i64 [1, 16], got i64 [1, 8]"),
    (lambda i: dict(i, extra=np.zeros(1)), gaon.GaonError,
     "'extra' is not an input of the model"),
])
def test_bad_inputs_raise(npu_model, change, error, message):
    inputs, _ = data_set(0)
    with pytest.raises(error) as info:
        npu_model.run(change(inputs))
    assert message in str(info.value)


def test_bad_compiles_raise_with_the_cli_messages(tmp_path):
    shapes = {"input_ids": [1, 16], "attention_mask": [1, 16]}
    with pytest.raises(ValueError, match=r"unknown target 'tpu' \(available: "
                       r"npu-sim\[:rngd\|atom\|tiny\|chip.json\]"):
        gaon.compile(MODEL, target="tpu", input_shapes=shapes)
    with pytest.raises(ValueError,
                       match=r"unknown --dtype 'int4' \(fp32, bf16, fp16 or int8\)"):
        gaon.compile(MODEL, target="npu-sim:tiny", input_shapes=shapes,
                     dtype="int4")
    with pytest.raises(gaon.GaonError, match="cannot open ONNX model"):
        gaon.compile(tmp_path / "missing.onnx", target="npu-sim:tiny")
    with pytest.raises(gaon.GaonError,
                       match="graph input 'input_ids' has dynamic dimensions"):
        gaon.compile(MODEL, target="npu-sim:tiny")
    with pytest.raises(TypeError):
        gaon.compile(MODEL, target="npu-sim:tiny", input_shapes=[1, 16])
    assert issubclass(gaon.GaonError, RuntimeError)


def test_compile_output_and_load(tmp_path):
    inputs, expected = data_set(0)
    path = tmp_path / "tiny.gaon"
    m = gaon.compile(MODEL, target="npu-sim:tiny",
                     input_shapes=shapes_of(inputs), output=path)
    assert path.exists()
    loaded = gaon.load(path, device_options={"timing-only": True})
    loaded.run(inputs)
    r = loaded.report()
    assert r["device_report"]["driver"]["mode"] == "timing-only"
    m.run(inputs)
    assert r["cycles"] == m.report()["cycles"]
    with pytest.raises(gaon.GaonError):
        gaon.load(tmp_path / "missing.gaon")


def test_bench_returns_gaon_bench_json(tmp_path):
    report = gaon.bench(MODEL, targets=["npu-sim:tiny", "cuda"],
                        input_shapes={"input_ids": [1, 16],
                                      "attention_mask": [1, 16]},
                        html=tmp_path / "r.html", json=tmp_path / "r.json")
    assert report["schema"] == "gaon-bench/1"
    assert report == json.loads((tmp_path / "r.json").read_text())
    npu, cuda = report["targets"]
    assert npu["status"] == "ok" and npu["energy_j"] > 0
    assert npu["breakdown"]["labelled"]
    assert cuda["status"] == "skipped" and cuda["reason"]
    table = gaon.bench_table(report)
    assert "npu-sim:tiny" in table and "cuda: skipped" in table
    page = (tmp_path / "r.html").read_text()
    assert page == gaon.bench_html(report)
    assert 'id="chart-perf-per-watt"' in page
    with pytest.raises(ValueError, match="unknown target 'tpu' \\(known: "):
        gaon.bench(MODEL, targets=["tpu"])
    with pytest.raises(gaon.GaonError, match="dynamic dimensions"):
        gaon.bench(MODEL, targets=["npu-sim:tiny"])
    with pytest.raises(ValueError, match="not a gaon-bench report"):
        gaon.bench_table({"model": "x"})
