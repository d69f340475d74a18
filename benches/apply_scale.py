"""Benchmarks for `cachescan apply` on generated projects, as ratios measured in one run.

Scenarios (goals from the issue that introduced them):

  1. all targets safe: apply wall time / one plain run of the suite
     (<= 2.2 with a cold baseline, <= 1.2 with the baseline reused);
  2. 64 targets, 1 culprit: test runs (<= 9; `--strategy individual` takes 65) and
     tests executed / tests in one plain run (<= 3);
  3. probe overhead: the suite with the probe / without, 2,000 quick tests (<= 1.05), in
     instructions executed when valgrind is installed (steady on a shared machine), and in
     CPU time (median of paired runs);
  4. `--jobs 2` vs `--jobs 1` with 8 culprits (<= 0.65), when cachescan has `--jobs`;
  5. verified hits: apply with checks / without (`--no-verify-hits`), cold baseline, on the
     bundled example (examples/shop) and on the all-safe project of 1. (<= 1.25); and the
     test runs on a project where 2/3 of the targets break, with checks and without;
  6. discover: `discover --fresh-baseline` / one plain run of the suite, on the all-safe
     project of 1., median of interleaved pairs (<= 2.0; issue 11).

Every project is generated here (any number of targets and culprits) in a temporary
directory. Wall times are medians of --runs runs. Standard library only.

Scenarios 2 and 4 measure the culprit search, so they run with `--no-verify-hits`: their
culprits return a list a test mutates, which the baseline's checks would condemn without
a search (scenario 5 shows that).
"""

import argparse
import concurrent.futures
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

# The culprit search alone: without checks, the culprits are found by the search.
SEARCH_ONLY = ("--no-verify-hits",)

MANIFEST = """\
version: 1
project:
  root: .
  source_roots: [src]
  test_command: [python, -m, pytest, -q, -p, no:cacheprovider]
thresholds:
  min_hit_rate: 0.3
  min_calls: 5
targets:
  - module: synth.core
    functions: ["f_*"]
"""


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def generate(root, targets, culprits, tests_per_target, work, test_work=0, shared=False):
    """A project with `targets` cacheable functions, the first `culprits` of which return
    a list that a test mutates (so caching them breaks that test). `test_work` is work each
    test does itself, which caching cannot save (so a patched run is not just faster).
    `shared` adds a test that calls every function and that caching f_0 breaks too, so
    every target is a suspect of one broken test (one component of the search)."""
    functions = []
    for index in range(targets):
        if index < culprits:
            functions.append(f"def f_{index}(x):\n    return [x, {index}]\n")
        else:
            functions.append(
                f"def f_{index}(x):\n    total = 0\n    for i in range({work}):\n"
                f"        total += (i * x + {index}) % 7\n    return total\n"
            )
    write(os.path.join(root, "src/synth/__init__.py"), "")
    write(os.path.join(root, "src/synth/core.py"), "\n\n".join(functions))
    write(os.path.join(root, "pyproject.toml"), '[tool.pytest.ini_options]\npythonpath = ["src"]\ntestpaths = ["tests"]\n')
    write(os.path.join(root, "cachescan.yaml"), MANIFEST)
    for index in range(targets):
        tests = []
        for test in range(tests_per_target):
            if index < culprits and test == 0:
                body = (
                    f"    first = core.f_{index}(1)\n    first.append(99)\n"
                    f"    assert core.f_{index}(1) == [1, {index}]\n"
                )
            elif index < culprits:
                body = f"    for _ in range(20):\n        assert core.f_{index}({test % 3})[1] == {index}\n"
            else:
                body = (
                    f"    assert sum(i % 7 for i in range({test_work})) >= 0\n"
                    f"    for _ in range(20):\n        assert core.f_{index}({test % 3}) >= 0\n"
                )
            tests.append(f"def test_{index}_{test}():\n{body}")
        write(os.path.join(root, f"tests/test_f{index}.py"), "from synth import core\n\n\n" + "\n\n".join(tests))
    if shared:
        calls = "".join(f"    core.f_{index}(2)\n" for index in range(targets))
        body = f"{calls}    core.f_0(5).append(1)\n    assert core.f_0(5) == [5, 0]\n"
        write(os.path.join(root, "tests/test_shared.py"), f"from synth import core\n\n\ndef test_shared():\n{body}")


def generate_quick(root, count):
    """2,000 trivial tests, for the probe's overhead."""
    write(os.path.join(root, "src/synth/__init__.py"), "")
    write(os.path.join(root, "src/synth/core.py"), "def f_0(x):\n    return x + 1\n")
    write(os.path.join(root, "pyproject.toml"), '[tool.pytest.ini_options]\npythonpath = ["src"]\ntestpaths = ["tests"]\n')
    write(os.path.join(root, "cachescan.yaml"), MANIFEST)
    per_file = 100
    for file_index in range(count // per_file):
        tests = "\n\n".join(
            f"def test_{file_index}_{n}():\n    assert core.f_0({n % 5}) == {n % 5} + 1\n" for n in range(per_file)
        )
        write(os.path.join(root, f"tests/test_q{file_index}.py"), "from synth import core\n\n\n" + tests)


def timed(command, cwd, env):
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return time.perf_counter() - started, completed


def cpu_timed(command, cwd, env):
    """CPU seconds (user + system) of the child: steadier than wall time on a shared
    machine, and what an overhead of a few percent is about."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def median_time(command, cwd, env, runs, before=None):
    times = []
    last = None
    for _ in range(runs):
        if before:
            before()
        seconds, last = timed(command, cwd, env)
        times.append(seconds)
    return statistics.median(times), last


def apply_json(binary, root, env, *extra):
    seconds, completed = timed([binary, "-q", "apply", "--format", "json", *extra], root, env)
    if completed.returncode not in (0, 1):
        sys.exit(f"cachescan apply failed ({completed.returncode}):\n{completed.stderr}")
    return seconds, json.loads(completed.stdout)


def plain_run(root, env, runs):
    command = ["python", "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    return median_time(command, root, env, runs)[0]


def forget_baseline(root):
    path = os.path.join(root, ".cachescan", "baseline.json")
    if os.path.exists(path):
        os.remove(path)


def scenario_all_safe(binary, workdir, env, runs):
    root = os.path.join(workdir, "all_safe")
    # Most of each test's time is its own work: the patched screen run costs about as much
    # as the baseline, the case the goal is set for.
    generate(root, targets=16, culprits=0, tests_per_target=25, work=300, test_work=30000)
    plain = plain_run(root, env, runs)
    # The very first apply in a project also compiles pytest's and the standard library's
    # bytecode into .cachescan/pycache (once); measured separately.
    first, _ = apply_json(binary, root, env)
    cold = statistics.median(
        [apply_json(binary, root, env, "--fresh-baseline")[0] for _ in range(runs)]
    )
    apply_json(binary, root, env)  # make sure a baseline is cached
    warm = statistics.median([apply_json(binary, root, env)[0] for _ in range(runs)])
    return [
        ("all safe: the first apply in a project (bytecode compiled) / plain run", first / plain, "-"),
        ("all safe (16 targets, 400 tests): apply cold / plain run", cold / plain, "<= 2.2"),
        ("all safe: apply with baseline reused / plain run", warm / plain, "<= 1.2"),
    ]


def scenario_one_culprit(binary, workdir, env):
    root = os.path.join(workdir, "one_culprit")
    generate(root, targets=64, culprits=1, tests_per_target=4, work=200)
    _, report = apply_json(binary, root, env, "--fresh-baseline", *SEARCH_ONLY)
    _, individual = apply_json(binary, root, env, "--fresh-baseline", "--strategy", "individual", *SEARCH_ONLY)
    plain_tests = report["baseline"]["tests"]
    unsafe = [target["id"] for target in report["targets"] if target["verdict"] == "unsafe"]
    if unsafe != ["synth.core:f_0"]:
        sys.exit(f"expected exactly synth.core:f_0 unsafe, got {unsafe}")
    return [
        ("64 targets, 1 culprit, search only: test runs (bisect)", report["test_runs"], "<= 9"),
        ("64 targets, 1 culprit, search only: test runs (individual)", individual["test_runs"], "65"),
        ("64 targets, 1 culprit, search only: tests executed / plain run", report["tests_executed"] / plain_tests, "<= 3"),
    ]


def instructions(command, cwd, env):
    """Instructions the command executes in user space, counted by valgrind: unlike
    time, the same on a quiet and on a busy machine (to a hundredth of a percent)."""
    completed = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", *command],
        cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    for line in completed.stderr.splitlines():
        if "I   refs:" in line or "I refs:" in line:
            return int(line.split(":", 1)[1].replace(",", "").strip())
    sys.exit(f"valgrind printed no instruction count:\n{completed.stderr[-2000:]}")


def scenario_probe_overhead(binary, workdir, env, runs):
    root = os.path.join(workdir, "quick")
    generate_quick(root, 2000)
    # The probe as apply loads it: copied out of the repository, observing the target,
    # with bytecode kept in a private prefix (as apply keeps it) on both sides.
    probe_dir = os.path.join(workdir, "probe")
    os.makedirs(probe_dir, exist_ok=True)
    here = os.path.dirname(os.path.abspath(__file__))
    package = os.path.join(here, "..", "src", "probe", "plugin", "cachescan_probe")
    shutil.copytree(package, os.path.join(probe_dir, "cachescan_probe"), ignore=shutil.ignore_patterns("__pycache__"))
    targets = os.path.join(probe_dir, "targets.json")
    with open(targets, "w", encoding="utf-8") as handle:
        json.dump({"version": 1, "targets": [{"id": "synth.core:f_0", "module": "synth.core", "qualname": "f_0",
                                                "path": os.path.join(root, "src", "synth", "core.py")}]}, handle)
    out = os.path.join(probe_dir, "out")
    plain = {key: value for key, value in env.items() if key != "PYTHONDONTWRITEBYTECODE"}
    plain["PYTHONPYCACHEPREFIX"] = os.path.join(workdir, "pycache")
    probed = dict(plain, PYTHONPATH=probe_dir, PYTEST_ADDOPTS="-p cachescan_probe", CACHESCAN_PROBE_OUT=out,
                  CACHESCAN_PROBE_TARGETS=targets, CACHESCAN_PROBE_OBSERVE="1")
    command = ["python", "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    clear = lambda: shutil.rmtree(out, ignore_errors=True)
    for side in (plain, probed):  # compile the bytecode once, as a first apply does
        subprocess.run(command, cwd=root, env=side, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    clear()
    rows = []
    if shutil.which("valgrind"):
        # Both at once: a count does not depend on what else runs.
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            without, with_probe = pool.map(lambda side: instructions(command, root, side), (plain, probed))
        clear()
        rows.append(("probe overhead, 2,000 quick tests: instructions with / without (valgrind)",
                     with_probe / without, "<= 1.05"))
    # Pairs run back to back share the machine's mood: the median of their ratios.
    ratios = []
    for _ in range(runs):
        without = cpu_timed(command, root, plain)
        clear()
        ratios.append(cpu_timed(command, root, probed) / without)
    rows.append((f"probe overhead, 2,000 quick tests: CPU time with / without (median of {runs} pairs)",
                 statistics.median(ratios), "<= 1.05" if not rows else "(noisy here)"))
    return rows


def scenario_jobs(binary, workdir, env):
    help_text = subprocess.run([binary, "apply", "--help"], stdout=subprocess.PIPE, text=True).stdout
    if "--jobs" not in help_text:
        return [("--jobs 2 / --jobs 1, 8 culprits", "not built", "<= 0.65")]
    root = os.path.join(workdir, "eight_culprits")
    generate(root, targets=64, culprits=8, tests_per_target=4, work=20000)
    apply_json(binary, root, env)  # compile the interpreter's bytecode once, like a second apply
    one, report = apply_json(binary, root, env, "--fresh-baseline", "--jobs", "1", *SEARCH_ONLY)
    two, _ = apply_json(binary, root, env, "--fresh-baseline", "--jobs", "2", *SEARCH_ONLY)
    if report["baseline"]["failed"]:
        sys.exit("the generated suite must pass unpatched")
    # One run per function, each the whole suite: the case where copies pay most.
    small = os.path.join(workdir, "individual")
    generate(small, targets=16, culprits=8, tests_per_target=4, work=2000, test_work=20000)
    apply_json(binary, small, env)
    individual_one, _ = apply_json(binary, small, env, "--fresh-baseline", "--jobs", "1", "--strategy", "individual", *SEARCH_ONLY)
    individual_two, _ = apply_json(binary, small, env, "--fresh-baseline", "--jobs", "2", "--strategy", "individual", *SEARCH_ONLY)
    return [
        ("--jobs 2 / --jobs 1 wall time, 8 culprits, search only (bisect)", two / one, "<= 0.65"),
        ("--jobs 2 / --jobs 1 wall time, 16 targets, search only (individual)", individual_two / individual_one, "-"),
    ]


def checks_ratio(binary, root, env, runs):
    """Apply with checks / without, cold baselines, the two alternating run by run (the
    machine's mood hits both alike): the median of the pairs' ratios."""
    apply_json(binary, root, env)  # compile the interpreter's bytecode once
    ratios = []
    for _ in range(runs):
        without, _ = apply_json(binary, root, env, "--fresh-baseline", "--no-verify-hits")
        with_checks, _ = apply_json(binary, root, env, "--fresh-baseline")
        ratios.append(with_checks / without)
    return statistics.median(ratios)


def scenario_verification(binary, workdir, env, runs):
    help_text = subprocess.run([binary, "apply", "--help"], stdout=subprocess.PIPE, text=True).stdout
    if "--no-verify-hits" not in help_text:
        return [("verified hits: apply with checks / without", "not built", "<= 1.25")]
    here = os.path.dirname(os.path.abspath(__file__))
    shop = os.path.join(workdir, "shop")
    shutil.copytree(os.path.join(here, "..", "examples", "shop"), shop,
                    ignore=shutil.ignore_patterns(".cachescan", "__pycache__"))
    all_safe = os.path.join(workdir, "all_safe")  # made by scenario_all_safe
    rows = [
        (f"checks: apply with / without, bundled example (median of {runs} pairs)",
         checks_ratio(binary, shop, env, runs), "<= 1.25"),
        (f"checks: apply with / without, all-safe project of 1. (median of {runs} pairs)",
         checks_ratio(binary, all_safe, env, runs), "<= 1.25"),
    ]
    # 12 targets, 8 of them culprits, all suspects of one shared broken test: dense.
    dense = os.path.join(workdir, "dense")
    generate(dense, targets=12, culprits=8, tests_per_target=2, work=200, shared=True)
    _, checked = apply_json(binary, dense, env, "--fresh-baseline")
    _, unchecked = apply_json(binary, dense, env, "--fresh-baseline", "--no-verify-hits")
    _, individual = apply_json(binary, dense, env, "--fresh-baseline", "--no-verify-hits",
                               "--strategy", "individual")
    verdicts = lambda report: {t["id"]: t["verdict"] for t in report["targets"]}
    if not verdicts(checked) == verdicts(unchecked) == verdicts(individual):
        sys.exit("the dense project's verdicts differ between the strategies")
    unsafe = sum(1 for verdict in verdicts(checked).values() if verdict == "unsafe")
    if unsafe != 8:
        sys.exit(f"expected 8 unsafe targets in the dense project, got {unsafe}")
    rows += [
        ("12 targets, 8 culprits in one component: test runs with checks (divergences)", checked["test_runs"], "-"),
        ("  the same without checks (bisect, one at a time when dense)", unchecked["test_runs"], "-"),
        ("  the same without checks, --strategy individual", individual["test_runs"], "13"),
    ]
    return rows


def scenario_discover(binary, workdir, env, runs):
    help_text = subprocess.run([binary, "--help"], stdout=subprocess.PIPE, text=True).stdout
    if "discover" not in help_text:
        return [("discover / plain run", "not built", "<= 2.0")]
    root = os.path.join(workdir, "all_safe")  # made by scenario_all_safe
    command = [binary, "-q", "discover", "--format", "json", "--fresh-baseline"]
    timed(command, root, env)
    ratios = []
    for _ in range(runs):
        plain = plain_run(root, env, 1)
        seconds, completed = timed(command, root, env)
        if completed.returncode != 0:
            sys.exit(f"cachescan discover failed ({completed.returncode}):\n{completed.stderr}")
        ratios.append(seconds / plain)
    report = json.loads(completed.stdout)
    if report["functions"][0]["calls"] is None:
        sys.exit("discover observed nothing on the all-safe project")
    return [(f"discover (16 functions, 400 tests) / plain run (median of {runs} pairs)",
             statistics.median(ratios), "<= 2.0")]


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model or platform.processor()}, Python {platform.python_version()}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--python-bin", required=True, help="directory with the python that has pytest")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=["discover"], help="run only this scenario (and what it needs)")
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    env = {key: value for key, value in os.environ.items() if not key.startswith("CACHESCAN_")}
    env["PATH"] = args.python_bin + os.pathsep + env.get("PATH", "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    rows = []
    with tempfile.TemporaryDirectory(prefix="cachescan-bench-") as workdir:
        rows += scenario_all_safe(binary, workdir, env, args.runs)
        if args.only != "discover":
            rows += scenario_one_culprit(binary, workdir, env)
            rows += scenario_probe_overhead(binary, workdir, env, max(args.runs, 15))
            rows += scenario_jobs(binary, workdir, env)
            rows += scenario_verification(binary, workdir, env, args.runs)
        rows += scenario_discover(binary, workdir, env, args.runs)
    width = max(len(name) for name, _, _ in rows)
    print(f"{'scenario'.ljust(width)}  {'measured':>9}  goal")
    for name, value, goal in rows:
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        print(f"{name.ljust(width)}  {shown:>9}  {goal}")
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
