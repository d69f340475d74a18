"""Which collected tests this process runs: ``CACHESCAN_PROBE_SELECT`` and ``_PART``.

Both deselect in ``pytest_collection_modifyitems`` (trylast), in every process
that collects, selection first; pytest is told (``N deselected``) and the
counts go to the ``deselected`` and ``parted_out`` keys.  A selection keeps the
items whose node id is listed exactly; a part K/N keeps the test files of part
K, files taken largest first, each to the part with the fewest items so far.
An unusable file or value is reported in ``error`` and keeps every item.
"""

import json
import os

from ._protocol import ENV_PART, ENV_SELECT


def load_selection(errors):
    """The set of node ids to keep, or None (no selection, or unusable)."""
    path = os.environ.get(ENV_SELECT)
    if not path:
        return None
    try:
        with open(path, "r", encoding="utf-8") as fh:
            data = json.load(fh)
    except Exception as e:
        errors.append("cannot read %s %r: %s: %s" % (ENV_SELECT, path, type(e).__name__, e))
        return None
    if not isinstance(data, dict) or data.get("version") != 1:
        errors.append("%s: expected an object with \"version\": 1" % ENV_SELECT)
        return None
    nodeids = data.get("nodeids")
    if not isinstance(nodeids, list) or not all(isinstance(n, str) for n in nodeids):
        errors.append("%s: 'nodeids' is not a list of strings" % ENV_SELECT)
        return None
    return set(nodeids)


def load_part(errors):
    """(index, count) with 1 <= index <= count, or None (no part, or unusable)."""
    value = os.environ.get(ENV_PART)
    if not value:
        return None
    index, _, count = value.partition("/")
    try:
        index, count = int(index), int(count)
    except ValueError:
        index, count = 0, 0
    if not 1 <= index <= count:
        errors.append("%s: %r is not K/N with 1 <= K <= N" % (ENV_PART, value))
        return None
    return index, count


def deselect(config, items, keep):
    """Keep the items for which ``keep(item)`` holds, tell pytest about the others
    (``N deselected``), and return how many those were."""
    kept = []
    dropped = []
    for item in items:
        (kept if keep(item) else dropped).append(item)
    if dropped:
        items[:] = kept
        config.hook.pytest_deselected(items=dropped)
    return len(dropped)


def file_of(nodeid):
    return nodeid.split("::", 1)[0]


def part_files(items, count):
    """{file: part index (1-based)}: files largest first to the emptiest part."""
    sizes = {}
    for item in items:
        name = file_of(item.nodeid)
        sizes[name] = sizes.get(name, 0) + 1
    order = {name: position for position, name in enumerate(sizes)}
    loads = [0] * count
    parts = {}
    for name in sorted(sizes, key=lambda name: (-sizes[name], order[name])):
        emptiest = min(range(count), key=lambda part: (loads[part], part))
        loads[emptiest] += sizes[name]
        parts[name] = emptiest + 1
    return parts
