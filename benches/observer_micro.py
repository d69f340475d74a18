"""Per-call cost of the probe's observer: the code swap against ``sys.monitoring``.

    python3.12 benches/observer_micro.py [--calls 200000] [--repeat 5]
    python3.12 benches/observer_micro.py --instructions [--calls 200000]

Times CALLS calls of a small function (best of REPEAT), three ways:

  * ``plain``: not observed;
  * ``code-swap``: observed as the probe observes it on every version (``_swap.py``:
    its code swapped for a trampoline calling a ``Recorder``, which counts and times the
    call into the current test's bucket);
  * ``monitoring`` (3.12+): a prototype of the same with ``sys.monitoring``: PY_START and
    PY_RETURN enabled with ``set_local_events`` on the function's code object only, the
    callbacks counting and timing into the same kind of bucket (calls that raise are not
    handled: a prototype for the cost only).

Prints nanoseconds per call and the cost each observer adds to a call, as JSON. Wall time
on a shared machine varies more than these differences; ``--instructions`` runs each way
in its own process under valgrind (cachegrind) and prints the instructions each observer
adds to a call instead: (instructions of CALLS calls observed - not observed) / CALLS.
Standard library only.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "src", "probe", "plugin"))

from cachescan_probe._swap import Recorder, copy_function, trampoline_code  # noqa: E402

_perf_counter_ns = time.perf_counter_ns


def source():
    def parse(text, sep="."):
        return tuple(int(part) for part in text.split(sep))

    return parse


class Observe(object):
    """What a Recorder reads: the current test's bucket."""

    def __init__(self):
        self.current = {}


def swap(func):
    observe = Observe()
    original = copy_function(func)
    func.__code__ = trampoline_code(Recorder(observe, original, "t"), func.__code__)
    return observe


def monitor(func):
    """sys.monitoring, PY_START/PY_RETURN on this code object only."""
    monitoring = sys.monitoring
    tool = monitoring.PROFILER_ID
    monitoring.use_tool_id(tool, "cachescan-micro")
    observe = Observe()
    starts = []

    def on_start(code, offset):
        bucket = observe.current
        cell = bucket.get("t")
        if cell is None:
            cell = bucket["t"] = [0, 0]
        cell[0] += 1
        starts.append(_perf_counter_ns())

    def on_return(code, offset, value):
        elapsed = _perf_counter_ns() - starts.pop()
        observe.current["t"][1] += elapsed

    events = monitoring.events
    monitoring.register_callback(tool, events.PY_START, on_start)
    monitoring.register_callback(tool, events.PY_RETURN, on_return)
    monitoring.set_local_events(tool, func.__code__, events.PY_START | events.PY_RETURN)
    return observe


def best_ns_per_call(func, calls, repeat):
    best = None
    for _ in range(repeat):
        start = _perf_counter_ns()
        for _ in range(calls):
            func("1.22.3")
        elapsed = (_perf_counter_ns() - start) / calls
        best = elapsed if best is None else min(best, elapsed)
    return best


def run_only(mode, calls):
    """CALLS calls one way (for --instructions: one process per way)."""
    func = source()
    if mode == "code-swap":
        swap(func)
    elif mode == "monitoring":
        monitor(func)
    for _ in range(calls):
        func("1.22.3")


def instructions(mode, calls):
    completed = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         sys.executable, os.path.abspath(__file__), "--only", mode, "--calls", str(calls)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True,
    )
    for line in completed.stderr.splitlines():
        if "I   refs:" in line or "I refs:" in line:
            return int(line.split(":", 1)[1].replace(",", "").strip())
    sys.exit("valgrind printed no instruction count:\n%s" % completed.stderr[-2000:])


def count_instructions(calls):
    modes = ["plain", "code-swap"] + (["monitoring"] if hasattr(sys, "monitoring") else [])
    counted = {mode: instructions(mode, calls) for mode in modes}
    result = {"python": sys.version.split()[0], "calls": calls}
    result["plain_instructions_per_call"] = round(counted["plain"] / calls, 1)
    for mode in modes[1:]:
        result[mode + "_added_instructions_per_call"] = round((counted[mode] - counted["plain"]) / calls, 1)
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--instructions", action="store_true", help="count instructions (valgrind)")
    parser.add_argument("--only", choices=("plain", "code-swap", "monitoring"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:
        return run_only(args.only, args.calls)
    if args.instructions:
        return count_instructions(args.calls)
    results = {"python": sys.version.split()[0], "calls": args.calls}
    plain = source()
    results["plain_ns"] = best_ns_per_call(plain, args.calls, args.repeat)
    swapped = source()
    observe = swap(swapped)
    results["code_swap_ns"] = best_ns_per_call(swapped, args.calls, args.repeat)
    assert observe.current["t"][0] == args.calls * args.repeat
    if hasattr(sys, "monitoring"):
        monitored = source()
        observe = monitor(monitored)
        results["monitoring_ns"] = best_ns_per_call(monitored, args.calls, args.repeat)
        assert observe.current["t"][0] == args.calls * args.repeat
    for name in ("code_swap", "monitoring"):
        if name + "_ns" in results:
            results[name + "_added_ns"] = results[name + "_ns"] - results["plain_ns"]
    print(json.dumps({key: round(value, 1) if isinstance(value, float) else value
                      for key, value in results.items()}))


if __name__ == "__main__":
    main()
