"""`python -m cachescan ARGS`: runs the installed `cachescan` executable with ARGS."""

import os
import subprocess
import sys

from cachescan import find_cachescan_bin


def main():
    executable = find_cachescan_bin()
    arguments = [executable] + sys.argv[1:]
    if os.name == "posix":
        # Replace this interpreter: signals (Ctrl-C) and the exit code are cachescan's own.
        os.execv(executable, arguments)
    return subprocess.call(arguments)


if __name__ == "__main__":
    sys.exit(main())
