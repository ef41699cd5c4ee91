"""Markdown of the generated pages: one page per rule, the catalogue, traceability, profiles, venues."""

from __future__ import annotations

import inspect
import json
import textwrap
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hedgespec.spec import SPEC_VERSION
from hedgespec.spec.profiles import CHOICE_BY_NAME, Profile, builtin_profile_names, load_profile
from hedgespec.spec.registry import RULEBOOK_OWN, Rule

from .catalog import AREA_TITLES, ROOT, MutantRef, Reference, TestRef, Vector, area_of, areas

STATUS_MARK = {"modelled": "", "documented": " <sup>doc</sup>", "unconfirmed": " <sup>?</sup>"}
MAX_INLINE_VECTOR = 6000
MAX_LISTED = 12
MAX_INLINED = 3


def cell(text: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def rule_link(rule_id: str) -> str:
    return f"[{rule_id}][]"


def value_text(value: Any) -> str:
    if value is None:
        return "*null*"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    return f"`{value}`"


def profiles() -> list[Profile]:
    return [load_profile(name) for name in builtin_profile_names()]


def _reference_line(ref: str, note: str, clauses: dict[str, Reference], documents: dict[str, Reference]) -> str:
    known = clauses.get(ref) or documents.get(ref)
    if ref.startswith("S-"):
        label = f"Seed clause [`{ref}`](../traceability.md#{ref.lower()})"
    elif ref == RULEBOOK_OWN:
        label = "The rulebook's own requirement (no seed clause or venue document)"
    else:
        label = f"`{ref}`"
    parts = [label]
    if known is not None:
        title = known.title or ""
        if known.url:
            parts.append(f"[{title or known.url}]({known.url})")
        elif title:
            parts.append(title)
        if known.text and ref.startswith("S-"):
            parts.append(f"“{known.text}”")
        elif known.text:
            kind = f" ({known.extra['kind']})" if known.extra.get("kind") else ""
            parts.append(f"<br><small>{known.text}{kind}</small>")
        if known.extra.get("status"):
            parts.append(f"({known.extra['status']})")
    if note:
        parts.append(f"— {note}")
    return "- " + " ".join(parts)


def rule_page(rule: Rule, *, proved: dict[str, list[str]], tests: dict[str, list[TestRef]],
              vectors: list[Vector], clauses: dict[str, Reference], documents: dict[str, Reference],
              mutants: dict[str, list[MutantRef]] | None = None) -> str:
    out = [f"# {rule.id}: {rule.title} {{ #{rule.id} }}", ""]
    if rule.status == "retired":
        replaced = f" Replaced by {rule_link(rule.replaced_by)}." if rule.replaced_by else ""
        out += [f'!!! warning "Retired"\n    This rule is retired and no longer checked.{replaced}', ""]
    out += [
        "| Level | Status | Kind | Since | Digest |",
        "|---|---|---|---|---|",
        f"| **{rule.level}** | {rule.status} | {rule.kind} | {rule.since} | `{rule.digest}` |",
        "",
        "## Statement",
        "",
        f'<div class="hs-statement" markdown>\n\n{rule.statement}\n\n</div>',
        "",
        "## Rationale",
        "",
        rule.rationale,
        "",
    ]
    scope = []
    if rule.applies_to == ("off-format",):
        scope.append("Applies to actions not of the [action format](../formats/actions.md).")
    elif rule.applies_to:
        scope.append("Applies to actions: " + ", ".join(f"`{a}`" for a in rule.applies_to) + ".")
    elif rule.kind != "parameter":
        scope.append("Applies to every action.")
    if rule.observes:
        scope.append("Observes: " + ", ".join(rule.observes) + ".")
    if rule.requires:
        scope.append("Requires engine capabilities: " + ", ".join(f"`{c}`" for c in rule.requires) + ".")
    if scope:
        out += ["## Scope", "", *(f"- {s}" for s in scope), ""]
    out += ["## Sources", ""]
    out += [_reference_line(s.ref, s.note, clauses, documents) for s in rule.sources]
    out.append("")
    if rule.profile_choices:
        out += profile_variations(rule.profile_choices)
    out += ["## Check", ""]
    if rule.check is None:
        out += ["This rule is a documented parameter: it has no check of its own; the profile choices above "
                "steer the model and the checks of other rules.", ""]
    else:
        check = inspect.unwrap(rule.check)  # the chapter's function, not the registry's exact-context wrapper
        source = textwrap.dedent(inspect.getsource(check))
        lines = source.splitlines()
        first_def = next((i for i, line in enumerate(lines) if line.startswith(("def ", "async def "))), 0)
        source = "\n".join(lines[first_def:])  # the decorator repeats the metadata shown above
        where = inspect.getsourcefile(check) or ""
        try:
            where = str(Path(where).resolve().relative_to(ROOT))
        except ValueError:
            where = Path(where).name
        out += [f"The check, as the conformance suite runs it on every observed step (`{where}`):", "",
                "```python", source.rstrip(), "```", ""]
    out += audit_note(rule)
    out += ["## Verification", ""]
    conditions = proved.get(rule.id, [])
    if conditions:
        out += ["**Proved for the reference kernel.** These contracts on the model's kernels were confirmed "
                "by symbolic execution (CrossHair, listed in `spec/proved.txt`); on engines and recorded "
                "histories the rule is checked by the code below.", "",
                *(f"- `{c}`" for c in conditions), ""]
    elif rule.check is not None:
        out += ["**Tested** (property tests and conformance vectors; not proved).", ""]
    else:
        out += ["Not checked directly (parameter rule).", ""]
    partial = conditionally_proved().get(rule.id, [])
    if partial:
        out += ["Confirmed by symbolic execution only for a kernel the reference model runs under one profile "
                "choice; the rule is not proved for the model under any other value:", ""]
        out += [f"- where `{where.replace(' is ', '` is `')}`: `{c}`" for c, where in partial]
        out.append("")
    if mutants is not None and rule.check is not None and rule.status == "active":
        out += shown_to_fail(mutants.get(rule.id, []))
    cited = tests.get(rule.id, [])
    if cited:
        out += ["Tests whose source mentions this rule (found by scanning `tests/` for its ID; a mention is not "
                "always an assertion):", ""]
        out += [f"- `{t.path}`" + (f" — `{t.name}`" if t.name else "") for t in cited[:MAX_LISTED]]
        if len(cited) > MAX_LISTED:
            out.append(f"- … and {len(cited) - MAX_LISTED} more")
        out.append("")
    mine = [v for v in vectors if rule.id in v.rules]
    out += ["## Example vectors", ""]
    if mine:
        out += ["Conformance vectors citing this rule (format: [Conformance vectors](../formats/vectors.md)):"
                if (ROOT / "docs" / "formats" / "vectors.md").exists() else "Conformance vectors citing this rule:", ""]
    if not mine:
        out += ["No conformance vector cites this rule yet.", ""]
    for i, vector in enumerate(mine[:MAX_LISTED]):
        title = vector.name + (f": {vector.description}" if vector.description else "")
        made_against = vector.digests.get(rule.id)
        if made_against and made_against != rule.digest:
            title += f" (stale: made against {made_against})"
        if vector.size <= MAX_INLINE_VECTOR and i < MAX_INLINED:
            body = json.dumps(json.loads((ROOT / vector.path).read_text(encoding="utf-8")), indent=2,
                              ensure_ascii=False)
            out += [f'??? example "{cell(title)} (`{vector.path}`)"', "", "    ```json",
                    textwrap.indent(body, "    "), "    ```", ""]
        else:
            out += [f"- `{vector.path}` — {title}"]
    if len(mine) > MAX_LISTED:
        out += [f"- … and {len(mine) - MAX_LISTED} more vectors", ""]
    out.append("")
    return "\n".join(out)


def shown_to_fail(caught: list[MutantRef]) -> list[str]:
    """The broken engines of the mutant library that the rule's check is shown to catch."""
    if not caught:
        return ["**Not yet shown to fail:** no broken engine of the mutant library (`conformance/mutants.py`) "
                "targets this check.", ""]
    out = ["**Shown to fail.** A check that cannot fail proves nothing, so each one is run against broken "
           "engines made for it. The mutant library (`conformance/mutants.py`) has these for this rule; the "
           "test named with each asserts that the check reports them:", ""]
    out += [f"- `{m.name}`: {cell(m.description)} (`{m.shown_by}`)" for m in caught]
    runnable = [m for m in caught if m.shown_by.startswith("tests/conformance/")]
    if runnable:
        out += ["", "Any mutant runs as an engine over JSON lines, so the report an engine author would get is one "
                "command away:", "", "```console",
                f'$ hedgespec conform --engine-cmd "python -m hedgespec.conformance.mutants {runnable[0].name}"',
                "```"]
    out.append("")
    return out


def conditionally_proved() -> dict[str, list[tuple[str, str]]]:
    try:
        from hedgespec.spec.proofs import conditionally_proved as listed
    except ImportError:
        return {}
    return listed()


def audit_rules() -> set[str]:
    """The rule IDs the audit tool judges (its own implementation, ``audit/engine.py``)."""
    try:
        from hedgespec.audit import rules as audit
    except ImportError:
        return set()
    return {value for name, value in vars(audit).items() if name.isupper() and isinstance(value, str)}


def audit_note(rule: Rule) -> list[str]:
    """Where the audit tool's judgement of the rule is described (it does not run the check above)."""
    if rule.check is None:
        return []
    guide = "../audit/guide.md"
    if (ROOT / "docs" / "audit" / "guide.md").exists():
        guide_link = f"[the auditor's guide]({guide}#3-what-the-audit-decides)"
    else:
        guide_link = "the auditor's guide"
    if rule.id in audit_rules():
        return [f"The audit tool judges recorded histories with its own implementation (`audit/engine.py`), "
                f"not with this check; what it decides for this rule, and from which data, is in {guide_link} "
                "(section 3, the table of rules).", ""]
    return [f"The audit tool does not judge this rule on recorded histories (the rules it judges are listed in "
            f"{guide_link}).", ""]


def profile_variations(choices: Iterable[str]) -> list[str]:
    """The rule's profile choices: what each means, then its value in every built-in profile."""
    names = list(choices)
    out = ["## Profile variations", ""]
    for name in names:
        spec = CHOICE_BY_NAME.get(name)
        out.append(f"- `{name}`: {spec.meaning if spec else '(not a known profile choice)'}")
    out += ["", "| Profile | " + " | ".join(f"`{n}`" for n in names) + " |", "|---|" + "---|" * len(names)]
    for p in profiles():
        values = []
        for name in names:
            choice = p.choices.get(name)
            values.append("–" if choice is None else value_text(choice.value) + STATUS_MARK.get(choice.status, ""))
        out.append(f"| `{p.name}` ({cell(p.title)}) | " + " | ".join(values) + " |")
    out += ["", "<sup>doc</sup> documented by the venue, not simulated (the model runs the seed value); "
            "<sup>?</sup> unconfirmed. Sources of every value: [Profiles](../profiles.md).", ""]
    return out


def catalogue(rules: list[Rule], proved: dict[str, list[str]]) -> str:
    out = ["# Rule catalogue", "",
           f"Every rule of the hedgespec rulebook, version {SPEC_VERSION}: {len(rules)} rules "
           f"({sum(r.status == 'active' for r in rules)} active). IDs never change and are never reused; "
           "a retired rule keeps its page. Each row links to the rule's page with its statement, sources, "
           "profile variations, check and example vectors.", "",
           "Levels follow RFC 2119: **MUST** is required for conformance, **SHOULD** is recommended, "
           "**MAY** is optional. *Kind* says what the check looks at.", ""]
    for area in areas(rules):
        group = [r for r in rules if area_of(r.id) == area]
        out += [f"## {AREA_TITLES.get(area, area)}", "", "| ID | Level | Kind | Rule | Verification |",
                "|---|---|---|---|---|"]
        for r in group:
            verification = "proved" if proved.get(r.id) else ("tested" if r.check else "parameter")
            status = "" if r.status == "active" else f" *({r.status})*"
            out.append(f"| [{r.id}]({r.id}.md) | {r.level} | {r.kind} | {cell(r.title)}{status} | {verification} |")
        out.append("")
    return "\n".join(out)


def traceability(rules: list[Rule], tests: dict[str, list[TestRef]], vectors: list[Vector],
                 clauses: dict[str, Reference], mutants: dict[str, list[MutantRef]] | None = None) -> str:
    caught = mutants or {}
    by_clause: dict[str, list[Rule]] = {}
    for r in rules:
        for ref in r.seed_clauses:
            by_clause.setdefault(ref, []).append(r)
    vectors_by_rule: dict[str, list[Vector]] = {}
    for v in vectors:
        for rule_id in v.rules:
            vectors_by_rule.setdefault(rule_id, []).append(v)
    out = ["# Traceability", "",
           "From each seed clause to the rules that make it precise, and from each rule to the tests and "
           "conformance vectors that exercise it. The *tests mentioning* a rule are the test files and "
           "functions whose source contains its ID (found by scanning `tests/`): a mention is not always an "
           "assertion about the rule. The *broken engines* are the mutants of `conformance/mutants.py` that a "
           "test asserts the rule's check catches: the evidence that the check can fail. Vectors are found by "
           "their `rules` list. Generated at build time: a rule without a test or vector shows a gap here.",
           ""]
    out_of_scope, partly = _scope_lists()
    every_clause = list(clauses) + sorted(set(by_clause) - set(clauses), key=_clause_key)
    out += ["## Matrix", "", "| Seed clause | Normative | Rules | Tests mentioning them | Broken engines caught | "
            "Vectors |", "|---|---|---|--:|--:|--:|"]
    for ref in every_clause:
        clause = clauses.get(ref)
        normative = clause.extra.get("normative") if clause else None
        linked = by_clause.get(ref, [])
        n_tests = len({(t.path, t.name) for r in linked for t in tests.get(r.id, [])})
        n_vectors = len({v.path for r in linked for v in vectors_by_rule.get(r.id, [])})
        n_caught = len({m.name for r in linked for m in caught.get(r.id, [])})
        out.append(f"| [{ref}](#{ref.lower()}) | {'–' if normative is None else ('yes' if normative else 'no')} | "
                   f"{', '.join(rule_link(r.id) for r in linked) or '–'} | {n_tests} | {n_caught} | {n_vectors} |")
    out += ["", "## Seed clause → rules → tests and vectors", ""]
    for ref in every_clause:
        clause = clauses.get(ref)
        out += [f"### {ref} {{ #{ref.lower()} }}", ""]
        if clause and (clause.text or clause.title):
            out += [f"> {clause.text or clause.title}", ""]
            if clause.extra.get("normative") is False:
                out += ["*Informative clause.*", ""]
            if clause.extra.get("status") or clause.extra.get("verdict"):
                out += [f"Status: {clause.extra.get('status') or clause.extra.get('verdict')}", ""]
        linked = by_clause.get(ref, [])
        if ref in partly:
            out += [f"Partly out of scope: {partly[ref]} (see [Out of scope](scope.md#parts-of-cited-clauses-left-out)).",
                    ""]
        if not linked:
            if ref in out_of_scope:
                out += [f"No rule cites this clause. Out of scope: {out_of_scope[ref]} (see "
                        "[Out of scope](scope.md#seed-clauses-left-out)).", ""]
            else:
                out += ["No rule cites this clause.", ""]
            continue
        out += ["| Rule | Tests mentioning it | Broken engines caught | Vectors |", "|---|---|---|---|"]
        for r in linked:
            out.append(f"| {rule_link(r.id)} {cell(r.title)} | {_tests_cell(tests.get(r.id, []))} | "
                       f"{_mutants_cell(caught.get(r.id, []))} | {_vectors_cell(vectors_by_rule.get(r.id, []))} |")
        out.append("")
    unseeded = [r for r in rules if not r.seed_clauses]
    if unseeded:
        out += ["## Rules without a seed clause", "",
                "These rules come from venue documents or from hedgespec's own consistency requirements.", "",
                "| Rule | Sources | Tests mentioning it | Broken engines caught | Vectors |", "|---|---|---|---|---|"]
        for r in unseeded:
            out.append(f"| {rule_link(r.id)} {cell(r.title)} | {cell(', '.join(s.ref for s in r.sources))} | "
                       f"{_tests_cell(tests.get(r.id, []))} | {_mutants_cell(caught.get(r.id, []))} | "
                       f"{_vectors_cell(vectors_by_rule.get(r.id, []))} |")
        out.append("")
    checked = [r for r in rules if r.check is not None and r.status == "active"]
    gaps = [r for r in checked if not tests.get(r.id) and not vectors_by_rule.get(r.id)]
    untried = [r for r in checked if not caught.get(r.id)]
    out += ["## Coverage", "",
            f"- {len(checked)} active checked rules; {len(checked) - len(gaps)} cited by at least one test or vector.",
            f"- {len(checked) - len(untried)} of them shown to fail on a broken engine made for them "
            f"({sum(len(v) for v in caught.values())} mutants).",
            f"- {len(vectors)} conformance vectors; {sum(len(v) for v in tests.values())} mentions of rule IDs in "
            "tests.", ""]
    if untried:
        out += ["Checked rules no broken engine targets yet: " + ", ".join(rule_link(r.id) for r in untried) + ".", ""]
    if gaps:
        out += ["Checked rules no test mentions and no vector cites yet: " + ", ".join(rule_link(r.id) for r in gaps) + ".", ""]
    return "\n".join(out)


def _scope_lists() -> tuple[dict[str, str], dict[str, str]]:
    """(seed clauses out of scope, clauses partly out of scope) with their reasons, from the rulebook."""
    try:
        from hedgespec.spec.rulebook import OUT_OF_SCOPE, PARTLY_OUT_OF_SCOPE
    except ImportError:
        return {}, {}
    return dict(OUT_OF_SCOPE), dict(PARTLY_OUT_OF_SCOPE)


def scope_clauses(clauses: dict[str, Reference]) -> str:
    """The seed clauses left out of the rules, and the parts of cited clauses left out, with the reasons."""
    out_of_scope, partly = _scope_lists()
    out = ["### Seed clauses left out { #seed-clauses-left-out }", "",
           "No rule cites these clauses of the seed list:", "",
           "| Seed clause | Clause | Why it is left out |", "|---|---|---|"]
    for ref in sorted(out_of_scope, key=_clause_key):
        text = clauses[ref].text if ref in clauses else ""
        out.append(f"| [`{ref}`](traceability.md#{ref.lower()}) | {cell(text)} | {cell(out_of_scope[ref])} |")
    out += ["", "### Parts of cited clauses left out { #parts-of-cited-clauses-left-out }", "",
            "Rules cite these clauses, but part of what they say stays outside the rules:", "",
            "| Seed clause | Clause | What is left out, and why |", "|---|---|---|"]
    for ref in sorted(partly, key=_clause_key):
        text = clauses[ref].text if ref in clauses else ""
        out.append(f"| [`{ref}`](traceability.md#{ref.lower()}) | {cell(text)} | {cell(partly[ref])} |")
    return "\n".join(out) + "\n"


def _clause_key(ref: str) -> tuple[str, int, str]:
    head, _, num = ref.rpartition("-")
    digits = "".join(ch for ch in num if ch.isdigit())
    letters = "".join(ch for ch in num if not ch.isdigit())
    return (head + "-" + letters, int(digits) if digits else 0, ref)


def _tests_cell(refs: list[TestRef]) -> str:
    if not refs:
        return "–"
    shown = [f"`{t.path}" + (f"::{t.name}`" if t.name else "`") for t in refs[:4]]
    more = f" +{len(refs) - 4} more" if len(refs) > 4 else ""
    return "<br>".join(shown) + more


def _mutants_cell(caught: list[MutantRef]) -> str:
    return "<br>".join(f"`{m.name}`" for m in caught) or "–"


def _vectors_cell(vs: list[Vector]) -> str:
    if not vs:
        return "–"
    shown = [f"`{v.name}`" for v in vs[:4]]
    more = f" +{len(vs) - 4} more" if len(vs) > 4 else ""
    return "<br>".join(shown) + more


def profiles_page(rules: list[Rule]) -> str:
    profs = profiles()
    shaped: dict[str, list[str]] = {}
    for r in rules:
        for name in r.profile_choices:
            shaped.setdefault(name, []).append(r.id)
    out = ["---", "hide:", "  - toc", "---", "", "# Profiles", "",
           "Where venues differ, the rulebook has a *profile choice*; a profile gives each choice a value, a "
           "source and a status. The reference model runs *modelled* values; *documented* values "
           "(<sup>doc</sup>) are stated and cited but the model runs the seed value instead; *unconfirmed* "
           "values (<sup>?</sup>) have conflicting or missing sources.", "",
           "| Profile | Title | Description |", "|---|---|---|"]
    for p in profs:
        out.append(f"| `{p.name}` | {cell(p.title)} | {cell(p.description)} |")
    out += ["", "## Choices", "",
            "Each choice's value per profile; what the choices mean and which rules they shape is listed "
            "[below](#meaning-of-each-choice).", "",
            "| Choice | " + " | ".join(f"`{p.name}`" for p in profs) + " |",
            "|---|" + "---|" * len(profs)]
    for spec in CHOICE_BY_NAME.values():
        values = []
        for p in profs:
            choice = p.choices.get(spec.name)
            values.append("–" if choice is None else value_text(choice.value) + STATUS_MARK.get(choice.status, ""))
        out.append(f"| [`{spec.name}`](#choice-{spec.name.replace('_', '-')}) | " + " | ".join(values) + " |")
    out += ["", "## Meaning of each choice", ""]
    for spec in CHOICE_BY_NAME.values():
        rules_text = ", ".join(rule_link(i) for i in shaped.get(spec.name, []))
        out += [f"`{spec.name}` {{ #choice-{spec.name.replace('_', '-')} }}",
                f":   {spec.meaning}" + (f" Rules: {rules_text}." if rules_text else ""), ""]
    out += ["", "## Profile files", "",
            "A profile file states your own values: for an engine that follows a venue on choices its profile "
            "leaves open, or for an auditor who has established how the venue behaves. Give it with "
            "`--profile FILE` to `hedgespec simulate`, `conform` and `audit`.", "",
            "```json",
            '{"profile_format": "1", "name": "my-binance", "title": "My engine, Binance rules",',
            ' "extends": "binance-usdm",',
            ' "choices": {"default_margin_type": {"value": "CROSS", "status": "modelled", "source": "my engine documentation"},',
            '             "default_leverage": {"value": "10", "status": "modelled", "source": "my engine documentation"}}}',
            "```", "",
            "* `profile_format` (`\"1\"`) and `name` are required; `title`, `description`, `extends`, "
            "`reason_codes` and `out_of_scope` are optional. No other field is allowed.",
            "* `extends` names a built-in profile: the file then lists only the choices it changes; without it "
            "the file lists every choice.",
            "* Each choice is `{\"value\", \"status\", \"source\"}` with an optional `note`. `status` is "
            "`modelled`, `documented` or `unconfirmed` (only an unconfirmed choice may have `null` as its value). "
            "Enum values are the strings (or booleans) listed above; `default_leverage` is a decimal string "
            "holding a whole number (`\"10\"`); rates are decimal strings below 1 with at most 8 decimals; "
            "`rounding_tolerance_money` a decimal string; `mode_switch_cooldown_seconds` a JSON integer.",
            "* A value the reference model does not simulate (a non-zero cooldown) may be `documented`, not "
            "`modelled`: a file that models one is refused. `liquidation_extent: partial_by_bracket` applies to "
            "isolated legs (a breached cross pool is closed in full, per `cross_liquidation_scope`); "
            "`examples/profiles/partial-by-bracket.json` is a file that models it. "
            "`cross_liquidation_scope: offset_hedged_first` first offsets each instrument's hedged cross legs "
            "by the quantity they share, at the mark, and closes what is left only if the pool is still "
            "breached; `examples/profiles/offset-hedged-first.json` models it. "
            "`liquidation_price_basis: bankruptcy` is simulated for isolated legs only: the reference still "
            "closes a breached cross pool at the mark, so vectors made for such a file state that.",
            "* `hedgespec conform` has built-in vectors for the built-in profiles only (chosen by digest, not "
            "name); for a profile file it makes the vectors from the reference model at the start of the run, "
            "as `hedgespec vectors export` makes the built-in ones, so they state everything the file models.",
            ""]
    out += ["", "## Sources of each value", ""]
    for p in profs:
        out += [f"### `{p.name}`", "", "| Choice | Value | Status | Source |", "|---|---|---|---|"]
        for name, choice in p.choices.items():
            note = f" ({choice.note})" if choice.note else ""
            out.append(f"| `{name}` | {value_text(choice.value)} | {choice.status} | {cell(choice.source + note)} |")
        out.append("")
    return "\n".join(out)


def venues_page(table: Any) -> str:
    out = ["# Venue comparison", "",
           "How the venues' hedge modes differ, from the built-in profiles and their cited documents. "
           "Generated from `hedgespec.spec.venues.comparison_table()`.", ""]
    out.append(render_table(table))
    return "\n".join(out) + "\n"


def render_table(table: Any) -> str:
    """A table given as Markdown text, a list of row dicts, (headers, rows) or {"columns", "rows"}."""
    if isinstance(table, str):
        return table
    if isinstance(table, dict) and table.get("rows") and isinstance(table["rows"][0].get("cells"), dict):
        columns = list(table.get("columns") or table["rows"][0]["cells"])
        lines = ["| Choice | " + " | ".join(f"`{c}`" for c in columns) + " |", "|---|" + "---|" * len(columns)]
        for row in table["rows"]:
            cells = []
            for c in columns:
                entry = row["cells"].get(c) or {}
                value = value_text(entry.get("value")) if entry else "–"
                cells.append(value + STATUS_MARK.get(str(entry.get("status")), "") if entry else value)
            lines.append(f"| `{row.get('choice', '')}` | " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"
    headers: list[str]
    rows: list[list[Any]]
    if isinstance(table, dict) and "rows" in table:
        headers = [str(h) for h in table.get("columns") or table.get("headers") or []]
        raw_rows = table["rows"]
    elif isinstance(table, tuple) and len(table) == 2:
        headers, raw_rows = [str(h) for h in table[0]], table[1]
    elif isinstance(table, list):
        headers, raw_rows = [], table
    else:
        headers = [str(h) for h in getattr(table, "columns", getattr(table, "headers", []))]
        raw_rows = getattr(table, "rows", [])
    rows = []
    for row in raw_rows:
        if isinstance(row, dict):
            if not headers:
                headers = [str(k) for k in row]
            rows.append([row.get(h, "") for h in headers])
        else:
            rows.append(list(row))
    lines = ["| " + " | ".join(cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(_plain(v)) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _plain(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
