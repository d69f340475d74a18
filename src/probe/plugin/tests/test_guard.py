"""The guard: an error inside the probe is recorded, never raised into pytest."""


def test_guard_records_errors_in_the_probe_format(probe_mod):
    import inspect

    # The method and five functions: six frames, as many as the traceback keeps.
    def one():
        two()

    def two():
        three()

    def three():
        four()

    def four():
        five()

    def five():
        raise ValueError("boom")

    class Plugin(object):
        errors = []

        @probe_mod._guard.guarded("somewhere")
        def pytest_runtest_logstart(self, nodeid, location):
            one()
            return "not reached"

    plugin = Plugin()
    # pluggy finds the hook's argument names through __wrapped__
    assert list(inspect.signature(Plugin.pytest_runtest_logstart).parameters) == [
        "self", "nodeid", "location",
    ]
    for _ in range(7):
        assert plugin.pytest_runtest_logstart("t::x", None) is None
    first, sixth = plugin.errors[0], plugin.errors[5]
    head, tail = first.split(" | ", 1)
    assert head == "somewhere: ValueError: boom"
    # the traceback starts at the method, not at the guard: the raising line is kept
    assert tail.endswith('raise ValueError("boom") / ValueError: boom'), tail
    assert "in guard" not in tail and "return method(" not in tail
    # only the first five errors carry the traceback's tail
    assert all(" | " in e for e in plugin.errors[:5])
    assert sixth == "somewhere: ValueError: boom"


def test_guarded_and_hand_caught_hooks_record_their_name(probe_mod):
    class Config(object):
        pass

    class Report(object):
        outcome = "passed"

        @property
        def nodeid(self):
            raise RuntimeError("no node id")

    probe = probe_mod._session.Probe(Config())
    assert probe.pytest_collection_finish(object()) is None  # guarded: no .items
    assert probe.outcomes.pytest_runtest_logreport(Report()) is None  # caught by hand
    assert [e.split(" | ")[0] for e in probe.errors] == [
        "pytest_collection_finish: AttributeError: 'object' object has no attribute 'items'",
        "pytest_runtest_logreport: RuntimeError: no node id",
    ]
