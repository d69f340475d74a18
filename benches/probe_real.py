"""The probe's cost on a real test suite: the suite with the probe / without.

    python3 benches/probe_real.py --python-bin BIN --project DIR --plan PLAN.json \
        [--runs 3] [--instructions] [--env KEY=VALUE]... -- pytest-args...

Runs ``BIN/python -m pytest ARGS`` in DIR four ways, interleaved, --runs times each:

  * ``plain``: the suite alone;
  * ``floor``: the probe's code swap on every target with a recorder that only calls the
    function (a copy of the package whose ``Recorder.call`` is a pass-through, made here):
    the least any observer of every call that runs Python per call can cost, the price of
    one more frame per call;
  * ``probe``: with the probe observing the targets, as `cachescan apply` loads it (a copy
    of the cachescan_probe package on PYTHONPATH, ``PYTEST_ADDOPTS=-p cachescan_probe``,
    ``CACHESCAN_PROBE_OBSERVE=1``);
  * ``baseline``: what apply's baseline runs by default (``src/probe/setup.rs``,
    ``environment()``): the same with ``CACHESCAN_PROBE_VERIFY=1`` (every would-be hit
    checked) and ``CACHESCAN_PROBE_TRACE=1`` (key traces).

The targets are those `apply` gives the probe: the functions PLAN.json (the output of
``cachescan plan --format json``) patches, with their paths made absolute and their
``maxsize``/``typed``. Bytecode goes to one private PYTHONPYCACHEPREFIX on every side,
compiled by one untimed run of each side first. Reports, per side, the minimum wall time
and the minimum CPU time (user + system of the run and its children, from
``getrusage(RUSAGE_CHILDREN)``), and their ratios to plain; with ``--instructions`` also
the instructions executed (valgrind's cachegrind, one run a side: slow, ~50x, but the
same count on a busy machine). The result is one JSON object on the last line. Standard
library only.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.join(HERE, "..", "src", "probe", "plugin", "cachescan_probe")
SIDES = ("plain", "floor", "probe", "baseline")
TARGETS_VERSION = 1  # src/probe/protocol.rs, INPUT_VERSION
ERRORS = set()  # the probe's "error" values, cut short
FLOOR_MARK = "CACHESCAN_BENCH_FLOOR"  # set in the floor side's environment


def write_targets(plan_path, path):
    """The probe's targets file from a plan: what ``runner::context::probe_targets`` writes
    (the patched functions, absolute paths). Returns how many targets."""
    with open(plan_path, encoding="utf-8") as handle:
        plan = json.load(handle)
    root = plan["root"]
    targets = [
        {
            "id": function["id"],
            "module": function["module"],
            "qualname": function["qualname"],
            "path": os.path.join(root, function["path"]),
            "typed": function["typed"],
            "maxsize": function["cache_size"],
        }
        for function in plan["targets"]
        if function["action"] == "patch"
    ]
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"version": TARGETS_VERSION, "targets": targets}, handle)
    return len(targets)


def environments(workdir, python_bin, targets, extra, package):
    """The environment of each side: PATH with the venv first, `extra` on every side."""
    probe_dir = os.path.join(workdir, "probe")
    shutil.copytree(package, os.path.join(probe_dir, "cachescan_probe"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    plain = {key: value for key, value in os.environ.items()
             if key not in ("PYTHONDONTWRITEBYTECODE", "PYTEST_ADDOPTS", "PYTHONPATH")
             and not key.startswith("CACHESCAN_PROBE")}
    plain["PATH"] = python_bin + os.pathsep + plain.get("PATH", "")
    plain["PYTHONPYCACHEPREFIX"] = os.path.join(workdir, "pycache")
    plain.update(extra)
    existing = plain.get("PYTHONPATH")
    probe = dict(
        plain,
        PYTHONPATH=probe_dir + (os.pathsep + existing if existing else ""),
        PYTEST_ADDOPTS="-p cachescan_probe",
        CACHESCAN_PROBE_OBSERVE="1",
        CACHESCAN_PROBE_OUT=os.path.join(workdir, "out"),
        CACHESCAN_PROBE_TARGETS=targets,
    )
    baseline = dict(probe, CACHESCAN_PROBE_VERIFY="1", CACHESCAN_PROBE_TRACE="1")
    floor_dir = os.path.join(workdir, "floor")
    shutil.copytree(package, os.path.join(floor_dir, "cachescan_probe"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    pass_through(os.path.join(floor_dir, "cachescan_probe", "_swap.py"))
    floor = dict(probe, PYTHONPATH=floor_dir + (os.pathsep + existing if existing else ""))
    floor[FLOOR_MARK] = "1"  # read by this script only
    return {"plain": plain, "floor": floor, "probe": probe, "baseline": baseline}


# The first lines of Recorder.call in _swap.py, and what the floor side puts before them.
RECORDER_CALL = "    def call(self, args, kwargs):\n"
PASS_THROUGH = (
    "    def call(self, args, kwargs):\n"
    "        return self.original(*args, **kwargs)\n\n"
    "    def counted_call(self, args, kwargs):\n"
)


def pass_through(path):
    """Make the copy's Recorder.call a pass-through (its counting renamed away)."""
    with open(path, encoding="utf-8") as handle:
        source = handle.read()
    if source.count(RECORDER_CALL) != 1:
        sys.exit("%s: Recorder.call not found once; update benches/probe_real.py" % path)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(source.replace(RECORDER_CALL, PASS_THROUGH))


def fresh_out(env):
    out = env.get("CACHESCAN_PROBE_OUT")
    if out:
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
    return out


def run(command, cwd, env):
    """(wall s, CPU s) of one run; exits when pytest says the run did not work."""
    out = fresh_out(env)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if completed.returncode not in (0, 1):  # 1: some tests failed, as they may
        sys.exit("%s exited %d:\n%s" % (" ".join(command), completed.returncode, completed.stdout[-3000:]))
    if out:
        check_probe_files(out, env.get("CACHESCAN_PROBE_VERIFY") == "1", FLOOR_MARK not in env)
    return elapsed, cpu


def instructions(command, cwd, env):
    """Instructions the command executes in user space, counted by valgrind."""
    out = fresh_out(env)
    completed = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         "--trace-children=yes", *command],
        cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    if out:
        check_probe_files(out, env.get("CACHESCAN_PROBE_VERIFY") == "1", FLOOR_MARK not in env)
    total = None
    for line in completed.stderr.splitlines():
        if "I   refs:" in line or "I refs:" in line:
            total = (total or 0) + int(line.split(":", 1)[1].replace(",", "").strip())
    if total is None:
        sys.exit("valgrind printed no instruction count:\n%s" % completed.stderr[-2000:])
    return total


def check_probe_files(out, verifying, counting):
    """The probe ran and observed: one file, no error, some calls seen (and checked); on
    the floor side (not ``counting``), some targets swapped."""
    names = [name for name in os.listdir(out) if name.startswith("probe-")]
    if len(names) != 1:
        sys.exit("expected one probe file in %s, found %r" % (out, names))
    with open(os.path.join(out, names[0]), encoding="utf-8") as handle:
        data = json.load(handle)
    if data.get("error"):
        # Errors the probe records (a check that raised: a key whose hash raises, as
        # the suite's own call then does) are output, not a broken run; they are shown.
        ERRORS.add(data["error"][:300])
    if not counting:
        if not any(target.get("observer") == "code-swap" for target in data["targets"]):
            sys.exit("the floor side swapped no target's code")
        return
    if not any(target.get("observed_calls") for target in data["targets"]):
        sys.exit("the probe observed no call of any target")
    if verifying and not any(target.get("verify") for target in data["targets"]):
        sys.exit("the probe checked no target's hits")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python-bin", required=True, help="bin directory of a venv with pytest")
    parser.add_argument("--project", required=True, help="the unpacked project, where pytest runs")
    parser.add_argument("--plan", required=True, help="`cachescan plan --format json` of the project")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each side (default 3; 0 with --instructions: none)")
    parser.add_argument("--instructions", action="store_true",
                        help="also count instructions with valgrind (one run a side)")
    parser.add_argument("--probe-package", default=PACKAGE,
                        help="the cachescan_probe package to load (default: this tree's)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="set on every side (e.g. PYTHONPATH=src)")
    parser.add_argument("pytest_args", nargs="*", help="after --: pytest's arguments")
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.env)
    command = [os.path.join(os.path.abspath(args.python_bin), "python"), "-m", "pytest", *args.pytest_args]
    with tempfile.TemporaryDirectory(prefix="cachescan-probe-real-") as workdir:
        targets = os.path.join(workdir, "targets.json")
        count = write_targets(args.plan, targets)
        envs = environments(workdir, os.path.abspath(args.python_bin), targets, extra,
                            args.probe_package)
        for side in SIDES:  # compile the bytecode once, as a first apply does
            run(command, args.project, envs[side])  # (and check that every side works)
        wall = {side: [] for side in SIDES}
        cpu = {side: [] for side in SIDES}
        for _ in range(args.runs):
            for side in SIDES:
                elapsed, used = run(command, args.project, envs[side])
                wall[side].append(elapsed)
                cpu[side].append(used)
        counted = None
        if args.instructions:
            counted = {side: instructions(command, args.project, envs[side]) for side in SIDES}
    result = {
        "project": os.path.basename(os.path.abspath(args.project)),
        "targets": count,
        "runs": args.runs,
    }
    if args.runs > 0:
        best_wall = {side: min(values) for side, values in wall.items()}
        best_cpu = {side: min(values) for side, values in cpu.items()}
        result.update({
            "wall_s": {side: [round(value, 3) for value in values] for side, values in wall.items()},
            "cpu_s": {side: [round(value, 3) for value in values] for side, values in cpu.items()},
            "min_wall_s": {side: round(value, 3) for side, value in best_wall.items()},
            "min_cpu_s": {side: round(value, 3) for side, value in best_cpu.items()},
            "wall_ratio": {side: round(best_wall[side] / best_wall["plain"], 3) for side in SIDES[1:]},
            "cpu_ratio": {side: round(best_cpu[side] / best_cpu["plain"], 3) for side in SIDES[1:]},
        })
    if ERRORS:
        result["probe_errors"] = sorted(ERRORS)
    if counted is not None:
        result["instructions"] = counted
        result["instructions_ratio"] = {
            side: round(counted[side] / counted["plain"], 4) for side in SIDES[1:]
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
