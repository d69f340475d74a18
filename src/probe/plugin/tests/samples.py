"""The sample probe files of tests/probe_protocol/: real runs of the plugin, normalised.

One tiny project (conftest's shop.pricing, a test of every outcome, a test file
that fails to import, a target in every state, and shop.checked, uncached, whose
value a test mutates) is run observing calls, checking would-be hits and tracing
keys, as cachescan runs a baseline with checks (the cached targets of shop.pricing give
the statistics a patched run reads): once in a single process (``single.json``)
and once with ``-n 1`` (``controller.json`` and ``worker.json``).  Normalising
replaces what changes from run to run: pids, the Python version, durations and
call times, the project's temporary directory (``/project``).

    python -B src/probe/plugin/tests/samples.py     # rewrite the sample files

test_protocol.py checks that a run still writes exactly these files.
"""

import json
import os
import sys
from pathlib import Path

from conftest import PRICING, Project, write

PROTOCOL_DIR = Path(__file__).resolve().parents[4] / "tests" / "probe_protocol"
SAMPLE_NAMES = ("single", "controller", "worker")

# A module as the baseline runs it: no cache; its would-be hits are checked.
CHECKED = """\
def tags(kind):
    return ["new", kind]
"""

SAMPLE_TESTS = """\
import pytest
from shop.checked import tags
from shop.pricing import price, Cart


def test_tags():
    tags("sale").append("mine")
    assert tags("sale")[0] == "new"


def test_price():
    assert price(1) == 2 and price(1) == 2
    assert Cart.total(1) == 2


def test_fail():
    assert price(2) == 5, "price is wrong"


@pytest.fixture
def broken():
    raise RuntimeError("fixture boom")


def test_error(broken):
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

# What normalising writes in place of what changes from run to run.
PYTHON = "3.11.7"
PIDS = {"single": 4101, "controller": 4201, "worker": 4202}
DURATION_S = 0.001
NS_PER_CALL = 1000
ROOT = "/project"


def sample_project(root):
    """The project, with a target in every state."""
    project = Project(root)
    (root / "tests" / "test_a.py").unlink()
    write(root / "tests" / "test_shop.py", SAMPLE_TESTS)
    write(root / "tests" / "test_broken.py", "import does_not_exist_mod\n")
    checked = write(root / "src" / "shop" / "checked.py", CHECKED)
    assert project.pricing.read_text(encoding="utf-8") == PRICING
    project.set_targets([
        project.target("price"),  # stats
        project.target("Cart.total"),  # stats
        project.target("Cart.plain"),  # not-wrapped
        project.target("Cart.nope"),  # missing
        project.target("f", module="shop.other", path=root / "src/shop/other.py"),  # not-loaded
        # other-file: its module was not loaded, shop.pricing from another file was
        project.target("price", module="pricing", path=root / "legacy/pricing.py"),
        project.target("tags", module="shop.checked", path=checked.resolve()),  # diverges
    ])
    return project


def run(project, *args):
    """The probe files of one run, as written (observing calls, as cachescan runs)."""
    for path in project.out.iterdir():
        path.unlink()
    env = project.env(
        CACHESCAN_PROBE_OBSERVE="1", CACHESCAN_PROBE_VERIFY="1", CACHESCAN_PROBE_TRACE="1"
    )
    proc = project.run(*args, "tests", env=env)
    assert proc.returncode == 1, proc.stdout  # failures by design
    return project.files()


def real_samples(root):
    """{name: probe file} of one single-process run and one ``-n 1`` run, as written."""
    project = sample_project(root)
    (single,) = run(project, "--continue-on-collection-errors")
    docs = {doc["role"]: doc for doc in run(project, "-n", "1")}
    assert sorted(docs) == ["controller", "worker"], docs
    return {"single": single, "controller": docs["controller"], "worker": docs["worker"]}


def normalise(name, doc, root):
    """The file with what changes from run to run replaced."""
    real_root = os.path.normcase(os.path.realpath(str(root)))
    doc = json.loads(json.dumps(doc))
    doc["pid"] = PIDS[name]
    doc["python"] = PYTHON
    for test in doc["tests"]:
        test["duration_s"] = DURATION_S
    for bucket in doc["test_calls"].values():
        for cell in bucket.values():
            cell[1] = cell[0] * NS_PER_CALL
    for target in doc["targets"]:
        target["loaded_files"] = [
            ROOT + path[len(real_root):] if path.startswith(real_root) else path
            for path in target["loaded_files"]
        ]
        if target["observed_time_ns"] is not None:
            target["observed_time_ns"] = target["observed_calls"] * NS_PER_CALL
        trace = target["trace"]
        if trace is not None and trace["file"] is not None:
            number = trace["file"].rsplit("-", 1)[1]
            trace["file"] = "trace-%d-%s" % (PIDS[name], number)
    return doc


def samples(root):
    """{name: normalised probe file} from real runs in the directory ``root``."""
    return {name: normalise(name, doc, root) for name, doc in real_samples(root).items()}


def text(doc):
    """A sample file's text: indented, keys in the order the probe writes them."""
    return json.dumps(doc, indent=2) + "\n"


def main():
    import tempfile

    with tempfile.TemporaryDirectory(prefix="cachescan-samples-") as tmp:
        made = samples(Path(tmp))
    for name, doc in made.items():
        path = PROTOCOL_DIR / (name + ".json")
        path.write_text(text(doc), encoding="utf-8")
        sys.stdout.write("wrote %s\n" % path)


if __name__ == "__main__":
    main()
