"""cachescan probe: a pytest plugin that reports lru_cache statistics.

Loaded by cachescan with ``PYTHONPATH=<dir>`` and ``PYTEST_ADDOPTS="-p cachescan_probe"``.
It is inert unless ``CACHESCAN_PROBE_OUT`` is set.  Every pytest process of the
run (single process, xdist controller, each xdist worker) writes exactly one
``probe-<pid>.json`` into that directory when its session ends.

Rules this package keeps:
  * standard library only, Python 3.8+;
  * never raises into pytest: every hook catches its errors (``_guard.py``),
    internal errors end up in the ``"error"`` field of the output file;
  * never imports project modules, never prints to stdout, never calls a
    function the tests do not call.

The names and values of the protocol are in ``_protocol.py``, and in
``tests/probe_protocol/protocol.json`` of the repository, which the tests of
both sides read.

Output (``"format": "cachescan-probe"``, ``"version": 2``): one JSON object
with ``pid``, ``role`` (``single`` | ``controller`` | ``worker``),
``worker_id``, ``python``, ``exitstatus``, ``collected``, ``error``,
``collect_errors``, ``tests`` (the controller or single process only) and
``targets`` (not the controller), plus these additive keys:

  * ``observe``: true when this process observed target calls (see below);
  * ``test_calls``: ``{nodeid: {target id: [calls, time_ns]}}`` for
    every test run in this process, plus the pseudo test ``"<session>"``;
    ``{}`` when not observing.  In xdist the tests run in the workers, so the
    union of the workers' ``test_calls`` is the canonical per-test call map;
  * ``deselected``: items deselected by ``CACHESCAN_PROBE_SELECT`` (0 without
    it); null in an xdist controller, which does not collect;
  * ``parted_out``: items left to other parts by ``CACHESCAN_PROBE_PART``
    (0 without it); null in an xdist controller;
  * every ``targets`` entry has ``observer`` (``code-swap`` | ``monitoring`` |
    ``unavailable`` | ``off``), ``observer_note`` (why unavailable, or null),
    ``observed_calls`` and ``observed_time_ns`` (totals, null unless observed);
  * every ``targets`` entry has ``verify``: null, or when observing with
    ``CACHESCAN_PROBE_VERIFY`` the sampling ``rate``, the would-be cache
    ``hits`` of the function cached alone, and how many were ``verified``,
    ``unverified``, ``divergent`` or ``skipped``, and the first ``divergence``
    (``test``, ``kind``, ``args``, ``cached``, ``fresh``) or null; see
    ``_verify.py``.

Version 2 dropped the copy of each test's calls from its ``tests`` entry
(``test_calls`` has them) and writes each cell as ``[calls, time_ns]``
instead of an object: on a suite of quick tests, writing the call map was a
large part of what the probe costs.

Observing target calls (``CACHESCAN_PROBE_OBSERVE=1``)
-------------------------------------------------------
For each target the probe finds the underlying plain Python function: the
module attribute or class ``__dict__`` entry, staticmethod/classmethod/property
unwrapped, then ``__wrapped__`` followed to the innermost function, so with an
``lru_cache`` in place only cache misses reach it.  It then swaps the code of
that very function object for a trampoline that counts and times each call
("code swap", see ``_swap.py``), so every reference to it (``from mod import
f``, the cache wrapper, a class attribute) is observed, while
``inspect.signature`` and ``inspect.getsource`` still describe the real
function.  A function with free variables (a closure, a method using
zero-argument ``super()``) is observed too; one whose free variable has a name
the trampoline uses itself (``args``, ``kwargs``) is ``unavailable``.
Generator and coroutine functions would change kind: ``unavailable``, and
untouched.  The same mechanism runs on every Python version; the value
``monitoring`` (``sys.monitoring``, 3.12+) is reserved.

Observers are installed when collection finishes (modules already imported)
and again before each test for modules imported since (never importing
anything).  Calls made before that (at import, during collection) are not
seen, nor are functions created anew later (``importlib.reload``).  The
current test is set from ``pytest_runtest_logstart`` to
``pytest_runtest_logfinish``; calls
outside any test, and calls while a fixture wider than function scope is set
up, go to ``"<session>"``.  (Teardown of such fixtures runs inside the last
test that used them and is counted there.)  Every swapped code object is put
back before the output is written.  Overlapping calls from several threads are
timed approximately.  With observation off, none of this is installed.

Selecting tests (``CACHESCAN_PROBE_SELECT``)
--------------------------------------------
A JSON file ``{"version": 1, "nodeids": [...]}``: every collected item whose
node id is not listed (exactly, parameters included) is deselected in
``pytest_collection_modifyitems``, in every process that collects.  An
unreadable file is reported in ``error`` and selects nothing away.

Running one part of the suite (``CACHESCAN_PROBE_PART=K/N``)
-----------------------------------------------------------
Several pytest processes (in copies of the project) can share one suite:
with ``K/N`` (1 <= K <= N) a process keeps only the test files of part K,
after any selection.  Files, not tests, are split, so module- and
class-scoped fixtures and the order of the tests inside a file stay as they
are.  The split depends only on what was collected, so every process of the
N computes the same one: the files (the node id up to its first ``::``) are
taken largest first (by number of items, ties in collection order) and each
goes to the part with the fewest items so far (ties: the lower K).  Items of
other parts are deselected and counted in the additive key ``parted_out``
(0 without a part; null in an xdist controller).  A malformed value is
reported in ``error`` and keeps every item.

The package
-----------
cachescan embeds every file of it and writes them into its private directory.

  * ``__init__.py``: this description and the module-level hooks pytest sees;
  * ``_protocol.py``: format, version, environment variables, enumerations, keys;
  * ``_guard.py``: the guard that keeps errors out of pytest, into ``error``;
  * ``_process.py``: one probe per process, nested pytest runs ignored;
  * ``_session.py``: the probe of one run, which assembles the file;
  * ``_outcomes.py``: test outcomes and collection errors;
  * ``_targets.py``: finding the targets and reading ``cache_info()``;
  * ``_observe.py`` and ``_swap.py``: observing calls per test (the code swap);
  * ``_select.py``: ``CACHESCAN_PROBE_SELECT`` and ``CACHESCAN_PROBE_PART``;
  * ``_verify.py`` and ``_compare.py``: checking every would-be cache hit of an
    observed run against the call itself (``CACHESCAN_PROBE_VERIFY``), and
    comparing the two values;
  * ``_output.py``: the file's skeleton, written atomically.
"""

import atexit
import os

from . import _process
from ._observe import observe_enabled
from ._output import base_payload, write_payload
from ._protocol import ENV_OWNER, ROLE_SINGLE
from ._session import Probe
from ._targets import probe_targets


# These are the only hooks pytest sees on the module itself; the rest are methods
# of the plugin objects registered here (see _session.Probe.register).
def pytest_configure(config):
    try:
        if not _process.out_dir():
            return
        if _process.active is not None:
            return  # nested pytest.main() inside the tests: ignore it
        workerinput = getattr(config, "workerinput", None)
        if _process.is_nested(workerinput):
            _process.inert = True
            return
        probe = Probe(config)
        if workerinput is None:
            os.environ[ENV_OWNER] = _process.owner_token()
        probe.register()
        _process.active = probe
        if observe_enabled():
            probe.start_observing()
    except Exception as e:
        # last resort: still leave a file behind
        try:
            payload = base_payload(ROLE_SINGLE, None)
            payload["error"] = "pytest_configure: %s: %s" % (type(e).__name__, e)
            write_payload(payload)
        except Exception:
            pass


def _atexit():
    """If pytest never got to configure (e.g. a conftest import error or a
    usage error) still leave a file saying so."""
    try:  # what fails here has nowhere left to be recorded
        if _process.written or _process.inert or not _process.out_dir():
            return
        active = _process.active
        if active is not None:
            if not active.written:
                active.errors.append("process exited without pytest_unconfigure")
                active.finish(exitstatus=None, session=None)
            return
        if _process.is_nested(None):
            return
        errors = ["pytest exited before the probe was configured "
                  "(usage error or conftest import error?)"]
        payload = base_payload(ROLE_SINGLE, None)
        payload["targets"] = probe_targets(errors, os.getcwd())
        payload["error"] = "; ".join(errors)
        write_payload(payload)
    except Exception:
        pass


try:
    if _process.out_dir():
        atexit.register(_atexit)
except Exception:
    pass
