"""The conformance runner: vectors, a random differential run and rule checks, into one report.

``run(engine_factory, RunConfig(...)) -> Report``. Three sources of evidence, all over the
engine's own observations:

1. **Vectors** (``hedgespec.conformance.vectors``): every vector of the profile is replayed;
   each is passed, failed (with the step and the difference) or unsupported (the capabilities
   the engine does not declare).
2. **The differential run**: ``examples`` seeded random cases (``random.Random``, see
   ``hedgespec.conformance.generate``) drive the engine and the reference model in lockstep and
   compare outcomes (kind, reason class) and the observable state after every step.
3. **Rule step checks** on the engine's own ``(before, action, outcome, after)`` of every step of
   both, for every rule whose required capabilities the engine declares.

Verdicts per rule: ``pass`` (exercised, never violated), ``fail``, ``unsupported`` (a required
capability is missing: never pass or fail) and ``not exercised``. A divergence from the model
that no rule flags is an *unexplained divergence*, reported apart from rule failures; an engine
that raises, dies, hangs or replies malformed fails the step as an *engine failure*
(``EngineFailure``) and is restarted for the next case. Each failure of the differential run is
shrunk to a short step list and written as a vector the author can replay.

The report holds no wall-clock time and no absolute path: the same seed gives the same report.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hedgespec.conformance import vectors as V
from hedgespec.conformance.corpus import (
    Variant,
    open_variants,
    profile_files,
    seen_default_variants,
    together,
)
from hedgespec.conformance.failures import DEFAULT_STEP_TIMEOUT, EngineFailure, deadline, wrap_exception
from hedgespec.conformance.generate import Generator as ActionGenerator
from hedgespec.conformance.generate import RandomChooser
from hedgespec.conformance.jsonl import stray_integer
from hedgespec.conformance.loading import declared_capabilities
from hedgespec.conformance.rulebook import Rulebook, applies, load_rulebook
from hedgespec.conformance.shapes import check_outcome, check_snapshot
from hedgespec.conformance.world import (
    DEFAULT_SETTINGS,
    RANDOM_WALLET,
    diff,
    mode_scopes,
    observable,
    params_for,
)
from hedgespec.model import initial_state, snapshot
from hedgespec.model.codec import InputError
from hedgespec.spec import SPEC_VERSION
from hedgespec.spec.observe import rows_shown
from hedgespec.spec.profiles import Profile, builtin_profile_names, load_profile
from hedgespec.spec.registry import Rule, StepView, Violation

import hedgespec
from hedgespec.jsonio import json_data_problem, lone_surrogate_in
from hedgespec.names import text_name

REPORT_FORMAT = "hedgespec-conformance-report/3"  # 3: steps numbered from 1; example_limit_reached
LEVEL_ORDER = ("MUST", "SHOULD", "MAY")
VERDICTS = ("pass", "fail", "unsupported", "not exercised")
RUN_RULES = ("HM-DET-001",)  # checked over a whole run (replayed twice), not per step


@dataclass
class RunConfig:
    profile: str = "seed"
    seed: int = 0
    examples: int = 100  # random differential cases (the CLI default)
    steps: int = 40  # actions per case
    vectors: Path | None = None  # None: the built-in corpus
    run_vectors: bool = True
    expected_failures: dict[str, str] = field(default_factory=dict)
    fail_on: str = "MUST"  # the lowest level whose failure makes the exit status non-zero
    failures_dir: Path | None = None  # where shrunk failing cases are written as vectors
    shrink_replays: int = 150  # replays a shrink may spend
    max_engine_failures: int = 5  # after this many, remaining cases are not run
    vectors_label: str | None = None  # how the report names the vectors source (no absolute paths)
    max_examples: int = 12  # minimal failing cases shrunk and written per run
    stop_at_first_failure: bool = False  # end the differential run at its first failure (benchmarks)
    engine_label: str | None = None
    step_timeout: float | None = DEFAULT_STEP_TIMEOUT  # seconds an in-process engine call may take; None: unbounded


# -- the engine, with failures contained ------------------------------------------------------------

class Engine:
    """An adapter behind a failure boundary: every error becomes ``EngineFailure``.

    Construction reads the adapter's ``name`` and ``capabilities``; capabilities that are not a
    collection of known tags raise ``EngineFailure`` (kind ``handshake``). Every call afterwards
    turns what the engine raises into an ``EngineFailure`` (``SystemExit`` too: kind ``died``;
    only ``KeyboardInterrupt`` goes through and stops the run), and every outcome and snapshot is
    checked for its documented shape (``hedgespec.conformance.shapes``): a reply without it fails
    the step as ``malformed``, naming the field, before any rule reads it. A call that takes
    longer than ``step_timeout`` seconds is interrupted and fails as ``timeout`` (``deadline``);
    an adapter that bounds its own requests (``JsonLinesAdapter``) is left to its own timeout.
    """

    def __init__(self, adapter: Any, step_timeout: float | None = DEFAULT_STEP_TIMEOUT) -> None:
        self.adapter = adapter
        self.step_timeout = None if getattr(adapter, "bounds_its_requests", False) else step_timeout
        try:
            name = getattr(adapter, "name", "?")
            caps = getattr(adapter, "capabilities", ())
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - a property of the adapter that fails
            raise wrap_exception(exc, "name and capabilities") from None
        if not isinstance(name, str):
            raise EngineFailure("handshake", f"name: a string is required, got {type(name).__name__} {name!r:.60}")
        if lone_surrogate_in(name) is not None:  # no report (UTF-8) could name the engine
            raise EngineFailure("handshake", f"name: {name!r:.60} holds a lone UTF-16 surrogate: not Unicode text")
        try:
            self.capabilities = declared_capabilities(caps)
        except ValueError as exc:
            raise EngineFailure("handshake", str(exc)) from None
        self.name = name
        self.failures = 0

    def _call(self, op: str, *args: Any) -> Any:
        try:
            with deadline(self.step_timeout, op):
                return getattr(self.adapter, op)(*args)
        except KeyboardInterrupt:
            raise  # the person running hedgespec stops the run
        except BaseException as exc:  # noqa: BLE001 - an engine error (SystemExit too) fails the step, never the run
            self.failures += 1
            raise wrap_exception(exc, op) from None

    def reset(self, params: dict[str, Any]) -> None:
        self._call("reset", json.loads(json.dumps(params)))

    def apply(self, action: dict[str, Any]) -> dict[str, Any]:
        outcome = self._call("apply", json.loads(json.dumps(action)))
        if not isinstance(outcome, dict):
            self.failures += 1
            raise EngineFailure("malformed", f"apply: the outcome is a {type(outcome).__name__}, not an object")
        try:
            outcome = _plain_json_data(outcome, "apply", "outcome")
            check_outcome(outcome, "apply")
        except EngineFailure:
            self.failures += 1
            raise
        return outcome

    def snapshot(self) -> dict[str, Any]:
        snap = self._call("snapshot")
        if not isinstance(snap, dict):
            self.failures += 1
            raise EngineFailure("malformed", f"snapshot: a {type(snap).__name__}, not an object")
        try:
            snap = _plain_json_data(snap, "snapshot", "snapshot")
            check_snapshot(snap, "snapshot")
        except EngineFailure:
            self.failures += 1
            raise
        return snap

    def close(self) -> None:
        close_quietly(self.adapter)


def _settings_hint(params: dict[str, Any], problems: list[str]) -> str:
    """A pointer to ``leg_settings`` when a vector that states them finds a leg's margin type or leverage off."""
    states = any(isinstance(a, dict) and "leg_settings" in a for a in (params.get("accounts") or {}).values())
    if states and any(".margin_type: " in p or ".leverage: " in p for p in problems[:3]):
        return " (the vector states each leg's starting margin type and leverage in params leg_settings)"
    return ""


def _plain_json_data(reply: dict[str, Any], op: str, root: str) -> dict[str, Any]:
    """``reply`` checked (``_check_json_data``) and copied as plain JSON data (dict, list, str, int, bool, None):
    what the rules read afterwards is the data, never the engine's own objects. A reply that cannot be inspected
    (a dict subclass whose ``items`` or ``__eq__`` raises, say) is ``malformed``, naming the exception's type."""
    try:
        _check_json_data(reply, op, root)
        plain: dict[str, Any] = json.loads(json.dumps(reply))
    except (EngineFailure, KeyboardInterrupt):
        raise
    except BaseException as exc:  # noqa: BLE001 - a reply that fails when read fails the step, never the run
        raise EngineFailure("malformed", f"{op}: the {root} cannot be inspected: reading it raised "
                                         f"{type(exc).__name__}") from None
    return plain


def _check_json_data(reply: dict[str, Any], op: str, root: str) -> None:
    """A reply holds what one over JSON lines can (``jsonl``): an in-process engine's binary float, lone surrogate,
    tuple, Decimal or integer outside ``t``/``time`` is ``malformed`` there too, naming the place (never a crash
    when the report is written, nor a NaN that compares unequal to itself). Checked before the shape, whose
    messages print the values."""
    found = json_data_problem(reply, root)
    if found:
        raise EngineFailure("malformed", f"{op}: {found}")
    try:
        stray = stray_integer(reply)
    except RecursionError:
        raise EngineFailure("malformed", f"{op}: {root}: nested too deeply") from None
    if stray:
        raise EngineFailure("malformed", f"{op}: {root}.{stray} is a JSON number; numbers are decimal strings")


def close_quietly(adapter: Any) -> None:
    """``adapter.close()``, whatever it raises (``KeyboardInterrupt`` aside)."""
    try:
        adapter.close()
    except KeyboardInterrupt:
        raise
    except BaseException:  # noqa: BLE001 - closing a failed engine must not fail the run
        pass


# -- tallies ------------------------------------------------------------------------------------------

@dataclass
class RuleTally:
    checks: int = 0
    violations: int = 0
    vectors_passed: int = 0
    vectors_failed: int = 0
    first: dict[str, Any] | None = None
    example: str | None = None

    def violated(self, where: dict[str, Any]) -> None:
        self.violations += 1
        if self.first is None:
            self.first = where


@dataclass
class StepFinding:
    """What went wrong at one step (nothing when all three lists are empty)."""

    violations: list[Violation] = field(default_factory=list)
    divergence: list[str] = field(default_factory=list)
    engine_failure: EngineFailure | None = None

    @property
    def failed(self) -> bool:
        return bool(self.violations or self.divergence or self.engine_failure)

    def signature(self) -> tuple[str, frozenset[str]]:
        """What failed: the engine failure's kind, the rules violated, or what diverged (``divergence_key``)."""
        if self.engine_failure is not None:
            return "engine", frozenset({self.engine_failure.kind})
        if self.violations:
            return "rule", frozenset(v.rule_id for v in self.violations)
        return "divergence", frozenset(divergence_key(line) for line in self.divergence)


_ACCOUNT = re.compile(r"^accounts\.[^.:]+")
_INSTRUMENT = re.compile(r"\.positions\.[^.:]+")


def divergence_key(line: str) -> str:
    """What one line of ``compare`` says diverged, without the case's accounts and instruments.

    ``outcome.kind: model 'accepted', engine 'rejected'`` is kept whole (the field and both values'
    classes); ``accounts.alice.positions.BTCUSDT.LONG.quantity: expected '1', got '2'`` becomes
    ``accounts.*.positions.*.LONG.quantity``, with `` (missing)`` when the engine lacks it.
    """
    if line.startswith("outcome."):
        return line
    path, _, rest = line.partition(": ")
    path = _INSTRUMENT.sub(".positions.*", _ACCOUNT.sub("accounts.*", path))
    return path + (" (missing)" if rest.startswith("missing") else "")


@dataclass
class Replay:
    """A case played against the engine: the finding at the first failing step, if any."""

    steps_run: int
    finding: StepFinding | None = None
    failed_at: int | None = None  # index of the failing step


class Runner:
    def __init__(self, engine: Engine, config: RunConfig, rulebook: Rulebook) -> None:
        self.engine = engine
        self.config = config
        self.rulebook = rulebook
        self.profile: Profile = load_profile(config.profile)
        self.rules = rulebook.checkable(engine.capabilities)
        self.tally: dict[str, RuleTally] = {r.id: RuleTally() for r in rulebook.rules}
        self.vector_results: list[dict[str, Any]] = []
        self.failures: list[dict[str, Any]] = []  # differential failures (rule, divergence, engine)
        self.notes: list[str] = list(rulebook.notes)
        self.cases_run = 0
        self.steps_run = 0
        self.examples_written = 0
        self.cases_cut = 0  # random cases ended where the model needed a capability the engine lacks
        # random cases ended where the engine followed a value of a choice the profile leaves open:
        # ((choice, value), ...) -> (case, step) of each
        self.open_choice_cases: dict[tuple[tuple[str, Any], ...], list[tuple[int, int]]] = {}
        self._variants: list[Variant] | None = None
        self._seen_signatures: set[tuple[str, frozenset[str]]] = set()

    # -- one step -----------------------------------------------------------------------------

    def observe(self, params: dict[str, Any], before: dict[str, Any], action: dict[str, Any], count: bool,
                shown: dict[tuple[str, str, str], dict[str, Any]]
                ) -> tuple[dict[str, Any], dict[str, Any], list[Violation], EngineFailure | None]:
        """Apply one action to the engine and run the step checks on what it shows; ``shown``: the row each
        leg last showed in the run's snapshots up to ``before`` (``observe.rows_shown``).

        The last member is the engine failure (kind ``malformed``) of a check that could not read
        the engine's replies: a missing row or field, reported as the engine's, never as the rule's.
        """
        outcome = self.engine.apply(action)
        after = self.engine.snapshot()
        view = StepView(params, before, action, outcome, after, shown)
        exercised = [r for r in self.rules if applies(r, action)]
        if count:
            for r in exercised:
                self.tally[r.id].checks += 1
        violations, unread = self.rulebook.check_step(view, exercised)
        if not unread:
            return outcome, after, violations, None
        self.engine.failures += 1
        return outcome, after, violations, unread[0].failure()

    # -- vectors --------------------------------------------------------------------------------

    def run_vectors(self) -> None:
        cfg = self.config
        name = self.profile.name
        root = cfg.vectors if cfg.vectors is not None else V.builtin_root() / name
        label = cfg.vectors_label or (f"built-in:{name}" if cfg.vectors is None else text_name(root.name))
        self.vectors_label = label
        if cfg.vectors is None and not self.builtin_profile():
            corpus = self.generated_vectors()
            if corpus is None:
                return
        elif cfg.vectors is None and not root.is_dir():
            self.notes.append(f"no built-in vectors for profile {name}")
            return
        else:
            corpus = V.load_corpus(root, None if cfg.vectors is not None else name)
        for path, problem in corpus.errors:
            self.vector_results.append({"path": path, "id": None, "status": "failed", "invalid": True,
                                        "reason": f"invalid vector: {problem}"})
        current = {r.id: r.digest for r in self.rulebook.rules}
        for vec in corpus.vectors:
            self.vector_results.append(self.run_vector(vec, current))

    def builtin_profile(self) -> bool:
        """Whether the run's profile is a built-in one (not a file, even one reusing a built-in name)."""
        name = self.profile.name
        return name in builtin_profile_names() and load_profile(name).digest == self.profile.digest

    def generated_vectors(self) -> V.Corpus | None:
        """A profile file's vectors, made in memory from the reference model as ``hedgespec vectors export``
        makes the built-in ones: they state everything the file models, and only what holds under every value
        it leaves open."""
        name = self.profile.name
        try:
            files = profile_files(self.profile, self.rulebook)
        except InputError as exc:
            self.notes.append(f"no vectors for profile {name}: the reference model cannot run it ({exc})")
            return None
        self.vectors_label = f"made for {name}"
        self.notes.append(f"profile {name} is not built in: its vectors were made from the reference model for this "
                          f"run ({sum(rel.endswith('.json') for rel in files)} vectors)")
        vectors = [V.Vector(rel, json.loads(text)) for rel, text in sorted(files.items()) if rel.endswith(".json")]
        for vec in vectors:  # as in the random run: the profile as given, a file that checks and engine can read
            vec.data["params"]["profile"] = self.config.profile
        return V.Corpus(vectors)

    def run_vector(self, vec: V.Vector, current: dict[str, str]) -> dict[str, Any]:
        result: dict[str, Any] = {"path": vec.path, "id": vec.id, "rules": sorted(vec.rules)}
        stale = V.stale_rules(vec, current) if self.rulebook.rules else []
        if stale:
            result["stale_rules"] = stale
        if vec.data["profile"]["name"] != self.profile.name:
            return {**result, "status": "unsupported",
                    "reason": f"made for profile {vec.data['profile']['name']}, the run uses {self.profile.name}"}
        if vec.data["profile"]["digest"] != self.profile.digest:  # a file reusing the name, or another version
            return {**result, "status": "unsupported",
                    "reason": f"made for another text of profile {self.profile.name} (digest "
                              f"{vec.data['profile']['digest'][:19]}, the run's {self.profile.digest[:19]})"}
        missing = sorted(set(vec.requires) - self.engine.capabilities)
        if missing:
            return {**result, "status": "unsupported", "reason": "engine lacks " + ", ".join(missing)}
        if self.engine.failures >= self.config.max_engine_failures:
            return {**result, "status": "failed", "reason": "not run: the engine failed "
                                                            f"{self.engine.failures} times already"}
        params = vec.data["params"]
        mode = vec.data.get("state_match", "subset")
        claimed = [rid for rid in vec.rules if rid in self.tally]
        where = {"source": f"vector {vec.path}"}
        i: int | None = None
        try:
            self.engine.reset(params)
            before = self.engine.snapshot()
            expected_state: dict[str, Any] = {"accounts": {}}
            shown: dict[tuple[str, str, str], dict[str, Any]] = {}
            for i, s in enumerate(vec.data["steps"]):
                expected_state = s.get("state", expected_state)
                shown = rows_shown(shown, before)
                outcome, after, violations, malformed = self.observe(params, before, s["action"], True, shown)
                for v in violations:
                    self.tally[v.rule_id].violated({**where, "step": i + 1, "message": v.message})
                if malformed is not None:
                    raise malformed
                expect = s["expect"]
                if outcome.get("reason") in permitted_reasons(
                        self.rules, StepView(params, before, s["action"], outcome, after), expect.get("reason")):
                    expect = {**expect, "reason": outcome.get("reason")}  # the rule's permitted alternative
                problems = V.match_outcome(expect, outcome) + V.match_state(expected_state, after, mode)
                if violations or problems:
                    by_rule = sorted({v.rule_id for v in violations})
                    if not violations and vec.data["origin"].get("generator") == "scenario":
                        by_rule = claimed  # a scenario vector is the executable statement of its rules
                        for rid in claimed:
                            self.tally[rid].violated({**where, "step": i + 1, "message": "; ".join(problems[:2])})
                    for rid in claimed:  # a claimed rule another rule's violation stopped is not judged here
                        if rid in by_rule:
                            self.tally[rid].vectors_failed += 1
                    reason = "; ".join([str(v) for v in violations][:3] + problems[:3]) + _settings_hint(params, problems)
                    out = {**result, "status": "failed", "step": i + 1, "reason": reason, "failed_rules": by_rule}
                    if not by_rule:
                        out["unexplained"] = True
                    return out
                before = after
        except EngineFailure as exc:
            # steps are numbered from 1; None: the reset or first snapshot, before any step
            return {**result, "status": "failed", "step": None if i is None else i + 1, "reason": str(exc),
                    "engine_failure": exc.kind}
        for rid in claimed:
            self.tally[rid].vectors_passed += 1
        return {**result, "status": "passed"}

    # -- the differential run -----------------------------------------------------------------

    def params(self) -> dict[str, Any]:
        params = params_for(self.profile, self.engine.capabilities, RANDOM_WALLET)
        params["profile"] = self.config.profile  # a built-in name, or the profile file as given
        return params

    def run_differential(self) -> None:
        params = self.params()
        scopes = mode_scopes(self.profile, [i["symbol"] for i in params["instruments"]])
        for case in range(self.config.examples):
            if self.engine.failures >= self.config.max_engine_failures:
                self.notes.append(f"differential run stopped after {case} cases: the engine failed "
                                  f"{self.engine.failures} times")
                break
            self.cases_run += 1
            self._differential_case(case, params, scopes)
            if self.failures and self.config.stop_at_first_failure:
                break
        self.notes.extend(self.open_choice_notes())

    def refused_reset(self) -> EngineFailure | None:
        """One ``reset`` with the random run's parameters (the profile among them) before anything else.

        An engine that answers it with an error (kind ``raised``: ``ok:false``, or an in-process
        adapter raising) refuses the run itself, typically a profile it does not support: that one
        failure is returned, instead of the same refusal once per vector until the failure limit
        stops the run. Any other failure is left to the run, which meets and reports it.
        """
        failures = self.engine.failures
        try:
            self.engine.reset(self.params())
        except EngineFailure as exc:
            self.engine.failures = failures
            return exc if exc.kind == "raised" else None
        return None

    def case_seed(self, case: int) -> random.Random:
        return random.Random(f"hedgespec-conform:{self.config.seed}:{case}")

    def _differential_case(self, case: int, params: dict[str, Any], scopes: list[str]) -> None:
        ch = RandomChooser(self.case_seed(case))
        gen = CapabilityFilter(ActionGenerator(params, scopes), self.engine.capabilities)
        state = initial_state(params, self.profile)
        model_snap = snapshot(state)
        actions: list[dict[str, Any]] = []
        observed: list[tuple[dict[str, Any], dict[str, Any], frozenset[str]]] = []
        i = 0
        try:
            self.engine.reset(params)
            before = self.engine.snapshot()
            shown: dict[tuple[str, str, str], dict[str, Any]] = {}
            for i in range(self.config.steps):
                action = gen.propose(ch, model_snap)
                actions.append(action)
                m_outcome, state = V.model_step(state, action)
                if V.event_capabilities(m_outcome) - self.engine.capabilities:
                    self.cases_cut += 1  # the model used a capability the engine lacks: nothing to compare
                    return
                model_snap = snapshot(state)
                shown = rows_shown(shown, before)
                outcome, after, violations, malformed = self.observe(params, before, action, True, shown)
                self.steps_run += 1
                allowed = permitted_reasons(self.rules, StepView(params, before, action, outcome, after),
                                            m_outcome.get("reason"))
                finding = StepFinding(violations, compare(m_outcome, model_snap, outcome, after, allowed), malformed)
                observed.append((outcome, after, allowed))
                if finding.failed:
                    followed = self.open_choices_followed(params, actions, observed) if (
                        finding.divergence and not finding.violations and finding.engine_failure is None) else []
                    if followed:  # the engine did what the profile leaves open: not a failure, the case ends
                        for values in followed:
                            self.open_choice_cases.setdefault(values, []).append((case, i + 1))
                        return
                    self._record_failure(case, params, actions, i, finding)
                    return
                before = after
        except EngineFailure as exc:
            self.steps_run += 1
            self._record_failure(case, params, actions, i, StepFinding(engine_failure=exc))

    def open_choices_followed(self, params: dict[str, Any], actions: Sequence[dict[str, Any]],
                              observed: Sequence[tuple[dict[str, Any], dict[str, Any], frozenset[str]]]
                              ) -> list[tuple[tuple[str, Any], ...]]:
        """The open choices whose other values explain a divergence, as ((choice, value), ...): one open choice
        set to another value the model runs (``corpus.open_variants``, and an open default leverage set to
        one the engine shows, ``corpus.seen_default_variants``), else two at once, under which the reference
        takes every step of the case as the engine did. Empty for a profile that models every choice (the
        seed)."""
        if self._variants is None:
            self._variants = open_variants(self.profile)
        variants = self._variants + seen_default_variants(self.profile, [after for _, after, _ in observed])

        def reproduces(profile: Profile) -> bool:
            try:
                expected = V.model_run(params, actions, profile)
            except InputError:  # the case's parameters do not start a run under these values
                return False
            return all(not compare(m_outcome, m_snap, outcome, after, allowed) for (m_outcome, m_snap), (
                outcome, after, allowed) in zip(expected, observed, strict=True))

        singles = [((v.choice, v.value),) for v in variants if reproduces(v.profile)]
        if singles:
            return singles
        return [((a.choice, a.value), (b.choice, b.value)) for a, b in itertools.combinations(variants, 2)
                if a.choice != b.choice and reproduces(together(a, b))]

    def open_choice_notes(self) -> list[str]:
        """One line per open choice value (or pair) the engine followed in the random run."""
        notes = []
        for values, cases in sorted(self.open_choice_cases.items(), key=lambda kv: repr(kv[0])):
            case, step = cases[0]
            followed = " and ".join(
                f"{name} = {value!r}, which profile {self.profile.name} leaves {self.profile.choices[name].status} "
                f"(the reference runs {self.profile.effective(name)!r})" for name, value in values)
            hint = "; declare leg-settings to have every leg's settings stated in the run parameters instead" if (
                {name for name, _ in values} & set(DEFAULT_SETTINGS)
                and "leg-settings" not in self.engine.capabilities) else ""
            notes.append(f"{len(cases)} random case(s) ended where the engine followed {followed}; not a failure; "
                         f"the rest of such a case is not compared (first: case {case}, step {step}){hint}")
        return notes

    def replay(self, params: dict[str, Any], actions: Sequence[dict[str, Any]]) -> Replay:
        """Play a fixed action list on the engine against the model; stop at the first failure."""
        expected = V.model_run(params, actions, self.profile)
        i = 0
        try:
            self.engine.reset(params)
            before = self.engine.snapshot()
            shown: dict[tuple[str, str, str], dict[str, Any]] = {}
            for i, action in enumerate(actions):
                m_outcome, m_snap = expected[i]
                if V.event_capabilities(m_outcome) - self.engine.capabilities:
                    return Replay(i)
                shown = rows_shown(shown, before)
                outcome, after, violations, malformed = self.observe(params, before, action, False, shown)
                allowed = permitted_reasons(self.rules, StepView(params, before, action, outcome, after),
                                            m_outcome.get("reason"))
                finding = StepFinding(violations, compare(m_outcome, m_snap, outcome, after, allowed), malformed)
                if finding.failed:
                    return Replay(i + 1, finding, i)
                before = after
        except EngineFailure as exc:
            return Replay(i + 1, StepFinding(engine_failure=exc), i)
        return Replay(len(actions))

    def shrink(self, params: dict[str, Any], actions: list[dict[str, Any]],
               signature: tuple[str, frozenset[str]]) -> tuple[list[dict[str, Any]], StepFinding | None]:
        """Remove steps while the same failure remains: a rule failure of an overlapping set of rules, or a
        divergence in the same fields (the same outcome values), so the minimal case shows what was found."""
        budget = self.config.shrink_replays

        def same(replay: Replay) -> bool:
            if replay.finding is None:
                return False
            category, ids = replay.finding.signature()
            if category != signature[0]:
                return False
            return bool(ids & signature[1]) if category == "rule" else ids == signature[1]

        best = list(actions)
        best_finding: StepFinding | None = None
        chunk = max(1, len(best) // 2)
        while chunk >= 1 and budget > 0:
            i = 0
            progressed = False
            while i < len(best) and budget > 0:
                candidate = best[:i] + best[i + chunk:]
                if not candidate:
                    i += chunk
                    continue
                budget -= 1
                replay = self.replay(params, candidate)
                if same(replay):
                    assert replay.failed_at is not None
                    best = candidate[:replay.failed_at + 1]
                    best_finding = replay.finding
                    progressed = True
                else:
                    i += chunk
            if not progressed:
                chunk //= 2
        return best, best_finding

    def _record_failure(self, case: int, params: dict[str, Any], actions: list[dict[str, Any]], at: int,
                        finding: StepFinding) -> None:
        signature = finding.signature()
        step = at + 1 if at < len(actions) else None  # numbered from 1; None: at the reset, before any step
        where = {"source": f"random case {case}", "step": step}
        for v in finding.violations:
            self.tally[v.rule_id].violated({**where, "message": v.message})
        entry: dict[str, Any] = {"case": case, "step": step, "category": {
            "rule": "rule failure", "divergence": "unexplained divergence", "engine": "engine failure"}[signature[0]]}
        if finding.violations:
            entry["rules"] = sorted({v.rule_id for v in finding.violations})
            entry["messages"] = [str(v) for v in finding.violations[:3]]
        if finding.divergence:
            entry["divergence"] = finding.divergence[:5]
        if finding.engine_failure is not None:
            entry["engine_failure"] = {"kind": finding.engine_failure.kind, "reason": finding.engine_failure.reason}
        entry["action"] = actions[at] if at < len(actions) else None
        category, ids = signature
        new = (category == "rule" and any(self.tally[rid].example is None for rid in ids)) or \
            (category != "rule" and signature not in self._seen_signatures)
        if not new:
            entry["duplicate_of_earlier"] = True  # an earlier example already shows the same failure
            self.failures.append(entry)
            return
        if self.examples_written >= self.config.max_examples:
            entry["example_limit_reached"] = True  # new, but the run already wrote max_examples cases
            self.failures.append(entry)
            return
        self._seen_signatures.add(signature)
        minimal = actions[:at + 1]
        entry["original_steps"] = at + 1
        if signature[0] != "engine":  # an engine failure is written as it happened, never shrunk
            minimal, shrunk = self.shrink(params, minimal, signature)
            shown = shrunk if shrunk is not None else finding  # what the written case shows
            if shown.violations:
                entry["minimal_rules"] = sorted({v.rule_id for v in shown.violations})
            if shown.divergence:
                entry["minimal_divergence"] = shown.divergence[:5]
            entry["minimal_steps"] = len(minimal)
        entry["example"] = self._write_example(entry, params, minimal)
        for rid in entry.get("rules", []):
            if self.tally[rid].example is None:
                self.tally[rid].example = entry["example"] or f"case {case}"
        self.failures.append(entry)

    def _write_example(self, entry: dict[str, Any], params: dict[str, Any], actions: list[dict[str, Any]]
                       ) -> str | None:
        self.examples_written += 1
        label = (entry.get("rules") or [None])[0] or {"unexplained divergence": "divergence",
                                                       "engine failure": "engine-failure"}[entry["category"]]
        name = f"{self.examples_written:03d}-{label}.json"
        by_id = self.rulebook.by_id
        rules = {rid: by_id[rid].digest for rid in entry.get("rules", []) if rid in by_id}
        vector = V.build_vector(f"failure/{name[:-5]}", f"{entry['category']} found by hedgespec conform "
                                f"(seed {self.config.seed}, case {entry['case']})", params, actions, self.profile,
                                rules, {"generator": "conform", "seed": self.config.seed, "case": entry["case"]},
                                rule_caps=[c for rid in rules for c in by_id[rid].requires])
        if self.config.failures_dir is None:
            return None
        self.config.failures_dir.mkdir(parents=True, exist_ok=True)
        (self.config.failures_dir / name).write_text(V.dump_vector(vector), encoding="utf-8")
        return text_name((self.config.failures_dir / name).as_posix())  # the report names it: as text

    # -- run-level rules (determinism) ---------------------------------------------------------

    def run_level_rules(self) -> None:
        """Rules of kind ``run`` (HM-DET-001): the first random case, at its full length, played twice gives the same
        trace."""
        run_rules = [r for r in self.rulebook.rules if (r.kind == "run" or r.id in RUN_RULES)
                     and set(r.requires) <= self.engine.capabilities]
        if not run_rules or self.engine.failures >= self.config.max_engine_failures:
            return
        params = self.params()
        gen = ActionGenerator(params, mode_scopes(self.profile, [i["symbol"] for i in params["instruments"]]))
        filt = CapabilityFilter(gen, self.engine.capabilities)
        ch = RandomChooser(self.case_seed(0))
        state = initial_state(params, self.profile)
        actions = []
        for _ in range(self.config.steps):
            action = filt.propose(ch, snapshot(state))
            actions.append(action)
            _, state = V.model_step(state, action)
        traces = []
        try:
            for _ in range(2):
                self.engine.reset(params)
                trace = [self.engine.snapshot()]
                for action in actions:
                    trace.append(self.engine.apply(action))
                    trace.append(self.engine.snapshot())
                traces.append(trace)
        except EngineFailure:
            return
        for r in run_rules:
            self.tally[r.id].checks += 1
            for violation in (r.check(traces) if r.check is not None else ()):  # type: ignore[arg-type]
                self.tally[r.id].violated({"source": "determinism replay of random case 0",
                                           "message": violation.message})


#: Refusals whose reason class a rule's statement leaves to the engine: where the rule demands a
#: refusal, any of these reasons the rule's own check accepts is the rule's permitted alternative
#: to the model's choice, not a divergence. HM-ORD-005: a malformed order whose order id is in use
#: may be refused with INVALID_ARGUMENT or DUPLICATE_ORDER_ID.
REASON_CHOICES: dict[str, frozenset[str]] = {"HM-ORD-005": frozenset({"INVALID_ARGUMENT", "DUPLICATE_ORDER_ID"})}
_ACCEPTED = {"kind": "accepted", "reason": None, "message": "", "events": []}


def permitted_reasons(rules: Sequence[Rule], view: StepView, model_reason: str | None) -> frozenset[str]:
    """Reason classes the rulebook lets the engine give instead of the model's on this step.

    The rule's check is the judge, as it is for a divergence a rule explains: the alternatives of
    ``REASON_CHOICES[rule]`` count when the model's reason is one of them, the rule applies to the
    step, its check flags the step were it accepted (the rule demands a refusal here), and its
    check accepts the engine's refusal. Otherwise nothing but the model's reason is permitted.
    """
    if view.outcome.get("kind") != "rejected" or view.outcome.get("reason") == model_reason:
        return frozenset()
    found: set[str] = set()
    for rule in rules:
        choices = REASON_CHOICES.get(rule.id)
        if not choices or model_reason not in choices or rule.check is None or not applies(rule, view.action):
            continue
        probe = StepView(view.params, view.before, view.action, _ACCEPTED, view.before)
        try:
            demands_refusal = any(v.rule_id == rule.id for v in rule.check(probe))
            accepts_engine = not any(v.rule_id == rule.id for v in rule.check(view))
        except Exception:  # noqa: BLE001 - a check that cannot read the step permits nothing
            continue
        if demands_refusal and accepts_engine:
            found |= choices
    return frozenset(found)


def compare(m_outcome: dict[str, Any], m_snap: dict[str, Any], outcome: dict[str, Any], after: dict[str, Any],
            permitted: frozenset[str] = frozenset()) -> list[str]:
    """Differences between the model's and the engine's step (outcome kind and reason, observable state).

    ``permitted``: reason classes the rulebook lets the engine give instead of the model's
    (``permitted_reasons``); a refusal with one of them is no difference.
    """
    problems = []
    for key in ("kind", "reason"):
        if key == "reason" and outcome.get("kind") == m_outcome.get("kind") == "rejected" and \
                outcome.get("reason") in permitted:
            continue
        if outcome.get(key) != m_outcome.get(key):
            problems.append(f"outcome.{key}: model {m_outcome.get(key)!r}, engine {outcome.get(key)!r}")
    return problems + diff(observable(m_snap), observable(after))


class CapabilityFilter:
    """Keeps a generator to what the engine declares (no expiry without ``expiry``, ...)."""

    _ORDER_TYPES = {"LIMIT": "limit-orders", "STOP_MARKET": "conditional-orders",
                    "TAKE_PROFIT_MARKET": "conditional-orders", "TRAILING_STOP_MARKET": "trailing-stops"}
    _KINDS = {"set_position_mode": "mode-switching", "adjust_margin": "margin-adjustment",
              "market_trade": "market-trades", "funding": "funding", "expire": "expiry"}

    def __init__(self, gen: ActionGenerator, capabilities: frozenset[str]) -> None:
        from hedgespec.conformance.generate import KINDS

        self.gen = gen
        self.caps = capabilities
        gen.gentle = "liquidation" not in capabilities
        self.kinds = tuple(k for k in KINDS if self._KINDS.get(k, "") in capabilities or k not in self._KINDS)

    def propose(self, ch: Any, snap: dict[str, Any]) -> dict[str, Any]:
        from hedgespec.conformance.generate import weighted_kind

        for _ in range(20):
            saved = (self.gen.t, self.gen.next_order)
            action = self.gen.propose(ch, snap, weighted_kind(ch, self.kinds))
            if self.allowed(action):
                return action
            self.gen.t, self.gen.next_order = saved
        return action

    def allowed(self, action: dict[str, Any]) -> bool:
        cap = self._ORDER_TYPES.get(action.get("order_type", ""))
        if cap and cap not in self.caps:
            return False
        if action.get("margin_type") == "CROSS" and "cross-margin" not in self.caps:
            return False
        if action.get("mode") == "ONE_WAY" and "one-way-mode" not in self.caps:
            return False
        return not (action.get("mode") == "HEDGE" and "hedge-mode" not in self.caps)


# -- verdicts and the report -----------------------------------------------------------------

def _verdict(rule: Rule, tally: RuleTally, caps: frozenset[str]) -> tuple[str, list[str]]:
    missing = sorted(set(rule.requires) - caps)
    if missing:
        return "unsupported", missing
    if tally.violations or tally.vectors_failed:
        return "fail", []
    if tally.checks or tally.vectors_passed:
        return "pass", []
    return "not exercised", []


def build_report(runner: Runner, config: RunConfig) -> dict[str, Any]:
    engine = runner.engine
    fail_levels = LEVEL_ORDER[:LEVEL_ORDER.index(config.fail_on) + 1]
    rules_out = []
    counts = {v: 0 for v in VERDICTS}
    blocking = []
    for rule in sorted(runner.rulebook.rules, key=lambda r: r.id):
        t = runner.tally[rule.id]
        verdict, missing = _verdict(rule, t, engine.capabilities)
        counts[verdict] += 1
        row: dict[str, Any] = {"id": rule.id, "level": rule.level, "kind": rule.kind, "title": rule.title,
                               "digest": rule.digest, "verdict": verdict, "checks": t.checks,
                               "violations": t.violations, "vectors_passed": t.vectors_passed,
                               "vectors_failed": t.vectors_failed}
        if missing:
            row["missing_capabilities"] = missing
        if t.first:
            row["first_violation"] = t.first
        if t.example:
            row["example"] = t.example
        if rule.id in config.expected_failures:
            row["expected_failure"] = config.expected_failures[rule.id] or True
            if verdict == "pass":
                row["note"] = "listed as an expected failure but passes: remove it from the list"
        elif verdict == "fail" and rule.level in fail_levels:
            blocking.append(rule.id)
        rules_out.append(row)
    unknown_expected = sorted(set(config.expected_failures) - set(runner.tally))
    vec_counts = {s: sum(1 for v in runner.vector_results if v["status"] == s)
                  for s in ("passed", "failed", "unsupported")}
    unexplained = [f for f in runner.failures if f["category"] == "unexplained divergence"]
    unexplained += [{"vector": v["path"], "step": v.get("step"), "divergence": v["reason"]}
                    for v in runner.vector_results if v.get("unexplained")]
    engine_failures = [f for f in runner.failures if f["category"] == "engine failure"]
    engine_failures += [{"vector": v["path"], "step": v.get("step"), "engine_failure": v["reason"]}
                        for v in runner.vector_results if v.get("engine_failure")]
    invalid = sum(1 for v in runner.vector_results if v.get("invalid"))  # a file that could not be read as a vector
    status = 1 if blocking or unexplained or engine_failures or invalid else 0
    must = [row["verdict"] for row in rules_out if row["level"] == "MUST"]
    must_rules = {"total": len(must), "checked": must.count("pass") + must.count("fail"),
                  "unsupported": must.count("unsupported"), "not exercised": must.count("not exercised")}
    notes = list(runner.notes)
    if unknown_expected:
        notes.append("expected-failures file names unknown rule IDs: " + ", ".join(unknown_expected))
    return {
        "report_format": REPORT_FORMAT,
        "provenance": {
            "hedgespec_version": hedgespec.__version__,
            "spec_version": SPEC_VERSION,
            "profile": {"name": runner.profile.name, "digest": runner.profile.digest},
            "seed": config.seed,
            "examples": config.examples,
            "steps_per_case": config.steps,
            "vectors": getattr(runner, "vectors_label", None) if config.run_vectors else None,
            "adapter": {"name": engine.name, "engine": config.engine_label or engine.name,
                        "capabilities": sorted(engine.capabilities)},
            "rulebook": runner.rulebook.source,
            "fail_on": config.fail_on,
        },
        "summary": {
            "verdict": "FAIL" if status else "PASS",
            "exit_status": status,
            "blocking_rules": blocking,
            "rules": counts,
            "must_rules": must_rules,  # how many MUST rules the verdict covers (checked: pass or fail)
            "vectors": {**vec_counts, "total": len(runner.vector_results), "invalid": invalid},
            "differential": {"cases": runner.cases_run, "steps": runner.steps_run,
                             "cases_ended_at_missing_capability": runner.cases_cut,
                             # without liquidation the generator keeps mark moves and funding rates small
                             "small_price_moves_only": "liquidation" not in engine.capabilities,
                             "rule_failures": sum(1 for f in runner.failures if f["category"] == "rule failure"),
                             "unexplained_divergences": len(unexplained),
                             "engine_failures": len(engine_failures)},
        },
        "rules": rules_out,
        "vectors": runner.vector_results,
        "differential_failures": runner.failures,
        "unexplained_divergences": unexplained,
        "engine_failures": engine_failures,
        "notes": notes,
    }


def run(engine_factory: Callable[[], Any], config: RunConfig, rulebook: Rulebook | None = None
        ) -> dict[str, Any]:
    """Run the conformance suite against the engine the factory builds; the report (a JSON object).

    An engine that cannot be started (the factory raises, the process cannot be launched or fails
    its handshake, the adapter's name or capabilities are not valid) gives a report with one engine
    failure of kind ``start`` and nothing exercised. ``KeyboardInterrupt`` stops the run.
    """
    rulebook = rulebook or load_rulebook()
    adapter: Any = None
    try:
        adapter = engine_factory()
        engine = Engine(adapter, config.step_timeout)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - an engine that cannot start is reported, never fatal
        if adapter is not None:
            close_quietly(adapter)
        adapter = _DeadAdapter(str(wrap_exception(exc, "start")))
        engine = Engine(adapter)
    runner = Runner(engine, config, rulebook)
    try:
        if isinstance(adapter, _DeadAdapter):
            engine.failures = config.max_engine_failures
            runner.failures.append({"case": None, "step": None, "category": "engine failure",
                                    "engine_failure": {"kind": "start", "reason": adapter.reason}})
            runner.notes.append("the engine could not be started; nothing was run")
        elif (refusal := runner.refused_reset()) is not None:
            engine.failures = config.max_engine_failures
            reason = f"the engine refused reset to profile {runner.profile.name}: {refusal.reason}"
            runner.failures.append({"case": None, "step": None, "at": "reset", "category": "engine failure",
                                    "engine_failure": {"kind": refusal.kind, "reason": reason}})
            runner.notes.append(f"{reason}; nothing was run (check the profiles the engine supports, --profile)")
        else:
            if config.run_vectors:
                runner.run_vectors()
            runner.run_differential()
            runner.run_level_rules()
    finally:
        engine.close()
    return build_report(runner, config)


class _DeadAdapter:
    """Stands in for an engine that could not be started: every call fails with the reason."""

    name = "?"
    capabilities: frozenset[str] = frozenset()

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def reset(self, params: dict[str, Any]) -> None:
        raise EngineFailure("handshake", self.reason)

    def apply(self, action: dict[str, Any]) -> dict[str, Any]:
        raise EngineFailure("handshake", self.reason)

    def snapshot(self) -> dict[str, Any]:
        raise EngineFailure("handshake", self.reason)

    def close(self) -> None:
        pass
