"""pytest plugin: the conformance suite as tests of your engine.

Registered as the ``hedgespec`` pytest11 entry point, so it loads in every pytest run of an
environment where hedgespec is installed; it is inert unless one of its options is given::

    pytest --hedgespec-engine mypkg.engine:make_adapter [--hedgespec-profile seed]
    pytest --hedgespec-engine-cmd "node engine.js" [--hedgespec-timeout 10]

Then it adds, next to the tests pytest collects anyway:

* one test per vector of the profile (``hedgespec/vectors/<path>``): a failure names the step and
  the difference; a vector needing a capability the engine lacks is skipped with the reason;
* ``hedgespec/stateful``: the Hypothesis state machine (``hedgespec.conformance.machine``) against
  the engine (``--hedgespec-examples`` runs, default 50).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hedgespec.conformance.failures import DEFAULT_STEP_TIMEOUT, step_timeout_seconds

OPTIONS = ("hedgespec_engine", "hedgespec_engine_cmd")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hedgespec", "hedgespec engine conformance")
    group.addoption("--hedgespec-engine", metavar="MODULE:FACTORY", default=None,
                    help="run the hedgespec conformance suite against this Python adapter factory")
    group.addoption("--hedgespec-engine-cmd", metavar="COMMAND", default=None,
                    help="run the hedgespec conformance suite against an engine speaking JSON lines")
    group.addoption("--hedgespec-profile", metavar="PROFILE", default="seed",
                    help="profile for the hedgespec conformance suite (default seed)")
    group.addoption("--hedgespec-vectors", metavar="DIR", default=None,
                    help="vector directory (default: the built-in corpus of the profile)")
    group.addoption("--hedgespec-examples", metavar="N", type=int, default=50,
                    help="Hypothesis examples of the hedgespec state machine (default 50)")
    group.addoption("--hedgespec-timeout", metavar="SECONDS", type=step_timeout_seconds, default=DEFAULT_STEP_TIMEOUT,
                    help="per-step timeout: a --hedgespec-engine-cmd reply or an in-process engine call "
                         "(default 10)")


def _active(config: pytest.Config) -> bool:
    return any(config.getoption(name, default=None) for name in OPTIONS)


def _factory(config: pytest.Config) -> Callable[[], Any]:
    profile = config.getoption("hedgespec_profile")
    cmd = config.getoption("hedgespec_engine_cmd")
    if cmd:
        from hedgespec.conformance.jsonl import JsonLinesAdapter

        timeout = config.getoption("hedgespec_timeout")
        return lambda: JsonLinesAdapter(cmd, timeout=timeout)
    from hedgespec.conformance.loading import load_factory, make_adapter

    factory = load_factory(config.getoption("hedgespec_engine"))
    return lambda: make_adapter(factory, profile)


def pytest_configure(config: pytest.Config) -> None:
    if _active(config):
        config.pluginmanager.register(_Collector(config), "hedgespec-conformance")


class _Collector:
    """Adds the conformance items once pytest has collected the user's own tests."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        from hedgespec.conformance.loading import EngineSpecError
        from hedgespec.spec.profiles import ProfileError, load_profile

        try:
            load_profile(config.getoption("hedgespec_profile"))
            factory = _factory(config)
        except (EngineSpecError, ProfileError) as exc:
            raise pytest.UsageError(f"hedgespec: {exc}") from None
        suite = HedgespecSuite.from_parent(session, name="hedgespec")
        suite.factory = factory
        self.shared = SharedEngine(factory, config.getoption("hedgespec_timeout"))
        suite.shared = self.shared
        items.extend(suite.collect())

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        shared = getattr(self, "shared", None)
        if shared is not None:
            shared.close()


class SharedEngine:
    """One engine for every vector test (a process start per vector would dominate slow-starting engines).

    Each vector resets it; a JSON-lines engine that failed is restarted by its next reset.
    """

    def __init__(self, factory: Callable[[], Any], step_timeout: float | None) -> None:
        self.factory = factory
        self.step_timeout = step_timeout
        self.engine: Any = None

    def get(self) -> Any:
        from hedgespec.conformance.runner import Engine

        if self.engine is None:
            self.engine = Engine(self.factory(), self.step_timeout)
        return self.engine

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None


class HedgespecSuite(pytest.Collector):
    factory: Callable[[], Any]
    shared: SharedEngine

    def collect(self) -> list[pytest.Item]:
        from hedgespec.conformance import vectors as V

        config = self.config
        profile = config.getoption("hedgespec_profile")
        root_opt = config.getoption("hedgespec_vectors")
        root = Path(root_opt) if root_opt else V.builtin_root() / profile
        items: list[pytest.Item] = []
        if root.is_dir():
            corpus = V.load_corpus(root, None if root_opt else profile)
            for vec in corpus.vectors:
                item = VectorItem.from_parent(self, name=f"vectors/{vec.path}")
                item.vector, item.shared = vec, self.shared
                items.append(item)
            for path, problem in corpus.errors:
                item = VectorItem.from_parent(self, name=f"vectors/{path}")
                item.vector, item.shared, item.problem = None, self.shared, problem
                items.append(item)
        machine = MachineItem.from_parent(self, name="stateful")
        machine.factory = self.factory
        items.append(machine)
        return items


class VectorItem(pytest.Item):
    vector: Any
    shared: SharedEngine
    problem: str | None = None

    def runtest(self) -> None:
        from hedgespec.conformance.failures import wrap_exception
        from hedgespec.conformance.rulebook import load_rulebook
        from hedgespec.conformance.runner import RunConfig, Runner

        if self.vector is None:
            raise VectorFailed(f"invalid vector: {self.problem}")
        try:
            engine = self.shared.get()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - an engine that cannot start fails each test, no traceback
            raise VectorFailed(f"the engine could not be started: {wrap_exception(exc, 'start')}") from None
        engine.failures = 0
        missing = sorted(set(self.vector.requires) - engine.capabilities)
        if missing:
            pytest.skip("engine lacks " + ", ".join(missing))
        runner = Runner(engine, RunConfig(profile=self.config.getoption("hedgespec_profile"),
                                          step_timeout=self.config.getoption("hedgespec_timeout")), load_rulebook())
        result = runner.run_vector(self.vector, {r.id: r.digest for r in runner.rulebook.rules})
        if result["status"] == "unsupported":
            pytest.skip(result["reason"])
        if result["status"] != "passed":
            rules = ", ".join(result.get("failed_rules", [])) or "no rule flagged it (unexplained divergence)"
            raise VectorFailed(f"step {result.get('step')}: {result['reason']} [rules: {rules}]")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, VectorFailed):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[str, int | None, str]:
        return "hedgespec", None, self.name


class MachineItem(pytest.Item):
    factory: Callable[[], Any]

    def runtest(self) -> None:
        import unittest

        from hedgespec.conformance.machine import HedgeModeMachine
        from hypothesis import HealthCheck, settings

        test_settings = settings(max_examples=self.config.getoption("hedgespec_examples"), deadline=None,
                                 stateful_step_count=40, database=None,
                                 suppress_health_check=list(HealthCheck))
        case_cls = HedgeModeMachine.for_engine(self.factory, self.config.getoption("hedgespec_profile"),
                                               test_settings=test_settings,
                                               step_timeout=self.config.getoption("hedgespec_timeout"))
        result = unittest.TestResult()
        unittest.defaultTestLoader.loadTestsFromTestCase(case_cls).run(result)
        problems = result.failures + result.errors
        if problems:
            raise VectorFailed(problems[0][1])

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, VectorFailed):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[str, int | None, str]:
        return "hedgespec", None, self.name


class VectorFailed(AssertionError):
    """A conformance failure, reported without a Python traceback."""
