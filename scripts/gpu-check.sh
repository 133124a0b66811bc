#!/usr/bin/env bash
# The whole GPU check in one device call. On the build machine first:
#   python3 scripts/gpu_check_prepare.py      # stages .device-carry/gpu-check
# then on the GPU machine (the device tool carries .device-carry/gpu-check):
#   bash scripts/gpu-check.sh                  # results under $OUT
set -uo pipefail
cd "$(dirname "$0")/.."
: "${OUT:=/tmp/gaon-gpu-check}"
export OUT
if [ ! -f .device-carry/gpu-check/manifest.json ]; then
  echo "gpu-check: nothing staged; run scripts/gpu_check_prepare.py first" >&2
  exit 2
fi
python3 scripts/gpu_check.py
status=$?
tar -C "$OUT" -czf /tmp/gpu-check-logs.tar.gz . && mv /tmp/gpu-check-logs.tar.gz "$OUT/"
exit $status
