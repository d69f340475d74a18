"""The names and values that cachescan and the probe agree on.

Everything here is part of the probe file format (``"format": "cachescan-probe"``,
``"version": 2``, described in the package docstring) or of the environment
cachescan sets for the test process.  ``tests/probe_protocol/protocol.json`` in
the repository holds the same values; the Python tests check that it equals this
module, and the Rust side reads the same file, so a change here is a change of the
protocol: bump VERSION when a reader could misread the new output.
"""

FORMAT = "cachescan-probe"
VERSION = 2

# Environment variables, all set by cachescan except ENV_OWNER.
ENV_OUT = "CACHESCAN_PROBE_OUT"  # directory for the probe-<pid>.json files; unset: inert
ENV_TARGETS = "CACHESCAN_PROBE_TARGETS"  # JSON file: {"version": 1, "targets": [...]}
# Set by the first probing pytest process so that pytest runs started *by the
# tests* (subprocesses inheriting the environment) do not pose as the project's
# run.  Value: "<pid>\n<realpath of out dir>".
ENV_OWNER = "CACHESCAN_PROBE_OWNER"
ENV_OBSERVE = "CACHESCAN_PROBE_OBSERVE"  # "1": observe the targets' calls per test
ENV_SELECT = "CACHESCAN_PROBE_SELECT"  # JSON file: {"version": 1, "nodeids": [...]}
ENV_PART = "CACHESCAN_PROBE_PART"  # "K/N": run part K of N of the suite's files
ENV_VERIFY = "CACHESCAN_PROBE_VERIFY"  # "1" or "RATE:SEED": check would-be hits (_verify)
ENV_TRACE = "CACHESCAN_PROBE_TRACE"  # "1": trace each observed target's keys (_trace)
ENV = {
    "out": ENV_OUT,
    "targets": ENV_TARGETS,
    "owner": ENV_OWNER,
    "observe": ENV_OBSERVE,
    "select": ENV_SELECT,
    "part": ENV_PART,
    "verify": ENV_VERIFY,
    "trace": ENV_TRACE,
}

# The pseudo test of ``test_calls`` that holds the calls made outside any test.
SESSION_KEY = "<session>"

# A target's ``state``: what the probe found where the target should be.
STATE_STATS = "stats"  # cache_info() read: hits, misses, maxsize, currsize are set
STATE_NOT_LOADED = "not-loaded"  # no module loaded from the target's file
STATE_OTHER_FILE = "other-file"  # the module is loaded, but from another file
STATE_NOT_WRAPPED = "not-wrapped"  # found, but nothing on it has cache_info()
STATE_MISSING = "missing"  # the file is loaded, the qualname not found in it
STATES = (STATE_STATS, STATE_NOT_LOADED, STATE_OTHER_FILE, STATE_NOT_WRAPPED, STATE_MISSING)

# A target's ``observer``: how its calls were counted.
OBSERVER_CODE_SWAP = "code-swap"
OBSERVER_MONITORING = "monitoring"  # reserved (sys.monitoring); never written yet
OBSERVER_UNAVAILABLE = "unavailable"  # observe on, this target not observed (see note)
OBSERVER_OFF = "off"  # observe off
OBSERVERS = (OBSERVER_CODE_SWAP, OBSERVER_MONITORING, OBSERVER_UNAVAILABLE, OBSERVER_OFF)

# A file's ``role``: which pytest process wrote it.
ROLE_SINGLE = "single"
ROLE_CONTROLLER = "controller"  # pytest-xdist controller: outcomes, no targets
ROLE_WORKER = "worker"  # pytest-xdist worker: targets and calls, no outcomes
ROLES = (ROLE_SINGLE, ROLE_CONTROLLER, ROLE_WORKER)

# A test's ``outcome``: setup, call and teardown combined.
OUTCOME_PASSED = "passed"
OUTCOME_FAILED = "failed"  # the call failed
OUTCOME_ERROR = "error"  # setup or teardown failed
OUTCOME_SKIPPED = "skipped"
OUTCOME_XFAILED = "xfailed"
OUTCOME_XPASSED = "xpassed"
OUTCOMES = (
    OUTCOME_PASSED,
    OUTCOME_FAILED,
    OUTCOME_ERROR,
    OUTCOME_SKIPPED,
    OUTCOME_XFAILED,
    OUTCOME_XPASSED,
)

# A divergence's ``kind``: why a would-be cache hit differed from the call (_verify).
KIND_MUTATED = "mutated"  # the cached value was changed in place since it was stored
KIND_KEY_COLLISION = "key-collision"  # equal arguments of another type or repr
KIND_FRESH_DIFFERS = "fresh-differs"  # same arguments, unchanged value, other answer
KINDS = (KIND_MUTATED, KIND_KEY_COLLISION, KIND_FRESH_DIFFERS)

# The keys of a probe file, of one entry of its ``tests``, ``collect_errors`` and
# ``targets``, in the order they are written; every key is always present.
FILE_KEYS = (
    "format",
    "version",
    "pid",
    "role",
    "worker_id",
    "python",
    "exitstatus",
    "collected",
    "error",
    "collect_errors",
    "tests",
    "targets",
    "observe",
    "test_calls",
    "deselected",
    "parted_out",
)
TEST_KEYS = ("nodeid", "outcome", "message", "duration_s")
COLLECT_ERROR_KEYS = ("nodeid", "message")
TARGET_KEYS = (
    "id",
    "state",
    "modules",
    "loaded_files",
    "hits",
    "misses",
    "maxsize",
    "currsize",
    "observer",
    "observer_note",
    "observed_calls",
    "observed_time_ns",
    "verify",
    "trace",
)
# A target's ``verify`` (null unless the run checks would-be hits), and its ``divergence``.
VERIFY_KEYS = ("rate", "hits", "verified", "unverified", "divergent", "skipped", "divergence")
DIVERGENCE_KEYS = ("test", "kind", "args", "cached", "fresh")
# A target's ``trace`` (null unless the run traces keys): its file in the output
# directory (null when no call was traced), calls, calls without a key, distinct keys, and
# calls made while hashing its own key (reentrant: lru_cache would recurse), and the calls
# after the first of those, counted but not keyed (unkeyed).
TRACE_KEYS = ("file", "calls", "unhashable", "keys", "reentrant", "unkeyed")
# One cell of ``test_calls`` ({nodeid: {target id: cell}}) is a JSON array of these.
CALL_CELL = ("calls", "time_ns")
