#!/usr/bin/env bash
# Installs what is needed, builds, and runs the main job on the bundled example
# transformer (examples/tiny_gpt, a GPT-2-style decoder exported by torch):
# compile it for the simulated NPU (RNGD-modelled preset unless GAON_CHIP is
# set), run it on the simulator through the runtime, check its output against
# torch's, and report cycles and energy.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh"
bin="${GAON_BUILD_DIR:-$root/build}/bin"
example="$root/examples/tiny_gpt"
data="$example/test_data_set_0"
chip="${GAON_CHIP:-rngd}"
out="${GAON_OUT_DIR:-$root/build/example}"
mkdir -p "$out"

echo "== compile: gaon-compile tiny_gpt/model.onnx --target=npu-sim:$chip" >&2
"$bin/gaon-compile" "$example/model.onnx" --target="npu-sim:$chip" \
  --input-shape input_ids=1x16,attention_mask=1x16 -o "$out/tiny_gpt.gaon"

echo "== run on the simulator and check against torch's output" >&2
"$bin/gaon-run" "$out/tiny_gpt.gaon" \
  --input "input_ids=$data/input_0.pb" --input "attention_mask=$data/input_1.pb" \
  --expect "logits=$data/output_0.pb" --rtol 1e-4 --atol 1e-5 \
  --json "$out/report.json"
echo "report: $out/report.json" >&2
