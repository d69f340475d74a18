"""cachescan, installed from its wheel: the program is the `cachescan` executable that the
wheel puts beside the interpreter's scripts; this package only finds it, so that
`python -m cachescan` works where the scripts directory is not on PATH."""

import os
import sys
import sysconfig

__all__ = ["find_cachescan_bin"]


def find_cachescan_bin():
    """The path of the installed `cachescan` executable (a str).

    Looks where pip puts scripts: the environment's scripts directory, then the user
    scheme's (`pip install --user`). Raises FileNotFoundError naming both when neither has it.
    """
    name = "cachescan" + (sysconfig.get_config_var("EXE") or "")
    candidates = [os.path.join(sysconfig.get_path("scripts"), name)]
    if sys.version_info >= (3, 10):
        user_scheme = sysconfig.get_preferred_scheme("user")
    elif os.name == "nt":
        user_scheme = "nt_user"
    elif sys.platform == "darwin" and getattr(sys, "_framework", None):
        user_scheme = "osx_framework_user"
    else:
        user_scheme = "posix_user"
    candidates.append(os.path.join(sysconfig.get_path("scripts", scheme=user_scheme), name))
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(
        "the cachescan executable is not installed in " + " or ".join(candidates)
    )
