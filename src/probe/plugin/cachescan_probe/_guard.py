"""Hooks that never raise into pytest.

An error inside the probe must not change the test run: it is recorded, and
reaches cachescan in the ``"error"`` field of the probe file.  ``guarded`` does
that for a hook or entry point that only has to record and carry on;
``record_error`` is the same record for the places whose ``except`` does more
(a fallback value, a message naming a target).  Both write one entry as
``"<where>: <Type>: <message>"``, and the first ERRORS_WITH_TRACEBACK entries
of a run also get the last lines of the traceback.

``hookimpl`` is pytest's marker, or a stand-in when the package is imported
without pytest (its helpers can be used on their own).
"""

import functools
import traceback

try:  # pytest is always importable inside a pytest process
    from pytest import hookimpl
except Exception:  # pragma: no cover - only outside pytest

    def hookimpl(**_kw):
        return lambda f: f


ERRORS_WITH_TRACEBACK = 5


def record_error(errors, where, exc, tb=None):
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


def guarded(where):
    """Decorator for a plugin method that must never raise into pytest: an exception
    is recorded in ``self.errors`` (see record_error) and the method returns None.

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
                record_error(self.errors, where, exc, exc.__traceback__.tb_next)

        return guard

    return decorate
