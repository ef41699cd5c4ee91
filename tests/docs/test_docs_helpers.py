"""Fast checks of the docs build helpers (docs/hsdocs): ID check, tables, charts, directives."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "docs"))

from hsdocs import catalog, directives, scenarios, svg  # noqa: E402


def test_unknown_ids_are_found() -> None:
    text = "See HM-NET-001 and [HM-NET-999][] but not XHM-NET-0012 nor HM-net-001."
    assert catalog.unknown_ids(text, {"HM-NET-001"}) == ["HM-NET-999"]


def test_every_rule_is_loaded_from_the_registry() -> None:
    rules = catalog.load_rules()
    assert len({r.id for r in rules}) == len(rules) > 2  # the real registry, not the fixture
    assert all(catalog.area_of(r.id) in catalog.AREA_TITLES for r in rules)


def test_hedge_example_keeps_both_legs_and_one_way_nets() -> None:
    _, hedge = scenarios.run("HEDGE", scenarios.hedge_actions())
    rows = hedge[3].after["accounts"]["alice"]["positions"]["BTCUSDT"]
    assert (rows["LONG"]["quantity"], rows["SHORT"]["quantity"]) == ("0.1", "-0.1")
    _, one_way = scenarios.run("ONE_WAY", scenarios.one_way_actions())
    assert one_way[2].after["accounts"]["alice"]["positions"]["BTCUSDT"]["BOTH"]["quantity"] == "0"


def test_liquidation_example_leaves_the_long_leg_alone() -> None:
    _, records = scenarios.run("HEDGE", scenarios.liquidation_actions())
    before, after = (r.after["accounts"]["alice"] for r in records[-2:])
    assert any(e["type"] == "liquidation" for e in records[-1].outcome["events"])
    assert after["positions"]["BTCUSDT"]["SHORT"]["quantity"] == "0"
    long_before = {k: v for k, v in before["positions"]["BTCUSDT"]["LONG"].items() if k not in ("unrealized_pnl", "maintenance_margin")}
    long_after = {k: v for k, v in after["positions"]["BTCUSDT"]["LONG"].items() if k not in ("unrealized_pnl", "maintenance_margin")}
    assert long_before == long_after and before["wallet"] == after["wallet"]


@pytest.mark.parametrize("name", sorted(scenarios.SCENARIOS))
def test_tables_show_decimal_strings(name: str) -> None:
    table = scenarios.table(name)
    assert "e-" not in table and "E+" not in table  # no float or exponent forms
    assert table.count("\n| ") > 4


def test_show_rounds_only_for_display() -> None:
    assert scenarios.show("45180.7228915662650602") == "≈45180.72"
    assert scenarios.show("-0.52") == "-0.52"
    assert scenarios.show(None) == "–"


@pytest.mark.parametrize("draw", sorted(scenarios.CHARTS))
def test_charts_are_wellformed_svg(draw: str) -> None:
    root = ET.fromstring(scenarios.CHARTS[draw]())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.findall(".//{http://www.w3.org/2000/svg}polyline")


def test_nice_ticks_cover_the_range() -> None:
    ticks = svg.nice_ticks(Decimal("42000"), Decimal("58000"))
    assert ticks[0] <= 42000 and ticks[-1] >= 58000 and len(ticks) <= 12


def test_units_docstring_becomes_a_table() -> None:
    text = directives.units_table()
    assert "| unit | one atom | used for |" in text and "| MONEY | 1e-16 |" in text


def test_unknown_directive_fails() -> None:
    with pytest.raises(catalog.DocsError):
        directives.expand("<!-- gen:no-such-thing -->\n", "page.md")


def test_hedge_walkthrough_claims_hold() -> None:
    """What docs/hedge-mode.md tells the reader to notice, step by step."""
    _, records = scenarios.run("HEDGE", scenarios.hedge_actions())
    legs = [r.after["accounts"]["alice"]["positions"]["BTCUSDT"] for r in records]
    by_t = {r.action["t"]: (r, leg) for r, leg in zip(records, legs, strict=True)}
    # t=4: the SELL opened the SHORT leg without touching the LONG leg
    assert by_t[4][1]["LONG"] == by_t[3][1]["LONG"]
    # t=5: what the LONG gains the SHORT loses
    assert Decimal(by_t[5][1]["LONG"]["unrealized_pnl"]) == -Decimal(by_t[5][1]["SHORT"]["unrealized_pnl"]) > 0
    # t=6: funding per leg, the LONG pays and the SHORT receives
    funding = [e for e in by_t[6][0].outcome["events"] if e["type"] == "funding"]
    assert {e["position_side"]: Decimal(e["amount"]) < 0 for e in funding} == {"LONG": True, "SHORT": False}
    # t=7: the SELL on the LONG leg reduced it and left the SHORT leg as it was
    assert by_t[7][1]["LONG"]["quantity"] == "0.05"
    assert by_t[7][1]["SHORT"] == by_t[6][1]["SHORT"]


def test_if_exists_keeps_text_only_for_existing_pages(tmp_path: Path) -> None:
    (tmp_path / "here.md").write_text("# Here\n", encoding="utf-8")
    text = ("a\n<!-- gen:if-exists here.md -->\nkept\n<!-- gen:end -->\n"
            "b\n<!-- gen:if-exists guides/gone.md -->\ndropped\n<!-- gen:end -->\nc\n")
    assert directives.expand(text, "page.md", tmp_path) == "a\nkept\n\nb\n\nc\n"


def test_cross_example_claims_hold() -> None:
    """docs/hedge-mode.md: one shared liquidation price; a pool breach closes both legs."""
    _, records = scenarios.run("HEDGE", scenarios.cross_actions(), scenarios.WALLETS["cross"])
    rows = records[5].after["accounts"]["alice"]["positions"]["BTCUSDT"]
    assert rows["LONG"]["liquidation_price"] == rows["SHORT"]["liquidation_price"] is not None
    assert rows["LONG"]["quantity"] == "0.1" and rows["SHORT"]["quantity"] == "-0.05"
    last = records[-1]
    assert any(e["type"] == "liquidation" and e["position_side"] == "CROSS" for e in last.outcome["events"])
    closed = last.after["accounts"]["alice"]["positions"]["BTCUSDT"]
    assert closed["LONG"]["quantity"] == closed["SHORT"]["quantity"] == "0"
    assert Decimal(closed["SHORT"]["realized_pnl"]) > 0


def test_committed_generated_blocks_are_fresh() -> None:
    """The generated text committed in hand-written pages is what the code gives now, so the pages read
    the same in the repository as on the site (refresh with ``python docs/sync_generated.py``)."""
    import sync_generated

    assert sync_generated.stale_pages(write=False) == []


def test_generated_block_is_refreshed_and_needs_its_closing_marker() -> None:
    page = "a\n<!-- gen:units -->\nold text\n<!-- /gen:units -->\nb\n"
    fresh = directives.sync(page, "page.md")
    assert fresh.startswith("a\n<!-- gen:units -->\n") and fresh.endswith("<!-- /gen:units -->\nb\n")
    assert "old text" not in fresh and "| MONEY | 1e-16 |" in fresh
    assert directives.expand(page, "page.md") == fresh
    assert directives.sync("a\n<!-- gen:units -->\nb\n", "page.md").count("<!-- /gen:units -->") == 1
    with pytest.raises(catalog.DocsError, match="no closing"):
        directives.expand("a\n<!-- gen:units -->\nb\n", "page.md")


def test_rule_pages_say_who_runs_the_check_and_what_is_proved() -> None:
    from hedgespec.spec.rulebook import get
    from hsdocs import pages

    def page(rule_id: str) -> str:
        return pages.rule_page(get(rule_id), proved=catalog.proved(), tests={}, vectors=[], clauses={}, documents={})

    text = page("HM-LIQ-004")
    assert "as the conformance suite runs it" in text and "the audit tool run it" not in text
    assert "Proved for the reference kernel" not in text and "**Tested**" in text
    assert "liquidation_price_basis` is `bankruptcy`" in text
    assert "does not judge this rule" in text
    assert "audit/guide.md#3-what-the-audit-decides" in page("HM-LIQ-002") and "own implementation" in page("HM-LIQ-002")
    assert "The rulebook's own requirement" in page("HM-DET-001")
    # the check shown is the chapter's function, from its chapter file (not the registry's wrapper around it)
    assert "(`spec/rules/liquidation.py`)" in text and "def liquidation_execution(view" in text


def test_out_of_scope_clauses_are_listed_with_their_reasons() -> None:
    from hedgespec.spec.rulebook import OUT_OF_SCOPE, PARTLY_OUT_OF_SCOPE, all_rules
    from hsdocs import pages

    listed = pages.scope_clauses(catalog.seed_clauses())
    for ref, reason in {**OUT_OF_SCOPE, **PARTLY_OUT_OF_SCOPE}.items():
        assert f"[`{ref}`]" in listed and pages.cell(reason) in listed
    trace = pages.traceability(all_rules(), {}, [], catalog.seed_clauses())
    assert f"Out of scope: {OUT_OF_SCOPE['S-F4']}" in trace and "Tests mentioning" in trace


def test_every_checked_rule_page_names_the_broken_engines_its_check_catches() -> None:
    """Each active check's page lists the library's mutants for it, and the traceability page counts them."""
    from hedgespec.conformance.mutants import (
        DIRECTED_MUTANTS,
        MUTANTS,
        REVIEWED_MUTANTS,
        REVIEWED_RISK_MUTANTS,
    )
    from hedgespec.spec.rulebook import all_rules
    from hsdocs import pages

    caught = catalog.mutants_catching()
    checked = [r for r in all_rules() if r.check is not None and r.status == "active"]
    assert {r.id for r in checked} <= set(caught)
    assert sum(len(v) for v in caught.values()) == len(MUTANTS) + len(DIRECTED_MUTANTS) + len(REVIEWED_MUTANTS) + \
        len(REVIEWED_RISK_MUTANTS)
    for rule in checked:
        page = pages.rule_page(rule, proved={}, tests={}, vectors=[], clauses={}, documents={}, mutants=caught)
        assert "**Shown to fail.**" in page
        for mutant in caught[rule.id]:
            assert f"- `{mutant.name}`: {pages.cell(mutant.description)} (`{mutant.shown_by}`)" in page
            shown_by = (catalog.ROOT / mutant.shown_by).read_text(encoding="utf-8")  # it runs this mutant
            assert mutant.name in shown_by or '@pytest.mark.parametrize("mutant", MUTANTS' in shown_by
    net = pages.rule_page(next(r for r in checked if r.id == "HM-NET-001"), proved={},
                          tests={}, vectors=[], clauses={}, documents={}, mutants=caught)
    assert 'hedgespec conform --engine-cmd "python -m hedgespec.conformance.mutants net-on-fill"' in net
    directed = next(m for m in DIRECTED_MUTANTS)
    stop = pages.rule_page(next(r for r in checked if r.id == directed.rule_id), proved={}, tests={}, vectors=[],
                           clauses={}, documents={}, mutants={directed.rule_id: caught[directed.rule_id][-1:]})
    assert directed.name in stop and "--engine-cmd" not in stop  # a short run does not reach it: no command
    bare = pages.rule_page(checked[0], proved={}, tests={}, vectors=[], clauses={}, documents={}, mutants={})
    assert "**Not yet shown to fail:**" in bare
    trace = pages.traceability(all_rules(), {}, [], catalog.seed_clauses(), caught)
    assert "| Broken engines caught |" in trace and "`net-on-fill`" in trace
    assert f"- {len(checked)} of them shown to fail on a broken engine made for them" in trace
    untried = pages.traceability(all_rules(), {}, [], catalog.seed_clauses(), {})
    assert "Checked rules no broken engine targets yet: " in untried


def test_the_profile_file_example_on_the_profiles_page_is_a_valid_profile() -> None:
    """The example of the "Profile files" section parses as a profile that extends binance-usdm and models the
    two defaults it shows; the values it names are the choices' own."""
    import json

    from hedgespec.spec.profiles import parse_profile
    from hsdocs import pages

    text = pages.profiles_page(catalog.load_rules())
    section = text[text.index("## Profile files"):]
    block = section[section.index("```json") + len("```json"):section.index("```", section.index("```json") + 7)]
    profile = parse_profile(json.loads(block), "profiles page example")
    assert profile.extends == "binance-usdm"
    assert (profile.modelled("default_margin_type"), profile.modelled("default_leverage")) == ("CROSS", "10")
