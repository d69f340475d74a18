"""Key traces (``CACHESCAN_PROBE_TRACE=1``, with ``CACHESCAN_PROBE_OBSERVE=1``).

For each observed target, the sequence of its calls' cache keys and each call's
inclusive time, from which cachescan computes the hit rate an ``lru_cache`` of any
``maxsize`` would have (LRU stack distances) and the time it would save.

A key is what ``lru_cache`` builds: ``functools._make_key(args, kwargs, typed)``
with the target's ``typed``.  The trace keeps only its hash, numbered per target
(0, 1, 2, ... in the order of first use), so no argument is kept alive and
memory grows with the distinct keys, not with the calls; two distinct keys with
the same hash count as one (rare, and it can only overstate the hit rate).  A
call whose key cannot be hashed (``lru_cache`` would raise ``TypeError``) is
counted apart and not traced.

Calls are traced in the order they begin (the order in which a cache looks keys
up), each with the time until it ended.  Each target's calls go to a binary file
``trace-<pid>-<n>.bin`` in the output directory, in chunks: a little-endian u32
count, then that many u32 key numbers, then that many u64 times in nanoseconds.
A chunk is written once FLUSH calls are held and none of them is still running,
and at the end of the session (``finish``), so a long run keeps little in
memory.

Calls that the probe itself makes (the checks of ``_verify`` comparing values,
hashing keys) are not the program's: while ``LOCAL.state.busy`` is set, recorders call
the function directly, untraced and uncounted. One such call is telling: when
hashing a call's key calls the same function (a property read by ``__hash__``),
``lru_cache`` would recurse without end; the trace counts those as ``reentrant``.

A call's time is net of the probe's own work inside it: when a traced function
calls another one, the inner recorder's hashing, checking and bookkeeping
(``LOCAL.state.overhead``, measured around each traced call) is taken out of the outer
call's time, so a caller of observed functions does not look slower than it is.
"""

import array
import os
import struct
import threading
import time

from ._protocol import ENV_TRACE
from ._swap import Recorder

FLUSH = 1 << 16
_perf_counter_ns = time.perf_counter_ns
_TRACES = {}  # target id -> Trace
_FILES = []  # every Trace, in the order they were made


class _State(object):
    """One thread's probe state. Every observed call reads and writes it several times,
    so it is a plain object with slots, reached by one thread-local lookup per call
    (``LOCAL.state``): a ``threading.local``'s own attributes cost four to six times as
    much to read and write."""

    __slots__ = ("busy", "overhead", "own", "keying")

    def __init__(self):
        self.busy = 0  # > 0 while the probe's own code runs (its calls are not the program's)
        self.overhead = 0  # ns this thread spent in traced recorders outside the functions
        self.own = 0  # ns of the last traced call, net of the probe's work inside it
        self.keying = None  # the recorder whose call's key is being hashed


class _Local(threading.local):
    def __init__(self):
        self.state = _State()


LOCAL = _Local()


def tracing():
    """Whether this run traces the observed targets' keys."""
    return os.environ.get(ENV_TRACE, "") == "1"


class Trace(object):
    """The key trace of one observed function."""

    __slots__ = (
        "numbers", "ids", "times", "calls", "unhashable", "open", "name", "file", "error",
        "reentrant", "unkeyed",
    )

    def __init__(self, name):
        self.numbers = {}  # key hash -> key number
        self.ids = array.array("I")
        self.times = array.array("Q")
        self.calls = 0
        self.unhashable = 0
        self.open = 0  # calls begun and not ended (recursion, threads)
        self.name = name
        self.file = None
        self.error = None
        self.reentrant = 0  # calls made while hashing its own key (lru_cache would recurse)
        self.unkeyed = 0  # calls after the first reentrant one: counted, not keyed

    def flush(self):
        if not self.ids or self.error is not None:
            return
        try:
            if self.file is None:
                self.file = open(self.name, "wb")
            self.file.write(struct.pack("<I", len(self.ids)))
            self.file.write(_little_endian(self.ids).tobytes())
            self.file.write(_little_endian(self.times).tobytes())
        except Exception as e:  # the trace is lost, the run is not
            self.error = "%s: %s" % (type(e).__name__, e)
        del self.ids[:]
        del self.times[:]

    def close(self):
        self.flush()
        if self.file is not None:
            try:
                self.file.close()
            except Exception as e:
                self.error = self.error or "%s: %s" % (type(e).__name__, e)


def _little_endian(values):
    if struct.pack("=I", 1) == struct.pack("<I", 1):
        return values
    swapped = array.array(values.typecode, values)
    swapped.byteswap()
    return swapped


def new_trace(tid, out_dir):
    """The trace of a newly observed target, writing into ``out_dir``."""
    name = os.path.join(out_dir, "trace-%d-%d.bin" % (os.getpid(), len(_FILES)))
    trace = Trace(name)
    _FILES.append(trace)
    _TRACES[tid] = trace
    return trace


def add_alias(recorder, tid):
    """``tid`` names a function another target already swapped: it shares the trace."""
    trace = getattr(recorder, "trace", None)
    if trace is not None:
        _TRACES[tid] = trace


class TraceRecorder(Recorder):
    """A Recorder (calls counted and timed for the call map) that can also trace each
    call's key and inclusive time (``trace`` None: it does not): ``timed`` is one call,
    ``unkeyed`` one whose key is no longer built. Which key a call has, and which calls
    the probe made itself, is the business of its subclass, ``_verify.KeyedRecorder``."""

    __slots__ = ("trace",)

    def __init__(self, observe, original, tid, trace):
        Recorder.__init__(self, observe, original, tid)
        self.trace = trace

    def unkeyed(self, args, kwargs):
        """A call of a function whose key's hashing called it again: cached, it would
        recurse on every call, a verdict one such call settles. Its later calls are
        counted and timed for the call map as every call is, and counted ``unkeyed`` in
        the trace; their keys are not built, hashed (the costly part: on a suite of
        classes whose ``__hash__`` reads their own properties, most of the checked run's
        cost), traced or checked."""
        __tracebackhide__ = True  # noqa: F841 - read by pytest
        trace = self.trace
        trace.calls += 1
        trace.unkeyed += 1
        return Recorder.call(self, args, kwargs)

    def timed(self, args, kwargs, number):
        """The call, counted and timed for the call map as ``Recorder.call`` does it, and
        traced with key ``number`` (None: unhashable), its trace time net of the probe's
        work in the traced calls it makes. One frame for what every observed call does
        (the trace's bookkeeping and the call map's, written out here rather than
        called): it runs for every call of every target."""
        __tracebackhide__ = True  # noqa: F841 - read by pytest
        trace = self.trace
        if trace is None:
            return Recorder.call(self, args, kwargs)
        # The trace, in the order calls begin (the order in which a cache looks keys up).
        trace.calls += 1
        trace.open += 1
        if number is None:
            trace.unhashable += 1
            slot = None
        else:
            ids = trace.ids
            ids.append(number)
            trace.times.append(0)
            slot = len(ids) - 1
        # The call map: counted into the current test's bucket, timed when outermost.
        bucket = self.observe.current
        tids = self.tids
        for tid in tids:
            cell = bucket.get(tid)
            if cell is None:
                cell = bucket[tid] = [0, 0]
            cell[0] += 1
        outermost = self.depth == 0
        self.depth += 1
        local = LOCAL.state
        before = local.overhead
        start = _perf_counter_ns()
        try:
            return self.original(*args, **kwargs)
        finally:
            elapsed = _perf_counter_ns() - start
            self.depth -= 1
            if outermost:
                for tid in tids:
                    bucket[tid][1] += elapsed
            own = elapsed - (local.overhead - before)
            local.own = own
            # Chunks are written only when no call is open, so every open slot stays in
            # memory until its call ends.
            trace.open -= 1
            if slot is not None:
                trace.times[slot] = own
            if trace.open == 0 and len(trace.ids) >= FLUSH:
                trace.flush()


def finish(errors):
    """Flush and close every trace; their errors go to ``errors``."""
    for trace in _FILES:
        trace.close()
        if trace.error is not None:
            errors.append("trace %s: %s" % (os.path.basename(trace.name), trace.error))


def target_fields(tid):
    """The ``trace`` value of one target entry: null when this run traces nothing for it."""
    trace = _TRACES.get(tid)
    if trace is None or trace.error is not None:
        return None
    return {
        "file": os.path.basename(trace.name) if trace.file is not None else None,
        "calls": trace.calls,
        "unhashable": trace.unhashable,
        "keys": len(trace.numbers),
        "reentrant": trace.reentrant,
        "unkeyed": trace.unkeyed,
    }
