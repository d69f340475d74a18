"""The code swap: how one plain Python function is observed without being replaced.

``original`` = a new function object with the function's code, globals,
defaults, closure and attributes (copy_function); then the function's
``__code__`` becomes a trampoline ``def f(*args, **kwargs)`` whose only constant
of note is a Recorder: the trampoline calls ``recorder.call(args, kwargs)``,
which counts the call for the current test, calls ``original`` and times the
outermost call of a recursion (``time.perf_counter_ns``, wall time).  Every
reference to the function object (``from mod import f``, an lru_cache wrapper, a
class attribute) is thereby observed.  ``f.__wrapped__ = original`` keeps
``inspect.signature`` and ``inspect.getsource`` describing the real function.

The recorder sits in the trampoline's ``co_consts`` (a code object may hold any
constant), so nothing is added to the module's globals and no name lookup
happens per call.  The trampoline's file name is TRAMPOLINE_FILENAME and it sets
``__tracebackhide__`` so pytest hides its frame.  A function with free variables
(a closure, a method using zero-argument ``super()``) keeps its closure cells, so
its trampoline is compiled with the same free variables, named only in dead
code; one whose free variable is named like the trampoline's own (``args``,
``kwargs``) cannot be swapped.  The same mechanism runs on every Python version:
``sys.monitoring`` (3.12+) could observe without touching the function, but a
second path that only newer interpreters take would go untested.

Recorder.call runs for every observed call: keep it as cheap as it is.  Which
functions get swapped, and which test is current, is _observe's business.
"""

import time
import types

from ._targets import MISSING

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
CO_NOT_PLAIN = 0x20 | 0x80 | 0x100 | 0x200
_TEMPLATES = {}  # free variable names -> trampoline code, compiled once each


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


def trampoline_code(recorder, code):
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


def is_trampoline(code):
    return getattr(code, "co_filename", None) == TRAMPOLINE_FILENAME


def copy_function(func):
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


class Recorder(object):
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


class Swap(object):
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
        if func.__dict__.get("__wrapped__", MISSING) is self.original:
            if self.had_wrapped:
                func.__wrapped__ = self.wrapped
            else:
                del func.__wrapped__
        return restored
