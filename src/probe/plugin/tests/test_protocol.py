"""The protocol files of tests/probe_protocol/, which the Rust side reads too:
protocol.json equals the package's _protocol, and the sample files and the files
of real runs hold exactly its keys and only its values."""

import copy
import json

import pytest

import samples

PROTOCOL_DIR = samples.PROTOCOL_DIR


def load(name):
    with open(str(PROTOCOL_DIR / name), encoding="utf-8") as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def protocol():
    return load("protocol.json")


def check_file(doc, protocol):
    """Assert that one probe file follows protocol.json: exactly its keys, at every
    level, and only its values where it enumerates them."""
    assert list(doc) == protocol["file_keys"], sorted(doc)
    assert doc["format"] == protocol["format"]
    assert doc["version"] == protocol["version"]
    role = doc["role"]
    assert role in protocol["roles"], role
    assert isinstance(doc["pid"], int) and isinstance(doc["python"], str)
    assert (doc["worker_id"] is None) == (role != "worker"), doc["worker_id"]
    assert doc["exitstatus"] is None or isinstance(doc["exitstatus"], int)
    assert isinstance(doc["collected"], int)
    assert doc["error"] is None or isinstance(doc["error"], str)
    assert isinstance(doc["observe"], bool)
    for key in ("deselected", "parted_out"):
        if role == "controller":
            assert doc[key] is None, key
        else:
            assert isinstance(doc[key], int), key
    for error in doc["collect_errors"]:
        assert list(error) == protocol["collect_error_keys"], error
    if role == "worker":
        assert doc["tests"] == []
    for test in doc["tests"]:
        assert list(test) == protocol["test_keys"], test
        assert test["outcome"] in protocol["outcomes"], test
        assert isinstance(test["duration_s"], float)
    if role == "controller":
        assert doc["targets"] == [] and doc["test_calls"] == {} and not doc["observe"]
    for target in doc["targets"]:
        assert list(target) == protocol["target_keys"], target
        assert target["state"] in protocol["states"], target
        assert target["observer"] in protocol["observers"], target
        assert (target["hits"] is None) == (target["state"] != "stats"), target
        verify = target["verify"]
        if verify is not None:
            assert list(verify) == protocol["verify_keys"], verify
            divergence = verify["divergence"]
            if divergence is not None:
                assert list(divergence) == protocol["divergence_keys"], divergence
                assert divergence["kind"] in protocol["kinds"], divergence
    if doc["observe"]:
        assert protocol["session_key"] in doc["test_calls"]
    else:
        assert doc["test_calls"] == {}
    for bucket in doc["test_calls"].values():
        for cell in bucket.values():
            assert isinstance(cell, list) and len(cell) == len(protocol["call_cell"]), cell
            assert all(isinstance(number, int) for number in cell), cell


def test_protocol_json_is_the_packages_protocol(probe_mod, protocol):
    p = probe_mod._protocol
    assert protocol == {
        "format": p.FORMAT,
        "version": p.VERSION,
        "session_key": p.SESSION_KEY,
        "env": p.ENV,
        "states": list(p.STATES),
        "observers": list(p.OBSERVERS),
        "roles": list(p.ROLES),
        "outcomes": list(p.OUTCOMES),
        "file_keys": list(p.FILE_KEYS),
        "test_keys": list(p.TEST_KEYS),
        "collect_error_keys": list(p.COLLECT_ERROR_KEYS),
        "target_keys": list(p.TARGET_KEYS),
        "verify_keys": list(p.VERIFY_KEYS),
        "divergence_keys": list(p.DIVERGENCE_KEYS),
        "trace_keys": list(p.TRACE_KEYS),
        "kinds": list(p.KINDS),
        "call_cell": list(p.CALL_CELL),
    }
    assert sorted(protocol["env"].values()) == sorted(
        getattr(p, name) for name in dir(p) if name.startswith("ENV_")
    )
    # the skeletons the package writes have exactly the protocol's keys
    for role in protocol["roles"]:
        assert list(probe_mod._output.base_payload(role, None)) == protocol["file_keys"]
    assert list(probe_mod._targets.empty_target("m:f", "missing")) == protocol["target_keys"]


@pytest.mark.parametrize("name", samples.SAMPLE_NAMES)
def test_sample_files_follow_the_protocol(name, protocol):
    doc = load(name + ".json")
    check_file(doc, protocol)
    assert doc["role"] == name


def test_the_samples_show_every_state_outcome_and_role(protocol):
    docs = [load(name + ".json") for name in samples.SAMPLE_NAMES]
    assert sorted(doc["role"] for doc in docs) == sorted(protocol["roles"])
    targets = [target for doc in docs for target in doc["targets"]]
    assert {target["state"] for target in targets} == set(protocol["states"])
    assert {target["observer"] for target in targets} == {"code-swap", "unavailable"}
    tests = [test for doc in docs for test in doc["tests"]]
    assert {test["outcome"] for test in tests} == set(protocol["outcomes"])
    assert all(doc["collect_errors"] for doc in docs)
    divergences = [
        target["verify"]["divergence"]
        for target in targets
        if target["verify"] and target["verify"]["divergence"]
    ]
    assert {divergence["kind"] for divergence in divergences} == {"mutated"}


def test_the_check_rejects_what_the_protocol_does_not_know(protocol):
    good = load("single.json")
    check_file(good, protocol)
    breakages = [
        lambda doc: doc.update(extra=1),
        lambda doc: doc.pop("parted_out"),
        lambda doc: doc.update(role="primary"),
        lambda doc: doc["tests"][0].update(outcome="rerun"),
        lambda doc: doc["tests"][0].pop("message"),
        lambda doc: doc["targets"][0].update(state="loaded"),
        lambda doc: doc["targets"][0].update(observer="trace"),
        lambda doc: doc["collect_errors"][0].update(line=1),
        lambda doc: doc["test_calls"].pop("<session>"),
        lambda doc: doc["test_calls"]["tests/test_shop.py::test_price"].update(x={"calls": 1}),
    ]
    for number, breakage in enumerate(breakages):
        doc = copy.deepcopy(good)
        breakage(doc)
        with pytest.raises(AssertionError):
            check_file(doc, protocol)
            raise RuntimeError("breakage %d passed the check" % number)


def test_a_real_run_writes_the_protocol_and_the_samples(tmp_path, protocol):
    real = samples.real_samples(tmp_path)
    for name, doc in real.items():
        check_file(doc, protocol)
        normalised = samples.normalise(name, doc, tmp_path)
        assert samples.text(normalised) == (PROTOCOL_DIR / (name + ".json")).read_text(
            encoding="utf-8"
        ), "%s.json differs from what the plugin writes (samples.py rewrites it)" % name


def test_a_run_without_observing_follows_the_protocol(tmp_path, protocol):
    project = samples.sample_project(tmp_path)
    env = project.env(CACHESCAN_PROBE_VERIFY="1")
    proc = project.run("--continue-on-collection-errors", "tests", env=env)
    (doc,) = project.files()
    check_file(doc, protocol)
    assert not doc["observe"], proc.stdout
    assert {target["observer"] for target in doc["targets"]} == {"off"}
