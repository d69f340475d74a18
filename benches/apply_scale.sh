#!/usr/bin/env bash
# Benchmarks of `cachescan apply` on generated projects; prints ratios measured in this run.
# Needs a Python with pytest: ${CACHESCAN_VENV:-target/venv} (created if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
python3 benches/apply_scale.py --binary target/release/cachescan --python-bin "$(bash .ci/venv)" "$@"
