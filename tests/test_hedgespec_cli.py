"""The ``hedgespec`` command line: examples run and show what their titles claim; bad input is named."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from hedgespec import __version__
from hedgespec.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
EXAMPLE_NAMES = sorted(p.name for p in EXAMPLES.glob("*.json"))


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def simulate(name: str, capsys: pytest.CaptureFixture[str], *extra: str) -> list[dict[str, Any]]:
    """The step records of an example run with --json (and ``extra`` arguments)."""
    code, out, err = run(["simulate", str(EXAMPLES / name), "--json", *extra], capsys)
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["type"] == "scenario" and lines[-1]["type"] == "end"
    steps = [line for line in lines if line["type"] == "step"]
    assert len(steps) == lines[0]["steps"]
    return steps


def row(record: dict[str, Any], account: str, instrument: str, side: str) -> dict[str, Any]:
    return record["accounts"][account]["positions"][instrument][side]


def events(record: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in record["outcome"]["events"] if e["type"] == kind]


def total(entries: list[dict[str, Any]], field: str = "amount") -> Decimal:
    return sum((Decimal(e[field]) for e in entries), Decimal(0))


# --- the examples ------------------------------------------------------------------------------

def test_every_expected_example_is_present() -> None:
    expected = {"hedge_round_trip.json", "funding_equal_legs.json", "mode_switch.json", "one_way_netting.json",
                "isolated_liquidation.json", "partial_liquidation.json", "cross_hedged.json", "cross_offset.json",
                "trailing_stops.json", "expiry.json"}
    assert expected <= set(EXAMPLE_NAMES)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_runs_as_text(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["simulate", str(EXAMPLES / name)], capsys)
    assert code == 0, err
    assert err == ""
    assert "step 1 " in out and "Traceback" not in out


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_numbers_are_decimal_strings(name: str) -> None:
    def walk(value: Any, where: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{where}.{key}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{where}[{i}]")
        else:
            assert not isinstance(value, float), where
            if isinstance(value, int) and not isinstance(value, bool):
                assert where.endswith(".t"), f"{where}: a JSON number outside t"

    walk(json.loads((EXAMPLES / name).read_text()), name)


def test_hedge_round_trip_closes_one_leg_only(capsys: pytest.CaptureFixture[str]) -> None:
    steps = simulate("hedge_round_trip.json", capsys)
    assert all(s["outcome"]["kind"] == "accepted" for s in steps)
    opened = steps[1]
    assert row(opened, "alice", "BTCUSDT", "LONG")["quantity"] == "0.1"
    assert row(opened, "alice", "BTCUSDT", "SHORT")["quantity"] == "-0.1"
    assert [f["fee"] for s in steps[:2] for f in events(s, "fill")] == ["3", "3"]
    fill_step = next(s for s in steps if s["action"]["kind"] == "market_trade")
    (fill,) = events(fill_step, "fill")
    assert (fill["position_side"], fill["liquidity"], fill["fee"], fill["realized_pnl"]) == \
        ("LONG", "MAKER", "1.22", "100")
    last = steps[-1]
    assert row(last, "alice", "BTCUSDT", "LONG")["quantity"] == "0"
    assert row(last, "alice", "BTCUSDT", "LONG")["realized_pnl"] == "100"
    short = row(last, "alice", "BTCUSDT", "SHORT")
    assert (short["quantity"], short["entry_price"], short["realized_pnl"]) == ("-0.1", "60000", "0")


def test_funding_equal_legs_cancels_in_total(capsys: pytest.CaptureFixture[str]) -> None:
    steps = simulate("funding_equal_legs.json", capsys)
    funding_steps = [s for s in steps if s["action"]["kind"] == "funding"]
    assert len(funding_steps) == 2
    for record in funding_steps:
        assert record["outcome"]["kind"] == "accepted"
        entries = [e for e in record["ledger"] if e["kind"] == "FUNDING"]
        assert sorted(e["position_side"] for e in entries) == ["LONG", "SHORT"]
        assert total(entries) == 0 and all(Decimal(e["amount"]) != 0 for e in entries)
    first = {e["position_side"]: e["amount"] for e in funding_steps[0]["ledger"]}
    assert first == {"LONG": "-0.6", "SHORT": "0.6"}


def test_mode_switch_refused_with_position_then_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    steps = simulate("mode_switch.json", capsys)
    switches = [s for s in steps if s["action"]["kind"] == "set_position_mode"]
    first, last = switches[0], switches[-1]
    assert first["outcome"]["kind"] == "rejected"
    assert first["outcome"]["reason"] == "MODE_SWITCH_WITH_POSITIONS"
    assert first["accounts"]["alice"]["position_mode"] == {"*": "HEDGE"}
    assert [s["outcome"]["reason"] for s in switches[1:-1]] == ["MODE_SWITCH_WITH_OPEN_ORDERS"]
    assert last["outcome"]["kind"] == "accepted"
    assert last["accounts"]["alice"]["position_mode"] == {"*": "ONE_WAY"}
    assert set(last["accounts"]["alice"]["positions"]["BTCUSDT"]) == {"BOTH"}
    assert row(steps[-1], "alice", "BTCUSDT", "BOTH")["quantity"] == "0.1"


def test_one_way_nets_and_flips_while_hedge_keeps_legs(capsys: pytest.CaptureFixture[str]) -> None:
    steps = simulate("one_way_netting.json", capsys)
    assert all(s["outcome"]["kind"] == "accepted" for s in steps)
    quantities = [row(s, "oneway", "BTCUSDT", "BOTH")["quantity"] for s in steps
                  if s["action"].get("account") == "oneway"]
    assert quantities == ["0.1", "0.05", "-0.1"]
    last = steps[-1]
    assert row(last, "oneway", "BTCUSDT", "BOTH")["realized_pnl"] == "75"
    assert row(last, "hedged", "BTCUSDT", "LONG")["quantity"] == "0.1"
    assert row(last, "hedged", "BTCUSDT", "SHORT")["quantity"] == "-0.2"
    assert {row(last, "hedged", "BTCUSDT", side)["realized_pnl"] for side in ("LONG", "SHORT")} == {"0"}


def test_isolated_liquidation_takes_the_long_leg_only(capsys: pytest.CaptureFixture[str]) -> None:
    steps = simulate("isolated_liquidation.json", capsys)
    liquidating = [s for s in steps if events(s, "liquidation")]
    assert len(liquidating) == 1
    record = liquidating[0]
    assert record["action"] == {"t": record["action"]["t"], "kind": "mark_price", "instrument": "BTCUSDT",
                                "price": "57200"}
    assert [e["position_side"] for e in events(record, "liquidation")] == ["LONG"]
    before = steps[steps.index(record) - 1]
    assert row(before, "alice", "BTCUSDT", "LONG")["quantity"] == "0.1"  # survived 57300
    assert row(record, "alice", "BTCUSDT", "LONG")["quantity"] == "0"
    short_before, short_after = row(before, "alice", "BTCUSDT", "SHORT"), row(record, "alice", "BTCUSDT", "SHORT")
    for field in ("quantity", "cost_basis", "isolated_margin", "realized_pnl", "fees_paid", "funding"):
        assert short_before[field] == short_after[field], field
    assert before["accounts"]["alice"]["wallet"] == record["accounts"]["alice"]["wallet"]
    assert all(e["bucket"] != "wallet" for e in record["ledger"])
    assert Decimal(record["insurance_fund"]) > Decimal(before["insurance_fund"])
    assert row(steps[-1], "alice", "BTCUSDT", "SHORT")["quantity"] == "-0.1"


def test_partial_liquidation_reduces_under_its_profile_and_closes_under_the_seed(
        capsys: pytest.CaptureFixture[str]) -> None:
    """The example's title claim, both ways (numbers derived in tests/test_partial_liquidation.py)."""
    def long_fills(steps: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return [(f["quantity"], f["price"]) for s in steps for f in events(s, "fill") if f["cause"] == "liquidation"]

    partial = simulate("partial_liquidation.json", capsys, "--profile",
                       str(EXAMPLES / "profiles" / "partial-by-bracket.json"))
    assert long_fills(partial) == [("1.126", "57200"), ("0.874", "56900")]
    assert row(partial[-1], "alice", "BTCUSDT", "SHORT")["quantity"] == "-2"
    assert long_fills(simulate("partial_liquidation.json", capsys)) == [("2", "57200")]


def test_cross_offset_offsets_under_its_profile_and_closes_the_pool_under_the_seed(
        capsys: pytest.CaptureFixture[str]) -> None:
    """The example's claim, both ways (numbers derived in tests/test_cross_offset.py)."""
    def fills(steps: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
        return [(f["position_side"], f["quantity"], f["price"]) for s in steps for f in events(s, "fill")
                if f["cause"] == "liquidation"]

    offset = simulate("cross_offset.json", capsys, "--profile",
                      str(EXAMPLES / "profiles" / "offset-hedged-first.json"))
    assert fills(offset) == [("LONG", "0.1", "55400"), ("SHORT", "0.1", "55400"), ("LONG", "0.2", "55200")]
    assert offset[-1]["accounts"]["alice"]["wallet"] == "28"
    seed = simulate("cross_offset.json", capsys)
    assert fills(seed) == [("LONG", "0.3", "55400"), ("SHORT", "0.1", "55400")]
    assert seed[-1]["accounts"]["alice"]["wallet"] == "68"


def test_cross_hedged_legs_share_a_liquidation_price(capsys: pytest.CaptureFixture[str]) -> None:
    steps = simulate("cross_hedged.json", capsys)
    assert all(s["outcome"]["kind"] == "accepted" for s in steps)
    assert not any(events(s, "liquidation") for s in steps)
    both_open = [s for s in steps if row(s, "alice", "BTCUSDT", "SHORT")["quantity"] != "0"]
    assert both_open
    for record in both_open:
        long_row, short_row = row(record, "alice", "BTCUSDT", "LONG"), row(record, "alice", "BTCUSDT", "SHORT")
        assert long_row["margin_type"] == short_row["margin_type"] == "CROSS"
        assert long_row["liquidation_price"] is not None
        assert long_row["liquidation_price"] == short_row["liquidation_price"]
    assert steps[-1]["mark_prices"]["BTCUSDT"] == "57000"  # below where the isolated LONG leg was liquidated


def test_trailing_stops_fire_each_on_its_own_leg(capsys: pytest.CaptureFixture[str]) -> None:
    steps = simulate("trailing_stops.json", capsys)
    assert all(s["outcome"]["kind"] == "accepted" for s in steps)
    fired = [(i, e) for i, s in enumerate(steps) for e in events(s, "fill") if e["cause"] == "trigger"]
    assert [(e["position_side"], e["side"], e["price"]) for _, e in fired] == \
        [("LONG", "SELL", "61380"), ("SHORT", "BUY", "59085")]
    long_step, short_step = fired[0][0], fired[1][0]
    assert long_step < short_step
    assert row(steps[long_step], "alice", "BTCUSDT", "SHORT")["quantity"] == "-0.1"
    assert row(steps[long_step], "alice", "BTCUSDT", "LONG")["quantity"] == "0"
    assert row(steps[-1], "alice", "BTCUSDT", "SHORT")["quantity"] == "0"
    assert steps[-1]["accounts"]["alice"]["open_orders"] == {}


def test_expiry_settles_each_leg(capsys: pytest.CaptureFixture[str]) -> None:
    steps = simulate("expiry.json", capsys)
    (expiry,) = [s for s in steps if s["action"]["kind"] == "expire"]
    fills = [e for e in events(expiry, "fill") if e["cause"] == "settlement"]
    assert sorted((f["position_side"], f["realized_pnl"]) for f in fills) == [("LONG", "150"), ("SHORT", "-75")]
    assert [e["status"] for e in events(expiry, "order")] == ["CANCELLED"]
    assert steps[-1]["outcome"]["reason"] == "INSTRUMENT_EXPIRED"


# --- bad scenario files --------------------------------------------------------------------------

GOOD_ACTION = {"t": 1, "kind": "mark_price", "instrument": "BTCUSDT", "price": "60000"}


def scenario_document(**overrides: Any) -> dict[str, Any]:
    base = json.loads((EXAMPLES / "hedge_round_trip.json").read_text())
    base.update(overrides)
    return base


def write(tmp_path: Path, content: Any, name: str = "bad.json") -> str:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content, indent=2))
    return str(path)


def fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code, out, err = run(argv, capsys)
    assert code == 2
    assert out == ""
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    return err.strip()


def test_json_syntax_error_names_line_and_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, '{\n  "scenario_format": "1",\n  "title": oops\n}\n')
    assert f"{path}:3:12: not valid JSON" in fails(["simulate", path], capsys)


def test_a_key_given_twice_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = json.dumps(scenario_document())
    path = write(tmp_path, '{"title": "first", ' + text[1:])
    assert f"{path}: not valid JSON: key 'title' appears twice in one object" in fails(["simulate", path], capsys)


def test_deep_nesting_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "[" * 100_000 + "]" * 100_000)
    assert f"{path}: not valid JSON: nested too deeply" in fails(["simulate", path], capsys)


def test_a_5000_digit_number_is_refused_at_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = json.dumps(scenario_document(), indent=2).replace('"title": ', '"title": ' + "1" * 5000 + ", \"x\": ", 1)
    path = write(tmp_path, text)
    line = text[:text.index("1" * 5000)].count("\n") + 1
    err = fails(["simulate", path], capsys)
    assert f"{path}:{line}:12: not valid JSON: a number of 5000 digits (at most 4300)" in err


def test_a_profile_file_with_a_5000_digit_number_is_refused(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, '{"name": "mine",\n "extends": ' + "9" * 5000 + "}", "profile.json")
    err = fails(["simulate", str(EXAMPLES / "hedge_round_trip.json"), "--profile", path], capsys)
    assert f"{path}:2:13: not valid JSON: a number of 5000 digits" in err


def test_an_over_long_number_is_placed_at_the_integer_not_a_string_or_a_float(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the digits were once searched for anywhere: inside a string (1:11) or a float that reads fine (1:2, "5000")
    ones, twos = "1" * 5000, "2" * 5000
    for text, at, digits in ((f'{{"s": "x, {ones}", "n": {twos}}}', twos, 5000),
                             (f"[{ones}.5, 2{ones}]", "2", 5001),
                             (f'[-{ones}e5, 1.{ones}, "\\\\", -3{ones}]', "-3", 5001)):
        path = write(tmp_path, text)
        column = text.index(at) + 1
        assert fails(["simulate", path], capsys) == (f"hedgespec simulate: {path}:1:{column}: not valid JSON: a number "
                                                     f"of {digits} digits (at most 4300)")


def test_a_lone_surrogate_in_bytes_or_text_is_refused() -> None:
    from hedgespec import jsonio

    for blob in (b'{"a":"\\ud800"}', '{"a":"\\ud800"}'.encode("utf-16")):  # bytes once skipped the check
        with pytest.raises(jsonio.JSONInputError, match="lone UTF-16 surrogate escape") as info:
            jsonio.loads(blob)
        assert (info.value.line, info.value.column) == (1, 7)
    with pytest.raises(jsonio.JSONInputError, match="^not valid UTF-8: byte 0xed at offset 6$"):
        jsonio.loads('{"a":"\ud800"}'.encode("utf-8", "surrogatepass"))  # json.loads decodes it to a lone surrogate
    assert jsonio.loads(b'["\\ud83d\\ude00", "\\\\ud800"]') == ["\U0001f600", "\\ud800"]
    for text, at in (('["\\ud83d\\ude00\\ude00"]', 14), ('["\\\\\\ud800"]', 4), ('["\\udbff\\ud800"]', 2),
                     ('{"\\udc00": 1}', 2), ('["\\\\ud800", "\\ud83d\\u0041"]', 13)):
        assert jsonio.lone_surrogate_at(text) == at, text
    assert jsonio.lone_surrogate_in(json.loads('{"a": [1, {"\\udc00": 2}]}')) == "a[1].<key>"
    assert jsonio.lone_surrogate_in({"a": ["ok", "\U0001f600", "b\ud800"]}) == "a[2]"
    assert jsonio.lone_surrogate_in("\ud800") == "" and jsonio.lone_surrogate_in("\U0001f600") is None
    from hedgespec.names import text_name

    assert text_name("a\ud800.json") == "a?.json"  # a surrogate no file system gives: shown, not a crash
    # 1.2 million escaped emoji: one regular expression over the whole text (the loop per escape it replaces took
    # 0.8 s on 9.6 MB)
    text = json.dumps(["\U0001f600" * 3] * 200_000)
    assert jsonio.lone_surrogate_at(text) is None and jsonio.lone_surrogate_at(text + '"\\ud800"') == len(text) + 1


def test_a_lone_surrogate_escape_is_refused_at_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # valid JSON grammar, but not Unicode text: printing the title or order ID to UTF-8 raised UnicodeEncodeError
    text = json.dumps(scenario_document(), indent=2).replace('"open-long"', '"open-\\ud800"', 1)
    path = write(tmp_path, text)
    line = text[:text.index("\\ud800")].count("\n") + 1
    column = text.index("\\ud800") - text.rfind("\n", 0, text.index("\\ud800"))
    err = fails(["simulate", path, "--json"], capsys)
    assert err == (f"hedgespec simulate: {path}:{line}:{column}: not valid JSON: \\ud800 is a lone UTF-16 surrogate "
                   "escape (not Unicode text)")
    paired = write(tmp_path, text.replace("\\ud800", "\\ud83d\\ude00"), "pair.json")  # a pair is one character
    code, out, _ = run(["simulate", paired, "--json"], capsys)
    assert code == 0 and "open-\U0001f600" in out


def test_a_file_name_that_is_not_utf8_is_printed_as_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import os

    path = tmp_path / os.fsdecode(b"\xff.json")  # "\udcff.json": no strict UTF-8 stream could print it
    path.write_bytes((EXAMPLES / "hedge_round_trip.json").read_bytes())
    code, out, _ = run(["simulate", str(path), "--json"], capsys)
    assert code == 0
    out.encode("utf-8")
    assert json.loads(out.splitlines()[0])["file"] == str(tmp_path / "\ufffd.json")


def test_a_path_too_long_for_the_system_is_an_input_error(capsys: pytest.CaptureFixture[str]) -> None:
    name = "a" * 5000  # ENAMETOOLONG from stat(): one line, exit 2, not a traceback
    assert fails(["simulate", name], capsys) == f"hedgespec simulate: {name}: cannot read: File name too long"
    err = fails(["simulate", str(EXAMPLES / "hedge_round_trip.json"), "--profile", name], capsys)
    assert err.startswith(f"hedgespec simulate: {name}: cannot read: File name too long")


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(tmp_path / "absent.json")
    assert f"{path}: no such file" in fails(["simulate", path], capsys)


@pytest.mark.parametrize(("drop", "message"), [
    ("title", "title: missing"),
    ("params", "params: missing"),
    ("actions", "actions: missing"),
    ("scenario_format", "scenario_format: missing"),
])
def test_missing_top_level_field(drop: str, message: str, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    document = scenario_document()
    del document[drop]
    path = write(tmp_path, document)
    assert f"{path}: {message}" in fails(["simulate", path], capsys)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"scenario_format": "3"}, "scenario_format: expected '1' or '2', got '3'"),
    ({"title": 7}, "title: a string is required"),
    ({"actions": {}}, "actions: a JSON list is required"),
    ({"extra": 1}, "extra: unknown field"),
])
def test_malformed_top_level_field(overrides: dict[str, Any], message: str, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, scenario_document(**overrides))
    assert f"{path}: {message}" in fails(["simulate", path], capsys)


def test_not_an_object(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, [1, 2])
    assert f"{path}: a scenario is a JSON object" in fails(["simulate", path], capsys)


@pytest.mark.parametrize(("action", "message"), [
    ({**GOOD_ACTION, "kind": "place_order", "account": "alice", "order_id": "x", "side": "BUY",
      "position_side": "LONG", "order_type": "MARKET", "quantity": 0.1}, "step 3: quantity: expected a decimal string"),
    ({**GOOD_ACTION, "price": "sixty"}, "step 3: price: not a decimal string"),
    ({**GOOD_ACTION, "price": "60000.000000001"}, "step 3: price: '60000.000000001' has more decimals"),
    ({**GOOD_ACTION, "kind": "teleport"}, "step 3: kind: unknown action kind 'teleport'"),
    ({**GOOD_ACTION, "colour": "red"}, "step 3: colour: not a field of mark_price"),
    ({"kind": "mark_price", "instrument": "BTCUSDT", "price": "1"}, "step 3: t: missing"),
    ("mark_price", "step 3: an action is a JSON object"),
])
def test_malformed_action_names_step_and_field(action: Any, message: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    document = scenario_document()
    document["actions"] = [GOOD_ACTION, GOOD_ACTION, action, GOOD_ACTION]
    path = write(tmp_path, document)
    assert f"{path}: {message}" in fails(["simulate", path], capsys)


def test_bad_params_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = scenario_document()
    document["params"]["instruments"][0]["tick_size"] = 0.1
    path = write(tmp_path, document)
    assert f"{path}: params: instruments[0]: tick_size: expected a decimal string" in fails(["simulate", path],
                                                                                             capsys)


def test_unknown_profile(capsys: pytest.CaptureFixture[str]) -> None:
    err = fails(["simulate", str(EXAMPLES / "hedge_round_trip.json"), "--profile", "no-such-venue"], capsys)
    assert "no-such-venue: no such profile file" in err


def test_profile_option_overrides_params(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["simulate", str(EXAMPLES / "hedge_round_trip.json"), "--json", "--profile", "binance-usdm"],
                       capsys)
    assert code == 0
    assert json.loads(out.splitlines()[0])["profile"] == "binance-usdm"


def test_rejected_action_is_reported_not_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = scenario_document(actions=[
        {"t": 1, "kind": "withdraw", "account": "alice", "amount": "1000000"},
        GOOD_ACTION,
    ])
    path = write(tmp_path, document)
    code, out, err = run(["simulate", path], capsys)
    assert code == 0 and err == ""
    assert "REJECTED INSUFFICIENT_BALANCE" in out
    assert "step 2 " in out


# --- the other commands ---------------------------------------------------------------------------

def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert __version__ in capsys.readouterr().out


@pytest.mark.parametrize("argv", [[], ["no-such-command"], ["simulate"], ["simulate", "x.json", "--bogus"]])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    assert "usage:" in capsys.readouterr().err


def test_profiles(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["profiles"], capsys)
    assert code == 0 and "seed" in out
    code, out, _ = run(["profiles", "--json"], capsys)
    assert code == 0
    names = [p["name"] for p in json.loads(out)["profiles"]]
    assert names[0] == "seed" and "binance-usdm" in names


def test_rules(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        import hedgespec.spec.rulebook  # noqa: F401
    except ImportError:
        code, _, err = run(["rules"], capsys)
        assert code == 1 and "not available" in err
        pytest.skip("hedgespec.spec.rulebook is not there yet")
    code, out, _ = run(["rules", "--json"], capsys)
    assert code == 0
    rules = json.loads(out)["rules"]
    assert rules and all({"id", "level", "kind", "title", "statement", "sources", "status", "digest"} <= set(r)
                         for r in rules)
    code, out, _ = run(["rules"], capsys)
    assert code == 0 and rules[0]["id"] in out


def test_unknown_profile_in_params(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = scenario_document()
    document["params"]["profile"] = "no-such-venue"
    path = write(tmp_path, document)
    assert f"{path}: params: profile: no-such-venue: no such profile file" in fails(["simulate", path], capsys)


def with_leg_settings(document: dict[str, Any], settings: Any) -> dict[str, Any]:
    accounts = document["params"]["accounts"]
    name = next(iter(accounts))
    accounts[name] = {**accounts[name], "leg_settings": settings}
    return document


def test_leg_settings_start_the_legs_in_format_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario format 2: a leg's margin type and leverage may be stated in the run parameters; the
    opened leg then carries them instead of the profile's defaults (ISOLATED, 20 under the seed)."""
    document = with_leg_settings(scenario_document(scenario_format="2"),
                                 {"BTCUSDT": {"LONG": {"margin_type": "CROSS", "leverage": "7"}}})
    code, out, err = run(["simulate", write(tmp_path, document, "settings.json"), "--json"], capsys)
    assert code == 0, err
    first = json.loads(out.splitlines()[1])
    legs = first["accounts"]["alice"]["positions"]["BTCUSDT"]
    assert (legs["LONG"]["margin_type"], legs["LONG"]["leverage"], legs["LONG"]["isolated_margin"]) == \
        ("CROSS", "7", "0")
    assert (legs["SHORT"]["margin_type"], legs["SHORT"]["leverage"]) == ("ISOLATED", "20")  # the seed's defaults


@pytest.mark.parametrize(("settings", "message"), [
    ({"BTCUSDT": {"LONG": {"margin_type": "CROSS"}}}, "leg_settings.BTCUSDT.LONG: leverage: missing"),
    ({"BTCUSDT": {"LONG": {"margin_type": "HALF", "leverage": "7"}}},
     "leg_settings.BTCUSDT.LONG: margin_type: ISOLATED or CROSS, got 'HALF'"),
    ({"BTCUSDT": {"LONG": {"margin_type": "CROSS", "leverage": "126"}}},
     "leg_settings.BTCUSDT.LONG: leverage: must be 1..125"),
    ({"ETHUSDT": {"LONG": {"margin_type": "CROSS", "leverage": "7"}}}, "leg_settings.ETHUSDT: unknown instrument"),
    ({"BTCUSDT": {"UP": {"margin_type": "CROSS", "leverage": "7"}}}, "leg_settings.BTCUSDT.UP: not a position side"),
])
def test_bad_leg_settings_are_named(settings: Any, message: str, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, with_leg_settings(scenario_document(scenario_format="2"), settings))
    assert message in fails(["simulate", path], capsys)


def test_leg_settings_need_format_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A format-1 file is still read, but not with a field format 1 did not have."""
    document = with_leg_settings(scenario_document(scenario_format="1"),
                                 {"BTCUSDT": {"LONG": {"margin_type": "CROSS", "leverage": "7"}}})
    path = write(tmp_path, document)
    assert f'{path}: params: accounts.alice: leg_settings: needs scenario_format "2"' in fails(["simulate", path],
                                                                                            capsys)
