#!/usr/bin/env bash
# Installs what is needed, builds, and runs the whole test suite (lit + GoogleTest + pytest).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh"
cd "${GAON_BUILD_DIR:-$root/build}"
ctest --output-on-failure -j "$(nproc)"
