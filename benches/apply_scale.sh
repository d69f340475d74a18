#!/usr/bin/env bash
# Benchmarks of `cachescan apply` on generated projects; prints ratios measured in this run.
# Needs a Python with pytest: ${CACHESCAN_VENV:-target/venv} (created if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
venv="${CACHESCAN_VENV:-target/venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "pytest==9.2.0" "pytest-xdist==3.8.0"
python3 benches/apply_scale.py --binary target/release/cachescan --python-bin "$(cd "$venv/bin" && pwd)" "$@"
