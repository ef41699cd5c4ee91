"""Bybit, OKX and ccxt exports of the same hedge scenario as the Binance fixtures, and their sign quirks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from audit_helpers import FIXTURES, run
from hedgespec.audit.engine import audit_file
from hedgespec.spec.profiles import load_profile

SCENARIOS = {
    "bybit": ["--user-trades", "bybit/execution_list_hedge.json", "--positions", "bybit/position_list_hedge.json",
              "--income", "bybit/transaction_log.json"],
    "okx": ["--user-trades", "okx/fills_hedge.json", "--positions", "okx/positions_hedge.json",
            "--income", "okx/bills_funding.json", "--contract-size", "BTC-USDT-SWAP=0.01"],
    "ccxt": ["--user-trades", "ccxt/trades_binanceusdm.json", "--positions", "ccxt/positions_hedged.json",
             "--income", "ccxt/funding_history.json"],
}


def _import(tmp_path: Path, venue: str, extra: list[str] | None = None, files: dict[str, Path] | None = None) -> Path:
    argv = ["import", venue]
    for item in SCENARIOS[venue]:
        argv.append(str(files.get(item, FIXTURES / item)) if files and item in files else
                    (str(FIXTURES / item) if "/" in item else item))
    out = tmp_path / f"{venue}.jsonl"
    argv += ["--opening-flat", "--mode", "HEDGE", "-o", str(out)] + (extra or [])
    assert run(argv) == 0
    return out


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("venue", sorted(SCENARIOS))
def test_same_scenario_is_clean_on_every_venue(tmp_path: Path, venue: str) -> None:
    result = audit_file(_import(tmp_path, venue), load_profile("seed"))
    assert result.findings == []
    assert result.summary["records_rejected"] == 0
    for rule_id in ("HM-POS-002", "HM-POS-001", "HM-POS-004", "HM-FEE-001", "HM-NET-001"):
        assert result.decided_by_rule.get(rule_id, 0) >= 1, (venue, rule_id)
    if venue == "bybit":  # the SETTLEMENT rows carry the funding rate and mark price: both legs are checked
        assert result.decided_by_rule["HM-FUND-001"] == 2
        assert result.undecided == []
    else:  # no funding-rate history in these exports: not decidable, with what would decide it
        assert [(u.rule_id, u.count) for u in result.undecided] == [("HM-FUND-001", 2)]


def test_legs_and_quantities_agree_across_venues(tmp_path: Path) -> None:
    shapes = {}
    for venue in SCENARIOS:
        fills = [r for r in _records(_import(tmp_path, venue)) if r["type"] == "fill"]
        shapes[venue] = [(r["side"], r["position_side"], r["quantity"].rstrip("0"), r["fee"].rstrip("0"))
                         for r in fills]
    assert shapes["bybit"] == shapes["okx"] == shapes["ccxt"]
    assert shapes["okx"][0] == ("BUY", "LONG", "0.01", "0.12")


def test_okx_fee_sign_is_flipped_and_short_pos_is_positive(tmp_path: Path) -> None:
    records = _records(_import(tmp_path, "okx"))
    raw = json.loads((FIXTURES / "okx/fills_hedge.json").read_text())["data"][0]
    assert raw["fee"] == "-0.12"
    assert next(r for r in records if r["type"] == "fill")["fee"] == "0.12"
    short = next(r for r in records if r["type"] == "position" and r["position_side"] == "SHORT")
    assert short["quantity"] == "0.025"  # pos "2.5" contracts x ctVal 0.01


def test_okx_negative_pos_on_a_short_row_is_an_error(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    doc = json.loads((FIXTURES / "okx/positions_hedge.json").read_text())
    doc["data"][1]["pos"] = "-2.5"
    bad = tmp_path / "positions.json"
    bad.write_text(json.dumps(doc, indent=2))
    argv = ["import", "okx", "--user-trades", str(FIXTURES / "okx/fills_hedge.json"), "--positions", str(bad),
            "--contract-size", "BTC-USDT-SWAP=0.01", "-o", str(tmp_path / "o.jsonl")]
    assert run(argv) == 2
    # the row inside the {"data": [...]} wrapper is named by the line it starts on
    lines = bad.read_text().splitlines()
    starts = [n for n, text in enumerate(lines, 1) if text == "    {"]
    assert f"positions.json:{starts[1]}: pos -2.5 is negative on a short row" in capsys.readouterr().err


def test_bybit_leg_from_closed_size_and_position_idx(tmp_path: Path) -> None:
    records = _records(_import(tmp_path, "bybit"))
    fills = [r for r in records if r["type"] == "fill"]
    assert [(f["side"], f["position_side"], f.get("closed_quantity")) for f in fills] == [
        ("BUY", "LONG", "0"), ("SELL", "SHORT", "0"), ("BUY", "LONG", "0"), ("SELL", "LONG", "0.015"),
        ("BUY", "SHORT", "0.005")]
    funding = [r for r in records if r["type"] == "funding"]
    assert [(f["position_side"], f["amount"]) for f in funding] == [("LONG", "-0.0603"), ("SHORT", "0.09045")]


def test_bybit_partial_closed_size_is_kept_for_the_audit(tmp_path: Path) -> None:
    doc = json.loads((FIXTURES / "bybit/execution_list_hedge.json").read_text())
    doc["result"]["list"][3]["closedSize"] = "0.010"  # reports less closed than executed
    path = tmp_path / "executions.json"
    path.write_text(json.dumps(doc))
    out = _import(tmp_path, "bybit", files={"bybit/execution_list_hedge.json": path})
    assert audit_file(out, load_profile("seed")).findings_by_rule == {"HM-ORD-002": 1}


def test_bybit_side_contradicting_position_idx_is_an_error(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    doc = json.loads((FIXTURES / "bybit/position_list_hedge.json").read_text())
    doc["result"]["list"][0]["side"] = "Sell"
    bad = tmp_path / "positions.json"
    bad.write_text(json.dumps(doc))
    argv = ["import", "bybit", "--user-trades", str(FIXTURES / "bybit/execution_list_hedge.json"),
            "--positions", str(bad), "-o", str(tmp_path / "b.jsonl")]
    assert run(argv) == 2
    assert "side 'Sell' contradicts positionIdx 1 (LONG)" in capsys.readouterr().err


def test_ccxt_trade_without_a_leg_is_not_guessed(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    trades = json.loads((FIXTURES / "ccxt/trades_binanceusdm.json").read_text())
    del trades[0]["info"]["positionSide"]
    path = tmp_path / "trades.json"
    path.write_text(json.dumps(trades, indent=2))
    out = tmp_path / "c.jsonl"
    assert run(["import", "ccxt", "--user-trades", str(path), "--contract-size", "BTC/USDT:USDT=1", "-o",
                str(out)]) == 2
    assert "cannot tell the leg" in capsys.readouterr().err
    assert len([r for r in _records(out) if r["type"] == "fill"]) == 4


def test_ccxt_json_numbers_are_read_exactly(tmp_path: Path) -> None:
    records = _records(_import(tmp_path, "ccxt"))
    assert [r["amount"] for r in records if r["type"] == "funding"] == ["-0.0603", "0.09045"]
    assert all("e" not in r["price"].lower() for r in records if r["type"] == "fill")


@pytest.mark.parametrize("venue", sorted(SCENARIOS) + ["binance"])
def test_fuzzed_venue_rows_give_row_errors_not_crashes(tmp_path: Path, venue: str) -> None:
    import random

    from hedgespec.audit.engine import audit_file

    rng = random.Random(sum(map(ord, venue)))
    source = {"binance": "binance/userTrades_hedge_clean.json", "bybit": "bybit/execution_list_hedge.json",
              "okx": "okx/fills_hedge.json", "ccxt": "ccxt/trades_binanceusdm.json"}[venue]
    doc = json.loads((FIXTURES / source).read_text())
    rows = doc if isinstance(doc, list) else doc.get("data") or doc["result"]["list"]
    values = [None, True, -1, 1.5, "", "x", "1e400", "NaN", "-0", [], {}, "LONG", "Sell", "9" * 30]
    # every text a fuzzed instrument can take has a contract size, so the import always writes a trace
    sizes = [f"--contract-size={v}=1" for v in values if isinstance(v, str) and v]
    sizes += ["--contract-size", "BTC-USDT-SWAP=0.01", "--contract-size", "BTC/USDT:USDT=1"]
    for attempt in range(8):
        for row in rows:
            key = rng.choice(list(row))
            row[key] = rng.choice(values)
        path = tmp_path / f"{venue}-{attempt}.json"
        path.write_text(json.dumps(doc))
        out = tmp_path / f"{venue}-{attempt}.jsonl"
        extra = sizes if venue in ("okx", "ccxt") else []
        assert run(["import", venue, "--user-trades", str(path), "--opening-flat", "-o", str(out), *extra]) in (0, 2)
        result = audit_file(out, load_profile("seed"))
        assert result.summary["records_rejected"] == 0  # what the importer writes is always a valid trace
