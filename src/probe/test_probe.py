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

PLUGIN = Path(__file__).resolve().parent / "cachescan_probe.py"

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
        shutil.copy(str(PLUGIN), str(self.probe_dir / "cachescan_probe.py"))
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
    assert doc["version"] == 1
    assert isinstance(doc["pid"], int)
    assert doc["python"].count(".") == 2
    keys = {
        "format", "version", "pid", "role", "worker_id", "python", "exitstatus",
        "collected", "error", "collect_errors", "tests", "targets",
    }
    assert set(doc) == keys, doc
    for t in doc["tests"]:
        assert set(t) == {"nodeid", "outcome", "message", "duration_s"}
        assert isinstance(t["duration_s"], float)
        assert t["message"] is None or len(t["message"]) <= 300
    for t in doc["targets"]:
        assert set(t) == {
            "id", "state", "modules", "loaded_files", "hits", "misses", "maxsize", "currsize",
        }


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


# ---- unit tests of helpers (imported directly) ----------------------------- #


@pytest.fixture
def probe_mod(monkeypatch):
    monkeypatch.syspath_prepend(str(PLUGIN.parent))
    import cachescan_probe

    return cachescan_probe


def test_report_message_helpers(probe_mod):
    class Crash(object):
        message = "\n\n  AssertionError: x  \nmore"

    class Longrepr(object):
        reprcrash = Crash()

    class Rep(object):
        longrepr = Longrepr()

    assert probe_mod._report_message(Rep()) == "AssertionError: x"
    Rep.longrepr = ("f.py", 3, "Skipped: because")
    assert probe_mod._report_message(Rep()) == "Skipped: because"
    Rep.longrepr = "x" * 1000
    assert probe_mod._report_message(Rep()) == "x" * 300
    Rep.longrepr = (
        "ImportError while importing test module '/t.py'.\nTraceback:\n"
        "E   ModuleNotFoundError: No module named 'q'\n"
    )
    assert probe_mod._report_message(Rep()) == "ModuleNotFoundError: No module named 'q'"
    Rep.longrepr = None
    assert probe_mod._report_message(Rep()) is None


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
        obj = probe_mod._resolve(m, q)
        w = probe_mod._find_cache_wrapper(obj)
        assert w is not None and probe_mod._read_cache_info(w)[2] == size
    assert probe_mod._resolve(m, "C.nope") is probe_mod._MISSING
    assert probe_mod._resolve(m, "f.<locals>.g") is probe_mod._MISSING

    def outer(x):
        return x

    inner = functools.lru_cache(maxsize=2)(outer)

    @functools.wraps(inner)
    def deco(*a):
        return inner(*a)

    assert probe_mod._find_cache_wrapper(deco) is inner
    assert probe_mod._find_cache_wrapper(outer) is None
