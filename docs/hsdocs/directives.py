"""``<!-- gen:NAME ARGS -->`` ... ``<!-- /gen:NAME -->`` blocks in hand-written pages.

A hand-written page stays readable as plain Markdown; wherever it shows something the code knows
(a worked example, the unit table, the action fields), it says so with a block whose text is
generated from the code. The text is committed, so a reader of the repository sees it too;
``python docs/sync_generated.py`` rewrites it, a test fails while it is stale, and the build
generates it afresh. An unknown directive, or one without its closing marker, fails the build.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Callable
from pathlib import Path

from hedgespec.model import actions as A
from hedgespec.model import events as E
from hedgespec.model import state as S
from hedgespec.model import units
from hedgespec.model.codec import _OPTIONAL_DEFAULTS, ACTION_FIELD_UNITS
from hedgespec.spec.reasons import REASON_MEANINGS
from hedgespec.spec.registry import Rule

from . import scenarios
from .catalog import AREA_TITLES, DocsError, area_of, areas

BLOCK = re.compile(r"^<!--[ \t]*gen:([\w-]+)((?:[ \t]+[\w.-]+)*)[ \t]*-->[ \t]*$"
                   r"(?P<closing>\n(?:.*?\n)??<!--[ \t]*/gen:\1[ \t]*-->[ \t]*$)?", re.MULTILINE | re.DOTALL)
"""An opening marker, with its generated text and closing marker when it has them."""


def rst_to_markdown(text: str) -> str:
    """The small reStructuredText subset of the model's docstrings (simple tables, bullets, literals)."""
    out: list[str] = []
    lines = text.strip("\n").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if re.fullmatch(r"=+(\s+=+)+", line.strip()):
            cols = [(m.start(), m.end()) for m in re.finditer(r"=+", line)]
            rows: list[list[str]] = []
            i += 1
            borders = 1
            while i < len(lines) and borders < 3:
                if re.fullmatch(r"=+(\s+=+)+", lines[i].strip()):
                    borders += 1
                elif lines[i].strip():
                    starts = [c[0] for c in cols] + [None]
                    rows.append([lines[i][starts[k]:starts[k + 1]].strip() for k in range(len(cols))])
                i += 1
            header, *body = rows
            out.append("| " + " | ".join(header) + " |")
            out.append("|" + "---|" * len(header))
            out += ["| " + " | ".join(row) + " |" for row in body]
            continue
        out.append(re.sub(r"^\* ", "- ", re.sub(r"^  (?=\S)", "  ", line)))
        i += 1
    return re.sub(r"``([^`]+)``", r"`\1`", "\n".join(out)) + "\n"


def units_table() -> str:
    body = rst_to_markdown(units.__doc__ or "")
    indented = "\n".join(("    " + line) if line.strip() else "" for line in body.splitlines())
    return f'!!! quote "From `hedgespec.model.units`"\n\n{indented}\n'



def _type_name(annotation: object) -> str:
    return getattr(annotation, "__name__", str(annotation))


FIELD_VALUES = {
    "mode": f"`{S.HEDGE}`, `{S.ONE_WAY}`",
    "margin_type": f"`{S.ISOLATED}`, `{S.CROSS}`",
    "side": f"`{S.BUY}`, `{S.SELL}`",
    "position_side": f"`{S.LONG}`, `{S.SHORT}` (hedge mode); `{S.BOTH}` or omitted (one-way mode)",
    "order_type": ", ".join(f"`{t}`" for t in S.ORDER_TYPES),
    "scope": "`*` (the account), a settle asset or an instrument, as the profile's `mode_scope` allows",
}
"""The values a string field of an action may take."""

_POSITION_SIDE_NEED = "required in hedge mode (left out: `POSITION_SIDE_MISMATCH`); optional in one-way mode"
_ZERO = '`"0"`'
STEP_NEEDS: dict[tuple[str, str], str] = {
    ("set_margin_type", "position_side"): _POSITION_SIDE_NEED,
    ("set_leverage", "position_side"): _POSITION_SIDE_NEED,
    ("adjust_margin", "position_side"): _POSITION_SIDE_NEED,
    ("place_order", "position_side"): _POSITION_SIDE_NEED,
    ("place_order", "price"): "required for `MARKET` and `LIMIT` (a positive multiple of the tick); conditional "
                              f"types: left out (or {_ZERO})",
    ("place_order", "stop_price"): "required for `STOP_MARKET` and `TAKE_PROFIT_MARKET` (a positive multiple of the "
                                   "tick); other types: left out (not read if given)",
    ("place_order", "activation_price"): f"optional for `TRAILING_STOP_MARKET` (left out or {_ZERO}: the trail "
                                         f"starts at once); other types: left out (or {_ZERO})",
    ("place_order", "callback_rate"): "required for `TRAILING_STOP_MARKET` (between 0 and 1, both excluded); other "
                                      f"types: left out (or {_ZERO})",
    ("market_trade", "price"): "required (any positive price, on the tick or not)",
    ("mark_price", "price"): "required (any positive price, on the tick or not)",
}
"""The Required column where the step needs more than the codec: a field the JSON may leave out
(``_OPTIONAL_DEFAULTS``) whose default (0, empty) the step refuses for some action kinds or order types,
or a value the step refuses when given. tests/docs/test_action_fields.py checks each claim against the model."""


def _required(kind: str, field: str) -> str:
    """The Required column of one field: what the step needs, else whether the codec needs it (and its default)."""
    if (kind, field) in STEP_NEEDS:
        return STEP_NEEDS[(kind, field)]
    if field not in _OPTIONAL_DEFAULTS:
        return "required"
    default = _OPTIONAL_DEFAULTS[field]
    return "optional (default `false`)" if default is False else f'optional (default `"{default}"`)'


def action_fields() -> str:
    """Every action kind with its fields, from the model's action classes and the codec's units."""
    out = []
    for kind, cls in A.ACTION_KINDS.items():
        hints = typing.get_type_hints(cls)
        out += [f"### `{kind}` {{ #action-{kind.replace('_', '-')} }}", ""]
        doc = (cls.__doc__ or "").strip()
        if doc and not doc.startswith(cls.__name__ + "("):
            out += [doc.splitlines()[0], ""]
        out += ["| Field | JSON type | Required | Values |", "|---|---|---|---|"]
        for f in dataclasses.fields(cls):
            if f.name == "t":
                kind_text = "integer (logical time)"
            elif f.name in ACTION_FIELD_UNITS:
                unit = ACTION_FIELD_UNITS[f.name]
                kind_text = "decimal string (integer)" if unit == "int" else f"decimal string ({unit.upper()} unit)"
            elif _type_name(hints[f.name]) == "bool":
                kind_text = "boolean"
            else:
                kind_text = "string"
            out.append(f"| `{f.name}` | {kind_text} | {_required(kind, f.name)} | {FIELD_VALUES.get(f.name, '')} |")
        out.append("")
    return "\n".join(out)


def reasons() -> str:
    """The reason classes, in published order, with when the reference gives each."""
    lines = ["| Reason class | When |", "|---|---|"]
    lines += [f"| `{r}` | {REASON_MEANINGS[r]} |" for r in E.REASONS]
    return "\n".join(lines) + "\n"


def scenario(name: str) -> str:
    if name not in scenarios.SCENARIOS:
        raise DocsError(f"unknown scenario {name!r} (known: {', '.join(scenarios.SCENARIOS)})")
    return scenarios.table(name)


def scenario_actions(name: str) -> str:
    import json

    if name not in scenarios.SCENARIOS:
        raise DocsError(f"unknown scenario {name!r}")
    _, actions = scenarios.SCENARIOS[name]
    body = "\n".join(json.dumps(a) for a in actions())
    return f"```json\n{body}\n```\n"


RULES: list[Rule] = []  # set by gen_pages before pages are expanded


def rules_at_a_glance() -> str:
    """Rules per area and level, from the registry."""
    lines = ["| Area | Rules | MUST | SHOULD | MAY | Parameters |", "|---|--:|--:|--:|--:|--:|"]
    for area in areas(RULES):
        group = [r for r in RULES if area_of(r.id) == area and r.status == "active"]
        counts = [sum(r.level == level for r in group) for level in ("MUST", "SHOULD", "MAY")]
        params = sum(r.kind == "parameter" for r in group)
        lines.append(f"| {AREA_TITLES.get(area, area)} | {len(group)} | " + " | ".join(map(str, counts))
                     + f" | {params} |")
    active = [r for r in RULES if r.status == "active"]
    lines.append(f"| **All** | **{len(active)}** | " + " | ".join(
        str(sum(r.level == level for r in active)) for level in ("MUST", "SHOULD", "MAY"))
        + f" | {sum(r.kind == 'parameter' for r in active)} |")
    return "\n".join(lines) + "\n"


def changelog_rules(version: str) -> str:
    """The rules a spec version introduced and retired (``since`` and ``replaced_by`` in the registry)."""
    added = [r for r in RULES if r.since == version]
    out = []
    if added:
        out.append(f"Rules introduced ({len(added)}):")
        out.append("")
        for area in areas(added):
            ids = ", ".join(f"[{r.id}][]" for r in added if area_of(r.id) == area)
            out.append(f"- {AREA_TITLES.get(area, area)}: {ids}")
        out.append("")
    retired = [r for r in RULES if r.status == "retired" and r.replaced_by and
               any(n.id == r.replaced_by and n.since == version for n in RULES)]
    if retired:
        out.append("Rules retired: " + ", ".join(f"[{r.id}][] (replaced by [{r.replaced_by}][])" for r in retired))
    return "\n".join(out) + "\n"


def out_of_scope_clauses() -> str:
    """The seed clauses (and parts of clauses) no rule formalises, with the reasons (spec/rulebook.py)."""
    from . import catalog, pages

    return pages.scope_clauses(catalog.seed_clauses())


DIRECTIVES: dict[str, Callable[..., str]] = {
    "out-of-scope-clauses": out_of_scope_clauses,
    "rules-at-a-glance": rules_at_a_glance,
    "changelog-rules": changelog_rules,
    "units": units_table,
    "action-fields": action_fields,
    "reasons": reasons,
    "scenario": scenario,
    "scenario-actions": scenario_actions,
}


IF_EXISTS = re.compile(r"^<!--[ \t]*gen:if-exists[ \t]+([\w./-]+)[ \t]*-->[ \t]*\n(.*?)^<!--[ \t]*gen:end[ \t]*-->[ \t]*$",
                       re.MULTILINE | re.DOTALL)


def _generated(match: re.Match[str], where: str) -> str:
    """The block ``match`` with its text generated afresh."""
    name, args = match.group(1), match.group(2)
    func = DIRECTIVES.get(name)
    if func is None:
        raise DocsError(f"{where}: unknown directive gen:{name} (known: {', '.join(DIRECTIVES)})")
    return f"<!-- gen:{name}{args} -->\n{func(*args.split()).rstrip(chr(10))}\n<!-- /gen:{name} -->"


def _blocks(text: str) -> list[re.Match[str]]:
    """The generated blocks (``if-exists`` and its ``end`` are conditions, not blocks)."""
    return [m for m in BLOCK.finditer(text) if m.group(1) not in ("if-exists", "end")]


def sync(text: str, where: str) -> str:
    """The page with every block's text generated afresh (a closing marker added where missing)."""
    out, at = [], 0
    for match in _blocks(text):
        out += [text[at:match.start()], _generated(match, where)]
        at = match.end()
    return "".join(out) + text[at:]


def expand(text: str, where: str, docs_dir: Path | None = None) -> str:
    """The page as published: fresh generated text; ``gen:if-exists PATH`` ... ``gen:end`` keeps its
    text only if docs/PATH exists."""
    if docs_dir is not None:
        text = IF_EXISTS.sub(lambda m: m.group(2) if (docs_dir / m.group(1)).exists() else "", text)
    for match in _blocks(text):
        if match.group(1) in DIRECTIVES and match.group("closing") is None:
            raise DocsError(f"{where}: gen:{match.group(1)} has no closing <!-- /gen:{match.group(1)} --> "
                            "(run python docs/sync_generated.py)")
    return sync(text, where)
