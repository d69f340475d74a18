"""Which tests a process runs: CACHESCAN_PROBE_SELECT and CACHESCAN_PROBE_PART."""

import json

from conftest import EXPECTED_OUTCOMES, by_id, check_common, needs_xdist, outcomes, write

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
