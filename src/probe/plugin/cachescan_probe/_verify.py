"""Verified hits (``CACHESCAN_PROBE_VERIFY``): every would-be cache hit checked.

In an observed run of the unmodified suite (the baseline), each target's code
swap gets a ShadowRecorder: a shadow of the ``lru_cache`` the function would get
(the same key, ``functools._make_key`` with the target's ``typed``, the same
``maxsize`` and least-recently-used order).  Nothing is cached: every call runs
the function as the suite does, and the shadow only remembers.

  * A call whose key is not in the shadow (a would-be miss) runs, and its value
    is remembered with the arguments and, for a value that can change in place,
    a structural snapshot (``_compare.freeze``).
  * A call whose key is in the shadow (a would-be hit) runs too: its value is
    what a fresh call returns, and the remembered value is what the cache would
    have answered.  The two are compared (``_compare.compare``): verified,
    unverified (the comparison cannot decide) or divergent.  A call that raises
    where the cache would have answered is divergent (and still raises).
  * With the cache, every call of a key hands out the same object, so a change
    a caller makes to it reaches every later caller.  Here each call hands out
    its own: the entry also watches the last few values it handed out on
    would-be hits (their snapshots), and one changed in place makes the next
    would-be hit divergent, as the cache would have answered with it.

So the check adds no call: what the tests see is the unmodified suite, and a
verdict never rests on an outcome the checks caused.  Each target's shadow is
the function cached alone: calls of the function made inside one of its own
would-be hits are not counted (its cache would have skipped them), while calls
of other targets are (without their caches, they happen).  No other cache can
hide a target's divergence, because there is none.

The first divergence of each target is described: the test, the arguments, the
cached and the fresh value (reprs, truncated) and a kind:

  * ``mutated``: the remembered value no longer equals its snapshot: a caller
    changed in place what the cache would have handed out again;
  * ``key-collision``: this call's arguments equal the remembered entry's but
    their types or reprs differ, and so does the result;
  * ``fresh-differs``: same arguments, unchanged value, yet the call answers
    otherwise: a hidden input (clock, locale, environment, global state, a mock)
    or nondeterminism.

``CACHESCAN_PROBE_VERIFY`` is ``1`` (every hit) or ``RATE:SEED``: a hit is checked
when a hash of (seed, target, the hit's number) falls below RATE, so the same
run checks the same hits; the others are counted as ``skipped``.  It only takes
effect with ``CACHESCAN_PROBE_OBSERVE=1``: without the code swap there is no call
to shadow.
"""

import collections
import functools
import os
import zlib

from . import _process
from ._compare import DIFFER, EQUAL, UNVERIFIED, compare, freeze, needs_snapshot, unchanged
from ._protocol import (
    ENV_VERIFY,
    KIND_FRESH_DIFFERS,
    KIND_KEY_COLLISION,
    KIND_MUTATED,
)
from ._swap import Recorder
from ._trace import LOCAL, TraceRecorder, _perf_counter_ns, account

REPR_MAX = 200
# Values a shadow entry handed out on would-be hits that it keeps watching for changes in
# place (the most recent ones): with the cache, each of them would have been the one
# cached object.
HANDED_MAX = 4

_NO_SNAPSHOT = object()
_SHADOWS = {}  # target id -> [Shadow]




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


def setting():
    """(rate, seed) of this run, or None when it checks no hit."""
    return parse_setting(os.environ.get(ENV_VERIFY, ""))


def _current_test():
    probe = _process.active
    observe = getattr(probe, "observe", None)
    return getattr(observe, "current_test", None)


def _short_repr(value):
    try:
        text = repr(value)
    except Exception as e:
        text = "<repr raised %s>" % type(e).__name__
    return _short_repr_text(text)


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
    """What one would-be miss stored: the arguments, the value, its snapshot."""

    __slots__ = ("args", "kwargs", "value", "snapshot", "handed")

    def __init__(self, args, kwargs, value, snapshot):
        self.args = args
        self.kwargs = kwargs
        self.value = value
        self.snapshot = snapshot
        self.handed = None  # deque of [value, snapshot] handed out on would-be hits

    def hand_out(self, value):
        """Watch a value a would-be hit handed out (one that can change in place)."""
        if not needs_snapshot(value):
            return
        if self.handed is None:
            self.handed = collections.deque(maxlen=HANDED_MAX)
        self.handed.append((value, freeze(value)))

    def changed_hand_out(self):
        """A watched value that a caller changed in place since it was handed out."""
        for value, snapshot in self.handed or ():
            if unchanged(snapshot, value) == DIFFER:
                return value
        return None


class Shadow(object):
    """The cache one target would have, remembered but never answering."""

    def __init__(self, tid, typed, maxsize, rate, seed):
        self.tid = tid
        self.typed = typed
        # lru_cache(maxsize=0) caches nothing; a negative maxsize means 0 there too.
        self.maxsize = None if maxsize is None else max(0, maxsize)
        self.rate = rate
        self.seed = seed
        self.entries = collections.OrderedDict()
        self.inside_hit = 0  # > 0 inside one of its own would-be hits
        self.hits = 0
        self.verified = 0
        self.unverified = 0
        self.divergent = 0
        self.skipped = 0
        self.divergence = None
        self.errors = []

    def lookup(self, args, kwargs):
        """(key, entry): the key is None when the arguments cannot be a key (the cache
        would raise TypeError, which the suite then shows)."""
        try:
            key = functools._make_key(args, kwargs, self.typed)
            hash(key)
        except TypeError:
            return None, None
        return key, self.entries.get(key)

    def remember(self, key, args, kwargs, value):
        if self.maxsize == 0:
            return
        snapshot = freeze(value) if needs_snapshot(value) else _NO_SNAPSHOT
        self.entries[key] = Entry(args, kwargs, value, snapshot)
        if self.maxsize is not None:
            while len(self.entries) > self.maxsize:
                self.entries.popitem(last=False)

    def hit(self, key):
        """Count a would-be hit; whether it is checked."""
        self.entries.move_to_end(key)
        self.hits += 1
        if self.rate >= 1.0:
            return True
        text = "%s:%s:%d" % (self.seed, self.tid, self.hits)
        if zlib.crc32(text.encode("utf-8")) / 4294967296.0 < self.rate:
            return True
        self.skipped += 1
        return False

    def quietly(self, method, *args):
        """Run a step of the checks: the target calls it makes (a key's ``__hash__``, an
        ``__eq__``) are not the program's, and its error does not reach the test but goes
        to the probe file's ``error``. Its result, or None when it failed."""
        LOCAL.busy += 1
        try:
            return method(*args)
        except Exception as e:
            if len(self.errors) < 3:
                self.errors.append("verify %s: %s: %s" % (self.tid, type(e).__name__, e))
            return None
        finally:
            LOCAL.busy -= 1

    def check(self, entry, args, kwargs, fresh, raised):
        outcome = DIFFER if raised else compare(entry.value, fresh)
        if outcome == DIFFER:
            self._diverged(args, kwargs, entry.value, _kind(entry, args, kwargs), fresh, raised)
            return
        changed = entry.changed_hand_out()
        if changed is not None:
            self._diverged(args, kwargs, changed, KIND_MUTATED, fresh, raised)
        elif outcome == EQUAL:
            self.verified += 1
        else:
            self.unverified += 1

    def _diverged(self, args, kwargs, cached, kind, fresh, raised):
        self.divergent += 1
        if self.divergence is not None:
            return
        if raised:
            fresh_text = "raised %s: %s" % (type(fresh).__name__, _short_repr_text(str(fresh)))
        else:
            fresh_text = _short_repr(fresh)
        self.divergence = {
            "test": _current_test(),
            "kind": kind,
            "args": _arguments_repr(args, kwargs),
            "cached": _short_repr(cached),
            "fresh": fresh_text,
        }


def _kind(entry, args, kwargs):
    if entry.snapshot is not _NO_SNAPSHOT and entry.snapshot is not None:
        if unchanged(entry.snapshot, entry.value) == DIFFER:
            return KIND_MUTATED
    # Equal arguments (they found the entry) that are not the same: a collision.
    if _argument_types(entry.args, entry.kwargs) != _argument_types(args, kwargs):
        return KIND_KEY_COLLISION
    if _arguments_repr(entry.args, entry.kwargs) != _arguments_repr(args, kwargs):
        return KIND_KEY_COLLISION
    return KIND_FRESH_DIFFERS


class ShadowRecorder(TraceRecorder):
    """A TraceRecorder (calls counted and timed for the call map, keys traced when
    ``trace`` is set) that also runs each call past its target's Shadow, outside the
    timed call."""

    __slots__ = ("shadow",)

    def __init__(self, observe, original, tid, trace, shadow):
        TraceRecorder.__init__(self, observe, original, tid, trace)
        self.shadow = shadow

    def call(self, args, kwargs):
        __tracebackhide__ = True  # noqa: F841 - read by pytest
        if LOCAL.busy:
            # Called by the probe itself (a key's __hash__ or __eq__, a repr): not one of
            # the program's calls, so neither counted nor shadowed.
            return self.bypass(LOCAL, args, kwargs)
        if self.trace is None:
            return self.checked(args, kwargs)
        local = LOCAL
        entered = _perf_counter_ns()
        before = local.overhead
        try:
            return self.checked(args, kwargs)
        finally:
            account(local, entered, before)

    def checked(self, args, kwargs):
        """The call, past the shadow: a would-be hit is compared with it."""
        __tracebackhide__ = True  # noqa: F841 - read by pytest
        shadow = self.shadow
        local = LOCAL
        keying, local.keying = local.keying, self
        try:
            found = shadow.quietly(shadow.lookup, args, kwargs)
        finally:
            local.keying = keying
        key, entry = found if found is not None else (None, None)
        number = None
        if key is not None and self.trace is not None:
            number = self.trace.number(hash(key))  # computed once by _make_key's key
        if shadow.inside_hit:
            return self.timed(args, kwargs, number)
        if entry is None:
            value = self.timed(args, kwargs, number)
            if key is not None:
                shadow.quietly(shadow.remember, key, args, kwargs, value)
            return value
        checked = shadow.quietly(shadow.hit, key)
        shadow.inside_hit += 1
        try:
            fresh = self.timed(args, kwargs, number)
        except Exception as e:
            shadow.inside_hit -= 1
            if checked:
                shadow.quietly(shadow.check, entry, args, kwargs, e, True)
            raise
        shadow.inside_hit -= 1
        if checked:
            shadow.quietly(shadow.check, entry, args, kwargs, fresh, False)
        shadow.quietly(entry.hand_out, fresh)
        return fresh


def recorder(observe, original, tid, target, checks, trace):
    """The recorder of one swapped function: with ``checks`` (the run's setting) a
    ShadowRecorder, else with a ``trace`` a TraceRecorder, else a plain Recorder."""
    if checks is None:
        if trace is None:
            return Recorder(observe, original, tid)
        return TraceRecorder(observe, original, tid, trace)
    maxsize = target.get("maxsize")
    maxsize = maxsize if isinstance(maxsize, int) and not isinstance(maxsize, bool) else None
    shadow = Shadow(tid, bool(target.get("typed", False)), maxsize, checks[0], checks[1])
    _SHADOWS.setdefault(tid, []).append(shadow)
    return ShadowRecorder(observe, original, tid, trace, shadow)


def add_alias(recorder, tid):
    """``tid`` names a function another target already swapped: it shares the shadow."""
    shadow = getattr(recorder, "shadow", None)
    if shadow is not None:
        _SHADOWS.setdefault(tid, []).append(shadow)


def target_fields(tid, errors):
    """The ``verify`` value of one target entry: None when this run checks no hit, or
    when no shadow was made for it (its module was never imported, or it could not be
    observed).  The checks' own errors go to ``errors``."""
    checks = setting()
    shadows = _SHADOWS.get(tid)
    if checks is None or not shadows:
        return None
    for shadow in shadows:
        errors.extend(shadow.errors)
    fields = {
        "rate": checks[0],
        "hits": sum(s.hits for s in shadows),
        "verified": sum(s.verified for s in shadows),
        "unverified": sum(s.unverified for s in shadows),
        "divergent": sum(s.divergent for s in shadows),
        "skipped": sum(s.skipped for s in shadows),
        "divergence": None,
    }
    for shadow in shadows:
        if shadow.divergence is not None:
            fields["divergence"] = shadow.divergence
            break
    return fields
