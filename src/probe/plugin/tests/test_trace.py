"""Key traces (_trace): real observed runs with CACHESCAN_PROBE_TRACE=1, and the trace
files read back: each call's key number in call order as lru_cache keys them (typed or
not, keywords apart), unhashable calls counted apart, nothing kept alive, chunks past the
flush size, recursion, and the probe's own calls left out."""

import struct

from conftest import Project, check_common, needs_xdist, write

TRACED_MODULE = """\
import time


class SlowKey(object):
    def __hash__(self):
        time.sleep(0.05)
        return 1


SLOW = SlowKey()


def inner(key):
    return 1


def outer(n):
    return inner(SLOW) + n


class Point(object):
    def __init__(self, x):
        self._x = x

    @property
    def x(self):
        return self._x

    def __hash__(self):
        return hash(self.x)

    def __eq__(self, other):
        return isinstance(other, Point) and other.x == self.x


class Token(object):
    def __init__(self, n):
        self.n = n

    def __hash__(self):
        return self.n

    def __eq__(self, other):
        return isinstance(other, Token) and other.n == self.n


def square(x):
    return x * x


def scale(x, factor=2):
    return x * factor


def total(items):
    return sum(items)


def exact(x):
    return x


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def ident(token):
    return token.n


def many(i):
    return i % 7
"""

TRACED_TESTS = """\
import gc
import os
import weakref

from shop import traced


def test_keys_in_order():
    for x in [1, 2, 1, 3, 2]:
        traced.square(x)


def test_keywords_are_their_own_keys():
    traced.scale(3)
    traced.scale(3, 2)
    traced.scale(3, factor=2)
    traced.scale(x=3)


def test_unhashable_calls():
    traced.total([1, 2])
    traced.total((1, 2))
    traced.total([1, 2])


def test_typed():
    traced.exact(1)
    traced.exact(1.0)
    traced.exact(True)


def test_recursion():
    assert traced.fib(5) == 5


def test_nothing_is_kept_alive():
    token = traced.Token(7)
    alive = weakref.ref(token)
    traced.ident(token)
    del token
    gc.collect()
    # The checks' shadow holds its entries' arguments, as the cache would.
    assert alive() is None or os.environ.get("CACHESCAN_PROBE_VERIFY")


def test_nested():
    assert traced.outer(1) == 2


def test_reentrant():
    assert traced.Point(3).x == 3
    assert traced.Point(4).x == 4


def test_many_calls():
    for i in range(70000):
        traced.many(i % 7)
"""


def read_trace(path):
    """(key numbers, times) of one trace file, its chunks joined."""
    ids, times = [], []
    data = path.read_bytes()
    offset = 0
    while offset < len(data):
        (count,) = struct.unpack_from("<I", data, offset)
        offset += 4
        ids.extend(struct.unpack_from("<%dI" % count, data, offset))
        offset += 4 * count
        times.extend(struct.unpack_from("<%dQ" % count, data, offset))
        offset += 8 * count
    assert offset == len(data), "the file ends with a whole chunk"
    return ids, times


def traced_project(root):
    root.mkdir(parents=True, exist_ok=True)
    project = Project(root)
    module = write(root / "src" / "shop" / "traced.py", TRACED_MODULE).resolve()
    (root / "tests" / "test_a.py").unlink()
    write(root / "tests" / "test_traced.py", TRACED_TESTS)
    names = ("square", "scale", "total", "exact", "fib", "ident", "many", "inner", "outer", "Point.x")
    targets = [project.target(name, module="shop.traced", path=module) for name in names]
    typed = project.target("exact", module="shop.traced", path=module)
    typed["id"] = "shop.traced:exact-typed"  # the same function, keyed typed=True
    typed["typed"] = True
    project.set_targets(targets)
    return project, typed


def run_traced(project, *args, **env):
    settings = {"CACHESCAN_PROBE_OBSERVE": "1", "CACHESCAN_PROBE_TRACE": "1"}
    settings.update(env)
    proc = project.run("-q", *args, env=project.env(**settings))
    assert proc.returncode == 0, proc.stdout
    docs = project.files()
    for doc in docs:
        check_common(doc, proc)
    return docs


def traces(project, doc):
    """{qualname: (trace fields, key numbers, times)} of one probe file."""
    found = {}
    for target in doc["targets"]:
        trace = target["trace"]
        if trace is None:
            continue
        ids, times = read_trace(project.out / trace["file"]) if trace["file"] else ([], [])
        found[target["id"].split(":", 1)[1]] = (trace, ids, times)
    return found


def test_each_call_is_traced_with_its_key_as_lru_cache_builds_it(tmp_path):
    project, _ = traced_project(tmp_path)
    (doc,) = run_traced(project)
    found = traces(project, doc)
    fields, ids, times = found["square"]
    assert ids == [0, 1, 0, 2, 1]
    assert fields == {"file": fields["file"], "calls": 5, "unhashable": 0, "keys": 3, "reentrant": 0, "unkeyed": 0}
    assert len(times) == 5 and all(isinstance(t, int) and t > 0 for t in times)
    # scale(3), scale(3, 2), scale(3, factor=2), scale(x=3): lru_cache keys positional and
    # keyword arguments apart, and does not fill in defaults.
    assert found["scale"][1] == [0, 1, 2, 3]
    # lru_cache keys a lone int or str argument as itself, anything else as a tuple: so
    # untyped, 1.0 and True share an entry, and 1 has its own.
    assert found["exact"][1] == [0, 1, 1]


def test_unhashable_calls_are_counted_apart(tmp_path):
    project, _ = traced_project(tmp_path)
    (doc,) = run_traced(project)
    fields, ids, _ = traces(project, doc)["total"]
    assert (fields["calls"], fields["unhashable"], fields["keys"]) == (3, 2, 1)
    assert ids == [0]


def test_a_typed_target_keys_by_type(tmp_path):
    project, typed = traced_project(tmp_path)
    targets = [t for t in __import__("json").loads(project.targets_file.read_text())["targets"]]
    project.set_targets([t for t in targets if t["qualname"] != "exact"] + [typed])
    (doc,) = run_traced(project)
    assert traces(project, doc)["exact-typed"][1] == [0, 1, 2]


def test_recursive_calls_are_each_traced(tmp_path):
    project, _ = traced_project(tmp_path)
    (doc,) = run_traced(project)
    fields, ids, times = traces(project, doc)["fib"]
    assert fields["calls"] == 15 and fields["keys"] == 6
    # In call order: fib(5), fib(4), fib(3), fib(2), fib(1), fib(0), fib(1), ...
    assert ids[:7] == [0, 1, 2, 3, 4, 5, 4]
    assert times[0] == max(times), "the outer call's time includes the inner ones"


def test_a_callers_time_leaves_out_the_probes_work_in_its_callees(tmp_path):
    # Keying inner's call hashes SLOW, which sleeps 50 ms: that is the probe's work (a
    # cache on outer alone would never do it), so neither call's time may include it.
    for env in ({}, {"CACHESCAN_PROBE_VERIFY": "1"}):
        project, _ = traced_project(tmp_path / ("checked" if env else "plain"))
        (doc,) = run_traced(project, **env)
        found = traces(project, doc)
        (outer_time,) = found["outer"][2]
        (inner_time,) = found["inner"][2]
        assert outer_time < 25000000, (env, outer_time)
        assert inner_time <= outer_time


def test_a_key_whose_hash_calls_the_function_again_is_counted_reentrant(tmp_path):
    # Point.__hash__ reads the property x: lru_cache on x would hash self, read x, hash
    # self, ... The probe calls x straight through while hashing, and counts it.
    for env in ({}, {"CACHESCAN_PROBE_VERIFY": "1"}):
        project, _ = traced_project(tmp_path / ("checked" if env else "plain"))
        (doc,) = run_traced(project, **env)
        found = traces(project, doc)
        fields, ids, _ = found["Point.x"]
        # The first call's key is traced; once it is condemned, the next call is only
        # counted, its key neither built nor hashed.
        counts = (fields["calls"], fields["reentrant"], fields["unkeyed"], ids)
        assert counts == (2, 1, 1, [0]), env
        calls = doc["test_calls"]["tests/test_traced.py::test_reentrant"]
        assert calls["shop.traced:Point.x"][0] == 2, "both calls are in the call map"
        assert found["square"][0]["reentrant"] == 0


def test_a_long_trace_is_written_in_chunks(tmp_path):
    project, _ = traced_project(tmp_path)
    (doc,) = run_traced(project)
    fields, ids, _ = traces(project, doc)["many"]
    assert fields["calls"] == 70000 and fields["keys"] == 7
    assert ids[:8] == [0, 1, 2, 3, 4, 5, 6, 0] and len(ids) == 70000


def test_with_checks_the_checks_own_calls_are_not_traced(tmp_path):
    # ident's key is a Token: finding it in the shadow calls Token.__eq__ (not a target
    # here) and keys hash through Token.__hash__; the trace has the program's calls only.
    project, _ = traced_project(tmp_path)
    (doc,) = run_traced(project, CACHESCAN_PROBE_VERIFY="1")
    found = traces(project, doc)
    assert found["square"][1] == [0, 1, 0, 2, 1]
    assert found["fib"][0]["calls"] == 15
    verify = {t["id"].split(":", 1)[1]: t["verify"] for t in doc["targets"]}
    assert verify["square"]["hits"] == 2


def test_without_the_setting_nothing_is_traced(tmp_path):
    project, _ = traced_project(tmp_path)
    docs = run_traced(project, CACHESCAN_PROBE_TRACE=None)
    assert all(t["trace"] is None for doc in docs for t in doc["targets"])
    assert not [p for p in project.out.iterdir() if p.name.startswith("trace-")]


@needs_xdist
def test_each_xdist_worker_traces_its_own_calls(tmp_path):
    project, _ = traced_project(tmp_path)
    docs = run_traced(project, "-n", "2")
    workers = [doc for doc in docs if doc["role"] == "worker"]
    calls = sum(traces(project, doc).get("square", ({"calls": 0},))[0]["calls"] for doc in workers)
    assert calls == 5
