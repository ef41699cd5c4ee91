"""What the published pages are generated from: the rule registry, profiles, sources, proofs, tests, vectors.

Everything optional (sources, seed clauses, proofs, vectors, venue comparison) is read when it
exists and left out when it does not; the rule registry itself is required, except that
``HEDGESPEC_DOCS_FIXTURE=1`` lets the docs be worked on with a tiny fixture before it exists.
"""

from __future__ import annotations

import importlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hedgespec.spec  # noqa: E402
from hedgespec.spec.registry import Rule, Source

# The repository the rulebook is read from (spec/, tests/, conformance/vectors/): where hedgespec lives.
ROOT = Path(hedgespec.spec.__file__).resolve().parents[1]
RULE_ID_IN_TEXT = re.compile(r"\bHM-[A-Z]{2,5}-\d{3}\b")
AREA_TITLES = {
    "MODE": "Position mode", "ORD": "Orders", "NET": "Netting and the frame rule", "POS": "Positions and PnL",
    "MARG": "Margin", "FEE": "Fees", "FUND": "Funding", "LIQ": "Liquidation", "STOP": "Conditional orders",
    "SETL": "Settlement", "ATOM": "Atomicity", "ACCT": "Account isolation", "LEDG": "Ledger", "DET": "Determinism",
}


class DocsError(RuntimeError):
    """The docs cannot be built faithfully (unknown rule ID, missing registry)."""


DOCS = Path(__file__).resolve().parents[1]
EXCLUDED = ("dev/", "hsdocs/", "SUMMARY.md")


def handwritten() -> list[str]:
    """Markdown pages under docs/ (relative paths), contributors' notes excluded."""
    return sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")
                  if not p.relative_to(DOCS).as_posix().startswith(EXCLUDED))


def _fixture_rules() -> list[Rule]:
    def frame(view: Any) -> Iterable[Any]:
        return ()

    return [
        Rule("HM-NET-001", "MUST", "transition", "A step acting on one leg leaves the other leg unchanged",
             "A step that acts on one leg leaves every other leg of the account unchanged.",
             "Hedge mode exists so that the legs never net.", (Source("S-P1"),), (), ("snapshot",),
             ("hedge-mode",), (), frame),
        Rule("HM-MARG-004", "MUST", "parameter", "Default margin type", "A leg never set has the profile's "
             "default margin type.", "Venues differ.", (Source("S-Q2"),), (), (), (), ("default_margin_type",)),
    ]


def _provisional_rules() -> list[Rule]:
    """Before ``hedgespec.spec.rulebook`` exists: the chapters that import, else the tiny fixture."""
    import pkgutil

    from hedgespec.spec import registry

    try:
        package = importlib.import_module("hedgespec.spec.rules")
    except ImportError:
        package = None
        for info in pkgutil.iter_modules([str(ROOT / "spec" / "rules")]):
            try:
                importlib.import_module(f"hedgespec.spec.rules.{info.name}")
            except ImportError:
                continue
    rules = sorted(registry._RULES.values(), key=lambda r: r.id)
    return rules if rules or package else _fixture_rules()


def load_rules() -> list[Rule]:
    """Every rule of the registry, retired ones included, sorted by ID."""
    try:
        rulebook = importlib.import_module("hedgespec.spec.rulebook")
    except ModuleNotFoundError as exc:
        if exc.name != "hedgespec.spec.rulebook" or os.environ.get("HEDGESPEC_DOCS_FIXTURE") != "1":
            raise DocsError(f"the rule registry is not importable: {exc}") from exc
        return _provisional_rules()
    return sorted(rulebook.all_rules(), key=lambda r: r.id)


def area_of(rule_id: str) -> str:
    return rule_id.split("-")[1]


def areas(rules: list[Rule]) -> list[str]:
    order = list(AREA_TITLES)
    found = {area_of(r.id) for r in rules}
    return [a for a in order if a in found] + sorted(found - set(order))


def _load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


@dataclass(frozen=True)
class Reference:
    """A seed clause or a venue document, with whatever the data files say about it."""

    ref: str
    title: str = ""
    url: str = ""
    text: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _index(data: Any, kind: str) -> dict[str, Reference]:
    """Normalise a list or mapping of entries into ref -> Reference (tolerant of the file's shape)."""
    if data is None:
        return {}
    if isinstance(data, dict):
        for key in ("clauses", "sources", "documents", "items"):
            if isinstance(data.get(key), (list, dict)):
                return _index(data[key], kind)
        items = [{"id": k, **v} if isinstance(v, dict) else {"id": k, "text": str(v)} for k, v in data.items()
                 if not k.startswith(("$", "_")) and k not in ("format", "version")]
    elif isinstance(data, list):
        items = [x for x in data if isinstance(x, dict)]
    else:
        raise DocsError(f"{kind}: unexpected JSON shape")
    out = {}
    for item in items:
        ref = str(item.get("id") or item.get("ref") or item.get("tag") or "")
        if not ref:
            continue
        out[ref] = Reference(
            ref=ref,
            title=str(item.get("title") or item.get("name") or ""),
            url=str(item.get("url") or item.get("href") or ""),
            text=str(item.get("text") or item.get("claim") or item.get("statement") or item.get("summary") or ""),
            extra={k: v for k, v in item.items()
                   if k in ("status", "venue", "retrieved", "verdict", "checked", "normative", "group", "kind")},
        )
    return out


def seed_clauses() -> dict[str, Reference]:
    return _index(_load_json(ROOT / "spec" / "seed_clauses.json"), "spec/seed_clauses.json")


def venue_sources() -> dict[str, Reference]:
    return _index(_load_json(ROOT / "spec" / "sources.json"), "spec/sources.json")


def proved() -> dict[str, list[str]]:
    """rule ID -> the conditions proved for the reference kernel (empty when none are)."""
    try:
        proofs = importlib.import_module("hedgespec.spec.proofs")
    except ModuleNotFoundError as exc:
        if exc.name != "hedgespec.spec.proofs":
            raise
        return {}
    result = proofs.proved_conditions()
    out: dict[str, list[str]] = {}
    if isinstance(result, dict):
        for key, value in result.items():
            names = [value] if isinstance(value, str) else [str(v) for v in value] if value else []
            if RULE_ID_IN_TEXT.fullmatch(str(key)):
                out.setdefault(str(key), []).extend(names)
            else:  # condition -> rule IDs
                for rule_id in names:
                    out.setdefault(rule_id, []).append(str(key))
    else:
        for item in result:
            rule_id = getattr(item, "rule_id", None) or getattr(item, "rule", None)
            name = getattr(item, "name", None) or getattr(item, "condition", None) or str(item)
            if rule_id is None and isinstance(item, tuple) and len(item) == 2:
                rule_id, name = item
            if rule_id is None:
                found = RULE_ID_IN_TEXT.findall(str(item))
                rule_id = found[0] if found else None
            if rule_id:
                out.setdefault(str(rule_id), []).append(str(name))
    return out


@dataclass(frozen=True)
class Vector:
    path: str  # relative to the repository root
    name: str
    description: str
    rules: tuple[str, ...]
    size: int
    digests: dict[str, str] = field(default_factory=dict)  # rule ID -> digest the vector was made against


def vectors() -> list[Vector]:
    base = ROOT / "conformance" / "vectors"
    out = []
    for path in sorted(base.rglob("*.json")) if base.exists() else ():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue
        if not isinstance(data, dict) or not isinstance(data.get("rules"), (list, dict)):
            continue
        rules = data["rules"]  # a list of IDs, or ID -> digest of the text the vector was made against
        out.append(Vector(str(path.relative_to(ROOT)), str(data.get("id") or data.get("name") or path.stem),
                          str(data.get("title") or data.get("description") or ""),
                          tuple(str(r) for r in rules), path.stat().st_size,
                          {str(k): str(v) for k, v in rules.items()} if isinstance(rules, dict) else {}))
    return out


@dataclass(frozen=True)
class TestRef:
    path: str
    name: str  # enclosing test function (or the module when none)


_DEF = re.compile(r"^\s*(?:async\s+)?def\s+(test\w*)|^\s*class\s+(Test\w*)")


def tests_citing() -> dict[str, list[TestRef]]:
    """rule ID -> tests whose source mentions it (by scanning tests/ for ``HM-AREA-NNN``)."""
    out: dict[str, list[TestRef]] = {}
    for path in sorted((ROOT / "tests").rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        current = ""
        current_class = ""
        for line in path.read_text(encoding="utf-8").splitlines():
            match = _DEF.match(line)
            if match:
                if match.group(2):
                    current_class, current = match.group(2), ""
                else:
                    indented = line.startswith((" ", "\t"))
                    current = f"{current_class}::{match.group(1)}" if indented and current_class else match.group(1)
            for rule_id in RULE_ID_IN_TEXT.findall(line):
                ref = TestRef(rel, current)
                refs = out.setdefault(rule_id, [])
                if ref not in refs:
                    refs.append(ref)
    return out


@dataclass(frozen=True)
class MutantRef:
    """A broken engine of the mutant library and the test that shows a rule's check catching it."""

    name: str
    description: str
    shown_by: str  # the test file (relative to the repository root) that asserts the catch


def mutants_catching() -> dict[str, list[MutantRef]]:
    """rule ID -> the library's broken engines that trip its check (``conformance/mutants.py``).

    Every mutant of ``MUTANTS`` is asserted to fail its rule in ``tests/conformance/test_mutants.py``;
    the directed ones, which only a directed scenario reaches, in ``tests/test_stronger_checks.py``
    and (those of the latest review of check strength) ``tests/test_check_strength_review.py`` and
    ``tests/test_check_strength_risk.py``.
    """
    try:
        library = importlib.import_module("hedgespec.conformance.mutants")
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("hedgespec.conformance"):
            raise
        return {}
    out: dict[str, list[MutantRef]] = {}
    for group, shown_by in ((library.MUTANTS, "tests/conformance/test_mutants.py"),
                            (getattr(library, "DIRECTED_MUTANTS", []), "tests/test_stronger_checks.py"),
                            (getattr(library, "REVIEWED_MUTANTS", []), "tests/test_check_strength_review.py"),
                            (getattr(library, "REVIEWED_RISK_MUTANTS", []), "tests/test_check_strength_risk.py")):
        for mutant in group:
            out.setdefault(mutant.rule_id, []).append(MutantRef(mutant.name, mutant.description, shown_by))
    return out


def venue_comparison() -> Any:
    try:
        venues = importlib.import_module("hedgespec.spec.venues")
    except ModuleNotFoundError as exc:
        if exc.name != "hedgespec.spec.venues":
            raise
        return None
    return venues.comparison_table()


def venue_pages() -> dict[str, str]:
    """The venues chapter's generated pages (path under docs/ -> Markdown), from its own renderers."""
    try:
        venues = importlib.import_module("hedgespec.spec.venues")
    except ModuleNotFoundError as exc:
        if exc.name != "hedgespec.spec.venues":
            raise
        return {}
    renderers = {"venues/comparison.md": "comparison_markdown", "venues/sources.md": "sources_markdown"}
    return {page: getattr(venues, name)() for page, name in renderers.items() if hasattr(venues, name)}


def unknown_ids(text: str, known: set[str]) -> list[str]:
    """Rule IDs mentioned in ``text`` that the registry does not have."""
    return sorted({m for m in RULE_ID_IN_TEXT.findall(text) if m not in known})
