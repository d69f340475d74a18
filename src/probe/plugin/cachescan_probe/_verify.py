"""Verified hits (``CACHESCAN_PROBE_VERIFY``): every cache hit checked against a fresh call.

In a checked run cachescan writes, directly above each ``@functools.lru_cache(...)``
it inserts, a decorator that resolves to ``builtins.__cachescan_verify__``, which
``install`` sets to ``decorate``.  So every reference to the cached function (the
module attribute, ``from mod import f``, a class attribute) reaches a Verifier,
which calls the cache and tells a hit from a miss by its ``cache_info()``:

  * on a miss, it remembers the entry: the arguments, the value and, for a value
    that can change in place, a structural snapshot of it (``_compare.freeze``);
  * on a hit, it calls the original function (the one under the cache) with the
    same arguments and compares the cached value with the fresh one
    (``_compare.compare``): verified, unverified (the comparison cannot decide) or
    divergent.  A fresh call that raises where the cache answered is divergent.
    The fresh value is only compared, never returned; the calls it makes are
    counted in no bucket of the call map (the observer's current bucket is a
    scratch one meanwhile), and cache statistics do not see them.

The first divergence of each target is described: the test, the arguments, the
cached and the fresh value (reprs, truncated) and a kind:

  * ``mutated``: the cached value no longer equals its snapshot: a caller
    changed it in place;
  * ``key-collision``: this call's arguments equal the stored entry's but their
    types or reprs differ, and so does the result;
  * ``fresh-differs``: same arguments, unchanged value, yet the fresh call
    answers otherwise: a hidden input (clock, locale, environment, global state,
    a mock) or nondeterminism.

Two caches must not hide each other.  During a fresh call every verifier calls
its original function directly (no cache at all), so the fresh value is fresh
all the way down; and when such a direct call has a remembered entry for its
arguments, the two are compared too: that call would have been a hit of this
cache, and is counted as one.  An entry whose value was computed while another cache answered a hit
inside it is ``tainted``: its divergence may be that other cache's doing, and
the divergence says so (cachescan then confirms it with this cache alone).

``CACHESCAN_PROBE_VERIFY`` is ``1`` (every hit) or ``RATE:SEED``: a hit is checked
when a hash of (seed, target, the hit's number) falls below RATE, so the same
run checks the same hits; the others are counted as ``skipped``.
"""

import builtins
import collections
import functools
import os
import threading
import zlib

from . import _process
from ._compare import DIFFER, EQUAL, UNVERIFIED, compare, freeze, needs_snapshot
from ._protocol import (
    ENV_VERIFY,
    KIND_FRESH_DIFFERS,
    KIND_KEY_COLLISION,
    KIND_MUTATED,
)
from ._targets import load_targets, norm

BUILTIN_NAME = "__cachescan_verify__"
REPR_MAX = 200
# Entries remembered per cache beyond its maxsize (unbounded caches): enough for a
# suite, bounded for memory.
MAX_ENTRIES = 10000

_NO_SNAPSHOT = object()


class _Local(threading.local):
    def __init__(self):
        self.fresh = 0  # > 0 inside a fresh call: every cache is bypassed
        self.computing = []  # one [tainted] cell per miss being computed


_LOCAL = _Local()
_VERIFIERS = {}  # target id -> [Verifier]
_settings = {"rate": 1.0, "seed": "0", "targets": None}


def parse_setting(value):
    """(rate, seed) from ``1`` or ``RATE:SEED``; None when off or malformed."""
    if not value:
        return None
    if value == "1":
        return 1.0, "0"
    rate, _, seed = value.partition(":")
    try:
        rate = float(rate)
    except ValueError:
        return None
    if not 0.0 < rate <= 1.0:
        return None
    return rate, seed or "0"


def install():
    """Put ``decorate`` where the checked runs' patched files look for it."""
    setting = parse_setting(os.environ.get(ENV_VERIFY, ""))
    if setting is None:
        return
    _settings["rate"], _settings["seed"] = setting
    setattr(builtins, BUILTIN_NAME, decorate)


def enabled():
    return getattr(builtins, BUILTIN_NAME, None) is decorate


def _targets():
    """{(real path, qualname): (target id, typed)}, read once."""
    if _settings["targets"] is None:
        found = {}
        errors = []
        for target in load_targets(errors):
            real = norm(target.get("path"))
            if real is not None:
                entry = (str(target.get("id")), bool(target.get("typed", False)))
                found[(real, str(target.get("qualname") or ""))] = entry
        _settings["targets"] = found
    return _settings["targets"]


def decorate(cache):
    """The verifying wrapper of one lru_cache wrapper; the cache itself when it is not
    a target's (or cannot be verified)."""
    try:
        original = cache.__wrapped__
        code = original.__code__
        target = _targets().get((norm(code.co_filename), original.__qualname__))
    except Exception:
        return cache
    if target is None:
        return cache
    tid, typed = target
    verifier = Verifier(cache, original, tid, typed)
    _VERIFIERS.setdefault(tid, []).append(verifier)

    def cachescan_verified(*args, **kwargs):
        __tracebackhide__ = True  # noqa: F841 - read by pytest
        return verifier.call(args, kwargs)

    functools.update_wrapper(cachescan_verified, cache)
    cachescan_verified.cache_info = cache.cache_info
    cachescan_verified.cache_clear = verifier.clear
    if hasattr(cache, "cache_parameters"):
        cachescan_verified.cache_parameters = cache.cache_parameters
    return cachescan_verified


def _current_test():
    probe = _process.active
    observe = getattr(probe, "observe", None)
    return getattr(observe, "current_test", None)


def _short_repr(value):
    try:
        text = repr(value)
    except Exception as e:
        text = "<repr raised %s>" % type(e).__name__
    if len(text) > REPR_MAX:
        text = text[: REPR_MAX - 3] + "..."
    return text


def _arguments_repr(args, kwargs):
    parts = [_short_repr(arg) for arg in args]
    parts.extend("%s=%s" % (name, _short_repr(value)) for name, value in kwargs.items())
    return _short_repr_text(", ".join(parts))


def _short_repr_text(text):
    return text if len(text) <= REPR_MAX else text[: REPR_MAX - 3] + "..."


def _argument_types(args, kwargs):
    return tuple(type(arg) for arg in args) + tuple(
        (name, type(value)) for name, value in sorted(kwargs.items())
    )


class Entry(object):
    """What one miss stored: the arguments, the value, its snapshot."""

    __slots__ = ("args", "kwargs", "value", "snapshot", "tainted")

    def __init__(self, args, kwargs, value, snapshot, tainted):
        self.args = args
        self.kwargs = kwargs
        self.value = value
        self.snapshot = snapshot
        self.tainted = tainted


class Verifier(object):
    """One cached function of one checked run."""

    def __init__(self, cache, original, tid, typed):
        self.cache = cache
        self.original = original
        self.tid = tid
        self.typed = typed
        maxsize = None
        try:
            maxsize = cache.cache_info().maxsize
        except Exception:
            pass
        self.capacity = MAX_ENTRIES if not maxsize else min(maxsize, MAX_ENTRIES)
        self.entries = collections.OrderedDict()
        self.hits = 0
        self.verified = 0
        self.unverified = 0
        self.divergent = 0
        self.skipped = 0
        self.divergence = None

    # ---- calls -----------------------------------------------------------
    def call(self, args, kwargs):
        __tracebackhide__ = True  # noqa: F841 - read by pytest
        local = _LOCAL
        if local.fresh:
            return self._call_uncached(args, kwargs)
        info = self.cache.cache_info
        before = info().hits
        cell = [False]
        local.computing.append(cell)
        try:
            value = self.cache(*args, **kwargs)
        finally:
            local.computing.pop()
        if info().hits == before:
            self._remember(args, kwargs, value, cell[0])
            return value
        for outer in local.computing:
            outer[0] = True  # this hit's value flows into the misses around it
        self.hits += 1
        if self._sampled():
            self._check(args, kwargs, value)
        else:
            self.skipped += 1
        return value

    def clear(self):
        """``cache_clear`` of the wrapper: the cache and what was remembered of it."""
        self.cache.cache_clear()
        self.entries.clear()

    def _sampled(self):
        rate = _settings["rate"]
        if rate >= 1.0:
            return True
        text = "%s:%s:%d" % (_settings["seed"], self.tid, self.hits)
        return zlib.crc32(text.encode("utf-8")) / 4294967296.0 < rate

    def _key(self, args, kwargs):
        return functools._make_key(args, kwargs, self.typed)

    def _remember(self, args, kwargs, value, tainted):
        if self.capacity <= 0:
            return
        try:
            key = self._key(args, kwargs)
        except Exception:
            return
        snapshot = freeze(value) if needs_snapshot(value) else _NO_SNAPSHOT
        self.entries[key] = Entry(args, kwargs, value, snapshot, tainted)
        self.entries.move_to_end(key)
        while len(self.entries) > self.capacity:
            self.entries.popitem(last=False)

    def _fresh(self, args, kwargs):
        """(value, raised): the original function's answer now, no cache anywhere,
        its calls counted nowhere."""
        local = _LOCAL
        observe = getattr(_process.active, "observe", None)
        saved = getattr(observe, "current", None)
        if observe is not None:
            observe.current = {}
        local.fresh += 1
        try:
            return self.original(*args, **kwargs), False
        except Exception as e:
            return e, True
        finally:
            local.fresh -= 1
            if observe is not None:
                observe.current = saved

    def _check(self, args, kwargs, cached):
        fresh, raised = self._fresh(args, kwargs)
        outcome = DIFFER if raised else compare(cached, fresh)
        self._count(outcome, args, kwargs, cached, fresh, raised)

    def _call_uncached(self, args, kwargs):
        """Inside a fresh call: the original function, and, when this cache holds an
        entry for the arguments, a check of that would-be hit."""
        value = self.original(*args, **kwargs)
        try:
            entry = self.entries.get(self._key(args, kwargs))
        except Exception:
            entry = None
        if entry is not None:
            self.hits += 1
            self._count(compare(entry.value, value), args, kwargs, entry.value, value, False)
        return value

    def _count(self, outcome, args, kwargs, cached, fresh, raised):
        if outcome == EQUAL:
            self.verified += 1
        elif outcome == UNVERIFIED:
            self.unverified += 1
        else:
            self._diverged(args, kwargs, cached, fresh, raised)

    # ---- divergences -----------------------------------------------------
    def _diverged(self, args, kwargs, cached, fresh, raised):
        self.divergent += 1
        if self.divergence is not None:
            return
        try:
            entry = self.entries.get(self._key(args, kwargs))
        except Exception:
            entry = None
        if raised:
            fresh_text = "raised %s: %s" % (type(fresh).__name__, _short_repr_text(str(fresh)))
        else:
            fresh_text = _short_repr(fresh)
        self.divergence = {
            "test": _current_test(),
            "kind": self._kind(entry, args, kwargs, cached),
            "args": _arguments_repr(args, kwargs),
            "cached": _short_repr(cached),
            "fresh": fresh_text,
            "tainted": bool(entry is not None and entry.tainted),
        }

    def _kind(self, entry, args, kwargs, cached):
        if entry is None:
            return KIND_FRESH_DIFFERS
        if entry.snapshot is not _NO_SNAPSHOT and entry.snapshot is not None:
            if compare(entry.snapshot, freeze(cached)) == DIFFER:
                return KIND_MUTATED
        # Equal arguments (they found the entry) that are not the same: a collision.
        if _argument_types(entry.args, entry.kwargs) != _argument_types(args, kwargs):
            return KIND_KEY_COLLISION
        if _arguments_repr(entry.args, entry.kwargs) != _arguments_repr(args, kwargs):
            return KIND_KEY_COLLISION
        return KIND_FRESH_DIFFERS


def target_fields(tid):
    """The ``verify`` value of one target entry: None when this run checks no hit, or
    when no verifier was made for it (its module was never imported)."""
    verifiers = _VERIFIERS.get(tid)
    if not enabled() or not verifiers:
        return None
    fields = {
        "rate": _settings["rate"],
        "hits": sum(v.hits for v in verifiers),
        "verified": sum(v.verified for v in verifiers),
        "unverified": sum(v.unverified for v in verifiers),
        "divergent": sum(v.divergent for v in verifiers),
        "skipped": sum(v.skipped for v in verifiers),
        "divergence": None,
    }
    for verifier in verifiers:
        if verifier.divergence is not None:
            fields["divergence"] = verifier.divergence
            break
    return fields
