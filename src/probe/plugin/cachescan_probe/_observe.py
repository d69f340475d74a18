"""Observing the targets' calls, test by test (``CACHESCAN_PROBE_OBSERVE=1``).

The Observe plugin finds, for each target, the underlying plain Python function
(the module attribute or class ``__dict__`` entry, staticmethod/classmethod/
property unwrapped, then ``__wrapped__`` followed to the innermost function, so
with an ``lru_cache`` in place only cache misses reach it) and swaps its code
(see _swap).  It installs when collection finishes and again before each test
for modules imported since, never importing anything, and puts every swapped
code object back before the output is written.

It also tracks the current test: from ``pytest_runtest_logstart`` to
``pytest_runtest_logfinish`` calls go to that test's bucket, outside any test and
while a fixture wider than function scope is set up they go to ``<session>``.
Each target ends with an ``observer`` from ``_protocol.OBSERVERS`` and a note.
"""

import inspect
import os
import sys
import types

from ._guard import guarded, hookimpl, record_error
from ._protocol import (
    ENV_OBSERVE,
    OBSERVER_CODE_SWAP,
    OBSERVER_UNAVAILABLE,
    ROLE_CONTROLLER,
    SESSION_KEY,
)
from . import _process, _trace, _verify
from ._swap import CO_NOT_PLAIN, Swap, copy_function, is_trampoline, trampoline_code
from ._targets import MISSING, load_targets, module_file, norm, resolve, unwrap_descriptor


def observe_enabled():
    return os.environ.get(ENV_OBSERVE, "") == "1"


class Observe(object):
    """pytest plugin (registered only with CACHESCAN_PROBE_OBSERVE=1): installs
    the code swaps and tracks which test is running."""

    def __init__(self, probe):
        self.probe = probe
        self.enabled = True  # False in an xdist controller
        self.session_bucket = {}
        self.current = self.session_bucket
        self.current_test = None  # the node id of the test running, for divergences
        self.test_calls = {}  # nodeid -> bucket, in run order
        self.targets = None  # [tid] once loaded
        self.by_basename = {}  # normcase basename -> [(real path, tid, qualname)]
        self.entries = {}  # tid -> its targets file entry (typed, maxsize: the shadow's)
        self.checks = _verify.setting()  # (rate, seed) when would-be hits are checked
        self.tracing = _trace.tracing()  # whether each target's keys are traced
        self.status = {}  # tid -> [observer, note]
        self.swaps = {}  # id(function) -> Swap
        self.seen_modules = {}  # module name -> id(module)
        self.seen_len = -1
        self.restored = False

    @property
    def errors(self):
        """Where the guard records errors: the probe's list."""
        return self.probe.errors

    # ---- installing ------------------------------------------------------
    def _load(self):
        self.targets = []
        errors = []
        for t in load_targets(errors):
            tid = t.get("id")
            tid = tid if isinstance(tid, str) else str(tid)
            qualname = t.get("qualname") or ""
            qualname = qualname if isinstance(qualname, str) else str(qualname)
            self.targets.append(tid)
            self.entries[tid] = t
            self.status.setdefault(tid, [OBSERVER_UNAVAILABLE, "module not loaded"])
            real = norm(t.get("path"), self.probe.base)
            if real is None:
                continue
            names = {os.path.normcase(os.path.basename(real))}
            raw = t.get("path")
            if isinstance(raw, str) and raw:
                names.add(os.path.normcase(os.path.basename(raw)))
            for name in names:
                self.by_basename.setdefault(name, []).append((real, tid, qualname))
        # probe_targets reports unreadable targets files in "error"

    def install_new(self):
        """Install observers in modules imported since the last call (cheap
        when sys.modules did not grow)."""
        if self.restored or not self.enabled:
            return
        if self.targets is None:
            if self.probe.role() == ROLE_CONTROLLER:
                self.enabled = False
                return
            self._load()
        if not self.by_basename:
            return
        modules = sys.modules
        if len(modules) == self.seen_len:
            return
        self.seen_len = len(modules)
        for name, mod in list(modules.items()):
            if mod is None or self.seen_modules.get(name) == id(mod):
                continue
            self.seen_modules[name] = id(mod)
            path = module_file(mod)
            if path is None:
                continue
            candidates = self.by_basename.get(os.path.normcase(os.path.basename(path)))
            if not candidates:
                continue
            real = norm(path, self.probe.base)
            for (target_real, tid, qualname) in candidates:
                if target_real == real:
                    try:
                        self._install(mod, tid, qualname)
                    except Exception as e:  # the fallback: this target unobserved
                        note = "%s: %s" % (type(e).__name__, e)
                        self._set_status(tid, OBSERVER_UNAVAILABLE, note)

    def _set_status(self, tid, observer, note):
        cur = self.status.get(tid)
        if cur is not None and cur[0] == OBSERVER_CODE_SWAP:
            return  # observed through another module name already
        self.status[tid] = [observer, note]

    def _innermost_function(self, obj):
        seen = set()
        for _ in range(32):
            obj = unwrap_descriptor(obj)
            if obj is None or id(obj) in seen:
                return None
            if id(obj) in self.swaps:
                return obj  # its __wrapped__ is our copy: stop here
            seen.add(id(obj))
            try:
                nxt = inspect.getattr_static(obj, "__wrapped__", MISSING)
            except Exception:
                nxt = MISSING
            if nxt is MISSING or nxt is None:
                break
            obj = nxt
        return obj if isinstance(obj, types.FunctionType) else None

    def _install(self, mod, tid, qualname):
        obj = resolve(mod, qualname)
        if obj is MISSING:
            self._set_status(tid, OBSERVER_UNAVAILABLE, "not found in module")
            return
        func = self._innermost_function(obj)
        if func is None:
            self._set_status(tid, OBSERVER_UNAVAILABLE, "not a Python function")
            return
        swap = self.swaps.get(id(func))
        if swap is not None:
            if tid not in swap.recorder.tids:  # an alias of another target
                swap.recorder.tids = swap.recorder.tids + (tid,)
                _verify.add_alias(swap.recorder, tid)
                _trace.add_alias(swap.recorder, tid)
            self.status[tid] = [OBSERVER_CODE_SWAP, None]
            return
        code = func.__code__
        if is_trampoline(code):
            self._set_status(tid, OBSERVER_UNAVAILABLE, "already observed by another probe")
            return
        if code.co_flags & CO_NOT_PLAIN:
            self._set_status(tid, OBSERVER_UNAVAILABLE, "generator or coroutine function")
            return
        original = copy_function(func)
        entry = self.entries.get(tid, {})
        trace = None
        if self.tracing:
            trace = _trace.new_trace(tid, _process.out_dir())
        recorder = _verify.recorder(self, original, tid, entry, self.checks, trace)
        trampoline = trampoline_code(recorder, code)
        if trampoline is None:
            note = "closure (free variables: %s)" % ", ".join(code.co_freevars)
            self._set_status(tid, OBSERVER_UNAVAILABLE, note)
            return
        had_wrapped = "__wrapped__" in func.__dict__
        wrapped = func.__dict__.get("__wrapped__")
        swap = Swap(func, code, trampoline, original, recorder, had_wrapped, wrapped)
        func.__code__ = trampoline
        self.swaps[id(func)] = swap
        try:
            func.__wrapped__ = original
        except Exception:
            pass
        self.status[tid] = [OBSERVER_CODE_SWAP, None]

    @guarded("observe restore")
    def restore(self):
        if self.restored:
            return
        self.restored = True
        for swap in list(self.swaps.values()):
            self._restore_swap(swap)
        self.swaps.clear()

    @guarded("observe restore")
    def _restore_swap(self, swap):
        if not swap.restore():
            self.probe.errors.append(
                "observe: code of %s was replaced during the run; left as is"
                % getattr(swap.func, "__qualname__", "?")
            )

    # ---- hooks -----------------------------------------------------------
    @hookimpl(trylast=True)
    @guarded("observe install")
    def pytest_collection_finish(self, session):
        self.install_new()

    # The current test is set from logstart to logfinish, which pytest's runtest
    # protocol (and every plugin that replaces it, for the terminal's sake) calls
    # around setup, call and teardown. Plain hooks: a hookwrapper around
    # pytest_runtest_protocol costs a generator per test.
    @hookimpl(tryfirst=True)
    def pytest_runtest_logstart(self, nodeid, location):
        # Once per test: caught by hand, as the guard's extra call would cost here.
        try:
            self.install_new()
        except Exception as e:
            record_error(self.errors, "observe install", e)
        try:
            self.current = self.test_calls.setdefault(nodeid or "", {})
            self.current_test = nodeid
        except Exception:
            pass

    @hookimpl(trylast=True)
    def pytest_runtest_logfinish(self, nodeid, location):
        self.current = self.session_bucket
        self.current_test = None

    # A hookwrapper is a generator, which the guard cannot wrap: caught by hand.
    @hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_fixture_setup(self, fixturedef, request):
        previous = self.current
        try:
            if getattr(fixturedef, "scope", "function") != "function":
                self.current = self.session_bucket
        except Exception:
            pass
        try:
            yield
        finally:
            self.current = previous

    # ---- output ----------------------------------------------------------
    def test_calls_json(self):
        # The buckets as they are: their cells, [calls, time_ns], are the output format.
        out = {SESSION_KEY: self.session_bucket}
        out.update(self.test_calls)
        return out

    def target_fields(self, tid):
        observer, note = self.status.get(tid) or [OBSERVER_UNAVAILABLE, "module not loaded"]
        fields = {
            "observer": observer,
            "observer_note": note,
            "observed_calls": None,
            "observed_time_ns": None,
        }
        if observer == OBSERVER_CODE_SWAP:
            calls = time_ns = 0
            for bucket in [self.session_bucket] + list(self.test_calls.values()):
                cell = bucket.get(tid)
                if cell is not None:
                    calls += cell[0]
                    time_ns += cell[1]
            fields["observed_calls"] = calls
            fields["observed_time_ns"] = time_ns
        return fields
