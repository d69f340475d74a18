"""Shared helpers of the probe plugin's tests: real pytest runs (subprocesses) on
tiny projects made in tmp_path.

``Project`` is one such project plus what cachescan would set up beside it (the
plugin package copied into a directory on PYTHONPATH, the out directory, the
targets file); the ``project`` fixture makes one per test, so the tests are
independent and run in parallel (pytest-xdist).  The standard project is a
``shop.pricing`` module with cached functions (PRICING) and a test file with
one test of every outcome (TEST_A, EXPECTED_OUTCOMES); ``check_common`` checks
what every probe file must hold.  Test modules import these from here.

Run them from the repository root with ``python -m pytest`` (pytest.ini there);
the tests that start xdist runs need pytest-xdist and skip without it.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# The directory that goes on PYTHONPATH to load the plugin, and the package in it.
PLUGIN_ROOT = Path(__file__).resolve().parents[1]
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
        """The probe files (``probe-<pid>.json``); the traces beside them are not."""
        out = []
        for p in sorted(self.out.iterdir()):
            if p.name.startswith("trace-") and p.name.endswith(".bin"):
                continue
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
            "observer", "observer_note", "observed_calls", "observed_time_ns", "verify",
            "trace",
        }
        assert t["verify"] is None or isinstance(t["verify"], dict), t
        assert t["trace"] is None or isinstance(t["trace"], dict), t
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


@pytest.fixture
def probe_mod(monkeypatch):
    """The plugin package, imported into this process."""
    monkeypatch.syspath_prepend(str(PLUGIN_ROOT))
    import cachescan_probe

    return cachescan_probe
