#!/usr/bin/env bash
# Installs the Debian packages Gaon needs (idempotent; skips what is installed).
set -euo pipefail
pkgs=(
  cmake ninja-build g++ lld ccache
  libmlir-22-dev mlir-22-tools llvm-22-dev llvm-22-tools
  libonnx-dev libprotobuf-dev protobuf-compiler libonnx-testdata
  libgtest-dev libgmock-dev
  flatbuffers-compiler libflatbuffers-dev nlohmann-json3-dev
  python3-dev python3-numpy python3-onnx python3-pytest pybind11-dev
  chromium  # headless browser for the gaon-bench HTML report tests
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
