#!/usr/bin/env bash
# Runs cachescan end to end on the bundled example (examples/shop): builds the binary,
# makes a virtual environment with pytest in target/venv, then `cachescan plan`,
# `cachescan discover` (which ranks every function the manifest selects; nothing is
# written) and `cachescan apply`. The example's files are restored byte for byte afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet
PATH="$(bash .ci/venv):$PATH"
export PATH

status=0
target/release/cachescan plan --manifest examples/shop/cachescan.yaml || status=$?
echo "cachescan plan exited with $status (1 = findings: functions skipped for hazards)"
status=0
target/release/cachescan discover --manifest examples/shop/cachescan.yaml || status=$?
echo "cachescan discover exited with $status (0 = the run completed)"
status=0
target/release/cachescan apply --manifest examples/shop/cachescan.yaml || status=$?
echo "cachescan apply exited with $status (1 = findings: unsafe or invisible functions)"
