"""Test outcomes and collection errors, as pytest reports them.

Each test's ``outcome`` (``_protocol.OUTCOMES``) combines its setup, call and
teardown reports: a failing call is ``failed``, a failing setup or teardown
``error``, ``xfailed``/``xpassed`` come from ``wasxfail``, and when phases
disagree the worse one wins (a failed call keeps ``failed`` when teardown errors
too).  A test run again (pytest-rerunfailures, ``--count``) starts a new entry.
Only the single process and the xdist controller record outcomes; every process
records its collection errors.  A message is the first line of the crash
message (or of the long report), cut at MESSAGE_MAX characters.
"""

from ._guard import guarded, record_error
from ._protocol import (
    OUTCOME_ERROR,
    OUTCOME_FAILED,
    OUTCOME_PASSED,
    OUTCOME_SKIPPED,
    OUTCOME_XFAILED,
    OUTCOME_XPASSED,
)

MESSAGE_MAX = 300  # characters kept of a message


def first_line(text):
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
    return first_line(text)


def report_message(report):
    """First non-empty line of reprcrash.message, else of str(longrepr)."""
    try:
        longrepr = getattr(report, "longrepr", None)
        if longrepr is None:
            return None
        if isinstance(longrepr, (tuple, list)) and len(longrepr) == 3:
            # skip: (path, lineno, "Skipped: reason")
            return first_line(longrepr[2])
        crash = getattr(longrepr, "reprcrash", None)
        msg = getattr(crash, "message", None) if crash is not None else None
        line = first_line(msg)
        if line:
            return line
        return _error_line_from_text(longrepr)
    except Exception:
        return None


# When the phases of a test disagree, the worse outcome wins.
_OUTCOME_RANK = {
    OUTCOME_PASSED: 0,
    OUTCOME_SKIPPED: 1,
    OUTCOME_XFAILED: 1,
    OUTCOME_XPASSED: 1,
    OUTCOME_FAILED: 2,
    OUTCOME_ERROR: 3,
}


class Outcomes(object):
    """pytest plugin: the ``tests`` and ``collect_errors`` of the probe file.

    ``errors`` is the probe's list; ``workerinput`` is pytest-xdist's, set in a
    worker (whose controller reports the outcomes)."""

    def __init__(self, errors, workerinput):
        self.errors = errors
        self.workerinput = workerinput
        self.tests = {}  # nodeid -> entry (insertion ordered)
        self.collect_errors = {}  # nodeid -> entry

    @guarded("pytest_collectreport")
    def pytest_collectreport(self, report):
        if not getattr(report, "failed", False):
            return
        nodeid = getattr(report, "nodeid", "") or ""
        if nodeid in self.collect_errors:
            return
        self.collect_errors[nodeid] = {
            "nodeid": nodeid,
            "message": report_message(report),
        }

    # Three times per test: caught by hand, as the guard's extra call (a few percent
    # of what the probe costs per test, measured in instructions) would cost here.
    # pytest's report outcomes ("passed", "failed", "skipped") and ours share their
    # strings; literals here keep this hook's bytecode as it was (the protocol tests
    # check that every outcome written is one of _protocol.OUTCOMES).
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
                    entry["message"] = report_message(report)
            elif cur == "failed" and new == "error":
                pass  # call failed, teardown errored too: keep "failed"
            elif _OUTCOME_RANK.get(new, 0) > _OUTCOME_RANK.get(cur, 0):
                entry["outcome"] = new
                entry["message"] = report_message(report)
            if when == "teardown":
                entry["_done"] = True
        except Exception as e:
            record_error(self.errors, "pytest_runtest_logreport", e)

    # ---- output ----------------------------------------------------------
    def tests_json(self):
        tests = []
        for entry in self.tests.values():
            e = dict(entry)
            e.pop("_done", None)
            if e["outcome"] is None:
                e["outcome"] = OUTCOME_PASSED
            e["duration_s"] = round(e["duration_s"], 6)
            tests.append(e)
        return tests

    def collect_errors_json(self):
        return list(self.collect_errors.values())
