"""What an engine can do to the runner: exit, raise at import, declare nonsense, reply malformed.

Each is reported as an engine failure of the engine (or, for a module that cannot be imported, one
line on stderr and exit status 2), never a traceback, never a rule failure; ``KeyboardInterrupt``
still stops the run. The adapters are written in each test; a module given to the CLI is written
under ``tmp_path``.
"""

from __future__ import annotations

import copy
import json
import signal
import sys
import textwrap
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conform_helpers import small
from hedgespec.conformance import report as R
from hedgespec.conformance.adapter import ReferenceAdapter
from hedgespec.conformance.cli import main
from hedgespec.conformance.failures import LONGEST_STEP_TIMEOUT, EngineFailure, deadline
from hedgespec.conformance.jsonl import JsonLinesAdapter
from hedgespec.conformance.rulebook import Rulebook
from hedgespec.conformance.runner import Engine, run
from hedgespec.spec.registry import CAPABILITIES, Rule, StepView, Violation

QUICK = ["--no-vectors", "--examples", "2", "--steps", "8"]


def write_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, source: str) -> str:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    sys.modules.pop(name, None)
    return name


# -- 1. SystemExit and KeyboardInterrupt from engine code -----------------------------------------------

class ExitingAdapter(ReferenceAdapter):
    def apply(self, action: dict[str, Any]) -> dict[str, Any]:
        sys.exit(4)


def test_sys_exit_in_apply_is_an_engine_failure_not_the_end_of_the_run() -> None:
    report = run(lambda: ExitingAdapter("seed"), small(examples=3, steps=6, max_engine_failures=2))
    failure = report["engine_failures"][0]["engine_failure"]
    assert failure == {"kind": "died", "reason": "apply: the engine called sys.exit(4)"}
    assert report["summary"]["exit_status"] == 1
    assert report["summary"]["differential"]["engine_failures"] == 2  # stopped after max_engine_failures


def test_sys_exit_in_the_factory_or_in_close_is_contained() -> None:
    def factory() -> Any:
        raise SystemExit(3)

    report = run(factory, small())
    assert report["engine_failures"][0]["engine_failure"]["kind"] == "start"
    assert "sys.exit(3)" in report["engine_failures"][0]["engine_failure"]["reason"]

    class ExitOnClose(ReferenceAdapter):
        def close(self) -> None:
            sys.exit(5)

    report = run(lambda: ExitOnClose("seed"), small(examples=1, steps=4))
    assert report["summary"]["exit_status"] == 0


def test_keyboard_interrupt_from_the_engine_still_stops_the_run() -> None:
    class Interrupted(ReferenceAdapter):
        def apply(self, action: dict[str, Any]) -> dict[str, Any]:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(lambda: Interrupted("seed"), small(examples=1, steps=4))


# -- 1b. An in-process engine that hangs ----------------------------------------------------------------

class HangingAdapter(ReferenceAdapter):
    """Loops forever on its third apply; swallowing ``Exception`` does not save it from the deadline."""

    def __init__(self, profile: str) -> None:
        super().__init__(profile)
        self.applied = 0

    def apply(self, action: dict[str, Any]) -> dict[str, Any]:
        self.applied += 1
        give_up = time.monotonic() + 5  # without the deadline the test fails instead of hanging
        while self.applied % 3 == 0 and time.monotonic() < give_up:
            try:
                pass
            except Exception:  # noqa: BLE001 - an engine that swallows errors
                pass
        return super().apply(action)


outer_timer = pytest.mark.skipif(signal.getitimer(signal.ITIMER_REAL)[0] > 0,
                                 reason="another real-time timer is running (pytest-timeout?): no deadline is armed")


@outer_timer
def test_in_process_hang_is_a_timeout_failure_and_the_run_goes_on() -> None:
    report = run(lambda: HangingAdapter("seed"), small(examples=3, steps=6, max_engine_failures=2, step_timeout=0.2))
    failure = report["engine_failures"][0]["engine_failure"]
    assert failure == {"kind": "timeout", "reason": "apply: no reply within 0.2 s"}
    assert report["summary"]["differential"]["engine_failures"] == 2
    assert report["summary"]["exit_status"] == 1
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL  # the runner's alarm is gone
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


@outer_timer
def test_deadline_leaves_a_timer_already_running_alone() -> None:
    """Under another real-time timer (pytest-timeout's, say) the call runs unbounded and the timer stays."""
    fired: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: fired.append(signum))
    signal.setitimer(signal.ITIMER_REAL, 30)
    try:
        with deadline(0.01, "apply"):
            time.sleep(0.05)
        assert signal.getitimer(signal.ITIMER_REAL)[0] > 20
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert fired == []


@outer_timer
def test_deadline_restores_the_previous_handler_and_passes_results_through() -> None:
    def mine(signum: int, frame: object) -> None:
        raise AssertionError("not called")

    previous = signal.signal(signal.SIGALRM, mine)
    try:
        with deadline(5, "snapshot"):
            value = sum(range(10))
        assert value == 45 and signal.getsignal(signal.SIGALRM) is mine
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        with pytest.raises(EngineFailure, match="timeout: snapshot: no reply within 0.05 s"):
            with deadline(0.05, "snapshot"):
                while True:
                    pass
        assert signal.getsignal(signal.SIGALRM) is mine
    finally:
        signal.signal(signal.SIGALRM, previous)


@outer_timer
def test_deadline_never_leaves_its_handler_or_timer_behind() -> None:
    """An alarm that goes off as the call returns, or while the timer is disarmed, still restores both."""
    def mine(signum: int, frame: object) -> None:
        raise AssertionError("not called")

    previous = signal.signal(signal.SIGALRM, mine)
    outcomes: dict[str, int] = {"returned": 0, "timeout": 0}
    try:
        for _ in range(400):
            try:
                with deadline(0.0005, "apply"):
                    end = time.perf_counter() + 0.0005
                    while time.perf_counter() < end:
                        pass
                outcomes["returned"] += 1
            except EngineFailure as exc:
                assert exc.kind == "timeout"
                outcomes["timeout"] += 1
            assert signal.getsignal(signal.SIGALRM) is mine
            assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert outcomes["timeout"] > 0


@outer_timer
def test_a_timeout_beyond_the_platform_timer_is_the_longest_one() -> None:
    with deadline(1e10, "reset"):
        assert 0 < signal.getitimer(signal.ITIMER_REAL)[0] <= LONGEST_STEP_TIMEOUT
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert main(["conform", *QUICK, "--timeout", "1e10"]) == 0


@pytest.mark.parametrize("text", ["0", "-1", "nan", "inf", "soon"])
def test_cli_timeout_must_be_positive_seconds(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["conform", *QUICK, "--timeout", text])
    assert exit_info.value.code == 2
    assert "--timeout" in capsys.readouterr().err


@outer_timer
def test_the_step_timeout_reaches_the_pytest_plugin_and_the_state_machine() -> None:
    import unittest

    from hedgespec.conformance.machine import HedgeModeMachine
    from hedgespec.conformance.pytest_plugin import SharedEngine
    from hypothesis import HealthCheck, settings

    shared = SharedEngine(lambda: ReferenceAdapter("seed"), 0.5)
    assert shared.get().step_timeout == 0.5
    shared.close()

    class SlowReset(ReferenceAdapter):
        def reset(self, params: dict[str, Any]) -> None:
            give_up = time.monotonic() + 5
            while time.monotonic() < give_up:
                pass
            super().reset(params)

    case = HedgeModeMachine.for_engine(lambda: SlowReset("seed"), step_timeout=0.25, test_settings=settings(
        max_examples=1, database=None, deadline=None, suppress_health_check=list(HealthCheck)))
    result = unittest.TestResult()
    began = time.monotonic()
    unittest.defaultTestLoader.loadTestsFromTestCase(case).run(result)
    assert time.monotonic() - began < 4
    assert len(result.failures) == 1 and "reset: no reply within 0.25 s" in result.failures[0][1]


def test_an_adapter_with_its_own_request_timeout_gets_no_second_deadline() -> None:
    class Bounded(ReferenceAdapter):
        bounds_its_requests = True

    assert Engine(Bounded("seed"), 0.5).step_timeout is None
    assert Engine(ReferenceAdapter("seed"), 0.5).step_timeout == 0.5
    assert JsonLinesAdapter.bounds_its_requests is True


def test_cli_engine_calling_sys_exit_gets_a_report_and_exit_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    name = write_module(tmp_path, monkeypatch, "exiting_engine", """
        import sys
        from hedgespec.conformance.adapter import ReferenceAdapter

        class A(ReferenceAdapter):
            def apply(self, action):
                sys.exit(4)

        def make(profile):
            return A(profile)
    """)
    status = main(["conform", "--engine", f"{name}:make", *QUICK, "--json", "r.json"])
    out, err = capsys.readouterr()
    assert status == 1
    assert "apply: the engine called sys.exit(4)" in out and "Traceback" not in err
    assert json.loads((tmp_path / "r.json").read_text())["engine_failures"][0]["engine_failure"]["kind"] == "died"


# -- 1. modules that cannot be imported -------------------------------------------------------------------

@pytest.mark.parametrize(("source", "message"), [
    ("def make(profile) return 1\n", "SyntaxError: expected ':'"),
    ("raise RuntimeError('boom at import')\n", "importing it raised RuntimeError: boom at import"),
    ("import sys\nsys.exit(7)\n", "importing it raised SystemExit(7)"),
])
def test_module_that_fails_at_import_is_one_line_and_exit_2(source: str, message: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    name = write_module(tmp_path, monkeypatch, "broken_engine", source)
    status = main(["conform", "--engine", f"{name}:make", *QUICK])
    err = capsys.readouterr().err
    assert status == 2
    assert message in err and "cannot import 'broken_engine'" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


# -- 2. capabilities ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("capabilities", "message"), [
    (5, "a collection of capability names is required, got int 5"),
    (None, "a collection of capability names is required, got NoneType None"),
    ("hedge-mode", "got the string 'hedge-mode'"),
    ({"hedge-mode": True}, "a collection of capability names is required, got dict"),
    (["hedge-mode", 3], "capability names are strings, got 3"),
    (["hedge-mode", "bogus-cap"], "unknown capability 'bogus-cap'"),
    (("hegde-mode", "fees", "fundng"), "unknown capabilities 'fundng', 'hegde-mode'"),
])
def test_invalid_capabilities_stop_the_engine_with_the_known_names(capabilities: Any, message: str) -> None:
    class Declared(ReferenceAdapter):
        pass

    Declared.capabilities = capabilities  # type: ignore[assignment]
    report = run(lambda: Declared("seed"), small())
    failure = report["engine_failures"][0]["engine_failure"]
    assert failure["kind"] == "start"
    assert message in failure["reason"]
    assert "known: " + ", ".join(CAPABILITIES) in failure["reason"]
    assert report["summary"]["verdict"] == "FAIL" and report["summary"]["rules"]["pass"] == 0
    assert report["summary"]["differential"]["cases"] == 0 and report["vectors"] == []
    line = R.to_text(report).splitlines()[-1]
    assert line.startswith("verdict: FAIL (the engine could not be started: ") and message in line


def test_valid_capability_collections_are_accepted() -> None:
    for caps in (["hedge-mode", "fees"], ("hedge-mode", "fees"), {"hedge-mode", "fees"}, iter(["fees", "hedge-mode"])):
        adapter = ReferenceAdapter("seed")
        adapter.capabilities = caps  # type: ignore[assignment]
        assert Engine(adapter).capabilities == frozenset({"hedge-mode", "fees"})


def test_cli_misspelt_capability_is_reported_not_passed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    name = write_module(tmp_path, monkeypatch, "misspelt_engine", """
        from hedgespec.conformance.adapter import ReferenceAdapter

        class A(ReferenceAdapter):
            capabilities = ["hedge-mode", "bogus-cap"]

        def make(profile):
            return A(profile)
    """)
    status = main(["conform", "--engine", f"{name}:make", *QUICK, "--quiet"])
    out, err = capsys.readouterr()
    assert status == 1 and "Traceback" not in err
    assert out.startswith("verdict: FAIL (the engine could not be started:") and "'bogus-cap'" in out
    assert "known: hedge-mode, one-way-mode" in out


def test_json_lines_hello_with_an_unknown_capability_is_a_handshake_failure(tmp_path: Path) -> None:
    script = tmp_path / "engine.py"
    script.write_text(textwrap.dedent("""
        import sys
        from hedgespec.conformance.adapter import ReferenceAdapter
        from hedgespec.conformance.jsonl import serve

        adapter = ReferenceAdapter("seed")
        adapter.capabilities = ["hedge-mode", "bogus-cap"]
        sys.exit(serve(adapter))
    """))
    with pytest.raises(EngineFailure) as info:
        JsonLinesAdapter([sys.executable, str(script)], timeout=10)
    assert info.value.kind == "handshake"
    assert "hello: capabilities: unknown capability 'bogus-cap'; known: hedge-mode" in info.value.reason
    report = run(lambda: JsonLinesAdapter([sys.executable, str(script)], timeout=10), small())
    assert report["engine_failures"][0]["engine_failure"]["kind"] == "start"
    assert "'bogus-cap'" in report["engine_failures"][0]["engine_failure"]["reason"]


# -- 2. what a verdict covers ------------------------------------------------------------------------------

def _rule(rule_id: str, requires: tuple[str, ...] = (), applies_to: tuple[str, ...] = (), level: str = "MUST") -> Rule:
    def never(view: StepView) -> list[Violation]:
        return []

    return Rule(id=rule_id, level=level, kind="transition", title=f"stub {rule_id}", statement="stub",
                rationale="", sources=(), applies_to=applies_to, observes=("snapshot",), requires=requires,
                check=never)


def _book(*rules: Rule) -> Rulebook:
    return Rulebook(tuple(rules), lambda view, rules=None: [v for r in rules for v in r.check(view)], source="stub")


def test_a_pass_says_how_many_must_rules_went_unchecked() -> None:
    book = _book(_rule("HM-TEST-001"), _rule("HM-TEST-002", requires=("expiry",)),
                 _rule("HM-TEST-003", requires=("trailing-stops",)), _rule("HM-TEST-004", applies_to=("no_such_action",)),
                 _rule("HM-TEST-005", requires=("expiry",), level="SHOULD"))

    class HedgeOnly(ReferenceAdapter):
        capabilities = frozenset({"hedge-mode", "fees"})

    report = run(lambda: HedgeOnly("seed"), small(examples=2, steps=6), book)
    summary = report["summary"]
    assert summary["verdict"] == "PASS" and summary["exit_status"] == 0
    assert summary["must_rules"] == {"total": 4, "checked": 1, "unsupported": 2, "not exercised": 1}
    line = R.to_text(report).splitlines()[-1]
    assert line == ("verdict: PASS, but only 1 of 4 MUST rules checked; not checked: 2 unsupported "
                    "(capabilities not declared), 1 not exercised by this run")
    assert "only 1 of 4 MUST rules checked" in R.to_markdown(report).splitlines()[2]

    full = run(lambda: ReferenceAdapter("seed"), small(examples=2, steps=6), _book(_rule("HM-TEST-001")))
    assert R.to_text(full).splitlines()[-1] == "verdict: PASS (all 1 MUST rules checked)"


# -- 3. malformed outcomes and snapshots -------------------------------------------------------------------

def _set(path: tuple[Any, ...], value: Any) -> Any:
    def change(reply: dict[str, Any]) -> None:
        node: Any = reply
        for key in path[:-1]:
            node = node[key]
        if value is _DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value
    return change


_DELETE = object()



OUTCOME_FAULTS = [
    (("events",), "x", "apply: outcome.events: 'x' is not of type 'array'"),
    (("events",), ["x"], "apply: outcome.events[0]: 'x' is not of type 'object'"),
    (("events",), [{"type": "Fill"}], "apply: outcome.events[0].type: 'Fill' is not one of"),
    (("events",), [{"type": "fill", "account": "alice"}], "apply: outcome.events[0]: 'order_id' is a required property"),
    (("kind",), "ok", "apply: outcome.kind: 'ok' is not one of"),
    (("reason",), _DELETE, "apply: outcome: 'reason' is a required property"),
    (("reason",), 7, "apply: outcome.reason is a JSON number; numbers are decimal strings"),  # as over JSON lines
    # what JSON lines could never carry is refused in process too (hedgespec.jsonio.json_data_problem)
    (("message",), "bad \ud800", "apply: outcome.message: 'bad \\ud800' holds a lone UTF-16 surrogate"),
    (("extra",), Decimal("1.5"), "apply: outcome.extra: a Decimal is not JSON data"),
    (("extra",), float("nan"), "apply: outcome.extra: nan is a binary float; numbers are decimal strings"),
    (("extra",), {"k": (1, 2)}, "apply: outcome.extra.k: a tuple is not JSON data"),
    (("extra",), {"k": [7]}, "apply: outcome.extra.k[0] is a JSON number; numbers are decimal strings"),
]


class OutcomeBreaker(ReferenceAdapter):
    """The reference, with one field of every accepted outcome broken."""

    def __init__(self, change: Any) -> None:
        super().__init__("seed")
        self.change = change

    def apply(self, action: dict[str, Any]) -> dict[str, Any]:
        outcome = super().apply(action)
        if outcome["kind"] == "accepted":
            outcome = copy.deepcopy(outcome)
            self.change(outcome)
        return outcome


@pytest.mark.parametrize(("path", "value", "message"), OUTCOME_FAULTS)
def test_malformed_outcome_is_an_engine_failure_not_rule_failures(path: tuple[Any, ...], value: Any,
                                                                  message: str) -> None:
    report = run(lambda: OutcomeBreaker(_set(path, value)), small(examples=3, steps=6))
    json.dumps(report, ensure_ascii=False, allow_nan=False).encode("utf-8")  # the report can be written
    assert report["engine_failures"], "the malformed outcome is reported"
    failure = report["engine_failures"][0]["engine_failure"]
    assert failure["kind"] == "malformed"
    assert failure["reason"].startswith(message)
    assert report["summary"]["rules"]["fail"] == 0 and report["summary"]["blocking_rules"] == []
    assert report["summary"]["differential"]["rule_failures"] == 0


def test_malformed_event_field_names_its_path() -> None:
    def fill_quantity_as_number(outcome: dict[str, Any]) -> None:
        for event in outcome["events"]:
            if event["type"] == "fill":
                event["quantity"] = 5

    report = run(lambda: OutcomeBreaker(fill_quantity_as_number), small(examples=3, steps=12))
    failures = [f["engine_failure"] for f in report["engine_failures"]]
    assert failures and all(f["kind"] == "malformed" for f in failures)
    assert "outcome.events[" in failures[0]["reason"] and "].quantity is a JSON number" in failures[0]["reason"]
    assert report["summary"]["rules"]["fail"] == 0


class SnapshotBreaker(ReferenceAdapter):
    def __init__(self, change: Any) -> None:
        super().__init__("seed")
        self.change = change

    def snapshot(self) -> dict[str, Any]:
        snap = copy.deepcopy(super().snapshot())
        self.change(snap)
        return snap


@pytest.mark.parametrize(("path", "value", "message"), [
    (("accounts", "alice", "wallet"), 10000,
     "snapshot: snapshot.accounts.alice.wallet is a JSON number; numbers are decimal strings"),
    (("accounts", "alice", "positions"), "x", "snapshot: snapshot.accounts.alice.positions: 'x' is not of type 'object'"),
    (("accounts", "alice", "positions", "BTCUSDT", "LONG", "quantity"), "1e2",
     "snapshot: snapshot.accounts.alice.positions.BTCUSDT.LONG.quantity: '1e2' does not match"),
    (("accounts", "alice", "open_orders"), [], "snapshot: snapshot.accounts.alice.open_orders: [] is not of type 'object'"),
    (("insurance_fund",), _DELETE, "snapshot: snapshot: 'insurance_fund' is a required property"),
    (("extra",), {1, 2}, "snapshot: snapshot.extra: a set is not JSON data"),
    (("extra",), {"k\udc80": "1"}, "snapshot: snapshot.extra: the key 'k\\udc80' is not JSON text"),
    (("extra",), {7: "1"}, "snapshot: snapshot.extra: the key 7 is not JSON text"),
])
def test_malformed_snapshot_is_an_engine_failure(path: tuple[Any, ...], value: Any, message: str) -> None:
    report = run(lambda: SnapshotBreaker(_set(path, value)), small(examples=2, steps=4))
    json.dumps(report, ensure_ascii=False, allow_nan=False).encode("utf-8")  # the report can be written
    failure = report["engine_failures"][0]
    assert failure["engine_failure"]["kind"] == "malformed"
    assert failure["engine_failure"]["reason"].startswith(message)
    assert report["summary"]["rules"]["fail"] == 0 and report["summary"]["differential"]["rule_failures"] == 0
    assert report["summary"]["differential"]["unexplained_divergences"] == 0


def test_malformed_outcome_over_json_lines(tmp_path: Path) -> None:
    script = tmp_path / "engine.py"
    script.write_text(textwrap.dedent("""
        import sys
        from hedgespec.conformance.adapter import ReferenceAdapter
        from hedgespec.conformance.jsonl import serve

        class Broken(ReferenceAdapter):
            def apply(self, action):
                return {**super().apply(action), "events": "x"}

        sys.exit(serve(Broken("seed")))
    """))
    report = run(lambda: JsonLinesAdapter([sys.executable, str(script)], timeout=10), small(examples=2, steps=4))
    failure = report["engine_failures"][0]["engine_failure"]
    assert failure == {"kind": "malformed", "reason": "apply: outcome.events: 'x' is not of type 'array'"}
    assert report["summary"]["differential"]["rule_failures"] == 0


# -- 4. every kind the runner reports is documented ---------------------------------------------------------

def test_every_engine_failure_kind_is_in_the_protocol_documentation() -> None:
    import re

    text = (Path(__file__).resolve().parents[2] / "docs" / "formats" / "protocol.md").read_text(encoding="utf-8")
    policy = text[text.index("## Failure policy"):]
    documented = set(re.findall(r"^\| `([a-z]+)` \|", policy, re.M))
    assert "start" in EngineFailure.KINDS
    assert documented == set(EngineFailure.KINDS)


def test_an_integer_too_long_to_print_is_malformed_not_a_crash() -> None:
    """A 5,000-digit integer where a decimal string belongs: JSON lines could never carry it, and the shape
    check's message would fail to print it; the reply is malformed, naming the field."""
    report = run(lambda: SnapshotBreaker(_set(("accounts", "alice", "wallet"), 10**5000)), small(examples=1, steps=2))
    failure = report["engine_failures"][0]["engine_failure"]
    assert failure["kind"] == "malformed"
    assert failure["reason"] == "snapshot: snapshot.accounts.alice.wallet is a JSON number; numbers are decimal strings"
