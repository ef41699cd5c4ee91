"""The committed vector corpus: what it holds, how it is regenerated, and the staleness check.

Layout: ``conformance/vectors/<profile>/scenario/<name>.json`` (scenario functions) and
``conformance/vectors/<profile>/random/random-<n>.json`` (seeded random runs driven by
``random.Random``, so that neither Hypothesis nor the test order changes them).

A vector states only what holds under every value its profile leaves open (a choice whose status
is not ``modelled``): each case is also run under every single-choice variant of the profile
(``open_variants``); a scenario that any variant decides differently is left out for that profile,
a random run is cut before the first step one decides. ``<profile>/OMITTED.md`` lists what was
left out and why.

``export(root)`` writes the corpus and removes the generated files it no longer makes;
``verify(root)`` regenerates it in memory and reports every file that differs, is missing or is
extra, and every vector naming a rule whose digest changed.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hedgespec.conformance import vectors as V
from hedgespec.conformance.generate import Generator, RandomChooser
from hedgespec.conformance.rulebook import Rulebook, load_rulebook
from hedgespec.conformance.scenarios import SCENARIOS
from hedgespec.conformance.world import (
    DEFAULT_SETTINGS,
    LEG_FIELDS,
    RANDOM_WALLET,
    default_params,
    mode_scopes,
    with_leg_settings,
)
from hedgespec.model import initial_state, snapshot
from hedgespec.model.codec import InputError
from hedgespec.spec.profiles import CHOICE_SPECS, Choice, Profile, builtin_profile_names, load_profile

from hedgespec.names import text_name

PROFILES = tuple(builtin_profile_names())
RANDOM_VECTORS = 4  # per profile
RANDOM_LENGTH = 20
OMITTED = "OMITTED.md"  # per profile: what the open choices left out (not a vector: no .json)

# Open choices no variant is run for, and why.
UNTRIED = {"mode_switch_cooldown_seconds": "a non-zero cooldown is not simulated (logical time only)",
           "rounding_tolerance_money": "the model does not read it (audits only)"}
# Decimal-string choices: the value tried besides the seed's (enums try every value the model simulates).
OTHER_VALUE = {"rate": "0.001", "leverage": "5"}


@dataclass(frozen=True)
class Variant:
    """The profile with one open choice set to another value the model can run, as modelled."""

    choice: str
    value: Any
    profile: Profile


def together(a: Variant, b: Variant) -> Profile:
    """The profile with the open choices of two variants (of different choices) set at once."""
    return dataclasses.replace(a.profile, choices={**a.profile.choices, b.choice: b.profile.choices[b.choice]})


def open_variants(profile: Profile) -> list[Variant]:
    """One variant per open choice and per value of it the model can run besides the one it runs."""
    out = []
    for spec in CHOICE_SPECS:
        if profile.choices[spec.name].status == "modelled" or spec.name in UNTRIED:
            continue
        values = spec.allowed if spec.allowed is not None else (OTHER_VALUE[spec.kind],)
        out += [variant(profile, spec.name, value) for value in values
                if value != profile.effective(spec.name)]
    return out


def variant(profile: Profile, name: str, value: Any) -> Variant:
    choice = Choice(value, "modelled", "variant: a value the profile leaves open")
    return Variant(name, value, dataclasses.replace(profile, choices={**profile.choices, name: choice}))


SEEN_LEVERAGES = 3  # at most this many leverages an engine reports are tried as its default


def seen_default_variants(profile: Profile, snapshots: Sequence[dict]) -> list[Variant]:
    """Variants of an open ``default_leverage`` set to the leverages an engine's snapshots show on its legs
    (besides the one the model runs and ``OTHER_VALUE``): an engine's own default, which no fixed list of
    values could guess. Malformed or fractional values are skipped (the comparison reports them)."""
    if profile.choices["default_leverage"].status == "modelled":
        return []
    tried = {str(profile.effective("default_leverage")), OTHER_VALUE["leverage"]}
    seen: list[str] = []
    for snap in snapshots:
        for account in (snap.get("accounts") or {}).values():
            for sides in ((account or {}).get("positions") or {}).values():
                for row in (sides or {}).values():
                    text = row.get("leverage") if isinstance(row, dict) else None
                    if isinstance(text, str) and text.isdigit() and text[0] != "0" and len(text) <= 6 \
                            and text not in tried and text not in seen:
                        seen.append(text)
    return [variant(profile, "default_leverage", value) for value in seen[:SEEN_LEVERAGES]]


def expectations(params: dict, actions: Sequence[dict], profile: Profile) -> list[tuple[Any, ...]] | None:
    """Per step what a vector records (outcome kind, reason, expected state); None if ``params`` do not start."""
    try:
        results = V.model_run(params, actions, profile)
    except InputError:
        return None
    return [(o["kind"], o["reason"], V.expected_state(s)) for o, s in results]


ANY = {"$any": True}
_CLASH = object()


def merged_state(a: Any, b: Any, key: str = "") -> Any:
    """The expected state that holds under both: equal values kept, differing values ``{"$any": true}``
    (the vector format's pattern: any value, the field present). ``_CLASH`` where the two do not list the
    same accounts or legs, which no pattern of the format can state."""
    if a == b:
        return a
    if isinstance(a, dict) and isinstance(b, dict) and ANY not in (a, b) and key not in _PATTERNED:
        if a.keys() != b.keys():
            return _CLASH
        out = {}
        for k in a:
            value = merged_state(a[k], b[k], k)
            if value is _CLASH:
                return _CLASH
            out[k] = value
        return out
    return ANY if key in _PATTERNED else _CLASH


# the fields of an expected state the format lets a pattern stand for
_PATTERNED = frozenset({"wallet", "insurance_fund", "position_mode", "open_orders", *LEG_FIELDS})


@dataclass
class OpenRun:
    """A case under a profile's open choices: the expected states that hold under every variant, and
    where an open choice decides an outcome (or which legs are listed) the first such step."""

    states: list[Any]  # per step: merged expected state
    cut: dict[str, int]  # open choice -> first step (0-based) a variant of it decides differently
    opened: list[str]  # open choices that left a value open (a pattern) before the cut


def open_run(params: dict, actions: Sequence[dict], profile: Profile, variants: Sequence[Variant]) -> OpenRun:
    """Run the case under the profile and each single-choice variant (see ``open_variants``), then under
    each pair of variants of two choices one of which changed something alone (two may interact)."""
    base = expectations(params, actions, profile)
    if base is None:
        raise InputError(f"{profile.name}: the case's parameters do not start a run")
    states: list[Any] = [s for _, _, s in base]
    cut: dict[str, int] = {}
    solo: dict[str, int] = {}  # the cuts of single variants: a pair one of whose choices decides alone adds none
    opened: dict[str, int] = {}  # open choice -> first step it left a value open

    def merge(choices: tuple[str, ...], other_profile: Profile) -> None:
        other = expectations(params, actions, other_profile)
        for i, (kind, reason, _) in enumerate(base):
            o_kind, o_reason, o_state = other[i] if other is not None else (None, None, None)
            merged = merged_state(states[i], o_state) if (kind, reason) == (o_kind, o_reason) else _CLASH
            if merged is _CLASH:
                if not any(solo.get(choice, i + 1) <= i for choice in choices):
                    for choice in choices:
                        cut[choice] = min(i, cut.get(choice, i))
                return
            if merged != states[i]:
                for choice in choices:
                    opened[choice] = min(i, opened.get(choice, i))
            states[i] = merged

    for variant in variants:
        merge((variant.choice,), variant.profile)
    solo.update(cut)
    alone = {v.choice for v in variants if v.choice in opened or v.choice in cut}
    for a, b in itertools.combinations(variants, 2):
        if a.choice != b.choice and (a.choice in alone or b.choice in alone):
            merge((a.choice, b.choice), together(a, b))
    first = min(cut.values(), default=len(states))
    return OpenRun(states[:first], cut, sorted(c for c, i in opened.items() if i < first))


def settled_run(params: dict, actions: Sequence[dict], profile: Profile, variants: Sequence[Variant]
                ) -> tuple[dict, OpenRun]:
    """``open_run``, and where an open default leg setting decides the case first or leaves a value of it open
    before the cut, the case again with the legs' settings stated in its parameters
    (``world.with_leg_settings``; the vector then requires the ``leg-settings`` capability and states those
    values). A case those defaults do not touch keeps its parameters, so that an engine without the
    capability still runs it."""
    run = open_run(params, actions, profile, variants)
    first = min(run.cut.values(), default=None)
    if any(run.cut.get(c, -1) == first for c in DEFAULT_SETTINGS) or set(run.opened) & set(DEFAULT_SETTINGS):
        stated = with_leg_settings(params, profile)
        run = open_run(stated, actions, profile, variants)
        return stated, run
    return params, run


@dataclass
class Omissions:
    """What one profile's open choices kept out of its corpus."""

    scenarios: dict[str, list[str]] = field(default_factory=dict)  # name -> choices that decide it
    cut: dict[int, tuple[int, list[str]]] = field(default_factory=dict)  # random n -> (steps kept, choices)
    opened: dict[str, list[str]] = field(default_factory=dict)  # vector path -> choices that left values open


def random_case(profile: Profile, n: int) -> tuple[dict, list[dict]]:
    params = default_params(profile, wallet=RANDOM_WALLET)
    gen = Generator(params, mode_scopes(profile, [i["symbol"] for i in params["instruments"]]))
    ch = RandomChooser(random.Random(f"hedgespec-vector:{profile.name}:{n}"))
    state = initial_state(params, profile)
    actions = []
    for _ in range(RANDOM_LENGTH):
        action = gen.propose(ch, snapshot(state))
        actions.append(action)
        _, state = V.model_step(state, action)
    return params, actions


def generate(profiles: tuple[str, ...] = PROFILES, rulebook: Rulebook | None = None) -> dict[str, str]:
    """Relative path -> file text of the whole corpus (vectors and each profile's OMITTED.md)."""
    rulebook = rulebook or load_rulebook()
    return {f"{name}/{rel}": text for name in profiles
            for rel, text in profile_files(load_profile(name), rulebook).items()}


def profile_files(profile: Profile, rulebook: Rulebook) -> dict[str, str]:
    """One profile's corpus, paths relative to its folder (``scenario/<name>.json``, ``random/random-<n>.json``,
    ``OMITTED.md``). Also for a profile file: a scenario written for some built-in profiles runs for a file that
    ``extends`` one of them."""
    digests = {r.id: r.digest for r in rulebook.rules}
    by_id = rulebook.by_id
    name = profile.name
    variants = open_variants(profile)
    omitted = Omissions()
    files: dict[str, str] = {}
    for sc in SCENARIOS:
        if sc.profiles is not None and name not in sc.profiles and profile.extends not in sc.profiles:
            continue
        params, actions = sc.build(profile)
        params, run = settled_run(params, actions, profile, variants)
        if run.cut:
            omitted.scenarios[sc.name] = sorted(run.cut)
            continue
        if run.opened:
            omitted.opened[f"scenario/{sc.name}"] = run.opened
        rules = {rid: digests.get(rid, "unknown") for rid in sc.rules}
        caps = [c for rid in sc.rules if rid in by_id for c in by_id[rid].requires]
        vec = V.build_vector(f"{name}/scenario/{sc.name}", sc.title, params, actions, profile, rules,
                             {"generator": "scenario", "name": sc.name}, rule_caps=caps, states=run.states)
        files[f"scenario/{sc.name}.json"] = V.dump_vector(vec)
    for n in range(RANDOM_VECTORS):
        params, actions = random_case(profile, n)
        params, run = settled_run(params, actions, profile, variants)
        if run.cut:
            keep = min(run.cut.values())
            omitted.cut[n] = (keep, sorted(c for c, i in run.cut.items() if i == keep))
            actions = actions[:keep]
        if not actions:
            continue
        if run.opened:
            omitted.opened[f"random/random-{n}"] = run.opened
        vec = V.build_vector(f"{name}/random/random-{n}", f"Seeded random run {n} ({name})", params, actions,
                             profile, {}, {"generator": "random", "seed": f"hedgespec-vector:{name}:{n}",
                                           "length": len(actions)}, states=run.states)
        files[f"random/random-{n}.json"] = V.dump_vector(vec)
    files[OMITTED] = omitted_text(profile, variants, omitted)
    return files


def omitted_text(profile: Profile, variants: Sequence[Variant], omitted: Omissions) -> str:
    """``<profile>/OMITTED.md``: the open choices tried, the scenarios left out and the random runs cut."""
    name = profile.name
    lines = [f"# {name}: vectors left out", "",
             "Generated by `hedgespec vectors export`; do not edit. A vector states only what holds under every",
             "value its profile leaves open (docs/formats/vectors.md): each case is also run with one open choice",
             "at a time set to another value the reference model can run. A value such a variant changes is",
             "left open in the vector; a scenario in which one decides an outcome (or which legs are listed) is",
             "left out, and a random run is cut before the first step one decides.", ""]
    tried: dict[str, list[str]] = {}
    for v in variants:
        tried.setdefault(v.choice, []).append(f"`{_show(v.value)}`")
    untried = [c for c in UNTRIED if profile.choices[c].status != "modelled"]
    if not tried and not untried:
        lines += ["The profile models every choice: nothing is left out."]
        return "\n".join(lines) + "\n"
    lines += ["## Open choices", ""]
    lines += [f"* `{c}`: also run as {', '.join(vals)}" for c, vals in tried.items()]
    lines += [f"* `{c}`: not varied: {UNTRIED[c]}" for c in untried]
    lines += ["", f"## Scenarios left out ({len(omitted.scenarios)})", ""]
    lines += [f"* `{sc}`: decided by {', '.join(f'`{c}`' for c in choices)}"
              for sc, choices in omitted.scenarios.items()] or ["None."]
    lines += ["", f"## Vectors with values left open ({len(omitted.opened)})", "",
              "Values an open choice changes without deciding an outcome or which legs are listed are stated as",
              '`{"$any": true}` (any value, the field present); the rest of the vector is stated as usual.', ""]
    lines += [f"* `{vector}`: values left open by {', '.join(f'`{c}`' for c in choices)}"
              for vector, choices in omitted.opened.items()] or ["None."]
    lines += ["", f"## Random runs cut ({len(omitted.cut)} of {RANDOM_VECTORS})", ""]
    for n, (keep, choices) in omitted.cut.items():
        kept = f"{keep} of {RANDOM_LENGTH} steps kept" if keep else "not generated (no step kept)"
        lines.append(f"* `random-{n}`: {kept}; step {keep + 1} is decided by "
                     f"{', '.join(f'`{c}`' for c in choices)}")
    if not omitted.cut:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def _show(value: Any) -> str:
    return "true" if value is True else "false" if value is False else str(value)


def _generated_layout(rel: str, profiles: tuple[str, ...]) -> bool:
    """A path the generator owns: ``<profile>/{scenario,random}/*.json`` or ``<profile>/OMITTED.md``."""
    parts = rel.split("/")
    return parts[0] in profiles and ((len(parts) == 3 and parts[1] in ("scenario", "random")
                                      and parts[2].endswith(".json")) or parts[1:] == [OMITTED])


def export(root: Path, profiles: tuple[str, ...] = PROFILES) -> list[str]:
    """Write the corpus under ``root`` and remove the generated files it no longer makes; returns the
    relative paths written."""
    files = generate(profiles)
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root).as_posix()
            if path.is_file() and rel not in files and _generated_layout(rel, profiles):
                path.unlink()
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return sorted(files)


@dataclass
class Verification:
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    stale: dict[str, list[str]] = field(default_factory=dict)  # path -> rule IDs whose digest changed
    invalid: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.extra or self.stale or self.invalid)

    def lines(self) -> list[str]:
        """One line per problem; file names as text (``hedgespec.names.text_name``)."""
        out = [f"changed: {p} (regenerating gives a different file)" for p in self.changed]
        out += [f"missing: {p}" for p in self.missing]
        out += [f"extra: {p} (no generator makes it)" for p in self.extra]
        out += [f"stale: {p}: the text of {', '.join(r)} changed since it was written" for p, r in self.stale.items()]
        out += [f"invalid: {p}: {why}" for p, why in self.invalid]
        return [text_name(line) for line in out]


def verify(root: Path, profiles: tuple[str, ...] = PROFILES, rulebook: Rulebook | None = None) -> Verification:
    """Regenerate in memory and compare with ``root`` byte for byte; flag vectors of changed rules."""
    rulebook = rulebook or load_rulebook()
    expected = generate(profiles, rulebook)
    result = Verification()
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*")
               if p.is_file() and (p.suffix == ".json" or p.name == OMITTED)} if root.is_dir() else set()
    current = {r.id: r.digest for r in rulebook.rules}
    for rel in sorted(r for r in on_disk if r.endswith(".json")):
        try:
            vec = V.load_vector(root / rel, root)
        except V.VectorError as exc:
            result.invalid.append((rel, str(exc)))
            continue
        stale = V.stale_rules(vec, current)
        if stale:
            result.stale[rel] = stale
    for rel, text in sorted(expected.items()):
        if rel not in on_disk:
            result.missing.append(rel)
        elif _text_or_none(root / rel) != text:
            result.changed.append(rel)
    result.extra = sorted(on_disk - set(expected))
    return result


def _text_or_none(path: Path) -> str | None:
    """The file's text, or None when it is not UTF-8 (such a file differs from every generated one)."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None
