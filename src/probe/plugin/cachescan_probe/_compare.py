"""Comparing a cached value with a fresh one, the way a user would.

``compare(cached, fresh)`` answers EQUAL, DIFFER or UNVERIFIED:

  * the same object is equal; values of different types differ (``True`` is not
    ``1``, a ``Decimal`` is not a ``float``);
  * floats (and complex numbers) are equal when ``==`` says so or both are NaN;
  * lists, tuples and dicts are compared element by element (so a NaN inside
    them is equal too); dicts by their keys, then the value of each key;
  * any other type that defines ``__eq__`` is compared with ``==``; a result
    that is not a plain bool is taken as a bool when it can be, else unverified;
  * an object whose class keeps identity equality (no ``__eq__`` of its own) is
    compared by its type and attributes (``__dict__`` and every ``__slots__``
    entry), recursively; one without either (a lock, a socket), and functions,
    classes, modules and generators, can only be compared by identity: two of
    them are unverified;
  * a comparison that raises, goes deeper than MAX_DEPTH or looks at more than
    MAX_NODES values is UNVERIFIED: never counted as equal, never as a
    divergence.

``freeze(value)`` takes a structural snapshot of a value that can change in
place (a list, dict, set or object with attributes): nested tuples that keep
the atoms themselves, and a deep copy of an object whose class defines
``__eq__`` (compared with it), so ``compare(freeze(a), freeze(b))`` says
whether ``a`` changed since its snapshot.  Values that cannot change (numbers, strings,
bytes, None, tuples of those, frozensets) need none: ``needs_snapshot`` says
which do.  Nor do value objects, whose class defines ``__eq__`` and ``__hash__``
(``_is_value``): Python's data model reserves that pair for objects that do not
change, so they are taken at their word (a snapshot holds the object itself), and
a class that breaks the rule has a change to one of them go unnamed as ``mutated``.
A value too large or too deep to freeze gives None (no snapshot).

``unchanged(snapshot, value)`` answers what ``compare(snapshot, freeze(value))``
answers, without taking the second snapshot: it walks the value beside its
snapshot and compares each copy with the live object, so checking a value that
was handed out costs no deep copy.  (A verified run checks up to four handed-out
values on every would-be hit; their deep copies were most of its cost on a suite
whose functions return objects with ``__eq__``.)  Where the walk cannot mirror the
snapshot (a set, a copy that failed, a limit reached) it takes the second snapshot.
"""

import copy
import math
import types

EQUAL = "equal"
DIFFER = "differ"
UNVERIFIED = "unverified"

MAX_DEPTH = 32
MAX_NODES = 20000

_ATOMS = (int, float, complex, str, bytes, bool, type(None), type(Ellipsis), range)
_SEQUENCES = (list, tuple)
# Compared by identity only: a fresh one is never the cached one, and nothing else
# about them can be compared.
_IDENTITY_ONLY = (
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.ModuleType,
    types.GeneratorType,
    types.CodeType,
)


class _Undecided(Exception):
    """The comparison cannot decide (too deep, too large, or it raised)."""


class _Budget(object):
    __slots__ = ("nodes",)

    def __init__(self):
        self.nodes = 0

    def spend(self, depth):
        self.nodes += 1
        if self.nodes > MAX_NODES or depth > MAX_DEPTH:
            raise _Undecided()


def compare(cached, fresh):
    """EQUAL, DIFFER or UNVERIFIED."""
    try:
        return EQUAL if _equal(cached, fresh, 0, _Budget()) else DIFFER
    except _Undecided:
        return UNVERIFIED
    except Exception:
        return UNVERIFIED


def _defines_eq(cls):
    """Whether instances compare with an ``__eq__`` other than object's identity."""
    return getattr(cls, "__eq__", object.__eq__) is not object.__eq__


def _equal(a, b, depth, budget):
    if a is b:
        return True
    budget.spend(depth)
    cls = type(a)
    if cls is not type(b):
        return False
    if cls in _IDENTITY_ONLY:
        raise _Undecided()
    if cls is float:
        return a == b or (math.isnan(a) and math.isnan(b))
    if cls is complex:
        return _equal(a.real, b.real, depth + 1, budget) and _equal(a.imag, b.imag, depth + 1, budget)
    if cls in _SEQUENCES:
        if len(a) != len(b):
            return False
        return all(_equal(x, y, depth + 1, budget) for x, y in zip(a, b))
    if cls is dict:
        if len(a) != len(b) or a.keys() != b.keys():
            return False
        return all(_equal(a[key], b[key], depth + 1, budget) for key in a)
    if _defines_eq(cls):
        result = a == b
        if result is True or result is False:
            return result
        if result is NotImplemented:
            raise _Undecided()
        try:
            return bool(result)
        except Exception:
            raise _Undecided()
    return _equal_attributes(a, b, depth, budget)


def _slot_names(cls):
    names = []
    for klass in cls.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        if isinstance(slots, str):
            slots = (slots,)
        for name in slots:
            if name not in ("__dict__", "__weakref__") and name not in names:
                names.append(name)
    return names


_ABSENT = object()


def _equal_attributes(a, b, depth, budget):
    """Objects with identity equality: the same type (checked) and the same
    attributes, recursively."""
    slots = _slot_names(type(a))
    for name in slots:
        x = getattr(a, name, _ABSENT)
        y = getattr(b, name, _ABSENT)
        if (x is _ABSENT) != (y is _ABSENT):
            return False
        if x is not _ABSENT and not _equal(x, y, depth + 1, budget):
            return False
    x = getattr(a, "__dict__", None)
    y = getattr(b, "__dict__", None)
    if isinstance(x, dict) and isinstance(y, dict):
        return _equal(x, y, depth + 1, budget)
    if slots:
        return True
    raise _Undecided()  # no state to compare: only identity, and they differ


def needs_snapshot(value):
    """Whether ``value`` could change in place (so a cached copy of it may be
    mutated by a caller)."""
    cls = type(value)
    if cls in _ATOMS or cls is frozenset:
        return False
    if cls is tuple:
        return any(needs_snapshot(item) for item in value)
    return not _is_value(value)


_VALUE_CLASSES = {}  # class -> whether it compares and hashes by value


def _is_value(value):
    """Whether ``value`` is a value object: its class defines ``__eq__`` and a
    ``__hash__`` of its own, and it hashes. Python's data model asks a class whose
    instances can change not to define ``__hash__`` beside ``__eq__`` (a dict or set
    holding one would break), so such an object is taken not to change, like a tuple
    of atoms: no snapshot, no deep copy (which was most of a checked run's cost on a
    suite of ``Version`` objects). That it hashes rules out one holding a list. Runs
    the object's ``__hash__``: the caller holds ``LOCAL.state.busy``."""
    cls = type(value)
    known = _VALUE_CLASSES.get(cls)
    if known is None:
        hashes = getattr(cls, "__hash__", None)
        known = hashes is not None and hashes is not object.__hash__ and _defines_eq(cls)
        _VALUE_CLASSES[cls] = known
    if not known:
        return False
    try:
        hash(value)
    except Exception:
        return False
    return True


def freeze(value):
    """A structural snapshot of ``value`` (see the module docstring), or None
    when it is too large or too deep, or cannot be walked."""
    try:
        return _freeze(value, 0, _Budget())
    except Exception:
        return None


def _freeze(value, depth, budget):
    budget.spend(depth)
    cls = type(value)
    if cls in _ATOMS:
        return value
    if cls in _SEQUENCES:
        return (cls, tuple(_freeze(item, depth + 1, budget) for item in value))
    if cls is dict:
        return (
            dict,
            tuple(
                (_freeze(key, depth + 1, budget), _freeze(item, depth + 1, budget))
                for key, item in value.items()
            ),
        )
    if cls in (set, frozenset):
        # Elements of a set are hashable: frozen, they still are.
        return (cls, frozenset(_freeze(item, depth + 1, budget) for item in value))
    if cls is bytearray:
        return (cls, bytes(value))
    if _is_value(value):
        return value  # taken not to change (``_is_value``): the snapshot is the object
    if _defines_eq(cls):
        # Compared with its own ``==``, so its snapshot is a copy compared that way: its
        # attributes may hold caches filled later (a path's string, a hash), which are
        # no change to its value.
        try:
            return (cls, "copy", copy.deepcopy(value))
        except Exception:
            return (cls, "id", id(value))
    state = []
    for name in _slot_names(cls):
        item = getattr(value, name, _ABSENT)
        if item is not _ABSENT:
            state.append((name, _freeze(item, depth + 1, budget)))
    attributes = getattr(value, "__dict__", None)
    if isinstance(attributes, dict):
        state.append(("__dict__", _freeze(dict(attributes), depth + 1, budget)))
    elif not state:
        # Nothing to walk (a C object without attributes): only its identity is known.
        return (cls, "id", id(value))
    return (cls, tuple(state))


class _Fallback(Exception):
    """``unchanged`` cannot mirror this part of the snapshot: take a second one."""


def unchanged(snapshot, value):
    """``compare(snapshot, freeze(value))``: EQUAL when ``value`` still matches the
    snapshot ``freeze`` took of it, DIFFER when it changed, UNVERIFIED when that
    cannot be decided."""
    if snapshot is not None:
        try:
            return EQUAL if _same(snapshot, value, 0, _Budget()) else DIFFER
        except (_Fallback, _Undecided):
            pass
        except Exception:
            pass
    return compare(snapshot, freeze(value))


def _same(snapshot, value, depth, budget):
    """Whether ``value`` matches ``snapshot`` as ``_equal(snapshot, _freeze(value))``
    would; raises _Fallback where it cannot say so without freezing."""
    budget.spend(depth)
    if snapshot is value:
        return True  # an atom or a value object, the snapshot of itself
    cls = type(value)
    if cls in _ATOMS:
        return _equal(snapshot, value, depth, budget)
    if type(snapshot) is not tuple or not snapshot or snapshot[0] is not cls:
        raise _Fallback()
    if cls in _SEQUENCES:
        items = snapshot[1] if len(snapshot) == 2 else None
        if type(items) is not tuple:
            raise _Fallback()
        if len(items) != len(value):
            return False
        return all(_same(frozen, item, depth + 1, budget) for frozen, item in zip(items, value))
    if cls is dict:
        return _same_pairs(snapshot, list(value.items()), depth, budget, _same_entry)
    if cls in (set, frozenset) or cls is bytearray:
        raise _Fallback()
    if _defines_eq(cls):
        if len(snapshot) != 3 or snapshot[1] != "copy":
            raise _Fallback()
        return _equal(snapshot[2], value, depth + 1, budget)
    state = []
    for name in _slot_names(cls):
        item = getattr(value, name, _ABSENT)
        if item is not _ABSENT:
            state.append((name, item))
    attributes = getattr(value, "__dict__", None)
    if isinstance(attributes, dict):
        state.append(("__dict__", dict(attributes)))
    elif not state:
        raise _Fallback()
    return _same_pairs(snapshot, state, depth, budget, _same_named)


def _same_pairs(snapshot, pairs, depth, budget, same_pair):
    """The pairs of a dict (key, item) or of an object's state (name, item) against the
    frozen pairs of its snapshot, in order."""
    frozen = snapshot[1] if len(snapshot) == 2 else None
    if type(frozen) is not tuple:
        raise _Fallback()
    if len(frozen) != len(pairs):
        return False
    for frozen_pair, pair in zip(frozen, pairs):
        if type(frozen_pair) is not tuple or len(frozen_pair) != 2:
            raise _Fallback()
        budget.spend(depth + 1)
        if not same_pair(frozen_pair, pair, depth + 1, budget):
            return False
    return True


def _same_named(frozen_pair, pair, depth, budget):
    return frozen_pair[0] == pair[0] and _same(frozen_pair[1], pair[1], depth + 1, budget)


def _same_entry(frozen_pair, pair, depth, budget):
    return _same(frozen_pair[0], pair[0], depth + 1, budget) and _same(
        frozen_pair[1], pair[1], depth + 1, budget
    )
