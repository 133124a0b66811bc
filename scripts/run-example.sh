#!/usr/bin/env bash
# Installs what is needed, builds, and runs the main job on the bundled
# example transformer (examples/tiny_gpt): import, specialize and optimize it,
# and print its gaon.graph IR.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh"
bin="${GAON_BUILD_DIR:-$root/build}/bin"
model="$root/examples/tiny_gpt/model.onnx"

echo "== gaon-compile $model --emit=graph (batch 1, sequence 16)" >&2
"$bin/gaon-compile" "$model" --emit=graph \
  --input-shape input_ids=1x16,attention_mask=1x16
