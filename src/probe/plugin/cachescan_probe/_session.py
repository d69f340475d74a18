"""The probe of one pytest run: from pytest_configure to the probe file.

One Probe is bound to the outermost Config of the process (see _process).  It
is a pytest plugin for what concerns the run as a whole (how many items were
collected, by this process or by each xdist worker; which are deselected, see
_select), registers the plugins for the rest (Outcomes always, Observe with
``CACHESCAN_PROBE_OBSERVE=1``) and, when the session finishes (or at
unconfigure, or at exit, whichever comes first), assembles the file: its role
decides what it holds (outcomes in the single process or the xdist controller,
targets and calls where tests ran), then _output writes it.
"""

import os

from . import _process, _trace, _verify
from ._guard import guarded, hookimpl, record_error
from ._observe import Observe
from ._outcomes import Outcomes
from ._output import base_payload, write_payload
from ._protocol import ROLE_CONTROLLER, ROLE_SINGLE, ROLE_WORKER
from ._select import deselect, file_of, load_part, load_selection, part_files
from ._targets import probe_targets


class Probe(object):
    def __init__(self, config):
        self.config = config
        self.errors = []
        self.collected_local = None
        self.collected_nodes = {}  # xdist node id -> count (controller)
        self.deselected = 0  # items deselected by CACHESCAN_PROBE_SELECT
        self.parted_out = 0  # items of other parts (CACHESCAN_PROBE_PART)
        self.observe = None  # the Observe plugin, when observing
        self.written = False
        try:
            self.base = str(config.invocation_params.dir)
        except Exception:
            try:
                self.base = os.getcwd()
            except Exception:
                self.base = None
        try:
            self.workerinput = getattr(config, "workerinput", None)
        except Exception:
            self.workerinput = None
        self.outcomes = Outcomes(self.errors, self.workerinput)

    def register(self):
        """Register this probe and its outcomes plugin with pytest."""
        self.config.pluginmanager.register(self, "cachescan_probe_state")
        self.config.pluginmanager.register(self.outcomes, "cachescan_probe_outcomes")

    @guarded("observe")
    def start_observing(self):
        """Register the observer plugin (CACHESCAN_PROBE_OBSERVE=1)."""
        observe = Observe(self)
        self.config.pluginmanager.register(observe, "cachescan_probe_observe")
        self.observe = observe

    # ---- helpers ---------------------------------------------------------
    def _is_worker(self):
        # Decided once: xdist sets ``workerinput`` before any plugin is configured,
        # and asking a Config for an attribute it lacks costs an exception per call.
        return self.workerinput is not None

    def role(self):
        if self._is_worker():
            return ROLE_WORKER
        try:
            if self.config.pluginmanager.hasplugin("dsession"):
                return ROLE_CONTROLLER
        except Exception:
            pass
        return ROLE_SINGLE

    # ---- hooks -----------------------------------------------------------
    @hookimpl(trylast=True)
    @guarded("pytest_collection_finish")
    def pytest_collection_finish(self, session):
        self.collected_local = len(session.items)

    @hookimpl(trylast=True)
    @guarded("pytest_collection_modifyitems")
    def pytest_collection_modifyitems(self, session, config, items):
        keep = load_selection(self.errors)
        if keep is not None:
            self.deselected += deselect(config, items, lambda item: item.nodeid in keep)
        part = load_part(self.errors)
        if part is not None:
            index, count = part
            parts = part_files(items, count)
            self.parted_out += deselect(
                config, items, lambda item: parts[file_of(item.nodeid)] == index
            )

    @hookimpl(optionalhook=True)
    @guarded("pytest_xdist_node_collection_finished")
    def pytest_xdist_node_collection_finished(self, node, ids):
        gw = getattr(getattr(node, "gateway", None), "id", None) or str(id(node))
        self.collected_nodes[gw] = len(ids)

    # An error in finish() comes after the file is written (or instead of it): the
    # guard records it, and nothing reports it.
    @hookimpl(trylast=True)
    @guarded("pytest_sessionfinish")
    def pytest_sessionfinish(self, session, exitstatus):
        self.finish(exitstatus=exitstatus, session=session)

    @hookimpl(trylast=True)
    @guarded("pytest_unconfigure")
    def pytest_unconfigure(self, config):
        try:
            if not self.written:
                self.errors.append("pytest_sessionfinish did not run")
                self.finish(exitstatus=None, session=None)
        finally:
            if _process.active is self:
                _process.active = None

    # ---- output ----------------------------------------------------------
    def finish(self, exitstatus, session):
        if self.written:
            return
        self.written = True
        role = ROLE_SINGLE
        payload = None
        observe = self.observe
        if observe is not None:
            observe.restore()  # before anything else can fail
        try:
            role = self.role()
            worker_id = None
            if role == ROLE_WORKER:
                try:
                    worker_id = self.workerinput.get("workerid")
                except Exception:
                    worker_id = None
                if worker_id is None:
                    worker_id = os.environ.get("PYTEST_XDIST_WORKER")
            payload = base_payload(role, worker_id)
            try:
                payload["exitstatus"] = None if exitstatus is None else int(exitstatus)
            except Exception:
                payload["exitstatus"] = None

            collected = self.collected_local
            if role == ROLE_CONTROLLER and self.collected_nodes:
                collected = max(self.collected_nodes.values())
            if collected is None and session is not None:
                try:
                    collected = int(getattr(session, "testscollected", 0) or 0)
                except Exception:
                    collected = None
            payload["collected"] = int(collected or 0)
            payload["collect_errors"] = self.outcomes.collect_errors_json()

            observing = observe is not None and observe.enabled and role != ROLE_CONTROLLER
            test_calls = {}
            if observing:
                try:
                    test_calls = observe.test_calls_json()
                except Exception as e:  # the fallback: no call map
                    record_error(self.errors, "observe output", e)
            payload["observe"] = observing
            payload["test_calls"] = test_calls
            if role != ROLE_CONTROLLER:
                payload["deselected"] = self.deselected
                payload["parted_out"] = self.parted_out

            if role != ROLE_WORKER:
                payload["tests"] = self.outcomes.tests_json()

            if role != ROLE_CONTROLLER:
                payload["targets"] = probe_targets(self.errors, self.base)
                _trace.finish(self.errors)
                for target in payload["targets"]:
                    target["verify"] = _verify.target_fields(target["id"], self.errors)
                    target["trace"] = _trace.target_fields(target["id"])
                if observing:
                    for target in payload["targets"]:
                        try:
                            target.update(observe.target_fields(target["id"]))
                        except Exception as e:  # named after the target
                            record_error(self.errors, "observe target %r" % target.get("id"), e)
        except Exception as e:  # the fallback: a payload that says so
            record_error(self.errors, "finish", e)
            if payload is None:
                payload = base_payload(role, None)
        payload["error"] = "; ".join(self.errors) if self.errors else None
        write_payload(payload)
