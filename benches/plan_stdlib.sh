#!/usr/bin/env bash
# Benchmark: `cachescan plan` over the whole installed CPython standard library, against
# CPython's own `ast.parse` reading and parsing the same files.
#
# Builds cachescan in release, writes a manifest (every module file CPython parses, each with
# `functions: ["**"]`) into a temporary directory, and prints the median wall times of whole
# processes, their ratio and the machine. The plan exits 1 (findings) on the standard
# library; that is expected. Exit 2 (an error) or any other failure fails this script.
#
# Environment: CACHESCAN_PYTHON (interpreter, default python3), RUNS (timed runs, default 5).
set -euo pipefail

repository="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${CACHESCAN_PYTHON:-python3}"
runs="${RUNS:-5}"

workdir="$(mktemp -d "${TMPDIR:-/tmp}/cachescan-bench.XXXXXX")"
trap 'rm -rf -- "$workdir"' EXIT

(cd "$repository" && cargo build --release --quiet)

"$python" -I -B "$repository/benches/plan_stdlib.py" \
    --binary "$repository/target/release/cachescan" \
    --workdir "$workdir" \
    --runs "$runs"
