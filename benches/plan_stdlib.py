"""Benchmark helper for ``plan_stdlib.sh``: `cachescan plan` against CPython's ``ast.parse``
over the whole installed standard library.

It writes a manifest that targets every module file of the standard library that CPython
parses (and that is UTF-8, as cachescan requires), with ``functions: ["**"]``; then it times
whole processes, wall clock, the median of ``--runs`` runs after one warm-up run each:

  * ``cachescan plan --manifest <manifest> --format json`` (exit 0 or 1 is success: 1 means
    findings; anything else fails the benchmark);
  * ``python -c <script>`` that reads and ``ast.parse``\\ s the same files.

It prints a table: files, functions planned, both medians, the ratio and the machine.
Standard library only; it never writes outside ``--workdir``.
"""

import argparse
import ast
import json
import os
import platform
import statistics
import subprocess
import sys
import sysconfig
import time
import warnings

THIRD_PARTY_DIRECTORIES = {"site-packages", "dist-packages"}

# Run in a fresh interpreter, so its start-up counts as cachescan's does.
PARSE_SCRIPT = """
import ast, sys, warnings
warnings.simplefilter("ignore")
with open(sys.argv[1], encoding="utf-8") as listing:
    paths = listing.read().splitlines()
for path in paths:
    with open(path, "rb") as file:
        ast.parse(file.read(), path)
"""


def main():
    options = parse_arguments()
    root = sysconfig.get_paths()["stdlib"]
    files, skipped = module_files(root)
    manifest = write_manifest(options.workdir, root, files)
    listing = write_listing(options.workdir, root, files)
    plan_command = [options.binary, "plan", "--manifest", manifest, "--format", "json"]
    parse_command = [sys.executable, "-I", "-B", "-c", PARSE_SCRIPT, listing]
    functions = planned_functions(plan_command)
    plan_seconds = median_seconds(plan_command, options.runs, check_plan_exit)
    parse_seconds = median_seconds(parse_command, options.runs, check_zero_exit)
    print_table(root, len(files), skipped, functions, plan_seconds, parse_seconds, options.runs)


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True, help="the cachescan executable")
    parser.add_argument("--workdir", required=True, help="an empty directory for the manifest")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each command")
    return parser.parse_args()


def module_files(root):
    """Relative paths of the ``*.py`` files CPython parses, sorted; and how many it skipped."""
    files = []
    skipped = 0
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = sorted(name for name in subdirectories if name not in THIRD_PARTY_DIRECTORIES)
        for name in sorted(names):
            if not name.endswith(".py"):
                continue
            path = os.path.join(directory, name)
            if parses_as_utf8_python(path):
                files.append(os.path.relpath(path, root))
            else:
                skipped += 1
    return files, skipped


def parses_as_utf8_python(path):
    with open(path, "rb") as file:
        source = file.read()
    try:
        source.decode("utf-8")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(source, path)
    except (SyntaxError, ValueError, UnicodeDecodeError):
        return False
    return True


def write_manifest(workdir, root, files):
    """``cachescan.yaml`` in ``workdir``; strings are JSON-quoted, which YAML reads as is."""
    lines = ["version: 1", "project:", f"  root: {json.dumps(root)}", "  source_roots: [.]", "targets:"]
    for relative in files:
        lines.append(f"  - path: {json.dumps(relative.replace(os.sep, '/'))}")
        lines.append('    functions: ["**"]')
    path = os.path.join(workdir, "cachescan.yaml")
    with open(path, "w", encoding="utf-8") as manifest:
        manifest.write("\n".join(lines) + "\n")
    return path


def write_listing(workdir, root, files):
    path = os.path.join(workdir, "files.txt")
    with open(path, "w", encoding="utf-8") as listing:
        listing.write("".join(os.path.join(root, relative) + "\n" for relative in files))
    return path


def planned_functions(command):
    """Run the plan once (the warm-up) and count its targets."""
    completed = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True)
    check_plan_exit(command, completed.returncode, completed.stderr)
    return len(json.loads(completed.stdout)["targets"])


def median_seconds(command, runs, check_exit):
    """Median wall time of ``runs`` runs, after one untimed warm-up run."""
    durations = []
    for run in range(runs + 1):
        started = time.perf_counter()
        completed = subprocess.run(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        elapsed = time.perf_counter() - started
        check_exit(command, completed.returncode, completed.stderr)
        if run > 0:
            durations.append(elapsed)
    return statistics.median(durations)


def check_plan_exit(command, code, stderr):
    """0: nothing to report; 1: findings (expected here); anything else is a failure."""
    if code not in (0, 1):
        fail(command, code, stderr)


def check_zero_exit(command, code, stderr):
    if code != 0:
        fail(command, code, stderr)


def fail(command, code, stderr):
    sys.stderr.write(stderr.decode("utf-8", "replace")[-4000:])
    sys.exit(f"plan_stdlib: {command[0]} {command[1]} exited with {code}")


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def print_table(root, files, skipped, functions, plan_seconds, parse_seconds, runs):
    processors = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    rows = [
        ("standard library", f"{root} (Python {platform.python_version()})"),
        ("files", f"{files} ({skipped} skipped: CPython cannot parse them or not UTF-8)"),
        ("functions planned", str(functions)),
        (f"cachescan plan, median of {runs}", f"{plan_seconds:.3f} s"),
        (f"python ast.parse, median of {runs}", f"{parse_seconds:.3f} s"),
        ("python / cachescan", f"{parse_seconds / plan_seconds:.1f}x"),
        ("machine", f"{processors} processors (nproc), {cpu_model()}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
