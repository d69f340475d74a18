"""Observing the targets' calls test by test (CACHESCAN_PROBE_OBSERVE=1): the code swap."""

import sys

from conftest import (
    EXPECTED_OUTCOMES,
    by_id,
    check_common,
    needs_xdist,
    outcomes,
    standard_targets,
    write,
)


# ---- observe: per-test calls (CACHESCAN_PROBE_OBSERVE=1) -------------------- #


WORK = """\
import functools
import time


def f(x):
    return x + 1


def g(x):
    return x * 2


def slow():
    time.sleep(0.01)
    return 1


@functools.lru_cache(maxsize=None)
def cached(x, scale=1):
    return x * scale


def fact(n):
    return 1 if n <= 1 else n * fact(n - 1)


def gen():
    yield 1


def _make():
    k = 3

    def closed(x):
        return x + k

    return closed


closed = _make()


def _make_clash():
    args = 1

    def clash(x):
        return x + args

    return clash


clash = _make_clash()


class Base(object):
    def method(self, x, *, twice=False):
        return x * (2 if twice else 1)


class K(Base):
    def method(self, x, *, twice=False):
        return super().method(x, twice=twice)

    @staticmethod
    def static(x):
        return -x
"""

LATE = """\
def h():
    return 42
"""

TEST_OBS = """\
import inspect
import os

import pytest

from shop import work
from shop.work import g  # bound at collection time, before the swap


def test_f_three_times():
    assert [work.f(i) for i in range(3)] == [1, 2, 3]


def test_g_imported_name(warm):
    assert g(2) == 4


def test_slow():
    assert work.slow() == 1


def test_cached_misses_only():
    assert [work.cached(x) for x in (1, 1, 2, 1, 2, 3)] == [1, 1, 2, 1, 2, 3]


def test_recursion():
    assert work.fact(4) == 24


def test_methods():
    k = work.K()
    assert k.method(1) == 1 and k.method(2, twice=True) == 4
    assert work.K.static(5) == -5


def test_closure_and_generator():
    assert work.closed(1) == 4
    assert work.clash(1) == 2
    assert list(work.gen()) == [1]


def test_nothing():
    pass


def test_signature_and_source_unchanged():
    assert str(inspect.signature(work.f)) == "(x)"
    assert str(inspect.signature(work.cached)) == "(x, scale=1)"
    assert str(inspect.signature(work.K.method)) == "(self, x, *, twice=False)"
    assert "return x + 1" in inspect.getsource(work.f)
    # the code really is swapped while the tests run
    assert work.f.__code__.co_filename == "<cachescan-probe trampoline>"
    real = os.path.realpath(work.__file__)
    assert os.path.realpath(work.f.__wrapped__.__code__.co_filename) == real
    assert work.gen.__code__.co_filename.endswith("work.py")
    assert "__cachescan" not in " ".join(vars(work))


def test_exception_passes_through():
    with pytest.raises(TypeError):
        work.f("a")
"""

TEST_LATE = """\
def test_late_first():
    from shop import late  # imported during a test: observed from the next one on
    assert late.h() == 42


def test_late_second():
    from shop import late
    assert late.h() == 42 and late.h() == 42
"""

CONFTEST_OBS = """\
import os, sys
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))


@pytest.fixture(scope="session")
def warm():
    from shop import work
    work.g(100)
"""

OBS_QUALNAMES = [
    "f", "g", "slow", "cached", "fact", "gen", "closed", "clash", "K.method", "K.static", "nope",
]


def observe_project(project):
    work = write(project.root / "src" / "shop" / "work.py", WORK)
    late = write(project.root / "src" / "shop" / "late.py", LATE)
    write(project.root / "tests" / "conftest.py", CONFTEST_OBS)
    write(project.root / "tests" / "test_obs.py", TEST_OBS)
    write(project.root / "tests" / "test_late.py", TEST_LATE)
    targets = [project.target(q, module="shop.work", path=work.resolve()) for q in OBS_QUALNAMES]
    targets.append(project.target("h", module="shop.late", path=late.resolve()))
    targets += standard_targets(project)
    project.set_targets(targets)


def calls_only(bucket):
    """{target id: calls} without the timings."""
    return {tid: c[0] for tid, c in bucket.items()}


OBS = "tests/test_obs.py::"
LATE_T = "tests/test_late.py::"

EXPECTED_CALLS = {
    "<session>": {"shop.work:g": 1},
    OBS + "test_f_three_times": {"shop.work:f": 3},
    OBS + "test_g_imported_name": {"shop.work:g": 1},
    OBS + "test_slow": {"shop.work:slow": 1},
    OBS + "test_cached_misses_only": {"shop.work:cached": 3},
    OBS + "test_recursion": {"shop.work:fact": 4},
    OBS + "test_methods": {"shop.work:K.method": 2, "shop.work:K.static": 1},
    OBS + "test_closure_and_generator": {"shop.work:closed": 1},
    OBS + "test_nothing": {},
    OBS + "test_signature_and_source_unchanged": {},
    OBS + "test_exception_passes_through": {"shop.work:f": 1},
    LATE_T + "test_late_first": {},
    LATE_T + "test_late_second": {"shop.late:h": 2},
}

# test_a: only cache misses reach the swapped function
EXPECTED_CALLS_A = {
    "tests/test_a.py::test_price[0]": {"shop.pricing:price": 1, "shop.pricing:Cart.total": 1},
    "tests/test_a.py::test_price[1]": {"shop.pricing:price": 1},
    "tests/test_a.py::test_price[2]": {},
    "tests/test_a.py::test_price[3]": {},
    "tests/test_a.py::test_price[4]": {},
    "tests/test_a.py::test_price[5]": {},
    "tests/test_a.py::test_fail": {},
    "tests/test_a.py::test_setup_error": {},
    "tests/test_a.py::test_teardown_error": {},
    "tests/test_a.py::test_skip": {},
    "tests/test_a.py::test_xfail": {},
    "tests/test_a.py::test_xpass": {},
}


def check_observed_targets(doc):
    t = by_id(doc)
    for q in ("f", "g", "slow", "cached", "fact", "K.method", "K.static"):
        assert t["shop.work:" + q]["observer"] == "code-swap", t["shop.work:" + q]
        assert t["shop.work:" + q]["observer_note"] is None
    assert t["shop.late:h"]["observer"] == "code-swap"
    # A closure keeps its cells; K.method uses super() (a __class__ cell).
    assert t["shop.work:closed"]["observer"] == "code-swap"
    clash = t["shop.work:clash"]
    assert clash["observer"] == "unavailable" and "closure" in clash["observer_note"]
    gen = t["shop.work:gen"]
    assert gen["observer"] == "unavailable" and "generator" in gen["observer_note"]
    assert t["shop.work:nope"]["observer"] == "unavailable"
    assert t["shop.other:f"]["observer"] == "unavailable"  # never loaded
    assert t["shop.work:f"]["observed_calls"] == 4
    assert t["shop.work:g"]["observed_calls"] == 2  # session fixture + test
    assert t["shop.work:fact"]["observed_calls"] == 4
    assert t["shop.pricing:price"]["observer"] == "code-swap"
    assert t["shop.pricing:Cart.rate"]["observer"] == "code-swap"
    assert t["shop.pricing:Cart.rate"]["observed_calls"] == 0


def test_observe_single_process(project):
    observe_project(project)
    proc = project.run("tests/test_a.py", "tests/test_obs.py", "tests/test_late.py",
                       env=project.env(CACHESCAN_PROBE_OBSERVE="1"))
    assert proc.returncode == 1, proc.stdout  # test_a has failures by design
    doc = project.only(proc)
    check_common(doc, proc)
    assert doc["error"] is None, doc["error"]
    assert doc["observe"] is True and doc["deselected"] == 0
    got = {k: calls_only(v) for k, v in doc["test_calls"].items()}
    want = dict(EXPECTED_CALLS_A, **EXPECTED_CALLS)
    assert got == want
    assert list(doc["test_calls"])[0] == "<session>"
    assert [t["nodeid"] for t in doc["tests"]] == list(doc["test_calls"])[1:]
    for nodeid, _ in EXPECTED_OUTCOMES.items():
        assert outcomes(doc)[nodeid] == EXPECTED_OUTCOMES[nodeid]
    assert all(outcomes(doc)[n] == "passed" for n in EXPECTED_CALLS if n != "<session>")
    calls = doc["test_calls"]
    assert calls[OBS + "test_slow"]["shop.work:slow"][1] >= 5000000
    for bucket in calls.values():
        for cell in bucket.values():
            assert cell[1] > 0
    # recursion: timed once, so no more than the test's own duration
    rec = [t for t in doc["tests"] if t["nodeid"] == OBS + "test_recursion"][0]
    assert calls[OBS + "test_recursion"]["shop.work:fact"][1] <= rec["duration_s"] * 1e9
    check_observed_targets(doc)
    t = by_id(doc)
    assert t["shop.work:slow"]["observed_time_ns"] >= 5000000
    # the cache statistics are unaffected by the observer
    assert (t["shop.work:cached"]["hits"], t["shop.work:cached"]["misses"]) == (3, 3)
    assert (t["shop.pricing:price"]["hits"], t["shop.pricing:price"]["misses"]) == (5, 2)


@needs_xdist
def test_observe_xdist_workers_cover_all_tests(project):
    observe_project(project)
    proc = project.run("-n", "2", "tests/test_a.py", "tests/test_obs.py", "tests/test_late.py",
                       env=project.env(CACHESCAN_PROBE_OBSERVE="1"))
    assert proc.returncode == 1, proc.stdout
    docs = project.files()
    assert len(docs) == 3
    for d in docs:
        check_common(d, proc)
        assert d["error"] is None, d["error"]
    ctrl = [d for d in docs if d["role"] == "controller"][0]
    workers = [d for d in docs if d["role"] == "worker"]
    assert ctrl["observe"] is False and ctrl["test_calls"] == {}
    merged = {}
    for w in workers:
        assert w["observe"] is True
        for nodeid, bucket in w["test_calls"].items():
            if nodeid == "<session>":
                continue
            assert nodeid not in merged, nodeid  # each test ran in one worker
            merged[nodeid] = calls_only(bucket)
    assert set(merged) == set(outcomes(ctrl))
    for nodeid, want in EXPECTED_CALLS.items():
        if nodeid != "<session>" and nodeid != LATE_T + "test_late_second":
            assert merged[nodeid] == want, nodeid
    assert sum(by_id(w)["shop.work:f"]["observed_calls"] for w in workers) == 4


def test_observe_off_is_inert(project):
    observe_project(project)
    proc = project.run("tests/test_obs.py", env=project.env(CACHESCAN_PROBE_OBSERVE="0"))
    doc = project.only(proc)
    check_common(doc, proc)
    assert doc["observe"] is False and doc["test_calls"] == {}
    # the test asserting the swap fails, nothing else does
    assert outcomes(doc)[OBS + "test_signature_and_source_unchanged"] == "failed"
    assert sum(1 for o in outcomes(doc).values() if o != "passed") == 1
    assert all(t["observer"] == "off" for t in doc["targets"])


def test_observe_restores_code_in_process(project):
    observe_project(project)
    write(
        project.root / "run_twice.py",
        """\
        import sys
        import pytest

        results = []
        for _ in range(2):
            results.append(pytest.main(["-q", "tests/test_obs.py"]))
        from shop import work
        restored = (
            work.f.__code__.co_filename == work.__file__
            and "__wrapped__" not in vars(work.f)
            and work.cached.__wrapped__.__code__.co_filename == work.__file__
            and "__wrapped__" not in vars(work.cached.__wrapped__)
            and work.K.static.__code__.co_filename == work.__file__
        )
        sys.stderr.write("RESULTS %r RESTORED %r\\n" % (results, restored))
        sys.exit(0 if restored and results == [0, 0] else 1)
        """,
    )
    proc = project.run("run_twice.py", cmd=[sys.executable],
                       env=project.env(CACHESCAN_PROBE_OBSERVE="1"))
    assert proc.returncode == 0, proc.stdout
    doc = project.only(proc)  # the second run rewrote the same probe-<pid>.json
    assert doc["error"] is None, doc["error"]
    assert calls_only(doc["test_calls"][OBS + "test_f_three_times"]) == {"shop.work:f": 3}


def test_observe_nothing_on_stdout(project):
    observe_project(project)
    # test_signature... asserts the swap, so it only passes with the probe
    args = ("-q", "-p", "no:randomly", "-k", "not test_signature", "tests/test_obs.py")
    with_probe = project.run(*args, env=project.env(CACHESCAN_PROBE_OBSERVE="1"))
    plain = project.run(*args, env=project.env(CACHESCAN_PROBE_OUT=None, PYTEST_ADDOPTS=None))
    assert with_probe.returncode == 0, with_probe.stdout
    strip = lambda s: [l for l in s.splitlines() if " in " not in l]  # drop timing line
    assert strip(with_probe.stdout) == strip(plain.stdout)


def test_trampoline_unit(probe_mod):
    """The swap and restore on a plain function, without pytest around it."""
    import inspect
    import types

    mod = types.ModuleType("m")
    exec(
        "def f(a, b=2, *, c=3):\n"
        "    'doc'\n"
        "    return a + b + c\n",
        mod.__dict__,
    )
    f = mod.f
    f.extra = "kept"

    class FakeProbe(object):
        base = None
        errors = []

    observe = probe_mod._observe.Observe(FakeProbe())
    observe._install(mod, "m:f", "f")
    assert observe.status["m:f"] == ["code-swap", None]
    assert set(vars(mod)) == {"__name__", "__doc__", "__package__", "__loader__",
                              "__spec__", "__builtins__", "f"}
    assert f(1) == 6 and f(1, c=0) == 3 and f(a=1, b=1, c=1) == 3
    assert str(inspect.signature(f)) == "(a, b=2, *, c=3)"
    assert f.__wrapped__.extra == "kept" and f.__wrapped__.__doc__ == "doc"
    assert calls_only(observe.test_calls_json()["<session>"]) == {"m:f": 3}
    observe._install(mod, "m:f", "f")  # twice: no double swap
    assert len(observe.swaps) == 1
    observe.restore()
    assert f.__code__.co_filename == "<string>" and "__wrapped__" not in vars(f)
    assert f(1) == 6
    assert calls_only(observe.test_calls_json()["<session>"]) == {"m:f": 3}
