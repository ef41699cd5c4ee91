"""Venue profiles, the source key, the seed clauses and the venue tables."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hedgespec.spec.profiles import (
    CHOICE_SPECS,
    ProfileError,
    builtin_profile_names,
    load_profile,
)
from hedgespec.spec.venues import (
    CONTRADICTS,
    OPEN,
    REASON_CLASSES,
    cited_tags,
    comparison_markdown,
    comparison_table,
    load_seed_clauses,
    load_sources,
    profiles_report,
    reason_code_table,
    sources_markdown,
    venue_names,
)

VENUES = ("binance-usdm", "bybit-v5", "okx-v5", "gate", "kucoin")
SEED_CLAUSE_IDS = (
    [f"S-F{i}" for i in range(1, 6)] + [f"S-E{i}" for i in range(1, 6)]
    + [f"S-P{i}" for i in range(1, 6)] + [f"S-M{i}" for i in range(1, 6)] + [f"S-Q{i}" for i in range(1, 5)]
)
BASE_OUT_OF_SCOPE = ("COIN-M / inverse contracts", "portfolio margin", "multi-assets mode",
                     "auto-deleveraging (ADL)")
SOURCE_KINDS = ("doc", "observed", "fixture", "secondary")
REASON_STATUSES = ("documented", "observed", "unconfirmed")
DOCS = Path(__file__).resolve().parent.parent / "docs" / "venues"


def _not_modelled(choices: dict[str, Any]) -> list[str]:
    """Choices holding a value the reference model does not simulate."""
    bad = []
    if (choices["mode_switch_cooldown_seconds"].value or 0) > 0:
        bad.append("mode_switch_cooldown_seconds")
    isolated_only = choices["default_margin_type"].value == "ISOLATED"
    if choices["liquidation_price_basis"].value == "bankruptcy" and not isolated_only:
        bad.append("liquidation_price_basis")  # cross legs at bankruptcy are not simulated
    return bad


def _all_source_strings(name: str) -> list[str]:
    profile = load_profile(name)
    strings = [c.source for c in profile.choices.values()]
    for entry in profile.reason_codes.values():
        strings.append(entry["source"])
        if "observed" in entry:
            strings.append(entry["observed"]["source"])
    return strings


def _cell(table: dict[str, Any], choice: str, venue: str) -> dict[str, Any]:
    row = next(r for r in table["rows"] if r["choice"] == choice)
    return row["cells"][venue]


# --- the profiles themselves ---------------------------------------------------------------------

def test_builtin_profiles_are_seed_and_the_five_venues() -> None:
    assert builtin_profile_names()[0] == "seed"
    assert sorted(builtin_profile_names()[1:]) == sorted(VENUES)
    assert venue_names() == builtin_profile_names()[1:]


@pytest.mark.parametrize("name", ["seed", *VENUES])
def test_every_builtin_profile_loads_with_every_choice(name: str) -> None:
    profile = load_profile(name)
    assert profile.name == name
    assert list(profile.choices) == [spec.name for spec in CHOICE_SPECS]
    assert profile.digest.startswith("sha256:")


@pytest.mark.parametrize("name", VENUES)
def test_venue_profiles_list_the_common_out_of_scope_items(name: str) -> None:
    assert set(BASE_OUT_OF_SCOPE) <= set(load_profile(name).out_of_scope)


@pytest.mark.parametrize("name", ["seed", *VENUES])
def test_no_modelled_status_on_values_the_model_does_not_simulate(name: str) -> None:
    profile = load_profile(name)
    for choice in _not_modelled(profile.choices):
        assert profile.choices[choice].status != "modelled", f"{name}: {choice}"


@pytest.mark.parametrize("name", VENUES)
def test_not_simulated_values_fall_back_to_the_seed(name: str) -> None:
    profile, seed = load_profile(name), load_profile("seed")
    for choice in _not_modelled(profile.choices):
        assert profile.effective(choice) == seed.choices[choice].value


@pytest.mark.parametrize("name", VENUES)
def test_sourced_choices_have_values_and_unconfirmed_ones_say_why(name: str) -> None:
    for choice_name, choice in load_profile(name).choices.items():
        if choice.status == "unconfirmed":
            assert choice.note, f"{name}: {choice_name} is unconfirmed without a note"
        else:
            assert choice.value is not None, f"{name}: {choice_name}"


def test_venue_values_the_rest_of_the_project_relies_on() -> None:
    binance, bybit, okx = load_profile("binance-usdm"), load_profile("bybit-v5"), load_profile("okx-v5")
    gate, kucoin = load_profile("gate"), load_profile("kucoin")
    assert binance.effective("leverage_scope") == "instrument"
    assert binance.effective("margin_type_scope") == "instrument"
    assert binance.effective("reduce_only_in_hedge") == "forbidden"
    assert bybit.effective("mode_scope") == "instrument"
    assert bybit.effective("mode_switch_coin_level_partial") is True
    assert okx.effective("oversized_close") == "trim"
    assert gate.effective("mode_scope") == "settle_asset"
    assert gate.effective("oversized_close") == "reject"
    assert kucoin.choices["hedged_maintenance"].value == "larger_leg"
    assert kucoin.effective("hedged_maintenance") == "both_legs"


# --- reason codes --------------------------------------------------------------------------------

def test_reason_classes_match_the_model() -> None:
    from hedgespec.model.events import REASONS

    assert REASON_CLASSES == REASONS


@pytest.mark.parametrize("name", ["seed", *VENUES])
def test_reason_codes_use_known_classes_and_statuses(name: str) -> None:
    for reason, entry in load_profile(name).reason_codes.items():
        assert reason in REASON_CLASSES, f"{name}: {reason}"
        assert entry["status"] in REASON_STATUSES, f"{name}: {reason}"
        assert {"code", "message", "status", "source"} <= set(entry), f"{name}: {reason}"
        if entry["status"] != "unconfirmed":
            assert entry["code"] is not None, f"{name}: {reason}"


def test_binance_records_the_documented_and_the_observed_reduce_only_code() -> None:
    entry = load_profile("binance-usdm").reason_codes["REDUCE_ONLY_FORBIDDEN"]
    assert entry["code"] == "-4062"
    assert entry["observed"]["code"] == "-1106"


def test_okx_folds_both_mode_switch_blockers_into_one_code() -> None:
    table = reason_code_table()
    assert table["folded"]["okx-v5"] == {"59000": ["MODE_SWITCH_WITH_POSITIONS", "MODE_SWITCH_WITH_OPEN_ORDERS"]}


def test_binance_maps_the_documented_margin_type_refusals() -> None:
    codes = load_profile("binance-usdm").reason_codes
    assert codes["MARGIN_TYPE_WITH_POSITION"]["code"] == "-4048"
    assert codes["MARGIN_TYPE_WITH_OPEN_ORDERS"]["code"] == "-4047"


def test_reason_table_tells_unmapped_from_unconfirmed_cells() -> None:
    page = comparison_markdown()
    row = next(line for line in page.splitlines() if line.startswith("| `MODE_SWITCH_WITH_POSITIONS` |"))
    assert "— (unconfirmed; K-ANN, K-FAQ)" in row  # kucoin maps the class without a confirmed code
    row = next(line for line in page.splitlines() if line.startswith("| `NO_MARK_PRICE` |"))
    cells = [c.strip() for c in row.strip("|").split("|")][1:]
    assert cells and all(c == "*not mapped*" for c in cells)


def test_kucoin_reason_codes_are_unconfirmed() -> None:
    codes = load_profile("kucoin").reason_codes
    assert codes and all(entry["status"] == "unconfirmed" for entry in codes.values())


# --- sources and seed clauses --------------------------------------------------------------------

def test_source_key_entries_are_complete() -> None:
    for tag, entry in load_sources().items():
        assert set(entry) == {"title", "url", "venue", "kind", "summary"}, tag
        assert entry["kind"] in SOURCE_KINDS, tag
        assert entry["url"].startswith("https://"), tag
        assert entry["summary"] and entry["title"], tag


@pytest.mark.parametrize("name", ["seed", *VENUES])
def test_every_cited_tag_is_a_known_source_or_seed_clause(name: str) -> None:
    known = set(load_sources()) | set(load_seed_clauses())
    for source in _all_source_strings(name):
        for tag in cited_tags(source):
            assert tag in known, f"{name}: unknown source tag {tag!r} in {source!r}"


@pytest.mark.parametrize("name", VENUES)
def test_every_sourced_venue_choice_cites_a_venue_document(name: str) -> None:
    sources = load_sources()
    for choice_name, choice in load_profile(name).choices.items():
        assert any(tag in sources for tag in cited_tags(choice.source)), f"{name}: {choice_name}"


def test_seed_clauses_are_all_there_and_only_s_f4_is_informative() -> None:
    clauses = load_seed_clauses()
    assert list(clauses) == SEED_CLAUSE_IDS
    assert [cid for cid, c in clauses.items() if not c["normative"]] == ["S-F4"]
    assert all(c["text"] for c in clauses.values())


# --- tables and report ---------------------------------------------------------------------------

def test_comparison_table_has_seed_first_and_every_choice() -> None:
    table = comparison_table()
    assert table["columns"] == builtin_profile_names()
    assert [row["choice"] for row in table["rows"]] == [spec.name for spec in CHOICE_SPECS]
    assert all(row["cells"]["seed"]["flag"] is None for row in table["rows"])


@pytest.mark.parametrize(("choice", "venue"), [
    ("cross_liquidation_price", "bybit-v5"),  # a cross leg's price is only an estimate, against S-F3
    ("margin_type_scope", "binance-usdm"),
    ("leverage_scope", "binance-usdm"),
    ("reduce_only_in_hedge", "binance-usdm"),
    ("same_mode_request", "binance-usdm"),
    ("oversized_close", "okx-v5"),
    ("margin_type_scope", "bybit-v5"),
    ("funding_source", "bybit-v5"),
    ("hedged_maintenance", "kucoin"),
])
def test_comparison_table_flags_known_contradictions(choice: str, venue: str) -> None:
    cell = _cell(comparison_table(), choice, venue)
    assert cell["flag"] == CONTRADICTS
    assert cell["clauses"]


def test_values_equal_to_the_seed_profile_are_never_flagged() -> None:
    table = comparison_table()
    for row in table["rows"]:
        seed = row["cells"]["seed"]
        for venue, cell in row["cells"].items():
            if cell["status"] != "unconfirmed" and cell["value"] == seed["value"]:
                assert cell["flag"] is None, f"{venue}: {row['choice']}"
    assert _cell(table, "cross_liquidation_scope", "binance-usdm")["flag"] is None
    assert _cell(table, "cross_liquidation_price", "binance-usdm")["flag"] is None


def test_seed_cross_choices_cite_no_seed_clause() -> None:
    seed = load_profile("seed")
    for name in ("cross_liquidation_scope", "cross_liquidation_price"):
        source = seed.choices[name].source
        assert source.startswith("hedgespec choice"), name
        assert not [tag for tag in cited_tags(source) if tag.startswith("S-")], name


def test_venue_specific_clauses_do_not_count_against_other_venues() -> None:
    table = comparison_table()
    assert _cell(table, "mode_scope", "bybit-v5")["flag"] == "differs"
    assert _cell(table, "mode_scope", "gate")["flag"] == "differs"


def test_unconfirmed_cells_are_open_not_contradictions() -> None:
    table = comparison_table()
    assert _cell(table, "default_margin_type", "binance-usdm")["flag"] == OPEN
    assert _cell(table, "mode_switch_cooldown_seconds", "bybit-v5")["flag"] == OPEN


def test_report_is_deterministic_and_valid_json() -> None:
    assert profiles_report(True) == profiles_report(True)
    assert profiles_report(False) == profiles_report(False)
    document = json.loads(profiles_report(True))
    assert [p["name"] for p in document["profiles"]] == builtin_profile_names()
    assert "margin_type_scope" in document["profiles"][1]["contradicts_seed"]


def test_text_report_names_every_profile() -> None:
    text = profiles_report(False)
    for name in builtin_profile_names():
        assert name in text


@pytest.mark.parametrize(("page", "render"), [("comparison.md", comparison_markdown),
                                              ("sources.md", sources_markdown)])
def test_generated_venue_pages_are_up_to_date(page: str, render: Any) -> None:
    assert (DOCS / page).read_text(encoding="utf-8") == render(), (
        f"regenerate: .venv/bin/python -c \"from hedgespec.spec import venues; "
        f"open('docs/venues/{page}', 'w', encoding='utf-8').write(venues.{render.__name__}())\""
    )


def test_venue_notes_cite_only_known_tags() -> None:
    known = set(load_sources()) | set(load_seed_clauses())
    text = (DOCS / "notes.md").read_text(encoding="utf-8")
    groups = re.findall(r"\[([A-Z][A-Z0-9-]*(?:, [A-Z][A-Z0-9-]*)*)\]", text)
    cited = {tag for group in groups for tag in group.split(", ")}
    assert cited, "notes.md cites no source tags"
    assert sorted(cited - known) == []


# --- the validator rejects malformed files -------------------------------------------------------

def _valid_raw() -> dict[str, Any]:
    raw = json.loads(json.dumps(load_profile("binance-usdm").as_json()))
    for key in ("digest", "extends"):
        raw.pop(key)
    raw["profile_format"] = "1"
    return raw


def _write(tmp_path: Path, raw: Any, name: str = "venue.json") -> str:
    path = tmp_path / name
    path.write_text(raw if isinstance(raw, str) else json.dumps(raw), encoding="utf-8")
    return str(path)


def test_a_copy_of_a_builtin_profile_loads_from_a_file(tmp_path: Path) -> None:
    profile = load_profile(_write(tmp_path, _valid_raw()))
    assert profile.digest == load_profile("binance-usdm").digest


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda r: r["choices"]["leverage_scope"].update(value="per_leg"), "choices.leverage_scope.value"),
    (lambda r: r["choices"]["oversized_close"].update(status="guessed"), "choices.oversized_close.status"),
    (lambda r: r["choices"]["mode_scope"].update(source=""), "choices.mode_scope.source"),
    (lambda r: r["choices"].pop("funding_report"), "missing funding_report"),
    (lambda r: r["choices"].update(hedge_discount={"value": True, "status": "modelled", "source": "x"}),
     "choices.hedge_discount"),
    (lambda r: r["choices"]["default_leverage"].update(value="-5", status="modelled"),
     "choices.default_leverage.value"),
    (lambda r: r["choices"]["default_leverage"].update(value="0", status="modelled"),
     "choices.default_leverage.value: a whole number of at least 1"),
    (lambda r: r["choices"]["default_leverage"].update(value="2.5", status="modelled"),
     "choices.default_leverage.value: a whole number of at least 1"),
    (lambda r: r["choices"]["default_leverage"].update(value="1e999999999", status="modelled"),
     "choices.default_leverage.value: a non-negative decimal string"),
    (lambda r: r["choices"]["settlement_fee_rate"].update(value="1", status="modelled"),
     "choices.settlement_fee_rate.value: a rate below 1"),
    (lambda r: r["choices"]["liquidation_clearance_fee_rate"].update(value="0.000000001", status="modelled"),
     "choices.liquidation_clearance_fee_rate.value: a rate below 1 with at most 8 decimals"),
    (lambda r: r["choices"]["rounding_tolerance_money"].update(value=" 0.1"),
     "choices.rounding_tolerance_money.value"),
    (lambda r: r["choices"]["mode_switch_cooldown_seconds"].update(value="30", status="documented"),
     "choices.mode_switch_cooldown_seconds.value"),
    (lambda r: r.update(profile_format="2"), "profile_format"),
    (lambda r: r.update(out_of_scope="ADL"), "out_of_scope"),
    (lambda r: r.update(colour="blue"), "colour"),
    (lambda r: r.update(title=5), "title: a string is required"),
])
def test_validator_names_file_and_field(tmp_path: Path, mutate: Any, field: str) -> None:
    raw = _valid_raw()
    mutate(raw)
    path = _write(tmp_path, raw)
    with pytest.raises(ProfileError) as excinfo:
        load_profile(path)
    assert path in str(excinfo.value)
    assert field in str(excinfo.value)


def test_model_refusals_name_the_profile_file(tmp_path: Path) -> None:
    from hedgespec.model import InputError, resolve_choices

    raw = _valid_raw()
    raw["choices"]["mode_switch_cooldown_seconds"].update(value=30, status="modelled")
    path = _write(tmp_path, raw)
    with pytest.raises(InputError, match=re.escape(path) + ": choices.mode_switch_cooldown_seconds: a cooldown"):
        resolve_choices(load_profile(path))


def test_validator_refuses_a_key_given_twice(tmp_path: Path) -> None:
    text = '{"name": "x", ' + json.dumps(_valid_raw())[1:]
    path = _write(tmp_path, text)
    with pytest.raises(ProfileError, match=r"venue\.json: not valid JSON: key 'name' appears twice"):
        load_profile(path)


def test_validator_reports_bad_json_with_its_position(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"profile_format": "1",\n  "name": }')
    with pytest.raises(ProfileError, match=r"venue\.json:2:\d+: not valid JSON"):
        load_profile(path)
