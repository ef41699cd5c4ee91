"""Venue data as tables: profiles side by side, venue reason codes, and the ``hedgespec profiles`` report.

Everything here is a pure function of the shipped data files (``spec/profiles/*.json``,
``spec/sources.json``, ``spec/seed_clauses.json``); output is deterministic.

Cell flags (seed cells carry none):

* ``contradicts_seed``: the venue's value is sourced (status ``modelled`` or ``documented``),
  differs from the seed profile's value, and either that value rests on a seed clause or the venue's
  value falls outside what the clauses in ``CLAUSE_CLAIMS`` allow; ``clauses`` names the clauses
  contradicted;
* ``differs``: sourced and different from the seed profile's value, with no seed clause at stake
  (the seed value is hedgespec's own choice, or rests on a clause about another venue);
* ``open``: unconfirmed, an open point rather than a contradiction.

A value equal to the seed profile's is never flagged: where the seed profile departs from the
tutorial's wording (cross margin, which the clauses do not foresee), its source says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

from .profiles import CHOICE_SPECS, Choice, Profile, builtin_profile_names, load_profile
from .reasons import REASON_CLASSES

SEED = "seed"
CONTRADICTS = "contradicts_seed"
DIFFERS = "differs"
OPEN = "open"
TAG_PATTERN = re.compile(r"\b[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+\b")
CLAUSE_PATTERN = re.compile(r"^S-[FEPMQ][0-9]+$")

CLAUSE_CLAIMS: dict[str, tuple[tuple[str, ...], tuple[Any, ...]]] = {
    "mode_switch_blocked_by_positions": (("S-Q1", "S-E4"), (True,)),
    "margin_type_scope": (("S-P1", "S-Q2"), ("leg",)),
    "leverage_scope": (("S-P1",), ("leg",)),
    "default_margin_type": (("S-Q2",), ("ISOLATED",)),
    "hedged_maintenance": (("S-P3", "S-P5"), ("both_legs",)),
    "cross_liquidation_scope": (("S-P3",), ()),
    "cross_liquidation_price": (("S-F3",), ()),
    "funding_report": (("S-M2",), ("per_leg",)),
    "isolated_liquidation_remainder": (("S-M4",), ("insurance_fund",)),
}
"""Choice -> (seed clauses, the values those clauses allow). The tutorial's wording claims per-leg
behaviour everywhere; an empty tuple means no value of the choice fits it (the choice exists only
because cross margin pools the legs, which the tutorial does not foresee). A claim counts only against
a venue value that differs from the seed profile's."""

VENUE_CLAUSES: dict[str, str] = {"S-E1": "binance", "S-E2": "bybit", "S-E3": "okx", "S-E4": "gate", "S-E5": "kucoin"}
"""Seed clauses that speak of one venue only; they never count against another venue's profile."""


@cache
def _data_file(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def load_sources() -> dict[str, dict[str, str]]:
    """The source key: venue document tag -> title, url, venue, kind, summary."""
    return json.loads(_data_file("sources.json"))


def load_seed_clauses() -> dict[str, dict[str, Any]]:
    """The seed clauses S-F1 .. S-Q4: clause ID -> group, normative, text."""
    return json.loads(_data_file("seed_clauses.json"))


def cited_tags(source: str) -> list[str]:
    """The document tags and clause IDs a ``source`` string cites, in order of appearance."""
    return TAG_PATTERN.findall(source)


def venue_names() -> list[str]:
    """Built-in venue profiles (every built-in profile except the seed), in a fixed order."""
    return [name for name in builtin_profile_names() if name != SEED]


def _profiles(names: Sequence[str] | None) -> list[Profile]:
    chosen = builtin_profile_names() if names is None else list(names)
    if SEED not in chosen:
        chosen = [SEED, *chosen]
    return [load_profile(name) for name in chosen]


def seed_clauses_cited(source: str) -> list[str]:
    """The seed clause IDs among the tags a ``source`` string cites."""
    return [tag for tag in cited_tags(source) if CLAUSE_PATTERN.match(tag)]


def profile_venue(profile: Profile) -> str | None:
    """The venue a profile describes: the venue most of its cited sources belong to (None for the seed)."""
    sources = load_sources()
    tags = [tag for c in profile.choices.values() for tag in cited_tags(c.source) if tag in sources]
    counts: dict[str, int] = {}
    for tag in tags:
        counts[sources[tag]["venue"]] = counts.get(sources[tag]["venue"], 0) + 1
    return max(sorted(counts), key=lambda venue: counts[venue]) if counts else None


def _applies(clause: str, venue: str | None) -> bool:
    return clause not in VENUE_CLAUSES or VENUE_CLAUSES[clause] == venue


def contradicted_clauses(name: str, choice: Choice, seed_choice: Choice, venue: str | None) -> list[str]:
    """Seed clauses a sourced venue value contradicts (empty for unconfirmed values and for values equal
    to the seed profile's).

    Clauses about one venue (S-E1 .. S-E5) count only against that venue's profile.
    """
    if choice.status == "unconfirmed" or choice.value is None or choice.value == seed_choice.value:
        return []
    clauses = seed_clauses_cited(seed_choice.source)
    claim = CLAUSE_CLAIMS.get(name)
    if claim is not None and choice.value not in claim[1]:
        clauses += [c for c in claim[0] if c not in clauses]
    return [c for c in clauses if _applies(c, venue)]


def cell_flag(name: str, choice: Choice, seed_choice: Choice, venue: str | None) -> str | None:
    """``contradicts_seed``, ``differs``, ``open`` (unconfirmed) or None (agrees with the seed)."""
    if choice.status == "unconfirmed":
        return OPEN
    if contradicted_clauses(name, choice, seed_choice, venue):
        return CONTRADICTS
    if choice.value is not None and choice.value != seed_choice.value:
        return DIFFERS
    return None


def _cell(name: str, profile: Profile, seed: Profile, venue: str | None) -> dict[str, Any]:
    choice, seed_choice = profile.choices[name], seed.choices[name]
    cell: dict[str, Any] = {"value": choice.value, "status": choice.status, "source": choice.source}
    if choice.note:
        cell["note"] = choice.note
    cell["flag"] = None if profile.name == SEED else cell_flag(name, choice, seed_choice, venue)
    if cell["flag"] == CONTRADICTS:
        cell["clauses"] = contradicted_clauses(name, choice, seed_choice, venue)
    return cell


def comparison_table(names: Sequence[str] | None = None) -> dict[str, Any]:
    """Profiles as columns (seed first), choices as rows; each cell has value, status, source, flag."""
    profiles = _profiles(names)
    seed = profiles[0]
    venues = {p.name: profile_venue(p) for p in profiles}
    rows = []
    for spec in CHOICE_SPECS:
        cells = {p.name: _cell(spec.name, p, seed, venues[p.name]) for p in profiles}
        rows.append({"choice": spec.name, "meaning": spec.meaning, "cells": cells})
    return {
        "columns": [p.name for p in profiles],
        "titles": {p.name: p.title for p in profiles},
        "rows": rows,
    }


def flagged(name: str, flag: str) -> list[str]:
    """Choices of a built-in profile whose comparison cell carries ``flag``."""
    seed = load_profile(SEED)
    profile = load_profile(name)
    venue = profile_venue(profile)
    return [n for n, c in profile.choices.items() if cell_flag(n, c, seed.choices[n], venue) == flag]


def contradictions(name: str) -> list[str]:
    """Choices where a built-in profile's sourced value contradicts the seed profile or its clauses."""
    return flagged(name, CONTRADICTS)


def open_points(name: str) -> list[str]:
    """Choices a built-in profile leaves unconfirmed."""
    return [n for n, c in load_profile(name).choices.items() if c.status == "unconfirmed"]


def reason_code_table(names: Sequence[str] | None = None) -> dict[str, Any]:
    """Reason classes as rows, venues as columns; each cell is the venue's code entry or None.

    ``folded`` lists, per venue, codes that stand for more than one reason class.
    """
    venues = venue_names() if names is None else [n for n in names if n != SEED]
    profiles = [load_profile(name) for name in venues]
    rows = [{"reason": reason, "cells": {p.name: p.reason_codes.get(reason) for p in profiles}}
            for reason in REASON_CLASSES]
    return {"columns": venues, "rows": rows, "folded": {p.name: _folded(p) for p in profiles}}


def _folded(profile: Profile) -> dict[str, list[str]]:
    by_code: dict[str, list[str]] = {}
    for reason in REASON_CLASSES:
        entry = profile.reason_codes.get(reason)
        if entry and entry.get("code") is not None:
            by_code.setdefault(str(entry["code"]), []).append(reason)
    return {code: reasons for code, reasons in sorted(by_code.items()) if len(reasons) > 1}


def status_counts(profile: Profile) -> dict[str, int]:
    """How many choices a profile has per status."""
    counts = {"modelled": 0, "documented": 0, "unconfirmed": 0}
    for choice in profile.choices.values():
        counts[choice.status] += 1
    return counts


def _render(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _profile_summary(profile: Profile) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "name": profile.name,
        "title": profile.title,
        "digest": profile.digest,
        "counts": status_counts(profile),
        "out_of_scope": list(profile.out_of_scope),
    }
    if profile.name != SEED:
        summary["contradicts_seed"] = contradictions(profile.name)
        summary["differs"] = flagged(profile.name, DIFFERS)
        summary["open_points"] = open_points(profile.name)
    return summary


def profiles_report(json_output: bool) -> str:
    """What ``hedgespec profiles [--json]`` prints: every built-in profile and how it departs from the seed."""
    profiles = _profiles(None)
    if json_output:
        document = {
            "profiles": [_profile_summary(p) for p in profiles],
            "comparison": comparison_table(),
            "reason_codes": reason_code_table(),
        }
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return "\n".join(_text_report(profiles)) + "\n"


def _text_report(profiles: list[Profile]) -> list[str]:
    lines = ["Built-in profiles (m = modelled, d = documented, u = unconfirmed choices):", ""]
    width = max(len(p.name) for p in profiles)
    for p in profiles:
        c = status_counts(p)
        lines.append(f"  {p.name:<{width}}  {p.digest[:19]}  m{c['modelled']:>2} d{c['documented']:>2} "
                     f"u{c['unconfirmed']:>2}  {p.title}")
    seed = profiles[0]
    for p in profiles[1:]:
        lines += ["", f"{p.name}:"]
        lines += _diff_lines("contradicts the seed", p, seed, contradictions(p.name))
        lines += _diff_lines("differs from the seed, no clause at stake", p, seed, flagged(p.name, DIFFERS))
        unconfirmed = open_points(p.name)
        lines.append(f"  open points ({len(unconfirmed)}): {', '.join(unconfirmed) if unconfirmed else '-'}")
    return lines


def _diff_lines(heading: str, profile: Profile, seed: Profile, names: list[str]) -> list[str]:
    lines = [f"  {heading}:" + ("" if names else " -")]
    for n in names:
        c = profile.choices[n]
        clauses = contradicted_clauses(n, c, seed.choices[n], profile_venue(profile))
        against = f" vs {', '.join(clauses)}" if clauses else ""
        lines.append(f"    {n}: seed {_render(seed.choices[n].value)}, venue {_render(c.value)}{against} "
                     f"[{c.status}; {c.source}]")
    return lines


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_cell(cell: dict[str, Any]) -> str:
    marker = {CONTRADICTS: " **≠ seed**", DIFFERS: " ≠ default", OPEN: " *open*"}.get(cell["flag"] or "", "")
    if cell.get("clauses"):
        marker += " (" + ", ".join(cell["clauses"]) + ")"
    value = "—" if cell["value"] is None else f"`{_render(cell['value'])}`"
    return _md_escape(f"{value} ({cell['status']}; {cell['source']}){marker}")


def comparison_markdown() -> str:
    """The comparison table as a Markdown page (docs/venues/comparison.md)."""
    table = comparison_table()
    columns = table["columns"]
    lines = [
        "# Venue profiles compared",
        "",
        "Generated from the built-in profiles by `hedgespec.spec.venues.comparison_markdown()`; do not edit.",
        "Each cell: value (status; sources). **≠ seed**: a sourced value that differs from the seed profile's",
        "and contradicts it or the seed clauses named after it. ≠ default: a sourced value that differs from the",
        "seed profile where no seed clause is at stake. *open*: unconfirmed, an open point rather than a",
        "contradiction. A sourced value equal to the seed profile's carries no marker. Source tags are listed in",
        "[Venue sources](sources.md); the venues are discussed in [Venue notes](notes.md).",
        "",
        "| choice | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for row in table["rows"]:
        cells = " | ".join(_md_cell(row["cells"][c]) for c in columns)
        lines.append(f"| `{row['choice']}` | {cells} |")
    lines += ["", "## Reason codes", "",
              "Each cell: the venue's code (status; sources). — (unconfirmed; sources): the profile maps the reason",
              "class, but the code is not confirmed. *not mapped*: the profile has no entry for the reason class.",
              "", *_reason_markdown_lines()]
    return "\n".join(lines) + "\n"


def _reason_markdown_lines() -> list[str]:
    table = reason_code_table()
    columns = table["columns"]
    lines = ["| reason class | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for row in table["rows"]:
        lines.append(f"| `{row['reason']}` | " + " | ".join(_md_reason(row["cells"][c]) for c in columns) + " |")
    return lines


NOT_MAPPED = "*not mapped*"


def _md_reason(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return NOT_MAPPED
    code = "—" if entry.get("code") is None else f"`{entry['code']}`"
    text = f"{code} ({entry.get('status')}; {entry.get('source')})"
    observed = entry.get("observed")
    if observed:
        text += f"; observed `{observed.get('code')}`"
    return _md_escape(text)


def sources_markdown() -> str:
    """The source key and the seed clauses as a Markdown page (docs/venues/sources.md)."""
    lines = [
        "# Venue sources and seed clauses",
        "",
        "Generated from `spec/sources.json` and `spec/seed_clauses.json` by",
        "`hedgespec.spec.venues.sources_markdown()`; do not edit. Kinds: doc = the venue's own text;",
        "observed = behaviour reported in an issue tracker; fixture = a recorded client request;",
        "secondary = a third-party copy or summary.",
        "",
        "| tag | venue | kind | document | summary |",
        "|---|---|---|---|---|",
    ]
    for tag, entry in sorted(load_sources().items()):
        title = _md_escape(entry["title"])
        lines.append(f"| `{tag}` | {entry['venue']} | {entry['kind']} | [{title}]({entry['url']}) | "
                     f"{_md_escape(entry['summary'])} |")
    lines += ["", "## Seed clauses", "", "| clause | normative | text |", "|---|---|---|"]
    for cid, clause in load_seed_clauses().items():
        lines.append(f"| `{cid}` | {'yes' if clause['normative'] else 'no (informative)'} | "
                     f"{_md_escape(clause['text'])} |")
    return "\n".join(lines) + "\n"
