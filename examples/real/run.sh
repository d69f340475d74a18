#!/usr/bin/env bash
# Runs `cachescan apply` on the own test suites of a few small pure-Python libraries,
# from their unpacked source distributions (nothing is installed):
#   for each project: download the pinned sdist into target/real/, unpack it twice (a work
#   copy and a pristine copy) under ${CACHESCAN_REAL_DIR:-$TMPDIR/cachescan-real}, copy examples/real/<name>/cachescan.yaml into both, run
#     cachescan apply --manifest <unpacked>/cachescan.yaml --format json
#   (with a frozen copy of target/release/cachescan, target/real/cachescan)
#   (timed; the report goes to target/real/<name>.json), then the same with the human
#   format (target/real/<name>.txt), and after each run check with `diff -r` that the work
#   copy equals the pristine copy (ignoring .cachescan/). Ends with a Markdown table.
#
#   bash examples/real/run.sh [NAME...]     # default: every project below
#
# Environment: CACHESCAN_VENV (default target/venv; made with pytest if missing; a
# project's own test dependencies, pinned below, are installed into it),
# REAL_HUMAN=0 to skip the second (human-format) run of each project.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$(pwd)"

# name | PyPI name | version | directory inside the sdist | test dependencies (pinned)
projects=(
    "inflection|inflection|0.5.1|inflection-0.5.1|"
    "webcolors|webcolors|25.10.0|webcolors-25.10.0|"
    "semver|semver|3.1.2|semver-3.1.2|"
    "more-itertools|more-itertools|11.2.1|more_itertools-11.2.1|"
    "humanize|humanize|4.17.0|humanize-4.17.0|freezegun==1.5.5"
)
wanted=("$@")

mkdir -p target/real
if ! cargo build --release --quiet 2>target/real/build.log; then
    if [ ! -x target/release/cachescan ]; then cat target/real/build.log >&2; exit 2; fi
    echo "warning: cargo build failed (target/real/build.log); using the existing target/release/cachescan" >&2
fi
# One frozen copy of the binary for the whole run: target/release/cachescan may be rebuilt
# by a concurrent `cargo build` while the projects run, which would mix two versions.
cp target/release/cachescan target/real/cachescan
bin="$root/target/real/cachescan"
echo "cachescan: copy of target/release/cachescan (sha256 $(sha256sum "$bin" | cut -c1-12), built $(date -r target/release/cachescan '+%F %T'), git $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"

venv_bin="$(bash .ci/venv)"
export PATH="$venv_bin:$PATH"
py="$venv_bin/python"

out="$root/target/real"
mkdir -p "$out/sdist"
# The sdists are unpacked outside the repository: pytest looks for its configuration in
# every parent directory, and the repository's own pytest.ini (for the probe's tests) would
# apply to a project without a configuration of its own (webcolors), changing its node ids
# and options.
unpacked="${CACHESCAN_REAL_DIR:-${TMPDIR:-/tmp}/cachescan-real}"
rows=()
failed=0

# Compares the work copy with the pristine copy; prints yes/NO on stdout, the message on stderr.
check_tree() { # LABEL
    if diff -r -x .cachescan "$pristine/$dir" "$project" >"$out/$name.diff"; then
        echo "tree check after the $1 run: unpacked tree unchanged (diff -r, ignoring .cachescan/)" >&2
        echo yes
    else
        echo "tree check after the $1 run: THE UNPACKED TREE CHANGED, see target/real/$name.diff" >&2
        echo NO
    fi
}
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

for entry in "${projects[@]}"; do
    IFS='|' read -r name dist version dir deps <<<"$entry"
    if [ ${#wanted[@]} -gt 0 ] && [[ " ${wanted[*]} " != *" $name "* ]]; then
        continue
    fi
    echo
    echo "=== $name $version"
    "$py" -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
        "$dist==$version" -d "$out/sdist"
    if [ -n "$deps" ]; then
        # shellcheck disable=SC2086 # a space-separated list of requirements
        "$py" -m pip install --quiet --disable-pip-version-check $deps
    fi
    sdist="$(ls "$out/sdist/"*"-$version.tar.gz" | grep -i "/${dist//-/[-_]}-$version.tar.gz$")"

    work="$unpacked/$name/work" pristine="$unpacked/$name/pristine"
    rm -rf "${unpacked:?}/$name"
    mkdir -p "$work" "$pristine"
    tar -xzf "$sdist" -C "$work"
    tar -xzf "$sdist" -C "$pristine"
    project="$work/$dir"
    cp "examples/real/$name/cachescan.yaml" "$project/cachescan.yaml"
    cp "examples/real/$name/cachescan.yaml" "$pristine/$dir/cachescan.yaml"

    echo "\$ target/real/cachescan apply --manifest $project/cachescan.yaml --format json > target/real/$name.json"
    start=$EPOCHREALTIME
    status=0
    "$bin" --color never apply --manifest "$project/cachescan.yaml" --format json \
        >"$out/$name.json" 2> >(tee "$out/$name.json.stderr" >&2) || status=$?
    wall=$(elapsed "$start")
    echo "exit $status (0 = nothing to report, 1 = unsafe or invisible functions), wall ${wall}s"
    unchanged="$(check_tree json)"
    if [ "$status" -ge 2 ]; then failed=1; fi

    human_wall="-" same="-"
    if [ "${REAL_HUMAN:-1}" != 0 ] && [ "$status" -lt 2 ]; then
        echo "\$ target/real/cachescan apply --manifest $project/cachescan.yaml > target/real/$name.txt"
        start=$EPOCHREALTIME
        hstatus=0
        "$bin" --color never apply --manifest "$project/cachescan.yaml" \
            >"$out/$name.txt" 2>"$out/$name.txt.stderr" || hstatus=$?
        human_wall=$(elapsed "$start")
        cat "$out/$name.txt"
        echo "exit $hstatus, wall ${human_wall}s"
        second="$(check_tree human)"
        [ "$second" = yes ] || unchanged=NO
        # Same verdicts as the JSON run? (.cachescan/report.json holds the second run's report.)
        same=$("$py" - "$out/$name.json" "$project/.cachescan/report.json" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
key = lambda r: [(t["id"], t["line"], t["verdict"]) for t in r["targets"]]
print("yes" if key(a) == key(b) else "NO")
EOF
)
    fi

    row=$("$py" - "$out/$name.json" "$name" "$version" "$wall" "$unchanged" "$same" <<'EOF'
import collections, json, sys
path, name, version, wall, unchanged, same = sys.argv[1:7]
report = json.load(open(path))
targets = report["targets"]
counts = collections.Counter(t["verdict"] for t in targets)
order = ["safe", "low-hit-rate", "not-called", "invisible", "unsafe", "skipped"]
patched = sum(1 for t in targets if t["verdict"] != "skipped")
base = report["baseline"]
print(" | ".join([
    name, version, f"{len(targets)} ({patched} patched)",
    " / ".join(str(counts.get(v, 0)) for v in order),
    str(report["test_runs"]), f"{base['tests']} ({base['duration_s']:.2f} s)",
    f"{float(wall):.1f} s", unchanged, same,
]))
EOF
)
    rows+=("| $row |")
done

echo
echo "| project | version | targets (functions planned) | safe / low-hit-rate / not-called / invisible / unsafe / skipped | test runs | baseline tests (duration) | wall time (json run) | tree unchanged | same verdicts in 2nd run |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
exit $failed
