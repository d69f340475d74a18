"""Verified hits (``CACHESCAN_PROBE_VERIFY``): every would-be cache hit checked.

In an observed run of the unmodified suite (the baseline), each target's code
swap gets a KeyedRecorder with a Shadow: a shadow of the ``lru_cache`` the function would get
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
from ._compare import _ATOMS, DIFFER, EQUAL, compare, freeze, needs_snapshot, unchanged
from ._protocol import (
    ENV_VERIFY,
    KIND_FRESH_DIFFERS,
    KIND_KEY_COLLISION,
    KIND_MUTATED,
)
from ._swap import Recorder
from ._trace import LOCAL, TraceRecorder, _perf_counter_ns

REPR_MAX = 200
# Values a shadow entry handed out on would-be hits that it keeps watching for changes in
# place (the most recent ones): with the cache, each of them would have been the one
# cached object.
HANDED_MAX = 4

_NO_SNAPSHOT = object()
# Values that cannot change in place and compare with a plain ``==`` of their type.
_ATOM_TYPES = frozenset(_ATOMS)
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
    """What one would-be miss stored: its key (and the key's hash), the arguments, the
    value and its snapshot. Entries whose keys hash alike are chained by ``next``."""

    __slots__ = ("key", "hashed", "next", "args", "kwargs", "value", "snapshot", "handed")

    def __init__(self, key, hashed, args, kwargs, value, snapshot):
        self.key = key
        self.hashed = hashed
        self.next = None
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
    """The cache one target would have, remembered but never answering.

    Its entries are found by their key's hash (``entries``, chained for keys that hash
    alike, then the key compared with ``is`` and ``==`` as a dict does), and kept in
    least-recently-used order by the entries themselves (``order``, hashed by
    identity). So a would-be hit hashes and compares its key once, as ``lru_cache``'s
    lookup does: moving it to the recent end runs no ``__hash__`` or ``__eq__`` of the
    program's (on a suite whose keys are objects with costly ones, a second lookup
    cost more than everything else the checks do)."""

    def __init__(self, tid, maxsize, rate, seed):
        self.tid = tid
        # lru_cache(maxsize=0) caches nothing; a negative maxsize means 0 there too.
        self.maxsize = None if maxsize is None else max(0, maxsize)
        self.rate = rate
        self.seed = seed
        self.entries = {}  # key hash -> Entry (the newest of a chain)
        self.order = collections.OrderedDict()  # Entry -> None, least recently used first
        self.inside_hit = 0  # > 0 inside one of its own would-be hits
        self.hits = 0
        self.verified = 0
        self.unverified = 0
        self.divergent = 0
        self.skipped = 0
        self.divergence = None
        self.errors = []

    def find(self, key, hashed):
        """The entry of ``key`` (whose hash is ``hashed``), or None. Runs the keys'
        ``__eq__``: the caller holds ``LOCAL.state.busy``."""
        entry = self.entries.get(hashed)
        while entry is not None and entry.key is not key and not entry.key == key:
            entry = entry.next
        return entry

    def remember(self, key, hashed, args, kwargs, value):
        """Store a would-be miss's value (and its snapshot, whose reads can run the
        program's code: the caller holds ``LOCAL.state.busy``), forgetting the least recently
        used entry beyond ``maxsize``."""
        if self.maxsize == 0:
            return
        snapshot = freeze(value) if needs_snapshot(value) else _NO_SNAPSHOT
        entry = Entry(key, hashed, args, kwargs, value, snapshot)
        entries = self.entries
        entry.next = entries.get(hashed)
        entries[hashed] = entry
        order = self.order
        order[entry] = None
        if self.maxsize is not None:
            while len(order) > self.maxsize:
                self._forget(order.popitem(last=False)[0])

    def _forget(self, entry):
        entries = self.entries
        head = entries[entry.hashed]
        if head is entry:
            if entry.next is None:
                del entries[entry.hashed]
            else:
                entries[entry.hashed] = entry.next
            return
        while head.next is not entry:
            head = head.next
        head.next = entry.next

    def hit(self, entry):
        """Count a would-be hit of ``entry``, now the most recently used; whether it is
        checked."""
        self.order.move_to_end(entry)
        self.hits += 1
        if self.rate >= 1.0:
            return True
        text = "%s:%s:%d" % (self.seed, self.tid, self.hits)
        if zlib.crc32(text.encode("utf-8")) / 4294967296.0 < self.rate:
            return True
        self.skipped += 1
        return False

    def failed(self, error):
        """A step of the checks raised (a key's ``__hash__`` or ``__eq__``, a comparison):
        its error goes to the probe file's ``error``, never to the test."""
        if len(self.errors) < 3:
            self.errors.append("verify %s: %s: %s" % (self.tid, type(error).__name__, error))

    def after_hit(self, entry, args, kwargs, fresh, raised, checked):
        """A would-be hit's call returned ``fresh`` (or raised it): checked against the
        entry when ``checked``, and watched if it can change in place. The target calls
        the checks make (an ``__eq__``, a snapshot's reads) are not the program's."""
        local = LOCAL.state
        local.busy += 1
        try:
            if checked:
                self.check(entry, args, kwargs, fresh, raised)
            if not raised and type(fresh) not in _ATOM_TYPES:
                entry.hand_out(fresh)
        except Exception as e:
            self.failed(e)
        finally:
            local.busy -= 1

    def check(self, entry, args, kwargs, fresh, raised):
        # (Equal atoms and tuples of them never get here when checked: ``call`` counts
        # them verified itself, unless the entry watches values it handed out.)
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


# Atoms whose ``==`` answers what ``compare`` does (not float: NaN equals NaN there).
_EXACT_ATOMS = frozenset((int, str, bytes, bool, type(None)))


def _equal_atoms(cached, fresh):
    """Whether two tuples hold equal atoms of the same types, pairwise: ``compare``
    would answer EQUAL, and neither can change. False also when it cannot tell."""
    if len(cached) != len(fresh):
        return False
    for a, b in zip(cached, fresh):
        kind = type(a)
        if kind is not type(b) or kind not in _EXACT_ATOMS or a != b:
            return False
    return True


# functools._make_key's "fasttypes": a lone positional argument of these is its own key.
_FAST_TYPES = frozenset((int, str))
_make_key = functools._make_key


class KeyedRecorder(TraceRecorder):
    """A TraceRecorder that builds each call's key as ``lru_cache`` would: traced when
    ``trace`` is set, and run past the target's Shadow when ``shadow`` is (a checked
    run), outside the timed call.

    ``call`` runs for every call of every target, so it does in one frame what each
    call needs (the key built, hashed and looked up once, the trace's key number, the
    accounting of the probe's time) and leaves to other frames only the call itself,
    what a miss stores and what a hit checks."""

    __slots__ = ("shadow", "typed")

    def __init__(self, observe, original, tid, trace, shadow, typed):
        TraceRecorder.__init__(self, observe, original, tid, trace)
        self.shadow = shadow
        self.typed = typed

    def call(self, args, kwargs):
        __tracebackhide__ = True  # noqa: F841 - read by pytest
        local = LOCAL.state
        trace = self.trace
        if local.busy:
            # Called by the probe itself (a key's __hash__ or __eq__, a repr): not one of
            # the program's calls, so neither counted nor shadowed, only noted when it
            # comes from hashing this function's own key. (On a suite of objects whose
            # __hash__ and __eq__ read targets, these outnumber the program's calls.)
            if local.keying is self and trace is not None:
                trace.reentrant += 1
            return self.original(*args, **kwargs)
        if trace is not None and trace.reentrant:
            return self.unkeyed(args, kwargs)
        entered = _perf_counter_ns()
        before = local.overhead
        shadow = self.shadow
        try:
            # The key: functools._make_key's, or one equal to it that hashes the same
            # (the arguments' tuple where _make_key wraps it in a _HashedSeq, a list
            # caching the tuple's hash: no wrapper's frame per call). Hashing it and
            # looking it up runs the program's __hash__ and __eq__, which is the probe's
            # work, and calls this function again only where lru_cache would recurse
            # (noted above).
            keying = local.keying
            local.keying = self
            local.busy += 1
            try:
                if kwargs or self.typed:
                    key = _make_key(args, kwargs, self.typed)
                elif len(args) == 1 and type(args[0]) in _FAST_TYPES:
                    key = args[0]
                else:
                    key = args
                hashed = hash(key)
                entry = None if shadow is None else shadow.find(key, hashed)
            except TypeError:
                key = entry = None  # lru_cache would raise TypeError: the suite sees it
            except Exception as e:
                if shadow is not None:
                    shadow.failed(e)
                key = entry = None
            finally:
                local.busy -= 1
                local.keying = keying
            number = None
            if trace is not None and key is not None:
                numbers = trace.numbers  # numbered in the order of first use
                number = numbers.get(hashed)
                if number is None:
                    number = numbers[hashed] = len(numbers)
            if shadow is None or shadow.inside_hit:
                return self.timed(args, kwargs, number)
            if entry is None:
                value = self.timed(args, kwargs, number)
                if key is not None:
                    local.busy += 1
                    try:
                        shadow.remember(key, hashed, args, kwargs, value)
                    except Exception as e:
                        shadow.failed(e)
                    finally:
                        local.busy -= 1
                return value
            checked = shadow.hit(entry)
            shadow.inside_hit += 1
            try:
                fresh = self.timed(args, kwargs, number)
            except Exception as e:
                shadow.inside_hit -= 1
                if checked:
                    shadow.after_hit(entry, args, kwargs, e, True, True)
                raise
            shadow.inside_hit -= 1
            cached = entry.value
            kind = type(fresh)
            if (
                checked
                and entry.handed is None
                and (
                    cached is fresh
                    or (type(cached) is kind and kind in _ATOM_TYPES and cached == fresh)
                    or (kind is tuple and type(cached) is tuple and _equal_atoms(cached, fresh))
                )
            ):
                # Equal atoms, or tuples of them (what ``check`` finds, without its
                # frames): nothing handed out to watch, none to check, and their == runs
                # none of the program.
                shadow.verified += 1
            else:
                shadow.after_hit(entry, args, kwargs, fresh, False, checked)
            return fresh
        finally:
            if trace is not None:
                # Everything but the function's own time (set by ``timed``) is the
                # probe's, taken out of the time of the traced call this one is inside.
                local.overhead = before + (_perf_counter_ns() - entered) - local.own


def recorder(observe, original, tid, target, checks, trace):
    """The recorder of one swapped function: a KeyedRecorder when the run checks hits
    (``checks``, its setting: the recorder gets a Shadow) or traces keys (``trace``),
    else a plain Recorder."""
    if checks is None and trace is None:
        return Recorder(observe, original, tid)
    typed = bool(target.get("typed", False))
    shadow = None
    if checks is not None:
        maxsize = target.get("maxsize")
        maxsize = maxsize if isinstance(maxsize, int) and not isinstance(maxsize, bool) else None
        shadow = Shadow(tid, maxsize, checks[0], checks[1])
        _SHADOWS.setdefault(tid, []).append(shadow)
    return KeyedRecorder(observe, original, tid, trace, shadow, typed)


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
