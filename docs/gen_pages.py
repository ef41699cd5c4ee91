"""Generate the published rulebook's pages at build time (a mkdocs-gen-files script).

Generated from the registry the checks use, never copied by hand: one page per rule, the rule
catalogue, the traceability matrix, the profiles and venue tables, the worked examples' tables and
charts (run through the reference model), and ``SUMMARY.md`` (the nav, listing only pages that exist).

The build fails (``DocsError``) if any page mentions a rule ID the registry does not have.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import mkdocs_gen_files

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hsdocs import catalog, directives, pages, scenarios  # noqa: E402

log = logging.getLogger("mkdocs.plugins.hedgespec")
DOCS = catalog.DOCS
handwritten = catalog.handwritten

# (title, path or section) in nav order; sections are (title, [entries]) and vanish when empty.
NavEntry = tuple[str, "str | list[NavEntry]"]


def _title_of(path: str) -> str:
    text = (DOCS / path).read_text(encoding="utf-8") if (DOCS / path).exists() else ""
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].split("{")[0].strip()
    return Path(path).stem.replace("-", " ").replace("_", " ").capitalize()


def _folder(folder: str, first: str = "index.md") -> list[NavEntry]:
    """The pages of a folder written by others, index first, in name order.

    A generated report (``X.report.md``) follows its page ``X.md`` under a short title.
    """
    found = [p for p in handwritten() if p.startswith(folder + "/")]

    def key(path: str) -> tuple[bool, str, bool]:
        base = path.removesuffix(".report.md").removesuffix(".md")
        return (path != f"{folder}/{first}", base, path.endswith(".report.md"))

    found.sort(key=key)
    return [(f"{Path(p).name.removesuffix('.report.md')}: full report" if p.endswith(".report.md")
             else _title_of(p), p) for p in found]


def nav(rules: list, generated: set[str]) -> list[NavEntry]:
    exists = set(handwritten()) | generated

    def page(title: str, path: str) -> list[NavEntry]:
        return [(title, path)] if path in exists else []

    rule_sections: list[NavEntry] = [("Catalogue", "rules/index.md")]
    for area in catalog.areas(rules):
        rule_sections.append((catalog.AREA_TITLES.get(area, area),
                              [(f"{r.id} {r.title}", f"rules/{r.id}.md") for r in rules
                               if catalog.area_of(r.id) == area]))
    return [
        *page("Home", "index.md"),
        *page("Hedge mode vs one-way mode", "hedge-mode.md"),
        ("Rules", rule_sections),
        *page("Traceability", "traceability.md"),
        *page("Profiles", "profiles.md"),
        ("Venues", [*page("Venue comparison", "venue-comparison.md"),
                    *_folder("venues", first="comparison.md")]),
        ("Guides", [*page("Engine authors", "guides/engine-authors.md"),
                    *[e for e in _folder("guides") if e[1] != "guides/engine-authors.md"]]),
        ("Formats", [*page("Actions", "formats/actions.md"), *page("Snapshot", "formats/snapshot.md"),
                     *page("Outcomes and events", "formats/outcomes.md"),
                     *page("Conformance protocol", "formats/protocol.md"),
                     *page("Conformance vectors", "formats/vectors.md"),
                     *[e for e in _folder("formats") if e[1].split("/")[1] not in
                       ("actions.md", "snapshot.md", "outcomes.md", "protocol.md", "vectors.md")]]),
        ("Audit", _folder("audit")),
        ("Conformance results", _folder("results")),
        *page("Units and rounding", "units.md"),
        *page("Out of scope", "scope.md"),
        *page("Changelog", "changelog.md"),
    ]


def listed(entries: list[NavEntry]) -> set[str]:
    out: set[str] = set()
    for _, target in entries:
        out |= listed(target) if isinstance(target, list) else {target}
    return out


def with_the_rest(entries: list[NavEntry], generated: set[str]) -> list[NavEntry]:
    """Pages nobody placed in the nav (new pages of other chapters) go at the end, so none is orphaned."""
    known = listed(entries)
    rest = sorted(p for p in set(handwritten()) | generated if p.endswith(".md") and p not in known)
    return entries + ([("More", [(_title_of(p), p) for p in rest])] if rest else [])


def summary(entries: list[NavEntry], depth: int = 0) -> list[str]:
    lines = []
    for title, target in entries:
        pad = "    " * depth
        if isinstance(target, list):
            if target:
                lines.append(f"{pad}* {title}")
                lines += summary(target, depth + 1)
        else:
            lines.append(f"{pad}* [{title}]({target})")
    return lines


def write(path: str, text: str, generated: set[str]) -> None:
    with mkdocs_gen_files.open(path, "w") as handle:
        handle.write(text)
    generated.add(path)


def main() -> None:
    rules = catalog.load_rules()
    known = {r.id for r in rules}
    proved = catalog.proved()
    for rule in rules:  # conditions the registry itself names (Rule.proved_by)
        for condition in rule.proved_by:
            if condition not in proved.setdefault(rule.id, []):
                proved[rule.id].append(condition)
    proved = {k: v for k, v in proved.items() if v}
    tests = catalog.tests_citing()
    vectors = catalog.vectors()
    mutants = catalog.mutants_catching()
    clauses = catalog.seed_clauses()
    documents = catalog.venue_sources()
    generated: set[str] = set()
    directives.RULES[:] = rules

    problems = []
    for path in handwritten():
        text = (DOCS / path).read_text(encoding="utf-8")
        unknown = catalog.unknown_ids(text, known)
        if unknown:
            problems.append(f"docs/{path}: unknown rule ID(s) {', '.join(unknown)}")
        if directives.BLOCK.search(text) or directives.IF_EXISTS.search(text):
            write(path, directives.expand(text, f"docs/{path}", DOCS), generated)
            mkdocs_gen_files.set_edit_path(path, path)
    for rule_id, refs in sorted(tests.items()):
        if rule_id not in known:
            log.debug("tests cite unknown rule %s (%s)", rule_id, ", ".join(sorted({t.path for t in refs})))
    for vector in vectors:
        for rule_id in vector.rules:
            if rule_id not in known:
                problems.append(f"{vector.path}: unknown rule ID {rule_id}")
    if problems:
        raise catalog.DocsError("rule IDs the registry does not have:\n  " + "\n  ".join(problems))

    for rule in rules:
        write(f"rules/{rule.id}.md", pages.rule_page(rule, proved=proved, tests=tests, vectors=vectors,
                                                     clauses=clauses, documents=documents, mutants=mutants),
              generated)
    write("rules/index.md", pages.catalogue(rules, proved), generated)
    write("traceability.md", pages.traceability(rules, tests, vectors, clauses, mutants), generated)
    write("profiles.md", pages.profiles_page(rules), generated)
    # The venues chapter keeps its pages in sync with its code; the site regenerates them from that code.
    for page, text in catalog.venue_pages().items():
        if (DOCS / page).exists():
            unknown = catalog.unknown_ids(text, known)
            if unknown:
                raise catalog.DocsError(f"docs/{page} (generated): unknown rule ID(s) {', '.join(unknown)}")
            write(page, text, generated)
    table = None if (DOCS / "venues" / "comparison.md").exists() else catalog.venue_comparison()
    if table is not None:  # the venues chapter's own page is missing: publish the table from the code
        write("venue-comparison.md", pages.venues_page(table), generated)
    for name, draw in scenarios.CHARTS.items():
        write(f"img/{name}", draw(), generated)
    entries = with_the_rest(nav(rules, generated), generated)
    write("SUMMARY.md", "\n".join(summary(entries)) + "\n", generated)


main()
