"""cachescan probe: a pytest plugin that reports lru_cache statistics.

Loaded by cachescan with ``PYTHONPATH=<dir>`` and ``PYTEST_ADDOPTS="-p cachescan_probe"``.
It is inert unless ``CACHESCAN_PROBE_OUT`` is set.  Every pytest process of the
run (single process, xdist controller, each xdist worker) writes exactly one
``probe-<pid>.json`` into that directory when its session ends.

Rules this file keeps:
  * standard library only, Python 3.8+;
  * never raises into pytest: every hook is wrapped, internal errors end up in
    the ``"error"`` field of the output file;
  * never imports project modules, never calls the cached functions (only
    ``cache_info()``), never prints to stdout.

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
    ``observed_calls`` and ``observed_time_ns`` (totals, null unless observed).

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
that very function object ("code swap"), so every reference to it (``from mod
import f``, the cache wrapper, a class attribute) is observed:

  * ``original`` = a new function object with the old code, globals,
    defaults, closure and attributes;
  * ``f.__code__`` = a trampoline ``def f(*args, **kwargs)`` whose only
    constant of note is a small recorder object: the trampoline calls
    ``recorder.call(args, kwargs)``, which counts the call for the current
    test, calls ``original`` and times the outermost call of a recursion
    (``time.perf_counter_ns``, wall time);
  * ``f.__wrapped__ = original``, so ``inspect.signature`` and
    ``inspect.getsource`` still describe the real function.

The recorder sits in the trampoline's ``co_consts`` (a code object may hold any
constant), so nothing is added to the module's globals and no name lookup
happens per call.  The trampoline's file name is ``<cachescan-probe
trampoline>`` and it sets ``__tracebackhide__`` so pytest hides its frame.
A function with free variables (a closure, a method using zero-argument
``super()``) keeps its closure cells, so its trampoline is compiled with the
same free variables, named only in dead code; one whose free variable has a
name the trampoline uses itself (``args``, ``kwargs``) is ``unavailable``.
Generator and coroutine functions would change kind: ``unavailable``, and
untouched.
The same mechanism runs on every Python version: ``sys.monitoring`` (3.12+)
could observe without touching the function, but a second path that only newer
interpreters take would go untested; the value ``monitoring`` is reserved.

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
"""

import atexit
import functools
import inspect
import json
import os
import platform
import sys
import time
import traceback
import types

try:  # pytest is always importable inside a pytest process
    import pytest as _pytest

    _hookimpl = _pytest.hookimpl
except Exception:  # pragma: no cover - only outside pytest
    _pytest = None

    def _hookimpl(**_kw):
        return lambda f: f


ENV_OUT = "CACHESCAN_PROBE_OUT"
ENV_TARGETS = "CACHESCAN_PROBE_TARGETS"
# Set by the first probing pytest process so that pytest runs started *by the
# tests* (subprocesses inheriting the environment) do not pose as the project's
# run.  Value: "<pid>\n<realpath of out dir>".
ENV_OWNER = "CACHESCAN_PROBE_OWNER"
ENV_OBSERVE = "CACHESCAN_PROBE_OBSERVE"
ENV_SELECT = "CACHESCAN_PROBE_SELECT"
ENV_PART = "CACHESCAN_PROBE_PART"

SESSION_KEY = "<session>"

FORMAT = "cachescan-probe"
VERSION = 2
MESSAGE_MAX = 300

_MISSING = object()

# Per-process state (module globals: one probe per process).
_ACTIVE = None  # the _Probe instance bound to the outermost Config
_WRITTEN = False  # a probe file has been written by this process
_INERT = False  # this process decided not to probe (nested run)


# --------------------------------------------------------------------------- #
# the guard: nothing raises into pytest
# --------------------------------------------------------------------------- #


ERRORS_WITH_TRACEBACK = 5


def _record_error(errors, where, exc, tb=None):
    """Append ``"<where>: <Type>: <message>"`` to ``errors``; while the list holds
    no more than ERRORS_WITH_TRACEBACK entries, add the last lines of the traceback
    ``tb`` (by default the exception's own, from the frame that caught it)."""
    try:
        errors.append("%s: %s: %s" % (where, type(exc).__name__, exc))
        if tb is None:
            tb = exc.__traceback__
        text = "".join(traceback.format_exception(type(exc), exc, tb, limit=6))
        if text and len(errors) <= ERRORS_WITH_TRACEBACK:
            errors[-1] += " | " + " / ".join(
                l.strip() for l in text.strip().splitlines()[-4:]
            )
    except Exception:
        pass


def _guarded(where):
    """Decorator for a plugin method that must never raise into pytest: an exception
    is recorded in ``self.errors`` (see _record_error) and the method returns None.

    The traceback starts at the decorated method, as if it had caught the exception
    itself. Hooks get their arguments positionally (as pluggy calls them); pluggy
    reads their names through ``__wrapped__``.  The guard costs one Python call per
    invocation, so the hooks that run for every test catch by hand instead."""

    def decorate(method):
        @functools.wraps(method)
        def guard(self, *args):
            try:
                return method(self, *args)
            except Exception as exc:
                _record_error(self.errors, where, exc, exc.__traceback__.tb_next)

        return guard

    return decorate


# --------------------------------------------------------------------------- #
# small helpers
# --------------------------------------------------------------------------- #


def _norm(path, base=None):
    """realpath + normcase; relative paths are resolved against ``base``."""
    if not isinstance(path, str) or not path:
        return None
    try:
        if base and not os.path.isabs(path):
            path = os.path.join(base, path)
        return os.path.normcase(os.path.realpath(path))
    except Exception:
        return None


def _out_dir():
    out = os.environ.get(ENV_OUT)
    if not out:
        return None
    return out


def _owner_token(pid=None):
    return "%d\n%s" % (pid if pid is not None else os.getpid(), _norm(_out_dir()) or "")


def _is_nested(workerinput):
    """True when this pytest process was started by the tests of another
    probing pytest process (same out dir), and is not one of its xdist
    workers."""
    owner = os.environ.get(ENV_OWNER)
    if not owner:
        return False
    try:
        pid_s, _, out_s = owner.partition("\n")
        if out_s != (_norm(_out_dir()) or ""):
            return False  # another cachescan invocation: not ours
        owner_pid = int(pid_s)
    except Exception:
        return False
    if owner_pid == os.getpid():
        return False
    if workerinput is not None:
        try:
            if os.getppid() == owner_pid:
                return False  # xdist worker of the owner
        except Exception:
            return False
    return True


def _first_line(text):
    if text is None:
        return None
    try:
        text = str(text)
    except Exception:
        return None
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line[:MESSAGE_MAX]
    return None


_EXC_SUFFIXES = ("Error", "Exception", "Exit", "Interrupt", "Warning", "Failed")


def _looks_like_exception_line(line):
    head = line.split(":", 1)[0].strip()
    if not head or " " in head:
        return False
    return head.split(".")[-1].endswith(_EXC_SUFFIXES)


def _error_line_from_text(text):
    """For long text reprs without reprcrash (collection errors, fixture
    lookup errors): prefer the exception line among pytest's ``E   `` lines,
    else the first ``E`` line, else the first non-empty line."""
    try:
        text = str(text)
    except Exception:
        return None
    e_lines = []
    for raw in text.splitlines():
        s = raw.rstrip()
        if s.startswith("E ") and s[1:].strip():
            e_lines.append(s[1:].strip())
    for line in e_lines:
        if _looks_like_exception_line(line):
            return line[:MESSAGE_MAX]
    if e_lines:
        return e_lines[0][:MESSAGE_MAX]
    return _first_line(text)


def _report_message(report):
    """First non-empty line of reprcrash.message, else of str(longrepr)."""
    try:
        longrepr = getattr(report, "longrepr", None)
        if longrepr is None:
            return None
        if isinstance(longrepr, (tuple, list)) and len(longrepr) == 3:
            # skip: (path, lineno, "Skipped: reason")
            return _first_line(longrepr[2])
        crash = getattr(longrepr, "reprcrash", None)
        msg = getattr(crash, "message", None) if crash is not None else None
        line = _first_line(msg)
        if line:
            return line
        return _error_line_from_text(longrepr)
    except Exception:
        return None


# --------------------------------------------------------------------------- #
# targets
# --------------------------------------------------------------------------- #


def _module_dict(mod):
    try:
        d = object.__getattribute__(mod, "__dict__")
        return d if isinstance(d, dict) else None
    except Exception:
        return None


def _module_file(mod):
    """The file a module was loaded from, without triggering lazy loading or
    a module-level ``__getattr__``."""
    d = _module_dict(mod)
    if d is None:
        return None
    f = d.get("__file__")
    if isinstance(f, str) and f:
        return f
    spec = d.get("__spec__")
    try:
        if spec is not None and getattr(spec, "has_location", False):
            origin = getattr(spec, "origin", None)
            if isinstance(origin, str) and origin:
                return origin
    except Exception:
        pass
    return None


def _snapshot_modules(base, targets):
    """[(name, module, realpath)] for the modules in sys.modules with a file that
    ``_probe_target`` could match for one of ``targets``: by module name (or its
    last part), or by file name (of the target path or of its real path).
    Resolving every module's real path would cost more than the rest of the
    probe's report."""
    names = set()
    basenames = set()
    for t in targets:
        modname = t.get("module")
        if isinstance(modname, str) and modname:
            names.add(modname)
            names.add(modname.rsplit(".", 1)[-1])
        path = t.get("path")
        if isinstance(path, str) and path:
            basenames.add(os.path.normcase(os.path.basename(path)))
            real = _norm(path, base)
            if real:
                basenames.add(os.path.basename(real))
    entries = []
    cache = {}
    for name, mod in list(sys.modules.items()):
        if mod is None or not isinstance(name, str):
            continue
        f = _module_file(mod)
        if f is None:
            continue
        if (
            name not in names
            and name.rsplit(".", 1)[-1] not in names
            and os.path.normcase(os.path.basename(f)) not in basenames
        ):
            continue
        if f not in cache:
            cache[f] = _norm(f, base)
        real = cache[f]
        if real:
            entries.append((name, mod, real))
    return entries


def _unwrap_descriptor(obj):
    if isinstance(obj, (staticmethod, classmethod)):
        return obj.__func__
    if isinstance(obj, property):
        return obj.fget
    return obj


def _resolve(mod, qualname):
    """Walk ``qualname`` statically from a module. Returns _MISSING or the
    raw object (staticmethod/classmethod/property unwrapped)."""
    if not qualname or "<" in qualname:
        return _MISSING
    obj = mod
    for part in qualname.split("."):
        if not part:
            return _MISSING
        obj = _unwrap_descriptor(obj)
        nxt = _MISSING
        try:
            d = _module_dict(obj) if obj is mod else vars(obj)
            if isinstance(d, dict) or hasattr(d, "get"):
                nxt = d.get(part, _MISSING)
        except Exception:
            nxt = _MISSING
        if nxt is _MISSING and obj is not mod:
            try:  # inherited attributes, without running descriptors/__getattr__
                nxt = inspect.getattr_static(obj, part, _MISSING)
            except Exception:
                nxt = _MISSING
        if nxt is _MISSING:
            return _MISSING
        obj = nxt
    return _unwrap_descriptor(obj)


def _find_cache_wrapper(obj):
    """The object exposing cache_info(): obj itself or one of its __wrapped__."""
    seen = set()
    for _ in range(16):
        if obj is None or id(obj) in seen:
            return None
        seen.add(id(obj))
        try:
            ci = inspect.getattr_static(obj, "cache_info", _MISSING)
        except Exception:
            ci = _MISSING
        if ci is not _MISSING and ci is not None:
            return obj
        try:
            obj = _unwrap_descriptor(inspect.getattr_static(obj, "__wrapped__", None))
        except Exception:
            return None
    return None


def _read_cache_info(wrapper):
    info = wrapper.cache_info()

    def field(name, idx):
        v = getattr(info, name, _MISSING)
        if v is _MISSING:
            v = info[idx]
        return v

    hits, misses, maxsize, currsize = (
        field("hits", 0),
        field("misses", 1),
        field("maxsize", 2),
        field("currsize", 3),
    )
    return (
        int(hits),
        int(misses),
        None if maxsize is None else int(maxsize),
        int(currsize),
    )


def _load_targets(errors):
    path = os.environ.get(ENV_TARGETS)
    if not path:
        return []
    try:
        with open(path, "r", encoding="utf-8") as fh:
            data = json.load(fh)
    except Exception as e:
        errors.append("cannot read %s %r: %s: %s" % (ENV_TARGETS, path, type(e).__name__, e))
        return []
    if isinstance(data, dict):
        targets = data.get("targets") or []
    elif isinstance(data, list):
        targets = data
    else:
        targets = []
    if not isinstance(targets, list):
        errors.append("%s: 'targets' is not a list" % ENV_TARGETS)
        return []
    out = []
    for t in targets:
        if isinstance(t, dict):
            out.append(t)
        else:
            errors.append("%s: ignoring non-object target %r" % (ENV_TARGETS, t))
    return out


def _empty_target(tid, state):
    return {
        "id": tid,
        "state": state,
        "modules": [],
        "loaded_files": [],
        "hits": None,
        "misses": None,
        "maxsize": None,
        "currsize": None,
        "observer": "off",
        "observer_note": None,
        "observed_calls": None,
        "observed_time_ns": None,
    }


def _probe_target(t, entries, base):
    tid = t.get("id")
    if not isinstance(tid, str):
        tid = str(tid)
    modname = t.get("module") or ""
    modname = modname if isinstance(modname, str) else str(modname)
    qualname = t.get("qualname") or ""
    qualname = qualname if isinstance(qualname, str) else str(qualname)
    real = _norm(t.get("path"), base)

    matches = [(n, m) for (n, m, r) in entries if real is not None and r == real]
    if not matches:
        res = _empty_target(tid, "not-loaded")
        others = []  # (name, realpath)
        for (n, m, r) in entries:
            if n == modname and r != real:
                others.append((n, r))
        if not others and modname:
            last = modname.rsplit(".", 1)[-1]
            base_name = os.path.normcase(os.path.basename(real or t.get("path") or ""))
            for (n, m, r) in entries:
                if (n == last or n.endswith("." + last)) and r != real and (
                    os.path.normcase(os.path.basename(r)) == base_name
                ):
                    others.append((n, r))
        if others:
            res["state"] = "other-file"
            res["modules"] = sorted(set(n for n, _ in others))
            res["loaded_files"] = sorted(set(r for _, r in others))
        return res

    res = _empty_target(tid, "missing")
    res["modules"] = sorted(set(n for n, _ in matches))
    res["loaded_files"] = [real]
    seen_mods = set()
    seen_wrappers = set()
    any_found = False
    any_stats = False
    hits = misses = currsize = 0
    maxsize = None
    first = True
    for _, mod in matches:
        if id(mod) in seen_mods:
            continue
        seen_mods.add(id(mod))
        obj = _resolve(mod, qualname)
        if obj is _MISSING:
            continue
        any_found = True
        wrapper = _find_cache_wrapper(obj)
        if wrapper is None or id(wrapper) in seen_wrappers:
            continue
        seen_wrappers.add(id(wrapper))
        h, mi, mx, cs = _read_cache_info(wrapper)
        hits += h
        misses += mi
        currsize += cs
        if first:
            maxsize = mx
            first = False
        any_stats = True
    if any_stats:
        res.update(state="stats", hits=hits, misses=misses, maxsize=maxsize, currsize=currsize)
    elif any_found:
        res["state"] = "not-wrapped"
    return res


def _probe_targets(errors, base):
    targets = _load_targets(errors)
    if not targets:
        return []
    try:
        entries = _snapshot_modules(base, targets)
    except Exception as e:
        errors.append("sys.modules scan failed: %s: %s" % (type(e).__name__, e))
        entries = []
    out = []
    for t in targets:
        try:
            out.append(_probe_target(t, entries, base))
        except Exception as e:
            errors.append(
                "target %r: %s: %s" % (t.get("id"), type(e).__name__, e)
            )
            out.append(_empty_target(str(t.get("id")), "missing"))
    return out


# --------------------------------------------------------------------------- #
# observe: per-test calls of the targets (code swap)
# --------------------------------------------------------------------------- #


_perf_counter_ns = time.perf_counter_ns

TRAMPOLINE_FILENAME = "<cachescan-probe trampoline>"
_RECORDER_PLACEHOLDER = "__cachescan_probe_recorder__"
_TRAMPOLINE_SOURCE = (
    "def trampoline(*args, **kwargs):\n"
    "    __tracebackhide__ = True\n"
    "    return %r.call(args, kwargs)\n" % _RECORDER_PLACEHOLDER
)
# A function's code can only be swapped for one with the same free variables (its
# closure cells stay with the function). The trampoline names them in dead code, so
# they are free in it but never read.
_CLOSURE_TRAMPOLINE_SOURCE = (
    "def _outer(%(names)s):\n"
    "    def trampoline(*args, **kwargs):\n"
    "        __tracebackhide__ = True\n"
    "        if False:\n"
    "            (%(names)s,)\n"
    "        return %(recorder)r.call(args, kwargs)\n"
    "    return trampoline\n"
)
# generator, coroutine, iterable coroutine, async generator
_CO_NOT_PLAIN = 0x20 | 0x80 | 0x100 | 0x200
_TEMPLATES = {}  # free variable names -> trampoline code, compiled once each


def _observe_enabled():
    return os.environ.get(ENV_OBSERVE, "") == "1"


def _inner_code(code):
    return [c for c in code.co_consts if isinstance(c, types.CodeType)][0]


def _template(freevars):
    """The trampoline's code with these free variables, or None if it cannot have
    exactly them (a free variable named like one of the trampoline's own)."""
    if freevars not in _TEMPLATES:
        if freevars:
            source = _CLOSURE_TRAMPOLINE_SOURCE % {
                "names": ", ".join(freevars),
                "recorder": _RECORDER_PLACEHOLDER,
            }
            module = compile(source, TRAMPOLINE_FILENAME, "exec", dont_inherit=True)
            code = _inner_code(_inner_code(module))
        else:
            module = compile(_TRAMPOLINE_SOURCE, TRAMPOLINE_FILENAME, "exec", dont_inherit=True)
            code = _inner_code(module)
        _TEMPLATES[freevars] = code if code.co_freevars == freevars else None
    return _TEMPLATES[freevars]


def _trampoline_code(recorder, code):
    """A code object ``(*args, **kwargs) -> recorder.call(args, kwargs)``,
    named like ``code``, with its free variables and ``recorder`` as a
    constant; None when the free variables cannot be matched."""
    template = _template(code.co_freevars)
    if template is None:
        return None
    consts = tuple(
        recorder if (isinstance(c, str) and c == _RECORDER_PLACEHOLDER) else c
        for c in template.co_consts
    )
    changes = {"co_consts": consts, "co_name": code.co_name}
    if hasattr(code, "co_qualname"):
        changes["co_qualname"] = code.co_qualname
    return template.replace(**changes)


def _is_trampoline(code):
    return getattr(code, "co_filename", None) == TRAMPOLINE_FILENAME


def _copy_function(func):
    """A new function object running ``func``'s current code."""
    original = types.FunctionType(
        func.__code__, func.__globals__, func.__name__, func.__defaults__, func.__closure__
    )
    original.__kwdefaults__ = func.__kwdefaults__
    original.__dict__.update(func.__dict__)
    for attr in ("__qualname__", "__module__", "__doc__", "__annotations__", "__type_params__"):
        try:
            setattr(original, attr, getattr(func, attr))
        except Exception:
            pass
    return original


class _Recorder(object):
    """Sits in one swapped function's trampoline; counts and times its calls
    into the observer's current bucket (``{target id: [calls, time_ns]}``)."""

    __slots__ = ("observe", "original", "tids", "depth")

    def __init__(self, observe, original, tid):
        self.observe = observe
        self.original = original
        self.tids = (tid,)
        self.depth = 0

    def call(self, args, kwargs):
        __tracebackhide__ = True  # noqa: F841 - read by pytest
        bucket = self.observe.current
        for tid in self.tids:
            cell = bucket.get(tid)
            if cell is None:
                cell = bucket[tid] = [0, 0]
            cell[0] += 1
        if self.depth > 0:  # recursion (or an overlapping thread): count only
            self.depth += 1
            try:
                return self.original(*args, **kwargs)
            finally:
                self.depth -= 1
        self.depth = 1
        start = _perf_counter_ns()
        try:
            return self.original(*args, **kwargs)
        finally:
            elapsed = _perf_counter_ns() - start
            self.depth = 0
            for tid in self.tids:
                cell = bucket.get(tid)
                if cell is not None:
                    cell[1] += elapsed


class _Swap(object):
    """One function whose code was swapped, and how to put it back."""

    __slots__ = ("func", "code", "trampoline", "original", "recorder", "had_wrapped", "wrapped")

    def __init__(self, func, code, trampoline, original, recorder, had_wrapped, wrapped):
        self.func = func
        self.code = code
        self.trampoline = trampoline
        self.original = original
        self.recorder = recorder
        self.had_wrapped = had_wrapped
        self.wrapped = wrapped

    def restore(self):
        """Put the code back; False when someone else replaced it meanwhile."""
        func = self.func
        restored = False
        if func.__code__ is self.trampoline:
            func.__code__ = self.code
            restored = True
        if func.__dict__.get("__wrapped__", _MISSING) is self.original:
            if self.had_wrapped:
                func.__wrapped__ = self.wrapped
            else:
                del func.__wrapped__
        return restored


class _Observe(object):
    """pytest plugin (registered only with CACHESCAN_PROBE_OBSERVE=1): installs
    the code swaps and tracks which test is running."""

    def __init__(self, probe):
        self.probe = probe
        self.enabled = True  # False in an xdist controller
        self.session_bucket = {}
        self.current = self.session_bucket
        self.test_calls = {}  # nodeid -> bucket, in run order
        self.targets = None  # [(tid, qualname)] once loaded
        self.by_basename = {}  # normcase basename -> [(real path, tid, qualname)]
        self.status = {}  # tid -> [observer, note]
        self.swaps = {}  # id(function) -> _Swap
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
        for t in _load_targets(errors):
            tid = t.get("id")
            tid = tid if isinstance(tid, str) else str(tid)
            qualname = t.get("qualname") or ""
            qualname = qualname if isinstance(qualname, str) else str(qualname)
            self.targets.append(tid)
            self.status.setdefault(tid, ["unavailable", "module not loaded"])
            real = _norm(t.get("path"), self.probe.base)
            if real is None:
                continue
            names = {os.path.normcase(os.path.basename(real))}
            raw = t.get("path")
            if isinstance(raw, str) and raw:
                names.add(os.path.normcase(os.path.basename(raw)))
            for name in names:
                self.by_basename.setdefault(name, []).append((real, tid, qualname))
        # _probe_targets reports unreadable targets files in "error"

    def install_new(self):
        """Install observers in modules imported since the last call (cheap
        when sys.modules did not grow)."""
        if self.restored or not self.enabled:
            return
        if self.targets is None:
            if self.probe._role() == "controller":
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
            path = _module_file(mod)
            if path is None:
                continue
            candidates = self.by_basename.get(os.path.normcase(os.path.basename(path)))
            if not candidates:
                continue
            real = _norm(path, self.probe.base)
            for (target_real, tid, qualname) in candidates:
                if target_real == real:
                    try:
                        self._install(mod, tid, qualname)
                    except Exception as e:
                        self._set_status(tid, "unavailable", "%s: %s" % (type(e).__name__, e))

    def _set_status(self, tid, observer, note):
        cur = self.status.get(tid)
        if cur is not None and cur[0] == "code-swap":
            return  # observed through another module name already
        self.status[tid] = [observer, note]

    def _innermost_function(self, obj):
        seen = set()
        for _ in range(32):
            obj = _unwrap_descriptor(obj)
            if obj is None or id(obj) in seen:
                return None
            if id(obj) in self.swaps:
                return obj  # its __wrapped__ is our copy: stop here
            seen.add(id(obj))
            try:
                nxt = inspect.getattr_static(obj, "__wrapped__", _MISSING)
            except Exception:
                nxt = _MISSING
            if nxt is _MISSING or nxt is None:
                break
            obj = nxt
        return obj if isinstance(obj, types.FunctionType) else None

    def _install(self, mod, tid, qualname):
        obj = _resolve(mod, qualname)
        if obj is _MISSING:
            self._set_status(tid, "unavailable", "not found in module")
            return
        func = self._innermost_function(obj)
        if func is None:
            self._set_status(tid, "unavailable", "not a Python function")
            return
        swap = self.swaps.get(id(func))
        if swap is not None:
            if tid not in swap.recorder.tids:  # an alias of another target
                swap.recorder.tids = swap.recorder.tids + (tid,)
            self.status[tid] = ["code-swap", None]
            return
        code = func.__code__
        if _is_trampoline(code):
            self._set_status(tid, "unavailable", "already observed by another probe")
            return
        if code.co_flags & _CO_NOT_PLAIN:
            self._set_status(tid, "unavailable", "generator or coroutine function")
            return
        original = _copy_function(func)
        recorder = _Recorder(self, original, tid)
        trampoline = _trampoline_code(recorder, code)
        if trampoline is None:
            self._set_status(
                tid, "unavailable", "closure (free variables: %s)" % ", ".join(code.co_freevars)
            )
            return
        had_wrapped = "__wrapped__" in func.__dict__
        wrapped = func.__dict__.get("__wrapped__")
        swap = _Swap(func, code, trampoline, original, recorder, had_wrapped, wrapped)
        func.__code__ = trampoline
        self.swaps[id(func)] = swap
        try:
            func.__wrapped__ = original
        except Exception:
            pass
        self.status[tid] = ["code-swap", None]

    @_guarded("observe restore")
    def restore(self):
        if self.restored:
            return
        self.restored = True
        for swap in list(self.swaps.values()):
            self._restore_swap(swap)
        self.swaps.clear()

    @_guarded("observe restore")
    def _restore_swap(self, swap):
        if not swap.restore():
            self.probe.errors.append(
                "observe: code of %s was replaced during the run; left as is"
                % getattr(swap.func, "__qualname__", "?")
            )

    # ---- hooks -----------------------------------------------------------
    @_hookimpl(trylast=True)
    @_guarded("observe install")
    def pytest_collection_finish(self, session):
        self.install_new()

    # The current test is set from logstart to logfinish, which pytest's runtest
    # protocol (and every plugin that replaces it, for the terminal's sake) calls
    # around setup, call and teardown. Plain hooks: a hookwrapper around
    # pytest_runtest_protocol costs a generator per test.
    @_hookimpl(tryfirst=True)
    def pytest_runtest_logstart(self, nodeid, location):
        # Once per test: caught by hand, as the guard's extra call would cost here.
        try:
            self.install_new()
        except Exception as e:
            _record_error(self.errors, "observe install", e)
        try:
            self.current = self.test_calls.setdefault(nodeid or "", {})
        except Exception:
            pass

    @_hookimpl(trylast=True)
    def pytest_runtest_logfinish(self, nodeid, location):
        self.current = self.session_bucket

    @_hookimpl(hookwrapper=True, tryfirst=True)
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
        observer, note = self.status.get(tid) or ["unavailable", "module not loaded"]
        fields = {
            "observer": observer,
            "observer_note": note,
            "observed_calls": None,
            "observed_time_ns": None,
        }
        if observer == "code-swap":
            calls = time_ns = 0
            for bucket in [self.session_bucket] + list(self.test_calls.values()):
                cell = bucket.get(tid)
                if cell is not None:
                    calls += cell[0]
                    time_ns += cell[1]
            fields["observed_calls"] = calls
            fields["observed_time_ns"] = time_ns
        return fields


# --------------------------------------------------------------------------- #
# select: CACHESCAN_PROBE_SELECT
# --------------------------------------------------------------------------- #


def _load_selection(errors):
    """The set of node ids to keep, or None (no selection, or unusable)."""
    path = os.environ.get(ENV_SELECT)
    if not path:
        return None
    try:
        with open(path, "r", encoding="utf-8") as fh:
            data = json.load(fh)
    except Exception as e:
        errors.append("cannot read %s %r: %s: %s" % (ENV_SELECT, path, type(e).__name__, e))
        return None
    if not isinstance(data, dict) or data.get("version") != 1:
        errors.append("%s: expected an object with \"version\": 1" % ENV_SELECT)
        return None
    nodeids = data.get("nodeids")
    if not isinstance(nodeids, list) or not all(isinstance(n, str) for n in nodeids):
        errors.append("%s: 'nodeids' is not a list of strings" % ENV_SELECT)
        return None
    return set(nodeids)


# --------------------------------------------------------------------------- #
# part: CACHESCAN_PROBE_PART
# --------------------------------------------------------------------------- #


def _load_part(errors):
    """(index, count) with 1 <= index <= count, or None (no part, or unusable)."""
    value = os.environ.get(ENV_PART)
    if not value:
        return None
    index, _, count = value.partition("/")
    try:
        index, count = int(index), int(count)
    except ValueError:
        index, count = 0, 0
    if not 1 <= index <= count:
        errors.append("%s: %r is not K/N with 1 <= K <= N" % (ENV_PART, value))
        return None
    return index, count


def _deselect(config, items, keep):
    """Keep the items for which ``keep(item)`` holds, tell pytest about the others
    (``N deselected``), and return how many those were."""
    kept = []
    dropped = []
    for item in items:
        (kept if keep(item) else dropped).append(item)
    if dropped:
        items[:] = kept
        config.hook.pytest_deselected(items=dropped)
    return len(dropped)


def _file_of(nodeid):
    return nodeid.split("::", 1)[0]


def _part_files(items, count):
    """{file: part index (1-based)}: files largest first to the emptiest part."""
    sizes = {}
    for item in items:
        name = _file_of(item.nodeid)
        sizes[name] = sizes.get(name, 0) + 1
    order = {name: position for position, name in enumerate(sizes)}
    loads = [0] * count
    parts = {}
    for name in sorted(sizes, key=lambda name: (-sizes[name], order[name])):
        emptiest = min(range(count), key=lambda part: (loads[part], part))
        loads[emptiest] += sizes[name]
        parts[name] = emptiest + 1
    return parts


# --------------------------------------------------------------------------- #
# output
# --------------------------------------------------------------------------- #


def _write_payload(payload):
    global _WRITTEN
    out = _out_dir()
    if not out:
        return
    pid = os.getpid()
    final = os.path.join(out, "probe-%d.json" % pid)
    tmp = os.path.join(out, ".probe-%d.json.tmp" % pid)
    try:
        text = json.dumps(payload, default=str, allow_nan=False, separators=(",", ":"))
    except Exception as e:
        text = json.dumps(
            {
                "format": FORMAT,
                "version": VERSION,
                "pid": pid,
                "role": payload.get("role", "single"),
                "worker_id": None,
                "python": platform.python_version(),
                "exitstatus": None,
                "collected": 0,
                "error": "cannot encode probe output: %s: %s" % (type(e).__name__, e),
                "collect_errors": [],
                "tests": [],
                "targets": [],
                "observe": False,
                "test_calls": {},
                "deselected": None if payload.get("role") == "controller" else 0,
                "parted_out": None if payload.get("role") == "controller" else 0,
            }
        )
    try:
        os.makedirs(out, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            try:
                os.fsync(fh.fileno())
            except Exception:
                pass
        os.replace(tmp, final)
        _WRITTEN = True
    except Exception:
        try:
            os.unlink(tmp)
        except Exception:
            pass


def _base_payload(role, worker_id):
    return {
        "format": FORMAT,
        "version": VERSION,
        "pid": os.getpid(),
        "role": role,
        "worker_id": worker_id,
        "python": platform.python_version(),
        "exitstatus": None,
        "collected": 0,
        "error": None,
        "collect_errors": [],
        "tests": [],
        "targets": [],
        "observe": False,
        "test_calls": {},
        "deselected": None if role == "controller" else 0,
        "parted_out": None if role == "controller" else 0,
    }


# --------------------------------------------------------------------------- #
# the per-Config plugin object
# --------------------------------------------------------------------------- #


_OUTCOME_RANK = {"passed": 0, "skipped": 1, "xfailed": 1, "xpassed": 1, "failed": 2, "error": 3}


class _Probe(object):
    def __init__(self, config):
        self.config = config
        self.errors = []
        self.tests = {}  # nodeid -> entry (insertion ordered)
        self.collect_errors = {}  # nodeid -> entry
        self.collected_local = None
        self.collected_nodes = {}  # xdist node id -> count (controller)
        self.deselected = 0  # items deselected by CACHESCAN_PROBE_SELECT
        self.parted_out = 0  # items of other parts (CACHESCAN_PROBE_PART)
        self.observe = None  # the _Observe plugin, when observing
        self.written = False
        try:
            self.base = str(config.invocation_params.dir)
        except Exception:
            try:
                self.base = os.getcwd()
            except Exception:
                self.base = None
        try:
            self.workerinput = getattr(config, "workerinput", None)
        except Exception:
            self.workerinput = None

    # ---- helpers ---------------------------------------------------------
    def _is_worker(self):
        # Decided once: xdist sets ``workerinput`` before any plugin is configured,
        # and asking a Config for an attribute it lacks costs an exception per call.
        return self.workerinput is not None

    def _role(self):
        if self._is_worker():
            return "worker"
        try:
            if self.config.pluginmanager.hasplugin("dsession"):
                return "controller"
        except Exception:
            pass
        return "single"

    @_guarded("observe")
    def start_observing(self):
        """Register the observer plugin (CACHESCAN_PROBE_OBSERVE=1)."""
        observe = _Observe(self)
        self.config.pluginmanager.register(observe, "cachescan_probe_observe")
        self.observe = observe

    # ---- hooks -----------------------------------------------------------
    @_hookimpl(trylast=True)
    @_guarded("pytest_collection_finish")
    def pytest_collection_finish(self, session):
        self.collected_local = len(session.items)

    @_hookimpl(trylast=True)
    @_guarded("pytest_collection_modifyitems")
    def pytest_collection_modifyitems(self, session, config, items):
        keep = _load_selection(self.errors)
        if keep is not None:
            self.deselected += _deselect(config, items, lambda item: item.nodeid in keep)
        part = _load_part(self.errors)
        if part is not None:
            index, count = part
            parts = _part_files(items, count)
            self.parted_out += _deselect(
                config, items, lambda item: parts[_file_of(item.nodeid)] == index
            )

    @_hookimpl(optionalhook=True)
    @_guarded("pytest_xdist_node_collection_finished")
    def pytest_xdist_node_collection_finished(self, node, ids):
        gw = getattr(getattr(node, "gateway", None), "id", None) or str(id(node))
        self.collected_nodes[gw] = len(ids)

    @_guarded("pytest_collectreport")
    def pytest_collectreport(self, report):
        if not getattr(report, "failed", False):
            return
        nodeid = getattr(report, "nodeid", "") or ""
        if nodeid in self.collect_errors:
            return
        self.collect_errors[nodeid] = {
            "nodeid": nodeid,
            "message": _report_message(report),
        }

    # Three times per test: caught by hand, as the guard's extra call (a few percent
    # of what the probe costs per test, measured in instructions) would cost here.
    def pytest_runtest_logreport(self, report):
        if self.workerinput is not None:
            return  # with xdist, the controller reports the outcomes
        try:
            outcome = getattr(report, "outcome", None)
            if outcome not in ("passed", "failed", "skipped"):
                return  # e.g. "rerun" from pytest-rerunfailures
            nodeid = getattr(report, "nodeid", "") or ""
            when = getattr(report, "when", None)
            entry = self.tests.get(nodeid)
            if entry is None or (when == "setup" and "_done" in entry):
                if entry is not None:
                    del self.tests[nodeid]
                entry = {
                    "nodeid": nodeid,
                    "outcome": None,
                    "message": None,
                    "duration_s": 0.0,
                }
                self.tests[nodeid] = entry
            try:
                entry["duration_s"] += float(getattr(report, "duration", 0.0) or 0.0)
            except Exception:
                pass
            if outcome == "passed" and (when == "setup" or when == "teardown"):
                # The common case, twice per test: it decides no outcome.
                if when == "teardown":
                    entry["_done"] = True
                    if entry["outcome"] is None:
                        entry["outcome"] = "passed"
                return
            # Through __dict__: hasattr would raise (and catch) for most reports.
            wasxfail = "wasxfail" in getattr(report, "__dict__", ())
            new = None
            if outcome == "failed":
                new = "error" if when in ("setup", "teardown") else "failed"
            elif outcome == "skipped":
                new = "xfailed" if wasxfail else "skipped"
            else:  # passed, in the call phase (or a report without a phase)
                new = "xpassed" if wasxfail else "passed"
            cur = entry["outcome"]
            if cur is None:
                entry["outcome"] = new
                if new != "passed" and new != "xpassed":
                    entry["message"] = _report_message(report)
            elif cur == "failed" and new == "error":
                pass  # call failed, teardown errored too: keep "failed"
            elif _OUTCOME_RANK.get(new, 0) > _OUTCOME_RANK.get(cur, 0):
                entry["outcome"] = new
                entry["message"] = _report_message(report)
            if when == "teardown":
                entry["_done"] = True
        except Exception as e:
            _record_error(self.errors, "pytest_runtest_logreport", e)

    # An error in finish() comes after the file is written (or instead of it): the
    # guard records it, and nothing reports it.
    @_hookimpl(trylast=True)
    @_guarded("pytest_sessionfinish")
    def pytest_sessionfinish(self, session, exitstatus):
        self.finish(exitstatus=exitstatus, session=session)

    @_hookimpl(trylast=True)
    @_guarded("pytest_unconfigure")
    def pytest_unconfigure(self, config):
        global _ACTIVE
        try:
            if not self.written:
                self.errors.append("pytest_sessionfinish did not run")
                self.finish(exitstatus=None, session=None)
        finally:
            if _ACTIVE is self:
                _ACTIVE = None

    # ---- output ----------------------------------------------------------
    def finish(self, exitstatus, session):
        if self.written:
            return
        self.written = True
        role = "single"
        payload = None
        observe = self.observe
        if observe is not None:
            observe.restore()  # before anything else can fail
        try:
            role = self._role()
            worker_id = None
            if role == "worker":
                try:
                    worker_id = self.workerinput.get("workerid")
                except Exception:
                    worker_id = None
                if worker_id is None:
                    worker_id = os.environ.get("PYTEST_XDIST_WORKER")
            payload = _base_payload(role, worker_id)
            try:
                payload["exitstatus"] = None if exitstatus is None else int(exitstatus)
            except Exception:
                payload["exitstatus"] = None

            collected = self.collected_local
            if role == "controller" and self.collected_nodes:
                collected = max(self.collected_nodes.values())
            if collected is None and session is not None:
                try:
                    collected = int(getattr(session, "testscollected", 0) or 0)
                except Exception:
                    collected = None
            payload["collected"] = int(collected or 0)
            payload["collect_errors"] = list(self.collect_errors.values())

            observing = observe is not None and observe.enabled and role != "controller"
            test_calls = {}
            if observing:
                try:
                    test_calls = observe.test_calls_json()
                except Exception as e:  # the fallback: no call map
                    _record_error(self.errors, "observe output", e)
            payload["observe"] = observing
            payload["test_calls"] = test_calls
            if role != "controller":
                payload["deselected"] = self.deselected
                payload["parted_out"] = self.parted_out

            if role != "worker":
                tests = []
                for entry in self.tests.values():
                    e = dict(entry)
                    e.pop("_done", None)
                    if e["outcome"] is None:
                        e["outcome"] = "passed"
                    e["duration_s"] = round(e["duration_s"], 6)
                    tests.append(e)
                payload["tests"] = tests

            if role != "controller":
                payload["targets"] = _probe_targets(self.errors, self.base)
                if observing:
                    for target in payload["targets"]:
                        try:
                            target.update(observe.target_fields(target["id"]))
                        except Exception as e:  # named after the target
                            _record_error(self.errors, "observe target %r" % target.get("id"), e)
        except Exception as e:  # the fallback: a payload that says so
            _record_error(self.errors, "finish", e)
            if payload is None:
                payload = _base_payload(role, None)
        payload["error"] = "; ".join(self.errors) if self.errors else None
        _write_payload(payload)


# --------------------------------------------------------------------------- #
# module-level hooks (the only ones pytest sees on the module itself)
# --------------------------------------------------------------------------- #


def pytest_configure(config):
    global _ACTIVE, _INERT
    try:
        if not _out_dir():
            return
        if _ACTIVE is not None:
            return  # nested pytest.main() inside the tests: ignore it
        workerinput = getattr(config, "workerinput", None)
        if _is_nested(workerinput):
            _INERT = True
            return
        probe = _Probe(config)
        if workerinput is None:
            os.environ[ENV_OWNER] = _owner_token()
        config.pluginmanager.register(probe, "cachescan_probe_state")
        _ACTIVE = probe
        if _observe_enabled():
            probe.start_observing()
    except Exception as e:
        # last resort: still leave a file behind
        try:
            payload = _base_payload("single", None)
            payload["error"] = "pytest_configure: %s: %s" % (type(e).__name__, e)
            _write_payload(payload)
        except Exception:
            pass


def _atexit():
    """If pytest never got to configure (e.g. a conftest import error or a
    usage error) still leave a file saying so."""
    try:
        if _WRITTEN or _INERT or not _out_dir():
            return
        if _ACTIVE is not None:
            if not _ACTIVE.written:
                _ACTIVE.errors.append("process exited without pytest_unconfigure")
                _ACTIVE.finish(exitstatus=None, session=None)
            return
        if _is_nested(None):
            return
        errors = ["pytest exited before the probe was configured "
                  "(usage error or conftest import error?)"]
        payload = _base_payload("single", None)
        payload["targets"] = _probe_targets(errors, os.getcwd())
        payload["error"] = "; ".join(errors)
        _write_payload(payload)
    except Exception:
        pass


try:
    if _out_dir():
        atexit.register(_atexit)
except Exception:
    pass
