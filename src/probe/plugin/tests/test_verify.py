"""Verified hits (_verify, _compare): the structural comparison on its own, then real
checked runs: every kind of divergence found and named, no false divergence, the
extra calls counted nowhere, caches that cannot hide each other, sampling."""

import decimal
import threading

import pytest

from conftest import Project, check_common, needs_xdist, write

# ---- the comparison --------------------------------------------------------- #


class Plain(object):
    def __init__(self, value):
        self.value = value


class Slotted(object):
    __slots__ = ("a", "b")

    def __init__(self, a, b):
        self.a = a
        self.b = b


class Raising(object):
    def __eq__(self, other):
        raise ValueError("cannot compare")


def nested(depth):
    root = node = []
    for _ in range(depth):
        child = []
        node.append(child)
        node = child
    return root


@pytest.mark.parametrize(
    "cached, fresh",
    [
        (float("nan"), float("nan")),
        ([1, float("nan")], [1, float("nan")]),
        ({"a": [1, 2]}, {"a": [1, 2]}),
        (Plain([1]), Plain([1])),
        (Slotted(1, [2]), Slotted(1, [2])),
        (decimal.Decimal("1.0"), decimal.Decimal("1.00")),  # == says so
        (complex(float("nan"), 1), complex(float("nan"), 1)),
    ],
)
def test_equal_values_are_equal(probe_mod, cached, fresh):
    assert probe_mod._compare.compare(cached, fresh) == "equal"


@pytest.mark.parametrize(
    "cached, fresh",
    [
        (True, 1),  # equal by ==, but not the same type
        ([1, 2], [1, 3]),
        ({"a": 1}, {"b": 1}),
        (Plain(1), Plain(2)),
        (Slotted(1, 2), Slotted(1, 3)),
        ("1.18.0", "1.18"),
    ],
)
def test_different_values_differ(probe_mod, cached, fresh):
    assert probe_mod._compare.compare(cached, fresh) == "differ"


@pytest.mark.parametrize(
    "cached, fresh",
    [
        (Raising(), Raising()),  # a comparison that raises
        (nested(100), nested(100)),  # deeper than the limit
        (threading.Lock(), threading.Lock()),  # no state, only identity
        (lambda: 1, lambda: 1),
    ],
)
def test_what_cannot_be_decided_is_unverified(probe_mod, cached, fresh):
    assert probe_mod._compare.compare(cached, fresh) == "unverified"


def test_a_snapshot_sees_a_change_in_place(probe_mod):
    compare, freeze = probe_mod._compare.compare, probe_mod._compare.freeze
    value = {"tags": ["a"], "obj": Plain({1})}
    snapshot = freeze(value)
    assert compare(snapshot, freeze(value)) == "equal"
    value["obj"].value.add(2)
    assert compare(snapshot, freeze(value)) == "differ"
    assert not probe_mod._compare.needs_snapshot((1, "a", frozenset([2])))
    assert probe_mod._compare.needs_snapshot((1, [2]))


# ---- checked runs ----------------------------------------------------------- #

CHECKED_MODULE = """\
import functools
import itertools

_counter = itertools.count()
LANGUAGE = ["en"]


@__cachescan_verify__
@functools.lru_cache(maxsize=None)
def tags(kind):
    return ["new", kind]


@__cachescan_verify__
@functools.lru_cache(maxsize=None)
def describe(value, unit):
    return "%s:%r %s" % (type(value).__name__, value, unit)


@__cachescan_verify__
@functools.lru_cache(maxsize=None)
def ticket(prefix):
    return "%s-%d" % (prefix, next(_counter))


@__cachescan_verify__
@functools.lru_cache(maxsize=None)
def greeting(name):
    return "%s %s" % ({"en": "hello", "fr": "bonjour"}[LANGUAGE[0]], name)


@__cachescan_verify__
@functools.lru_cache(maxsize=None)
def banner(name):
    return "*** " + greeting(name) + " ***"


class Point(object):
    def __init__(self, x):
        self.x = x


class Pair(object):
    __slots__ = ("a", "b")

    def __init__(self, a, b):
        self.a = a
        self.b = b


@__cachescan_verify__
@functools.lru_cache(maxsize=None)
def not_a_number(x):
    return float("nan")


@__cachescan_verify__
@functools.lru_cache(maxsize=None)
def point(x):
    return Point(x)


@__cachescan_verify__
@functools.lru_cache(maxsize=None)
def pair(x):
    return Pair(x, [x])


@__cachescan_verify__
@functools.lru_cache(maxsize=None)
def squares(n):
    return [i * i for i in range(n)]


@__cachescan_verify__
@functools.lru_cache(maxsize=32)
def double(x):
    return 2 * x
"""

CHECKED_TESTS = """\
from shop import checked


def test_mutated():
    first = checked.tags("sale")
    first.append("mine")
    assert checked.tags("sale")[0] == "new"


def test_key_collision():
    assert checked.describe(1, "m") == "int:1 m"
    assert checked.describe(True, "m").endswith("m")  # loosely: "int:1 m" passes


def test_fresh_differs():
    assert checked.ticket("A").startswith("A-")
    assert checked.ticket("A").startswith("A-")


def test_hidden_inner():
    assert "hello" in checked.banner("ann")
    checked.LANGUAGE[0] = "fr"
    assert "ann" in checked.banner("ann")  # the outer cache answers: still hello


def test_no_false_divergence():
    for _ in range(3):
        assert checked.not_a_number(1) != checked.not_a_number(1)
        assert checked.point(1).x == 1
        assert checked.pair(2).a == 2
        assert checked.squares(4) == [0, 1, 4, 9]
        assert checked.double(21) == 42
    for i in range(60):
        assert checked.double(i % 6) == 2 * (i % 6)
"""

CHECKED_QUALNAMES = (
    "tags",
    "describe",
    "ticket",
    "greeting",
    "banner",
    "not_a_number",
    "point",
    "pair",
    "squares",
    "double",
)


def checked_project(root, checks=True):
    """The checked module as a checked run patches it (or, without ``checks``, as an
    unchecked run does) and its tests."""
    root.mkdir(parents=True, exist_ok=True)
    project = Project(root)
    source = CHECKED_MODULE if checks else CHECKED_MODULE.replace("@__cachescan_verify__\n", "")
    module = write(root / "src" / "shop" / "checked.py", source)
    (root / "tests" / "test_a.py").unlink()
    write(root / "tests" / "test_checked.py", CHECKED_TESTS)
    project.set_targets(
        [project.target(q, module="shop.checked", path=module.resolve()) for q in CHECKED_QUALNAMES]
    )
    return project


def verify_by_target(docs):
    """{qualname: verify} summed over the files that report targets."""
    merged = {}
    for doc in docs:
        for target in doc["targets"]:
            verify = target["verify"]
            name = target["id"].split(":", 1)[1]
            if verify is None:
                merged.setdefault(name, None)
                continue
            into = merged.get(name) or dict(verify, divergence=None)
            if merged.get(name) is not None:
                for key in ("hits", "verified", "unverified", "divergent", "skipped"):
                    into[key] += verify[key]
            into["divergence"] = into["divergence"] or verify["divergence"]
            merged[name] = into
    return merged


def run_checked(project, *args, **env):
    settings = {"CACHESCAN_PROBE_VERIFY": "1", "CACHESCAN_PROBE_OBSERVE": "1"}
    settings.update(env)
    proc = project.run("-q", *args, env=project.env(**settings))
    assert proc.returncode == 0, proc.stdout  # every test passes with the caches
    docs = project.files()
    for doc in docs:
        check_common(doc, proc)
    return docs


def test_every_kind_of_divergence_is_found_and_named(tmp_path):
    verify = verify_by_target(run_checked(checked_project(tmp_path)))
    for name, kind, args in [
        ("tags", "mutated", "'sale'"),
        ("describe", "key-collision", "True, 'm'"),
        ("ticket", "fresh-differs", "'A'"),
    ]:
        found = verify[name]
        assert found["divergent"] >= 1, (name, found)
        divergence = found["divergence"]
        assert divergence["kind"] == kind, (name, divergence)
        assert divergence["args"] == args, (name, divergence)
        assert divergence["test"] == "tests/test_checked.py::test_" + (
            "mutated" if name == "tags" else "key_collision" if name == "describe" else "fresh_differs"
        )
        assert not divergence["tainted"], divergence
    assert verify["tags"]["divergence"]["cached"] == "['new', 'sale', 'mine']"
    assert verify["tags"]["divergence"]["fresh"] == "['new', 'sale']"
    assert verify["describe"]["divergence"]["cached"] == "'int:1 m'"
    assert verify["describe"]["divergence"]["fresh"] == "'bool:True m'"


def test_no_false_divergence_on_nan_objects_slots_and_fresh_lists(tmp_path):
    verify = verify_by_target(run_checked(checked_project(tmp_path)))
    for name in ("not_a_number", "point", "pair", "squares", "double"):
        found = verify[name]
        assert found["hits"] >= 2, (name, found)
        assert found["verified"] == found["hits"], (name, found)
        assert (found["divergent"], found["unverified"], found["divergence"]) == (0, 0, None)


def test_an_inner_cache_cannot_hide_behind_an_outer_one(tmp_path):
    # greeting is only ever called by banner; once banner's cache answers, greeting's
    # stale "hello" would never be seen. The fresh call of banner calls greeting
    # uncached, and that call is compared with greeting's entry.
    verify = verify_by_target(run_checked(checked_project(tmp_path)))
    assert verify["banner"]["divergence"]["kind"] == "fresh-differs", verify["banner"]
    assert verify["greeting"]["divergent"] >= 1, verify["greeting"]
    assert verify["greeting"]["divergence"]["cached"] == "'hello ann'"
    assert verify["greeting"]["divergence"]["fresh"] == "'bonjour ann'"


def test_the_extra_calls_count_in_no_statistic(tmp_path):
    plain = checked_project(tmp_path / "plain", checks=False)
    docs = run_checked(plain, CACHESCAN_PROBE_VERIFY=None)
    assert all(value is None for value in verify_by_target(docs).values())
    unchecked = {t["id"]: t for t in docs[0]["targets"]}
    checked = {t["id"]: t for t in run_checked(checked_project(tmp_path / "checked"))[0]["targets"]}
    for tid, target in unchecked.items():
        for key in ("hits", "misses", "observed_calls"):
            assert checked[tid][key] == target[key], (tid, key, checked[tid], target)


def test_a_sample_of_the_hits_is_checked_the_same_way_every_time(tmp_path):
    project = checked_project(tmp_path)
    first = verify_by_target(run_checked(project, CACHESCAN_PROBE_VERIFY="0.5:7"))
    for path in project.out.iterdir():
        path.unlink()
    second = verify_by_target(run_checked(project, CACHESCAN_PROBE_VERIFY="0.5:7"))
    assert first == second
    double = first["double"]
    assert double["rate"] == 0.5
    assert double["skipped"] > 0 and double["verified"] > 0
    assert double["skipped"] + double["verified"] == double["hits"]


@needs_xdist
def test_xdist_workers_each_check_their_hits(tmp_path):
    project = checked_project(tmp_path)
    docs = run_checked(project, "-n", "2")
    workers = [doc for doc in docs if doc["role"] == "worker"]
    assert len(workers) == 2
    verify = verify_by_target(workers)
    assert verify["tags"]["divergence"]["kind"] == "mutated"
    assert verify["double"]["verified"] == verify["double"]["hits"] > 0


def test_without_the_setting_the_patched_name_is_missing(tmp_path):
    # A checked run's files name the verifier; only a checked run provides it.
    project = checked_project(tmp_path)
    proc = project.run("-q", env=project.env(CACHESCAN_PROBE_OBSERVE="1"))
    assert proc.returncode != 0
    assert "__cachescan_verify__" in proc.stdout
