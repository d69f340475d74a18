#!/usr/bin/env bash
# The probe's cost on three real test suites of many quick tests (semver, python-slugify,
# packaging): each suite plain, with the least an observer of every call costs (the code
# swap calling through, "floor"), with the probe observing, and as `cachescan apply`'s
# baseline runs it (observing, every would-be hit checked, key traces), by
# benches/probe_real.py (min of N interleaved runs, bytecode cached on every side).
#
#   bash benches/probe_real.sh [NAME...]        # default: every project below
#
# For each project: download the pinned sdist into target/real/sdist/, unpack it under
# ${CACHESCAN_PROBE_REAL_DIR:-$TMPDIR/cachescan-probe-real} (outside the repository: its
# pytest.ini would apply to a project without a configuration of its own), copy
# benches/probe_real/<name>.yaml in as cachescan.yaml, and let `cachescan plan` choose the
# targets the probe observes (what `apply` would patch). The suites run in their own venv,
# target/probe-real/venv (pytest pinned as in .ci/venv, the suites' test dependencies
# pinned below; packaging is installed editable from its sdist, so that pytest, which
# imports packaging itself, and the tests share the sdist's code).
#
# Environment: PROBE_REAL_RUNS (default 3) timed runs of each side; CACHESCAN_BIN, a
# cachescan binary to plan with instead of building target/release/cachescan;
# PROBE_REAL_INSTRUCTIONS=1 also counts instructions with valgrind (one run a side, ~50x
# slower: minutes for semver and slugify, hours for packaging's baseline).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

# name | PyPI name | version | directory inside the sdist | pytest arguments
projects=(
    "semver|semver|3.1.2|semver-3.1.2|-q -p no:cacheprovider -o addopts=--import-mode=importlib --doctest-glob=*.rst --doctest-modules --doctest-report ndiff"
    "python-slugify|python-slugify|9.1.3|python_slugify-9.1.3|-q -p no:cacheprovider"
    "packaging|packaging|26.3|packaging-26.3|-q -p no:cacheprovider --ignore=tests/property --ignore=tests/test_version.py"
)
test_dependencies=("pretend==1.0.9" "tomli-w==1.2.0" "text-unidecode==1.3")
wanted=("$@")
runs="${PROBE_REAL_RUNS:-3}"
count=()
if [ "${PROBE_REAL_INSTRUCTIONS:-0}" = 1 ]; then count=(--instructions); fi

if [ -n "${CACHESCAN_BIN:-}" ]; then
    bin="$(realpath "$CACHESCAN_BIN")" # a cachescan already built: only plans, the probe is this tree's
else
    cargo build --release --quiet
    bin="$root/target/release/cachescan"
fi
out="$root/target/probe-real"
mkdir -p "$out" target/real/sdist
venv_bin="$(CACHESCAN_VENV=target/probe-real/venv bash .ci/venv)"
"$venv_bin/python" -m pip install --quiet --disable-pip-version-check "${test_dependencies[@]}"
unpacked="${CACHESCAN_PROBE_REAL_DIR:-${TMPDIR:-/tmp}/cachescan-probe-real}"
rows=()

for entry in "${projects[@]}"; do
    IFS='|' read -r name dist version dir pytest_args <<<"$entry"
    if [ ${#wanted[@]} -gt 0 ] && [[ " ${wanted[*]} " != *" $name "* ]]; then
        continue
    fi
    echo "=== $name $version" >&2
    "$venv_bin/python" -m pip download --quiet --disable-pip-version-check --no-deps \
        --no-binary :all: "$dist==$version" -d target/real/sdist
    sdist="$(ls target/real/sdist/*"-$version.tar.gz" | grep -i "/${dist//-/[-_]}-$version.tar.gz$")"
    rm -rf "${unpacked:?}/$dir"
    mkdir -p "$unpacked"
    tar -xzf "$sdist" -C "$unpacked"
    project="$unpacked/$dir"
    cp "benches/probe_real/$name.yaml" "$project/cachescan.yaml"
    if [ "$name" = packaging ]; then
        "$venv_bin/python" -m pip install --quiet --disable-pip-version-check -e "$project"
    fi
    status=0
    "$bin" --color never plan --manifest "$project/cachescan.yaml" --format json \
        >"$out/$name.plan.json" || status=$?
    if [ "$status" -ge 2 ]; then exit 2; fi # 1: findings (skipped functions), as planned
    set -f # pytest's arguments, split on spaces, never globbed
    # shellcheck disable=SC2086
    python3 benches/probe_real.py --python-bin "$venv_bin" --project "$project" \
        --plan "$out/$name.plan.json" --runs "$runs" "${count[@]}" -- $pytest_args | tee "$out/$name.json" >&2
    set +f
    rows+=("$(python3 - "$out/$name.json" "$name" "$version" <<'EOF'
import json, sys
path, name, version = sys.argv[1:4]
result = json.loads(open(path).read().strip().splitlines()[-1])
def ratios(values):
    if not values:
        return "-"
    return " / ".join("%.2f" % values[side] for side in ("floor", "probe", "baseline"))
print("| %s %s | %d | %s | %s | %s | %s | <= 1.05 |" % (
    name, version, result["targets"],
    "%.2f s" % result["min_wall_s"]["plain"] if "min_wall_s" in result else "-",
    ratios(result.get("wall_ratio")), ratios(result.get("cpu_ratio")),
    ratios(result.get("instructions_ratio"))))
EOF
)")
done

echo
echo "| suite | targets | plain run (min wall) | wall: floor / probe / baseline | CPU: floor / probe / baseline | instructions: floor / probe / baseline | goal (baseline) |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
