"""Which pytest processes write a probe file, and with which role: a single
process, xdist controller and workers, wrappers, nested runs, early exits."""

import os
import sys
from pathlib import Path

import pytest

from conftest import (
    EXPECTED_OUTCOMES,
    by_id,
    check_common,
    check_standard_targets,
    needs_xdist,
    outcomes,
    standard_targets,
    write,
)


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


def test_inert_without_out_env(project):
    project.set_targets([project.target("price")])
    proc = project.run("tests", env=project.env(CACHESCAN_PROBE_OUT=None))
    assert proc.returncode == 1, proc.stdout
    assert list(project.out.iterdir()) == []


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
