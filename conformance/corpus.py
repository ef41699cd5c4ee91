"""The committed vector corpus: what it holds, how it is regenerated, and the staleness check.

Layout: ``conformance/vectors/<profile>/scenario/<name>.json`` (scenario functions) and
``conformance/vectors/<profile>/random/random-<n>.json`` (seeded random runs driven by
``random.Random``, so that neither Hypothesis nor the test order changes them).

``export(root)`` writes the corpus; ``verify(root)`` regenerates it in memory and reports every
file that differs, is missing or is extra, and every vector naming a rule whose digest changed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from hedgespec.conformance import vectors as V
from hedgespec.conformance.generate import Generator, RandomChooser
from hedgespec.conformance.rulebook import Rulebook, load_rulebook
from hedgespec.conformance.scenarios import SCENARIOS
from hedgespec.conformance.world import RANDOM_WALLET, default_params, mode_scopes
from hedgespec.model import initial_state, snapshot
from hedgespec.spec.profiles import Profile, builtin_profile_names, load_profile

from hedgespec.names import text_name

PROFILES = tuple(builtin_profile_names())
RANDOM_VECTORS = 4  # per profile
RANDOM_LENGTH = 20


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
    """Relative path -> file text of the whole corpus."""
    rulebook = rulebook or load_rulebook()
    digests = {r.id: r.digest for r in rulebook.rules}
    by_id = rulebook.by_id
    files: dict[str, str] = {}
    for name in profiles:
        profile = load_profile(name)
        for sc in SCENARIOS:
            if sc.profiles is not None and name not in sc.profiles:
                continue
            params, actions = sc.build(profile)
            rules = {rid: digests.get(rid, "unknown") for rid in sc.rules}
            caps = [c for rid in sc.rules if rid in by_id for c in by_id[rid].requires]
            vec = V.build_vector(f"{name}/scenario/{sc.name}", sc.title, params, actions, profile, rules,
                                 {"generator": "scenario", "name": sc.name}, rule_caps=caps)
            files[f"{name}/scenario/{sc.name}.json"] = V.dump_vector(vec)
        for n in range(RANDOM_VECTORS):
            params, actions = random_case(profile, n)
            vec = V.build_vector(f"{name}/random/random-{n}", f"Seeded random run {n} ({name})", params, actions,
                                 profile, {}, {"generator": "random", "seed": f"hedgespec-vector:{name}:{n}",
                                               "length": RANDOM_LENGTH})
            files[f"{name}/random/random-{n}.json"] = V.dump_vector(vec)
    return files


def export(root: Path, profiles: tuple[str, ...] = PROFILES) -> list[str]:
    """Write the corpus under ``root``; returns the relative paths written."""
    files = generate(profiles)
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
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*.json")} if root.is_dir() else set()
    current = {r.id: r.digest for r in rulebook.rules}
    for rel in sorted(on_disk):
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
