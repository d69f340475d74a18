"""Targets: where each one is in the test process, and its lru_cache statistics.

cachescan names each target by module, qualname and the path of the file it
patched (``CACHESCAN_PROBE_TARGETS``).  At the end of the session the probe
looks for modules in ``sys.modules`` loaded from that file (paths compared as
realpath + normcase), walks the qualname statically (no descriptor, no
``__getattr__`` runs, nothing is imported), follows ``__wrapped__`` to the
object with ``cache_info()`` and reads it, summed over every module name the
file was loaded under.  The result is one target entry with a state from
``_protocol.STATES``.  The cached functions themselves are never called.
"""

import inspect
import json
import os
import sys

from ._protocol import (
    ENV_TARGETS,
    OBSERVER_OFF,
    STATE_MISSING,
    STATE_NOT_LOADED,
    STATE_NOT_WRAPPED,
    STATE_OTHER_FILE,
    STATE_STATS,
)

MISSING = object()  # "no such attribute", where None could be a value


def norm(path, base=None):
    """realpath + normcase; relative paths are resolved against ``base``."""
    if not isinstance(path, str) or not path:
        return None
    try:
        if base and not os.path.isabs(path):
            path = os.path.join(base, path)
        return os.path.normcase(os.path.realpath(path))
    except Exception:
        return None


def module_dict(mod):
    try:
        d = object.__getattribute__(mod, "__dict__")
        return d if isinstance(d, dict) else None
    except Exception:
        return None


def module_file(mod):
    """The file a module was loaded from, without triggering lazy loading or
    a module-level ``__getattr__``."""
    d = module_dict(mod)
    if d is None:
        return None
    f = d.get("__file__")
    if isinstance(f, str) and f:
        return f
    spec = d.get("__spec__")
    try:
        if spec is not None and getattr(spec, "has_location", False):
            origin = getattr(spec, "origin", None)
            if isinstance(origin, str) and origin:
                return origin
    except Exception:
        pass
    return None


def snapshot_modules(base, targets):
    """[(name, module, realpath)] for the modules in sys.modules with a file that
    ``probe_target`` could match for one of ``targets``: by module name (or its
    last part), or by file name (of the target path or of its real path).
    Resolving every module's real path would cost more than the rest of the
    probe's report."""
    names = set()
    basenames = set()
    for t in targets:
        modname = t.get("module")
        if isinstance(modname, str) and modname:
            names.add(modname)
            names.add(modname.rsplit(".", 1)[-1])
        path = t.get("path")
        if isinstance(path, str) and path:
            basenames.add(os.path.normcase(os.path.basename(path)))
            real = norm(path, base)
            if real:
                basenames.add(os.path.basename(real))
    entries = []
    cache = {}
    for name, mod in list(sys.modules.items()):
        if mod is None or not isinstance(name, str):
            continue
        f = module_file(mod)
        if f is None:
            continue
        if (
            name not in names
            and name.rsplit(".", 1)[-1] not in names
            and os.path.normcase(os.path.basename(f)) not in basenames
        ):
            continue
        if f not in cache:
            cache[f] = norm(f, base)
        real = cache[f]
        if real:
            entries.append((name, mod, real))
    return entries


def unwrap_descriptor(obj):
    if isinstance(obj, (staticmethod, classmethod)):
        return obj.__func__
    if isinstance(obj, property):
        return obj.fget
    return obj


def resolve(mod, qualname):
    """Walk ``qualname`` statically from a module. Returns MISSING or the
    raw object (staticmethod/classmethod/property unwrapped)."""
    if not qualname or "<" in qualname:
        return MISSING
    obj = mod
    for part in qualname.split("."):
        if not part:
            return MISSING
        obj = unwrap_descriptor(obj)
        nxt = MISSING
        try:
            d = module_dict(obj) if obj is mod else vars(obj)
            if isinstance(d, dict) or hasattr(d, "get"):
                nxt = d.get(part, MISSING)
        except Exception:
            nxt = MISSING
        if nxt is MISSING and obj is not mod:
            try:  # inherited attributes, without running descriptors/__getattr__
                nxt = inspect.getattr_static(obj, part, MISSING)
            except Exception:
                nxt = MISSING
        if nxt is MISSING:
            return MISSING
        obj = nxt
    return unwrap_descriptor(obj)


def find_cache_wrapper(obj):
    """The object exposing cache_info(): obj itself or one of its __wrapped__."""
    seen = set()
    for _ in range(16):
        if obj is None or id(obj) in seen:
            return None
        seen.add(id(obj))
        try:
            ci = inspect.getattr_static(obj, "cache_info", MISSING)
        except Exception:
            ci = MISSING
        if ci is not MISSING and ci is not None:
            return obj
        try:
            obj = unwrap_descriptor(inspect.getattr_static(obj, "__wrapped__", None))
        except Exception:
            return None
    return None


def read_cache_info(wrapper):
    info = wrapper.cache_info()

    def field(name, idx):
        v = getattr(info, name, MISSING)
        if v is MISSING:
            v = info[idx]
        return v

    hits, misses, maxsize, currsize = (
        field("hits", 0),
        field("misses", 1),
        field("maxsize", 2),
        field("currsize", 3),
    )
    return (
        int(hits),
        int(misses),
        None if maxsize is None else int(maxsize),
        int(currsize),
    )


def load_targets(errors):
    path = os.environ.get(ENV_TARGETS)
    if not path:
        return []
    try:
        with open(path, "r", encoding="utf-8") as fh:
            data = json.load(fh)
    except Exception as e:
        errors.append("cannot read %s %r: %s: %s" % (ENV_TARGETS, path, type(e).__name__, e))
        return []
    if isinstance(data, dict):
        targets = data.get("targets") or []
    elif isinstance(data, list):
        targets = data
    else:
        targets = []
    if not isinstance(targets, list):
        errors.append("%s: 'targets' is not a list" % ENV_TARGETS)
        return []
    out = []
    for t in targets:
        if isinstance(t, dict):
            out.append(t)
        else:
            errors.append("%s: ignoring non-object target %r" % (ENV_TARGETS, t))
    return out


def empty_target(tid, state):
    return {
        "id": tid,
        "state": state,
        "modules": [],
        "loaded_files": [],
        "hits": None,
        "misses": None,
        "maxsize": None,
        "currsize": None,
        "observer": OBSERVER_OFF,
        "observer_note": None,
        "observed_calls": None,
        "observed_time_ns": None,
        "verify": None,
        "trace": None,
    }


def probe_target(t, entries, base):
    tid = t.get("id")
    if not isinstance(tid, str):
        tid = str(tid)
    modname = t.get("module") or ""
    modname = modname if isinstance(modname, str) else str(modname)
    qualname = t.get("qualname") or ""
    qualname = qualname if isinstance(qualname, str) else str(qualname)
    real = norm(t.get("path"), base)

    matches = [(n, m) for (n, m, r) in entries if real is not None and r == real]
    if not matches:
        res = empty_target(tid, STATE_NOT_LOADED)
        others = []  # (name, realpath)
        for (n, m, r) in entries:
            if n == modname and r != real:
                others.append((n, r))
        if not others and modname:
            last = modname.rsplit(".", 1)[-1]
            base_name = os.path.normcase(os.path.basename(real or t.get("path") or ""))
            for (n, m, r) in entries:
                if (n == last or n.endswith("." + last)) and r != real and (
                    os.path.normcase(os.path.basename(r)) == base_name
                ):
                    others.append((n, r))
        if others:
            res["state"] = STATE_OTHER_FILE
            res["modules"] = sorted(set(n for n, _ in others))
            res["loaded_files"] = sorted(set(r for _, r in others))
        return res

    res = empty_target(tid, STATE_MISSING)
    res["modules"] = sorted(set(n for n, _ in matches))
    res["loaded_files"] = [real]
    seen_mods = set()
    seen_wrappers = set()
    any_found = False
    any_stats = False
    hits = misses = currsize = 0
    maxsize = None
    first = True
    for _, mod in matches:
        if id(mod) in seen_mods:
            continue
        seen_mods.add(id(mod))
        obj = resolve(mod, qualname)
        if obj is MISSING:
            continue
        any_found = True
        wrapper = find_cache_wrapper(obj)
        if wrapper is None or id(wrapper) in seen_wrappers:
            continue
        seen_wrappers.add(id(wrapper))
        h, mi, mx, cs = read_cache_info(wrapper)
        hits += h
        misses += mi
        currsize += cs
        if first:
            maxsize = mx
            first = False
        any_stats = True
    if any_stats:
        res.update(state=STATE_STATS, hits=hits, misses=misses, maxsize=maxsize, currsize=currsize)
    elif any_found:
        res["state"] = STATE_NOT_WRAPPED
    return res


def probe_targets(errors, base):
    targets = load_targets(errors)
    if not targets:
        return []
    try:
        entries = snapshot_modules(base, targets)
    except Exception as e:
        errors.append("sys.modules scan failed: %s: %s" % (type(e).__name__, e))
        entries = []
    out = []
    for t in targets:
        try:
            out.append(probe_target(t, entries, base))
        except Exception as e:
            errors.append(
                "target %r: %s: %s" % (t.get("id"), type(e).__name__, e)
            )
            out.append(empty_target(str(t.get("id")), STATE_MISSING))
    return out
