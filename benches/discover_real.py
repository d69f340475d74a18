"""`cachescan discover` on real projects' own suites: its cost, and how its predictions hold.

    python3 benches/discover_real.py --binary BIN --python-bin DIR [--runs 3] [NAME...]

For each project (pinned sdists of examples/real/run.sh, unpacked into a temporary
directory, nothing installed): a manifest whose one target is the whole package
(`module: <package>.**`, `functions: ["**"]`), with the project settings of
examples/real/<name>/cachescan.yaml. Then, --runs times, interleaved: the plain test
command, and `discover --fresh-baseline` (one traced, checked run of the same suite plus
the ranking). Prints the median of the pairs' ratios (goal: at most 2.0).

Then, for the same project, `discover --write drafted.yaml --top 8` and `apply` of that
draft: a table of each drafted function's predicted hit rate and the one apply measured
with every drafted function cached at once (a caller's cache can take calls away from a
callee, so they may differ there). Standard library only.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPOSITORY = os.path.dirname(HERE)

# name: (PyPI name, version, directory in the sdist, package, project section)
PROJECTS = {
    "inflection": ("inflection", "0.5.1", "inflection-0.5.1", "inflection",
                   "source_roots: [.]\n  test_command: [python, -m, pytest, -q, -p, no:cacheprovider, test_inflection.py]"),
    "semver": ("semver", "3.1.2", "semver-3.1.2", "semver",
               "source_roots: [src]\n  test_command: [python, -m, pytest, -q, -p, no:cacheprovider, -o, "
               "\"addopts=--import-mode=importlib --doctest-glob=*.rst --doctest-modules --doctest-report ndiff\"]"),
    "more-itertools": ("more-itertools", "11.2.1", "more_itertools-11.2.1", "more_itertools",
                       "source_roots: [.]\n  test_command: [python, -m, pytest, -q, -p, no:cacheprovider, tests]"),
}


def plain_command(section):
    """The test command of a project section, as a list (the YAML flow list above)."""
    line = section.split("test_command: [", 1)[1].rsplit("]", 1)[0]
    parts, current, quoted = [], "", False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return parts


def sdist(python, dist, version, directory):
    target = os.path.join(REPOSITORY, "target", "real", "sdist")
    os.makedirs(target, exist_ok=True)
    subprocess.run([python, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                    "--no-deps", "--no-binary", ":all:", f"{dist}=={version}", "-d", target], check=True)
    wanted = f"{dist}-{version}.tar.gz".lower().replace("_", "-")
    for name in os.listdir(target):
        if name.lower().replace("_", "-") == wanted:
            return os.path.join(target, name)
    sys.exit(f"no sdist of {dist} {version} in {target}")


def timed(command, cwd, env):
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return time.perf_counter() - started, completed


def discover(binary, root, env, *extra):
    seconds, completed = timed([binary, "--color", "never", "discover", "--format", "json", *extra], root, env)
    if completed.returncode != 0:
        sys.exit(f"discover failed in {root} ({completed.returncode}):\n{completed.stderr}")
    return seconds, json.loads(completed.stdout)


def measure(name, binary, python_bin, workdir, runs):
    dist, version, directory, package, section = PROJECTS[name]
    env = {key: value for key, value in os.environ.items() if not key.startswith("CACHESCAN_")}
    env["PATH"] = python_bin + os.pathsep + env.get("PATH", "")
    with tarfile.open(sdist(os.path.join(python_bin, "python"), dist, version, directory)) as archive:
        archive.extractall(os.path.join(workdir, name))
    root = os.path.join(workdir, name, directory)
    with open(os.path.join(root, "cachescan.yaml"), "w", encoding="utf-8") as manifest:
        manifest.write(f'version: 1\nproject:\n  {section}\ntargets:\n  - module: "{package}.**"\n    functions: ["**"]\n'
                       if package != "inflection" else
                       f'version: 1\nproject:\n  {section}\ntargets:\n  - module: "{package}"\n    functions: ["**"]\n')
    plain = plain_command(section)
    timed(plain, root, env)  # bytecode and caches warm on both sides
    _, report = discover(binary, root, env)
    ratios = []
    for _ in range(runs):
        plain_s, completed = timed(plain, root, env)
        if completed.returncode not in (0, 1):
            sys.exit(f"the plain suite of {name} failed:\n{completed.stdout[-2000:]}")
        discover_s, report = discover(binary, root, env, "--fresh-baseline")
        ratios.append(discover_s / plain_s)
    run = report["run"]
    functions = report["functions"]
    candidates = [f for f in functions if f["candidate"]]
    drafted = os.path.join(root, "drafted.yaml")
    discover(binary, root, env, "--write", drafted, "--top", "8")
    completed = subprocess.run([binary, "--color", "never", "apply", "--manifest", drafted, "--format", "json"],
                               cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if completed.returncode not in (0, 1):
        sys.exit(f"apply of the draft failed in {name}:\n{completed.stderr}")
    # A property's getter and setter share an id: the line tells them apart.
    applied = {(t["id"], t["line"]): t for t in json.loads(completed.stdout)["targets"]
               if t["verdict"] != "skipped"}
    predicted = {(f["id"], f["line"]): f for f in functions}
    rows = []
    for (target_id, line), target in applied.items():
        function = predicted[(target_id, line)]
        rows.append((target_id, function["calls"], function["recommended_cache_size"],
                     function["recommended_hit_rate"], target["hit_rate"], target["verdict"],
                     function["recommended_saved_s"]))
    return {
        "name": f"{name} {version}", "tests": run["tests"], "functions": len(functions),
        "observed": run["observed_functions"], "candidates": len(candidates),
        "ratio": statistics.median(ratios), "rows": rows,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--python-bin", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("names", nargs="*", default=["inflection", "semver"])
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    results = []
    with tempfile.TemporaryDirectory(prefix="cachescan-discover-") as workdir:
        for name in args.names:
            results.append(measure(name, binary, os.path.abspath(args.python_bin), workdir, args.runs))
    print(f"\ndiscover --fresh-baseline / plain suite, median of {args.runs} interleaved pairs (goal <= 2.0):\n")
    print("| project | tests | functions (observed) | candidates | discover / plain |")
    print("|---|---:|---:|---:|---:|")
    for result in results:
        print(f"| {result['name']} | {result['tests']} | {result['functions']} ({result['observed']}) "
              f"| {result['candidates']} | {result['ratio']:.2f} |")
    for result in results:
        print(f"\n{result['name']}: the top candidates drafted by `discover --write`, then `apply` of the draft:\n")
        print("| function | calls | cache_size | predicted hit rate | measured by apply | verdict | predicted saving |")
        print("|---|---:|---:|---:|---:|---|---:|")
        for target_id, calls, size, predicted, measured, verdict, saved in result["rows"]:
            size = "unbounded" if size is None else size
            measured = "-" if measured is None else f"{measured:.2f}"
            predicted = "-" if predicted is None else f"{predicted:.2f}"
            print(f"| `{target_id}` | {calls} | {size} | {predicted} | {measured} | {verdict} | {saved * 1e3:.1f} ms |")


if __name__ == "__main__":
    main()
