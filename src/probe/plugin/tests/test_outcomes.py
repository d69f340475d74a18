"""Test outcomes, their messages and collection errors, as the probe file reports them."""

from conftest import (
    EXPECTED_OUTCOMES,
    by_id,
    check_common,
    check_standard_targets,
    outcomes,
    standard_targets,
    write,
)


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


def test_nothing_on_stdout(project):
    project.set_targets([project.target("price")])
    with_probe = project.run("-q", "-p", "no:randomly", "tests/test_a.py::test_price")
    plain = project.run(
        "-q", "-p", "no:randomly", "tests/test_a.py::test_price",
        env=project.env(CACHESCAN_PROBE_OUT=None, PYTEST_ADDOPTS=None),
    )
    strip = lambda s: [l for l in s.splitlines() if " in " not in l]  # drop timing line
    assert strip(with_probe.stdout) == strip(plain.stdout)


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
