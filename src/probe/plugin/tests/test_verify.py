"""Verified hits (_verify, _compare): the structural comparison on its own, then real
observed runs with checks: every kind of divergence found and named, no false
divergence, no call added, each function checked as if it were the only one
cached, bounded caches evicting as lru_cache does, sampling, xdist workers."""

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


class Versioned(object):
    """Defines __eq__ (its snapshot is a deep copy) and counts its deep copies."""

    copies = 0

    def __init__(self, parts):
        self.parts = parts

    def __eq__(self, other):
        return isinstance(other, Versioned) and self.parts == other.parts

    __hash__ = None

    def __deepcopy__(self, memo):
        Versioned.copies += 1
        return Versioned(list(self.parts))


def _values_and_changes():
    """(value, change in place) pairs covering every kind of snapshot."""
    return [
        ([1, [2, 3]], lambda v: v[1].append(4)),
        ([1, [2, 3]], lambda v: v.pop()),
        ({"a": [1], "b": 2}, lambda v: v["a"].append(2)),
        ({"a": [1], "b": 2}, lambda v: v.update(c=3)),
        ({"a": 1}, lambda v: v.update(a=float("nan"))),
        ((1, [float("nan")]), lambda v: v[1].append(1)),
        (Plain({1}), lambda v: v.value.add(2)),
        (Plain([1]), lambda v: setattr(v, "other", 1)),
        (Slotted(1, [2]), lambda v: v.b.append(3)),
        (Slotted(1, [2]), lambda v: delattr(v, "a")),
        (Versioned([1, 2]), lambda v: v.parts.append(3)),
        ([Versioned([1])], lambda v: v[0].parts.append(2)),
        ({1, 2}, lambda v: v.add(3)),
        (bytearray(b"ab"), lambda v: v.append(99)),
        (nested(40), lambda v: v.append(1)),  # too deep to freeze: no snapshot
        ([threading.Lock()], lambda v: v.append(1)),
    ]


def test_unchanged_answers_as_a_second_snapshot_would(probe_mod):
    compare, freeze = probe_mod._compare.compare, probe_mod._compare.freeze
    unchanged = probe_mod._compare.unchanged
    for value, change in _values_and_changes():
        snapshot = freeze(value)
        assert unchanged(snapshot, value) == compare(snapshot, freeze(value)), value
        change(value)
        assert unchanged(snapshot, value) == compare(snapshot, freeze(value)), value


def test_unchanged_sees_changes_without_copying(probe_mod):
    freeze, unchanged = probe_mod._compare.freeze, probe_mod._compare.unchanged
    value = {"v": Versioned([1, 2]), "tags": ["a"]}
    snapshot = freeze(value)
    Versioned.copies = 0
    assert unchanged(snapshot, value) == "equal"
    value["v"].parts.append(3)
    assert unchanged(snapshot, value) == "differ"
    assert Versioned.copies == 0  # the copy taken once, by freeze, is all it needs


class Point(object):
    """A value object: __eq__ and __hash__ of its own, so taken not to change."""

    def __init__(self, x, extra=None):
        self.x = x
        self.extra = extra

    def __eq__(self, other):
        return isinstance(other, Point) and other.x == self.x

    def __hash__(self):
        return hash((self.x, self.extra))


def test_a_value_object_needs_no_snapshot_and_is_its_own(probe_mod):
    needs_snapshot, freeze = probe_mod._compare.needs_snapshot, probe_mod._compare.freeze
    point = Point(1)
    assert not needs_snapshot(point) and not needs_snapshot((point, "a"))
    assert freeze([point]) == (list, (point,)), "held as itself, no deep copy"
    assert probe_mod._compare.unchanged(freeze([point]), [point]) == "equal"
    # Not value objects: __eq__ without __hash__ (Versioned), identity equality (Plain),
    # or a hash that fails on what the object holds.
    assert needs_snapshot(Versioned([1])) and needs_snapshot(Plain(1))
    assert needs_snapshot(Point(1, extra=[2]))
    snapshot = freeze([Point(1, extra=[2])])
    assert snapshot[1][0][1] == "copy", "one that does not hash is copied"


# ---- observed runs with checks --------------------------------------------- #

CHECKED_MODULE = """\
import itertools
import pathlib

_counter = itertools.count()
LANGUAGE = ["en"]
CALLS = []


def tags(kind):
    return ["new", kind]


def defaults():
    return ["sale"]


def tag(name):
    tags = defaults()
    tags.append(name)
    return tags


def describe(value, unit):
    return "%s:%r %s" % (type(value).__name__, value, unit)


def ticket(prefix):
    return "%s-%d" % (prefix, next(_counter))


def greeting(name):
    return "%s %s" % ({"en": "hello", "fr": "bonjour"}[LANGUAGE[0]], name)


def banner(name):
    return "*** " + greeting(name) + " ***"


def fib(n):
    CALLS.append(n)
    return n if n < 2 else fib(n - 1) + fib(n - 2)


LIMIT = [5]


def fails(x):
    if x > LIMIT[0]:
        raise ValueError("over the limit")
    return x


class Point(object):
    def __init__(self, x):
        self.x = x


class Pair(object):
    __slots__ = ("a", "b")

    def __init__(self, a, b):
        self.a = a
        self.b = b


def not_a_number(x):
    return float("nan")


def point(x):
    return Point(x)


def pair(x):
    return Pair(x, [x])


def squares(n):
    return [i * i for i in range(n)]


def where(name):
    return pathlib.PurePosixPath("/data") / name


def double(x):
    return 2 * x


def recent(x):
    return x


class Version(object):
    def __init__(self, n):
        self.n = n

    def __eq__(self, other):
        return compare(self, other) == 0

    def __hash__(self):
        return hash(self.n)


def compare(a, b):
    return (a.n > b.n) - (a.n < b.n)


def bump(version):
    return Version(version.n + 1)
"""

CHECKED_TESTS = """\
import pytest

from shop import checked


def test_mutated():
    first = checked.tags("sale")
    first.append("mine")
    assert checked.tags("sale")[0] == "new"


def test_mutated_after_a_hit():
    assert checked.defaults() == ["sale"]
    assert checked.tag("apple") == ["sale", "apple"]  # a hit: its value is changed
    assert checked.tag("pear") == ["sale", "pear"]


def test_key_collision():
    assert checked.describe(1, "m") == "int:1 m"
    assert checked.describe(True, "m").endswith("m")  # loosely: "int:1 m" passes


def test_fresh_differs():
    assert checked.ticket("A").startswith("A-")
    assert checked.ticket("A").startswith("A-")


def test_hidden_inner():
    assert "hello" in checked.banner("ann")
    checked.LANGUAGE[0] = "fr"
    assert "ann" in checked.banner("ann")
    checked.LANGUAGE[0] = "en"


def test_recursion():
    assert checked.fib(10) == 55
    assert len(checked.CALLS) == 177  # every call made: nothing is cached


def test_raises():
    assert checked.fails(1) == 1
    checked.LIMIT[0] = 0
    with pytest.raises(ValueError):
        checked.fails(1)  # the cache would answer 1
    checked.LIMIT[0] = 5


def test_no_false_divergence():
    for _ in range(3):
        assert checked.not_a_number(1) != checked.not_a_number(1)
        assert checked.point(1).x == 1
        assert checked.pair(2).a == 2
        assert checked.squares(4) == [0, 1, 4, 9]
        assert checked.double(21) == 42
        found = checked.where("x")
        assert hash(found) and str(found) == "/data/x"  # fills the path's caches
    for i in range(60):
        assert checked.double(i % 6) == 2 * (i % 6)


def test_targets_in_eq_and_hash():
    for _ in range(2):
        assert checked.bump(checked.Version(1)) == checked.Version(2)


def test_eviction():
    for x in [1, 2, 3, 1, 3, 3]:
        assert checked.recent(x) == x
"""

CHECKED_QUALNAMES = (
    "tags",
    "defaults",
    "describe",
    "ticket",
    "greeting",
    "banner",
    "fib",
    "fails",
    "not_a_number",
    "point",
    "pair",
    "squares",
    "double",
    "compare",
    "bump",
    "where",
)


def checked_project(root):
    """The checked module, uncached as the baseline runs it, and its tests; ``recent``
    would get ``maxsize=2``, every other function an unbounded cache."""
    root.mkdir(parents=True, exist_ok=True)
    project = Project(root)
    module = write(root / "src" / "shop" / "checked.py", CHECKED_MODULE)
    (root / "tests" / "test_a.py").unlink()
    write(root / "tests" / "test_checked.py", CHECKED_TESTS)
    path = module.resolve()
    targets = [project.target(q, module="shop.checked", path=path) for q in CHECKED_QUALNAMES]
    recent = project.target("recent", module="shop.checked", path=path)
    recent["maxsize"] = 2
    project.set_targets(targets + [recent])
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
    for path in project.out.iterdir():
        path.unlink()
    proc = project.run("-q", *args, env=project.env(**settings))
    assert proc.returncode == 0, proc.stdout  # every test passes
    docs = project.files()
    for doc in docs:
        check_common(doc, proc)
    return docs


def test_every_kind_of_divergence_is_found_and_named(tmp_path):
    verify = verify_by_target(run_checked(checked_project(tmp_path)))
    for name, kind, args, test in [
        ("tags", "mutated", "'sale'", "mutated"),
        ("defaults", "mutated", "", "mutated_after_a_hit"),
        ("describe", "key-collision", "True, 'm'", "key_collision"),
        ("ticket", "fresh-differs", "'A'", "fresh_differs"),
        ("fails", "fresh-differs", "1", "raises"),
    ]:
        found = verify[name]
        assert found["divergent"] >= 1, (name, found)
        divergence = found["divergence"]
        assert divergence["kind"] == kind, (name, divergence)
        assert divergence["args"] == args, (name, divergence)
        assert divergence["test"] == "tests/test_checked.py::test_" + test
    assert verify["tags"]["divergence"]["cached"] == "['new', 'sale', 'mine']"
    assert verify["tags"]["divergence"]["fresh"] == "['new', 'sale']"
    # The value a would-be hit handed out, changed in place: the cache would answer it.
    assert verify["defaults"]["divergence"]["cached"] == "['sale', 'apple']"
    assert verify["defaults"]["divergence"]["fresh"] == "['sale']"
    assert verify["describe"]["divergence"]["cached"] == "'int:1 m'"
    assert verify["describe"]["divergence"]["fresh"] == "'bool:True m'"


def test_a_call_that_raises_where_the_cache_would_answer_diverges_and_still_raises(tmp_path):
    # test_raises expects the ValueError: the run passing shows the call still raised.
    verify = verify_by_target(run_checked(checked_project(tmp_path)))
    assert verify["fails"]["divergence"]["fresh"] == "raised ValueError: over the limit"
    assert verify["fails"]["divergence"]["cached"] == "1"


def test_no_false_divergence_on_nan_objects_slots_and_fresh_lists(tmp_path):
    verify = verify_by_target(run_checked(checked_project(tmp_path)))
    for name in ("not_a_number", "point", "pair", "squares", "double", "where"):
        found = verify[name]
        assert found["hits"] >= 2, (name, found)
        assert found["verified"] == found["hits"], (name, found)
        assert (found["divergent"], found["unverified"], found["divergence"]) == (0, 0, None)


def test_each_function_is_checked_as_the_only_one_cached(tmp_path):
    # greeting is only ever called by banner. Were banner cached too, its hit would
    # answer before greeting is called again; cached alone, greeting would answer
    # "hello ann" after the language changed, and that is what is found.
    verify = verify_by_target(run_checked(checked_project(tmp_path)))
    assert verify["banner"]["divergence"]["kind"] == "fresh-differs", verify["banner"]
    assert verify["greeting"]["divergence"]["cached"] == "'hello ann'"
    assert verify["greeting"]["divergence"]["fresh"] == "'bonjour ann'"


def test_the_hits_are_those_of_the_cache_and_no_call_is_added(tmp_path):
    # fib(10) with lru_cache: 11 misses and 8 hits; the calls inside a would-be hit
    # are not the cache's (it would have skipped them), and the suite sees every call
    # exactly once (test_recursion counts them).
    project = checked_project(tmp_path)
    docs = run_checked(project)
    verify = verify_by_target(docs)
    assert (verify["fib"]["hits"], verify["fib"]["verified"]) == (8, 8), verify["fib"]
    observed = {t["id"]: t["observed_calls"] for t in docs[0]["targets"]}
    assert observed["shop.checked:fib"] == 177
    plain = run_checked(project, CACHESCAN_PROBE_VERIFY=None)
    assert all(value is None for value in verify_by_target(plain).values())
    assert {t["id"]: t["observed_calls"] for t in plain[0]["targets"]} == observed


def test_the_checks_own_calls_of_targets_are_not_the_programs(tmp_path):
    # Comparing two bump() results, and keying on a Version, calls Version.__eq__,
    # which calls compare, a target: those calls are the checks', not the suite's.
    docs = run_checked(checked_project(tmp_path))
    verify = verify_by_target(docs)
    assert (verify["bump"]["hits"], verify["bump"]["verified"]) == (1, 1), verify["bump"]
    observed = {t["id"]: t["observed_calls"] for t in docs[0]["targets"]}
    assert observed["shop.checked:compare"] == 2, "the test's two == only"
    assert docs[0]["error"] is None


def test_a_bounded_cache_forgets_as_lru_cache_does(tmp_path):
    # maxsize=2 over 1, 2, 3, 1, 3, 3: 1 is evicted by 3, so only the last two calls
    # of 3 are hits.
    verify = verify_by_target(run_checked(checked_project(tmp_path)))
    assert verify["recent"]["hits"] == 2, verify["recent"]


def test_a_sample_of_the_hits_is_checked_the_same_way_every_time(tmp_path):
    project = checked_project(tmp_path)
    first = verify_by_target(run_checked(project, CACHESCAN_PROBE_VERIFY="0.5:7"))
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


def test_without_observing_no_hit_is_checked(tmp_path):
    project = checked_project(tmp_path)
    docs = run_checked(project, CACHESCAN_PROBE_OBSERVE=None)
    assert all(value is None for value in verify_by_target(docs).values())
