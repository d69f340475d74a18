"""Finding each target in the test process and reading its cache statistics."""

import os
import shutil

from conftest import EXPECTED_OUTCOMES, PRICING, by_id, outcomes, write


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
