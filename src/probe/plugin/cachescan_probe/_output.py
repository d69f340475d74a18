"""The probe file: its skeleton, and writing it.

Every process writes ``probe-<pid>.json`` into ``CACHESCAN_PROBE_OUT``
atomically (a temporary file in the same directory, fsync, rename), once.  Every
key of ``_protocol.FILE_KEYS`` is always present; base_payload holds their
values before anything is known.  Output that cannot be encoded as JSON is
replaced by the skeleton with an error saying why, so a file is still written.
"""

import json
import os
import platform

from . import _process
from ._protocol import FORMAT, ROLE_CONTROLLER, ROLE_SINGLE, VERSION


def base_payload(role, worker_id):
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
        "deselected": None if role == ROLE_CONTROLLER else 0,
        "parted_out": None if role == ROLE_CONTROLLER else 0,
    }


def write_payload(payload):
    out = _process.out_dir()
    if not out:
        return
    pid = os.getpid()
    final = os.path.join(out, "probe-%d.json" % pid)
    tmp = os.path.join(out, ".probe-%d.json.tmp" % pid)
    try:
        text = json.dumps(payload, default=str, allow_nan=False, separators=(",", ":"))
    except Exception as e:  # the fallback: the skeleton, saying why
        fallback = base_payload(payload.get("role", ROLE_SINGLE), None)
        fallback["error"] = "cannot encode probe output: %s: %s" % (type(e).__name__, e)
        text = json.dumps(fallback)
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
        _process.written = True
    except Exception:
        try:
            os.unlink(tmp)
        except Exception:
            pass
