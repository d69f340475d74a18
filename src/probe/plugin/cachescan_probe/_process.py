"""This process's part in the run: one probe per process, and nested runs ignored.

cachescan starts one pytest process (which may start pytest-xdist workers);
each probing process writes one ``probe-<pid>.json`` into ``CACHESCAN_PROBE_OUT``.
The state below is per process, in module globals:

  * ``active``: the Probe bound to the outermost Config; a ``pytest.main()``
    run inside the tests (a nested Config) finds it set and is ignored;
  * ``written``: a probe file has been written by this process, so the atexit
    fallback has nothing to do;
  * ``inert``: this process decided not to probe (a nested pytest process).

The first probing process puts its pid and out directory into
``CACHESCAN_PROBE_OWNER``; a pytest process started by the tests inherits it and
stays inert, unless it is an xdist worker of the owner.
"""

import os

from ._protocol import ENV_OUT, ENV_OWNER
from ._targets import norm

active = None  # the Probe instance bound to the outermost Config
written = False  # a probe file has been written by this process
inert = False  # this process decided not to probe (nested run)


def out_dir():
    out = os.environ.get(ENV_OUT)
    if not out:
        return None
    return out


def owner_token(pid=None):
    return "%d\n%s" % (pid if pid is not None else os.getpid(), norm(out_dir()) or "")


def is_nested(workerinput):
    """True when this pytest process was started by the tests of another
    probing pytest process (same out dir), and is not one of its xdist
    workers."""
    owner = os.environ.get(ENV_OWNER)
    if not owner:
        return False
    try:
        pid_s, _, out_s = owner.partition("\n")
        if out_s != (norm(out_dir()) or ""):
            return False  # another cachescan invocation: not ours
        owner_pid = int(pid_s)
    except Exception:
        return False
    if owner_pid == os.getpid():
        return False
    if workerinput is not None:
        try:
            if os.getppid() == owner_pid:
                return False  # xdist worker of the owner
        except Exception:
            return False
    return True
