"""Tests for cachescan_probe.py: real pytest runs (subprocesses) on tiny projects.

Run with:  python -m pytest src/probe/test_probe.py   (needs pytest; the -n tests
need pytest-xdist and are skipped without it).
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# The plugin package, and the directory that goes on PYTHONPATH to load it.
PLUGIN_ROOT = Path(__file__).resolve().parent / "plugin"
PLUGIN = PLUGIN_ROOT / "cachescan_probe"

try:
    import xdist  # noqa: F401

    HAVE_XDIST = True
except Exception:
    HAVE_XDIST = False

needs_xdist = pytest.mark.skipif(not HAVE_XDIST, reason="pytest-xdist not installed")


PRICING = """\
import functools

CALLS = []

@functools.lru_cache(maxsize=32)
def price(x):
    return x * 2

class Cart:
    @staticmethod
    @functools.lru_cache(maxsize=None)
    def total(n):
        return n + 1

    @classmethod
    @functools.lru_cache(maxsize=8)
    def rate(cls, n):
        return n * 3

    def plain(self):
        return 1
"""

TEST_A = """\
import pytest
from shop.pricing import price, Cart

@pytest.mark.parametrize("i", range(6))
def test_price(i):
    assert price(i % 2) == (i % 2) * 2
    assert Cart.total(1) == 2

def test_fail():
    assert price(1) == 3, "price is wrong\\nsecond line"

@pytest.fixture
def bad():
    raise RuntimeError("fixture boom")

def test_setup_error(bad):
    pass

@pytest.fixture
def bad_teardown():
    yield
    raise ValueError("teardown boom")

def test_teardown_error(bad_teardown):
    pass

def test_skip():
    pytest.skip("not today")

@pytest.mark.xfail(reason="known")
def test_xfail():
    assert 0, "expected failure"

@pytest.mark.xfail(reason="known")
def test_xpass():
    pass
"""

EXPECTED_OUTCOMES = {
    "tests/test_a.py::test_price[0]": "passed",
    "tests/test_a.py::test_price[1]": "passed",
    "tests/test_a.py::test_price[2]": "passed",
    "tests/test_a.py::test_price[3]": "passed",
    "tests/test_a.py::test_price[4]": "passed",
    "tests/test_a.py::test_price[5]": "passed",
    "tests/test_a.py::test_fail": "failed",
    "tests/test_a.py::test_setup_error": "error",
    "tests/test_a.py::test_teardown_error": "error",
    "tests/test_a.py::test_skip": "skipped",
    "tests/test_a.py::test_xfail": "xfailed",
    "tests/test_a.py::test_xpass": "xpassed",
}


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


class Project(object):
    """A tiny project in tmp_path plus the cachescan side (probe dir, out dir,
    targets file)."""

    def __init__(self, root):
        self.root = root
        self.probe_dir = root / "_probe"
        self.out = root / "_out"
        self.targets_file = root / "_targets.json"
        self.probe_dir.mkdir()
        self.out.mkdir()
        # as cachescan writes it: the package's .py files, nothing else
        shutil.copytree(str(PLUGIN), str(self.probe_dir / "cachescan_probe"),
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        write(root / "pytest.ini", "[pytest]\naddopts = -p no:cacheprovider\n")
        write(root / "src" / "shop" / "__init__.py", "")
        self.pricing = write(root / "src" / "shop" / "pricing.py", PRICING)
        write(
            root / "tests" / "conftest.py",
            """\
            import os, sys
            sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
            """,
        )
        write(root / "tests" / "test_a.py", TEST_A)

    def target(self, qualname, module="shop.pricing", path=None):
        return {
            "id": "%s:%s" % (module, qualname),
            "module": module,
            "qualname": qualname,
            "path": str(path if path is not None else self.pricing.resolve()),
        }

    def set_targets(self, targets):
        self.targets_file.write_text(
            json.dumps({"version": 1, "targets": targets}), encoding="utf-8"
        )

    def env(self, **extra):
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("CACHESCAN_", "PYTEST_", "PYTHONPATH", "COV_CORE"))
        }
        env["PYTHONPATH"] = str(self.probe_dir)
        env["PYTEST_ADDOPTS"] = "-p cachescan_probe"
        env["CACHESCAN_PROBE_OUT"] = str(self.out)
        env["CACHESCAN_PROBE_TARGETS"] = str(self.targets_file)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def run(self, *args, cmd=None, env=None):
        if cmd is None:
            cmd = [sys.executable, "-m", "pytest"]
        proc = subprocess.run(
            list(cmd) + list(args),
            cwd=str(self.root),
            env=env if env is not None else self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            universal_newlines=True,
            timeout=300,
        )
        return proc

    def files(self):
        out = []
        for p in sorted(self.out.iterdir()):
            assert p.name.startswith("probe-") and p.name.endswith(".json"), p.name
            out.append(json.loads(p.read_text(encoding="utf-8")))
        return out

    def only(self, proc):
        files = self.files()
        assert len(files) == 1, (proc.stdout, files)
        return files[0]


@pytest.fixture
def project(tmp_path):
    return Project(tmp_path)


def by_id(doc):
    return {t["id"]: t for t in doc["targets"]}


def outcomes(doc):
    return {t["nodeid"]: t["outcome"] for t in doc["tests"]}


def check_common(doc, proc):
    assert doc["format"] == "cachescan-probe"
    assert doc["version"] == 2
    assert isinstance(doc["pid"], int)
    assert doc["python"].count(".") == 2
    keys = {
        "format", "version", "pid", "role", "worker_id", "python", "exitstatus",
        "collected", "error", "collect_errors", "tests", "targets",
        "observe", "test_calls", "deselected", "parted_out",
    }
    assert set(doc) == keys, doc
    assert isinstance(doc["observe"], bool)
    assert isinstance(doc["test_calls"], dict)
    if doc["role"] == "controller":
        assert doc["deselected"] is None and not doc["observe"]
        assert doc["parted_out"] is None
    else:
        assert isinstance(doc["deselected"], int)
        assert isinstance(doc["parted_out"], int)
    for t in doc["tests"]:
        assert set(t) == {"nodeid", "outcome", "message", "duration_s"}
        assert isinstance(t["duration_s"], float)
        assert t["message"] is None or len(t["message"]) <= 300
    for t in doc["targets"]:
        assert set(t) == {
            "id", "state", "modules", "loaded_files", "hits", "misses", "maxsize", "currsize",
            "observer", "observer_note", "observed_calls", "observed_time_ns",
        }
        assert t["observer"] in ("code-swap", "monitoring", "unavailable", "off")
        if t["observer"] in ("code-swap", "monitoring"):
            assert isinstance(t["observed_calls"], int)
            assert isinstance(t["observed_time_ns"], int)
        else:
            assert t["observed_calls"] is None and t["observed_time_ns"] is None
        if not doc["observe"]:
            assert t["observer"] == "off" and t["observer_note"] is None
    if not doc["observe"]:
        assert doc["test_calls"] == {}


ALL_TARGETS = ["price", "Cart.total", "Cart.rate", "Cart.plain", "Cart.nope"]


def standard_targets(project):
    ts = [project.target(q) for q in ALL_TARGETS]
    ts.append(project.target("f", module="shop.other", path=project.root / "src/shop/other.py"))
    return ts


def check_standard_targets(docs_with_targets, project):
    """Sum the stats over all the given files (one per process)."""
    total = {}
    for doc in docs_with_targets:
        t = by_id(doc)
        real = os.path.normcase(os.path.realpath(str(project.pricing)))
        for q in ("price", "Cart.total"):
            tt = t["shop.pricing:" + q]
            assert tt["state"] == "stats", tt
            assert tt["modules"] == ["shop.pricing"]
            assert tt["loaded_files"] == [real]
            acc = total.setdefault(q, [0, 0])
            acc[0] += tt["hits"]
            acc[1] += tt["misses"]
        assert t["shop.pricing:price"]["maxsize"] == 32
        assert t["shop.pricing:Cart.total"]["maxsize"] is None
        rate = t["shop.pricing:Cart.rate"]
        assert rate["state"] == "stats" and rate["maxsize"] == 8
        assert (rate["hits"], rate["misses"], rate["currsize"]) == (0, 0, 0)
        assert t["shop.pricing:Cart.plain"]["state"] == "not-wrapped"
        assert t["shop.pricing:Cart.plain"]["hits"] is None
        assert t["shop.pricing:Cart.nope"]["state"] == "missing"
        nl = t["shop.other:f"]
        assert nl["state"] == "not-loaded"
        assert nl["modules"] == [] and nl["loaded_files"] == []
    # price: 6 param runs + test_fail = 7 calls; Cart.total(1): 6 calls
    hp, mp = total["price"]
    assert hp + mp == 7
    ht, mt = total["Cart.total"]
    assert ht + mt == 6
    return total


# --------------------------------------------------------------------------- #


def test_single_process_full(project):
    project.set_targets(standard_targets(project))
    write(project.root / "tests" / "test_bad.py", "import does_not_exist_mod\n")
    proc = project.run("--continue-on-collection-errors", "tests")
    assert proc.returncode == 1, proc.stdout
    doc = project.only(proc)
    check_common(doc, proc)
    assert doc["role"] == "single" and doc["worker_id"] is None
    assert doc["exitstatus"] == 1
    assert doc["error"] is None
    assert doc["collected"] == len(EXPECTED_OUTCOMES)
    assert outcomes(doc) == EXPECTED_OUTCOMES
    msgs = {t["nodeid"].split("::")[1]: t["message"] for t in doc["tests"]}
    assert msgs["test_price[0]"] is None
    assert msgs["test_fail"] == "AssertionError: price is wrong"
    assert msgs["test_setup_error"] == "RuntimeError: fixture boom"
    assert msgs["test_teardown_error"] == "ValueError: teardown boom"
    assert "not today" in msgs["test_skip"]
    assert "expected failure" in msgs["test_xfail"]
    assert msgs["test_xpass"] is None
    assert doc["collect_errors"] == [
        {
            "nodeid": "tests/test_bad.py",
            "message": "ModuleNotFoundError: No module named 'does_not_exist_mod'",
        }
    ]
    total = check_standard_targets([doc], project)
    assert total["price"] == [5, 2]
    assert total["Cart.total"] == [5, 1]
    assert by_id(doc)["shop.pricing:price"]["currsize"] == 2
    # atomic write leaves no temp file behind
    assert sorted(p.name for p in project.out.iterdir()) == ["probe-%d.json" % doc["pid"]]


def test_collection_error_interrupts(project):
    project.set_targets([project.target("price")])
    write(project.root / "tests" / "test_bad.py", "raise RuntimeError('bad at import')\n")
    proc = project.run("tests")
    assert proc.returncode == 2, proc.stdout
    doc = project.only(proc)
    check_common(doc, proc)
    assert doc["exitstatus"] == 2
    assert doc["tests"] == []
    assert doc["collect_errors"][0]["nodeid"] == "tests/test_bad.py"
    assert "bad at import" in doc["collect_errors"][0]["message"]
    # module imported by test_a during collection, function never called
    t = by_id(doc)["shop.pricing:price"]
    assert t["state"] == "stats" and (t["hits"], t["misses"]) == (0, 0)


def test_syntax_error_collection_message(project):
    project.set_targets([])
    write(project.root / "tests" / "test_syn.py", "def f(:\n    pass\n")
    proc = project.run("tests")
    doc = project.only(proc)
    assert doc["collect_errors"][0]["message"].startswith("SyntaxError"), doc
    assert doc["targets"] == [] and doc["error"] is None


@needs_xdist
def test_xdist_two_workers(project):
    project.set_targets(standard_targets(project))
    write(project.root / "tests" / "test_bad.py", "import does_not_exist_mod\n")
    proc = project.run("-n", "2", "tests")
    assert proc.returncode == 1, proc.stdout
    docs = project.files()
    assert len(docs) == 3, (proc.stdout, docs)
    for d in docs:
        check_common(d, proc)
        assert d["error"] is None, d
    roles = sorted(d["role"] for d in docs)
    assert roles == ["controller", "worker", "worker"], proc.stdout
    ctrl = [d for d in docs if d["role"] == "controller"][0]
    workers = [d for d in docs if d["role"] == "worker"]
    assert ctrl["worker_id"] is None
    assert sorted(w["worker_id"] for w in workers) == ["gw0", "gw1"]
    assert len({d["pid"] for d in docs}) == 3
    # controller: all tests, no targets
    assert ctrl["targets"] == []
    assert outcomes(ctrl) == EXPECTED_OUTCOMES
    assert ctrl["collected"] == len(EXPECTED_OUTCOMES)
    assert [e["nodeid"] for e in ctrl["collect_errors"]] == ["tests/test_bad.py"]
    assert "does_not_exist_mod" in ctrl["collect_errors"][0]["message"]
    msgs = {t["nodeid"].split("::")[1]: t["message"] for t in ctrl["tests"]}
    assert msgs["test_fail"] == "AssertionError: price is wrong"
    assert msgs["test_setup_error"] == "RuntimeError: fixture boom"
    # workers: no tests, their own stats; the sums match the calls made
    for w in workers:
        assert w["tests"] == []
        assert w["collected"] == len(EXPECTED_OUTCOMES)
    check_standard_targets(workers, project)


@needs_xdist
def test_xdist_n0_and_collect_only_are_single(project):
    project.set_targets([project.target("price")])
    proc = project.run("-n", "0", "tests")
    doc = project.only(proc)
    assert doc["role"] == "single"
    assert outcomes(doc) == EXPECTED_OUTCOMES
    for p in project.out.iterdir():
        p.unlink()
    proc = project.run("-n", "2", "--collect-only", "-q", "tests")
    doc = project.only(proc)
    assert doc["role"] == "single"
    assert doc["collected"] == len(EXPECTED_OUTCOMES)
    assert doc["tests"] == []
    assert doc["exitstatus"] == 0


def test_pytest_script_and_wrapper(project):
    project.set_targets([project.target("price")])
    script = Path(sys.executable).parent / ("pytest.exe" if os.name == "nt" else "pytest")
    if not script.exists():
        pytest.skip("no pytest script next to the interpreter")
    proc = project.run("tests/test_a.py::test_price", cmd=[str(script)])
    doc = project.only(proc)
    assert doc["role"] == "single" and doc["collected"] == 6
    assert by_id(doc)["shop.pricing:price"]["hits"] == 4
    for p in project.out.iterdir():
        p.unlink()
    if os.name == "nt":
        return
    wrapper = write(
        project.root / "run_tests.sh",
        '#!/bin/sh\ncd "$(dirname "$0")" && exec "%s" -m pytest -k "price" "$@" tests\n'
        % sys.executable,
    )
    wrapper.chmod(0o755)
    proc = project.run(cmd=[str(wrapper)])
    doc = project.only(proc)
    assert doc["collected"] == 6  # deselected items are not counted
    assert set(outcomes(doc).values()) == {"passed"}


def test_other_file_copy_first_on_sys_path(project):
    # a second copy of the package placed first on sys.path shadows src/shop
    other = project.root / "other"
    shutil.copytree(str(project.root / "src" / "shop"), str(other / "shop"))
    write(
        project.root / "tests" / "conftest.py",
        """\
        import os, sys
        here = os.path.dirname(os.path.abspath(__file__))
        sys.path.insert(0, os.path.join(here, "..", "src"))
        sys.path.insert(0, os.path.join(here, "..", "other"))
        """,
    )
    project.set_targets([project.target("price")])
    proc = project.run("tests")
    doc = project.only(proc)
    t = by_id(doc)["shop.pricing:price"]
    assert t["state"] == "other-file", t
    assert t["modules"] == ["shop.pricing"]
    assert t["loaded_files"] == [
        os.path.normcase(os.path.realpath(str(other / "shop" / "pricing.py")))
    ]
    assert t["hits"] is None


def test_other_file_by_basename(project):
    # target module name never loaded, but "pricing" was loaded from another dir
    flat = write(project.root / "flat" / "pricing.py", PRICING)
    write(
        project.root / "tests" / "test_flat.py",
        """\
        import os, sys
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "flat"))
        import pricing

        def test_flat():
            assert pricing.price(3) == 6
        """,
    )
    project.set_targets([project.target("price", module="pkg.pricing",
                                        path=project.root / "nowhere" / "pricing.py")])
    proc = project.run("tests/test_flat.py")
    doc = project.only(proc)
    t = by_id(doc)["pkg.pricing:price"]
    assert t["state"] == "other-file", t
    assert t["modules"] == ["pricing"]
    assert t["loaded_files"] == [os.path.normcase(os.path.realpath(str(flat)))]


def test_one_file_under_two_names_sums(project):
    # src/shop on sys.path too: the same file is imported as "pricing" and "shop.pricing"
    write(
        project.root / "tests" / "test_two.py",
        """\
        import os, sys
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "shop"))
        import pricing
        import shop.pricing

        def test_two():
            assert pricing is not shop.pricing
            pricing.price(1); pricing.price(1)
            shop.pricing.price(1)
        """,
    )
    project.set_targets([project.target("price")])
    proc = project.run("tests/test_two.py")
    doc = project.only(proc)
    t = by_id(doc)["shop.pricing:price"]
    assert t["state"] == "stats", t
    assert t["modules"] == ["pricing", "shop.pricing"]
    assert (t["hits"], t["misses"], t["currsize"], t["maxsize"]) == (1, 2, 2, 32)


def test_does_not_import_or_trigger_module_getattr(project):
    marker = project.root / "getattr_called"
    write(
        project.root / "src" / "lazy.py",
        """\
        def __getattr__(name):
            with open(%r, "a") as fh:
                fh.write(name + "\\n")
            raise AttributeError(name)
        """ % str(marker),
    )
    write(
        project.root / "tests" / "test_lazy.py",
        """\
        import lazy

        def test_lazy():
            pass
        """,
    )
    unloaded = write(project.root / "src" / "never_imported.py", "import functools\n")
    project.set_targets([
        project.target("thing", module="lazy", path=project.root / "src" / "lazy.py"),
        project.target("f", module="never_imported", path=unloaded),
    ])
    proc = project.run("tests/test_lazy.py")
    doc = project.only(proc)
    t = by_id(doc)
    assert t["lazy:thing"]["state"] == "missing"
    assert t["never_imported:f"]["state"] == "not-loaded"
    # pytest itself may probe the module (e.g. "__test__") while collecting;
    # the probe must never ask for the target's attribute
    called = marker.read_text().split() if marker.exists() else []
    assert "thing" not in called, called


def test_inert_without_out_env(project):
    project.set_targets([project.target("price")])
    proc = project.run("tests", env=project.env(CACHESCAN_PROBE_OUT=None))
    assert proc.returncode == 1, proc.stdout
    assert list(project.out.iterdir()) == []


def test_no_targets_env_and_bad_targets_file(project):
    proc = project.run("tests", env=project.env(CACHESCAN_PROBE_TARGETS=None))
    doc = project.only(proc)
    assert doc["targets"] == [] and doc["error"] is None
    assert outcomes(doc) == EXPECTED_OUTCOMES
    for p in project.out.iterdir():
        p.unlink()
    project.targets_file.write_text("{not json", encoding="utf-8")
    proc = project.run("tests")
    doc = project.only(proc)
    assert doc["targets"] == []
    assert "CACHESCAN_PROBE_TARGETS" in doc["error"]
    assert outcomes(doc) == EXPECTED_OUTCOMES  # the run itself is unaffected
    assert proc.returncode == 1


def test_empty_targets_list(project):
    project.set_targets([])
    proc = project.run("tests/test_a.py::test_skip")
    doc = project.only(proc)
    assert doc["targets"] == [] and doc["error"] is None
    assert outcomes(doc) == {"tests/test_a.py::test_skip": "skipped"}


def test_nested_pytest_runs_are_ignored(project):
    # a test that runs pytest again, in process and as a subprocess
    write(
        project.root / "inner" / "test_inner.py",
        """\
        def test_inner():
            assert False
        """,
    )
    write(
        project.root / "tests" / "test_nested.py",
        """\
        import os, subprocess, sys
        import pytest

        INNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "inner")

        def test_in_process():
            assert pytest.main(["-q", "-p", "cachescan_probe", INNER]) == 1

        def test_subprocess():
            r = subprocess.run([sys.executable, "-m", "pytest", "-q", INNER],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            assert r.returncode == 1
        """,
    )
    project.set_targets([])
    proc = project.run("tests/test_nested.py")
    assert proc.returncode == 0, proc.stdout
    doc = project.only(proc)
    assert outcomes(doc) == {
        "tests/test_nested.py::test_in_process": "passed",
        "tests/test_nested.py::test_subprocess": "passed",
    }


def test_conftest_import_error_still_writes(project):
    write(project.root / "tests" / "conftest.py", "import does_not_exist_either\n")
    project.set_targets([project.target("price")])
    proc = project.run("tests")
    assert proc.returncode != 0
    doc = project.only(proc)
    check_common(doc, proc)
    assert doc["error"]
    assert by_id(doc)["shop.pricing:price"]["state"] == "not-loaded"


def test_help_writes_via_unconfigure(project):
    project.set_targets([])
    proc = project.run("--help")
    assert proc.returncode == 0
    doc = project.only(proc)
    assert "sessionfinish" in doc["error"]
    assert doc["exitstatus"] is None


def test_nothing_on_stdout(project):
    project.set_targets([project.target("price")])
    with_probe = project.run("-q", "-p", "no:randomly", "tests/test_a.py::test_price")
    plain = project.run(
        "-q", "-p", "no:randomly", "tests/test_a.py::test_price",
        env=project.env(CACHESCAN_PROBE_OUT=None, PYTEST_ADDOPTS=None),
    )
    strip = lambda s: [l for l in s.splitlines() if " in " not in l]  # drop timing line
    assert strip(with_probe.stdout) == strip(plain.stdout)


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


# ---- select: CACHESCAN_PROBE_SELECT ----------------------------------------- #


def write_selection(project, nodeids, version=1):
    path = project.root / "_select.json"
    path.write_text(json.dumps({"version": version, "nodeids": nodeids}), encoding="utf-8")
    return str(path)


SELECTED = ["tests/test_a.py::test_price[3]", "tests/test_a.py::test_skip"]


def test_select_single_process(project):
    project.set_targets([project.target("price")])
    select = write_selection(project, SELECTED + ["tests/test_a.py::test_gone"])
    proc = project.run("-rA", "tests", env=project.env(CACHESCAN_PROBE_SELECT=select))
    assert proc.returncode == 0, proc.stdout
    assert "10 deselected" in proc.stdout
    doc = project.only(proc)
    check_common(doc, proc)
    assert doc["error"] is None
    assert outcomes(doc) == {n: EXPECTED_OUTCOMES[n] for n in SELECTED}
    assert doc["deselected"] == 10 and doc["collected"] == 2
    t = by_id(doc)["shop.pricing:price"]
    assert (t["hits"], t["misses"]) == (0, 1)


@needs_xdist
def test_select_xdist(project):
    project.set_targets([project.target("price")])
    select = write_selection(project, SELECTED)
    proc = project.run("-n", "2", "tests",
                       env=project.env(CACHESCAN_PROBE_SELECT=select, CACHESCAN_PROBE_OBSERVE="1"))
    assert proc.returncode == 0, proc.stdout
    docs = project.files()
    assert len(docs) == 3
    for d in docs:
        check_common(d, proc)
        assert d["error"] is None
    ctrl = [d for d in docs if d["role"] == "controller"][0]
    workers = [d for d in docs if d["role"] == "worker"]
    assert outcomes(ctrl) == {n: EXPECTED_OUTCOMES[n] for n in SELECTED}
    assert ctrl["deselected"] is None
    assert [w["deselected"] for w in workers] == [10, 10]
    ran = set()
    for w in workers:
        ran.update(n for n in w["test_calls"] if n != "<session>")
    assert ran == set(SELECTED)


def test_select_bad_file_runs_everything(project):
    project.set_targets([])
    select = write_selection(project, SELECTED, version=2)
    proc = project.run("tests", env=project.env(CACHESCAN_PROBE_SELECT=select))
    doc = project.only(proc)
    assert outcomes(doc) == EXPECTED_OUTCOMES and doc["deselected"] == 0
    assert "CACHESCAN_PROBE_SELECT" in doc["error"]
    for p in project.out.iterdir():
        p.unlink()
    proc = project.run("tests", env=project.env(CACHESCAN_PROBE_SELECT=str(project.root / "nope")))
    doc = project.only(proc)
    assert outcomes(doc) == EXPECTED_OUTCOMES
    assert "CACHESCAN_PROBE_SELECT" in doc["error"]


# ---- unit tests of helpers (imported directly) ----------------------------- #


@pytest.fixture
def probe_mod(monkeypatch):
    """The plugin package, imported into this process."""
    monkeypatch.syspath_prepend(str(PLUGIN_ROOT))
    import cachescan_probe

    return cachescan_probe


def test_report_message_helpers(probe_mod):
    class Crash(object):
        message = "\n\n  AssertionError: x  \nmore"

    class Longrepr(object):
        reprcrash = Crash()

    class Rep(object):
        longrepr = Longrepr()

    assert probe_mod._outcomes.report_message(Rep()) == "AssertionError: x"
    Rep.longrepr = ("f.py", 3, "Skipped: because")
    assert probe_mod._outcomes.report_message(Rep()) == "Skipped: because"
    Rep.longrepr = "x" * 1000
    assert probe_mod._outcomes.report_message(Rep()) == "x" * 300
    Rep.longrepr = (
        "ImportError while importing test module '/t.py'.\nTraceback:\n"
        "E   ModuleNotFoundError: No module named 'q'\n"
    )
    assert probe_mod._outcomes.report_message(Rep()) == "ModuleNotFoundError: No module named 'q'"
    Rep.longrepr = None
    assert probe_mod._outcomes.report_message(Rep()) is None


def test_resolve_sees_staticmethod_and_classmethod(probe_mod):
    import functools
    import types

    m = types.ModuleType("m")

    class C(object):
        @staticmethod
        @functools.lru_cache(maxsize=3)
        def s(x):
            return x

        @classmethod
        @functools.lru_cache(maxsize=4)
        def c(cls, x):
            return x

        @property
        @functools.lru_cache(maxsize=5)
        def p(self):
            return 1

    class D(C):
        pass

    m.C = C
    m.D = D
    for q, size in (("C.s", 3), ("C.c", 4), ("C.p", 5), ("D.s", 3)):
        obj = probe_mod._targets.resolve(m, q)
        w = probe_mod._targets.find_cache_wrapper(obj)
        assert w is not None and probe_mod._targets.read_cache_info(w)[2] == size
    assert probe_mod._targets.resolve(m, "C.nope") is probe_mod._targets.MISSING
    assert probe_mod._targets.resolve(m, "f.<locals>.g") is probe_mod._targets.MISSING

    def outer(x):
        return x

    inner = functools.lru_cache(maxsize=2)(outer)

    @functools.wraps(inner)
    def deco(*a):
        return inner(*a)

    assert probe_mod._targets.find_cache_wrapper(deco) is inner
    assert probe_mod._targets.find_cache_wrapper(outer) is None


# ---- part: CACHESCAN_PROBE_PART -------------------------------------------- #


def add_small_files(project):
    """tests/test_b.py (3 tests) and tests/test_c.py (2 tests), beside test_a.py (12)."""
    write(project.root / "tests" / "test_b.py",
          "".join("def test_b%d():\n    pass\n\n" % n for n in range(3)))
    write(project.root / "tests" / "test_c.py",
          "".join("def test_c%d():\n    pass\n\n" % n for n in range(2)))
    expected = dict(EXPECTED_OUTCOMES)
    expected.update({"tests/test_b.py::test_b%d" % n: "passed" for n in range(3)})
    expected.update({"tests/test_c.py::test_c%d" % n: "passed" for n in range(2)})
    return expected


def run_part(project, part, *args):
    for p in project.out.iterdir():
        p.unlink()
    proc = project.run(*args, "tests", env=project.env(CACHESCAN_PROBE_PART=part,
                                                       CACHESCAN_PROBE_OBSERVE="1"))
    return proc, project.files()


def test_parts_split_by_file_largest_first(project):
    project.set_targets([project.target("price")])
    expected = add_small_files(project)
    proc, docs = run_part(project, "1/2")
    (first,) = docs
    check_common(first, proc)
    assert first["error"] is None
    # test_a.py (12 items) alone in part 1; test_b.py and test_c.py (3 + 2) in part 2.
    assert outcomes(first) == EXPECTED_OUTCOMES
    assert first["parted_out"] == 5 and first["deselected"] == 0
    assert "5 deselected" in proc.stdout
    proc, docs = run_part(project, "2/2")
    (second,) = docs
    check_common(second, proc)
    assert outcomes(second) == {
        n: o for n, o in expected.items() if not n.startswith("tests/test_a.py")
    }
    assert second["parted_out"] == 12
    # "collected" counts the items kept: together the parts hold the whole suite.
    assert first["collected"] + second["collected"] == len(expected)
    assert set(second["test_calls"]) - {"<session>"} <= set(outcomes(second))


def test_more_parts_than_files_leaves_parts_empty(project):
    project.set_targets([])
    proc, docs = run_part(project, "2/3")
    (doc,) = docs
    assert doc["tests"] == [] and doc["parted_out"] == 12 and doc["error"] is None


@needs_xdist
def test_parts_with_xdist_workers(project):
    project.set_targets([project.target("price")])
    add_small_files(project)
    proc, docs = run_part(project, "2/2", "-n", "2")
    ctrl = [d for d in docs if d["role"] == "controller"][0]
    workers = [d for d in docs if d["role"] == "worker"]
    assert ctrl["parted_out"] is None
    assert [w["parted_out"] for w in workers] == [12, 12]
    assert {n.split("::")[0] for n in outcomes(ctrl)} == {"tests/test_b.py", "tests/test_c.py"}


def test_bad_part_keeps_everything(project):
    project.set_targets([])
    for value in ("3/2", "0/2", "x", "1/"):
        proc, docs = run_part(project, value)
        (doc,) = docs
        assert outcomes(doc) == EXPECTED_OUTCOMES and doc["parted_out"] == 0
        assert "CACHESCAN_PROBE_PART" in doc["error"]


# ---- the guard: nothing raises into pytest --------------------------------- #


def test_guard_records_errors_in_the_probe_format(probe_mod):
    import inspect

    # The method and five functions: six frames, as many as the traceback keeps.
    def one():
        two()

    def two():
        three()

    def three():
        four()

    def four():
        five()

    def five():
        raise ValueError("boom")

    class Plugin(object):
        errors = []

        @probe_mod._guard.guarded("somewhere")
        def pytest_runtest_logstart(self, nodeid, location):
            one()
            return "not reached"

    plugin = Plugin()
    # pluggy finds the hook's argument names through __wrapped__
    assert list(inspect.signature(Plugin.pytest_runtest_logstart).parameters) == [
        "self", "nodeid", "location",
    ]
    for _ in range(7):
        assert plugin.pytest_runtest_logstart("t::x", None) is None
    first, sixth = plugin.errors[0], plugin.errors[5]
    head, tail = first.split(" | ", 1)
    assert head == "somewhere: ValueError: boom"
    # the traceback starts at the method, not at the guard: the raising line is kept
    assert tail.endswith('raise ValueError("boom") / ValueError: boom'), tail
    assert "in guard" not in tail and "return method(" not in tail
    # only the first five errors carry the traceback's tail
    assert all(" | " in e for e in plugin.errors[:5])
    assert sixth == "somewhere: ValueError: boom"


def test_guarded_and_hand_caught_hooks_record_their_name(probe_mod):
    class Config(object):
        pass

    class Report(object):
        outcome = "passed"

        @property
        def nodeid(self):
            raise RuntimeError("no node id")

    probe = probe_mod._session.Probe(Config())
    assert probe.pytest_collection_finish(object()) is None  # guarded: no .items
    assert probe.outcomes.pytest_runtest_logreport(Report()) is None  # caught by hand
    assert [e.split(" | ")[0] for e in probe.errors] == [
        "pytest_collection_finish: AttributeError: 'object' object has no attribute 'items'",
        "pytest_runtest_logreport: RuntimeError: no node id",
    ]
