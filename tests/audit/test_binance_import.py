"""Binance USDⓈ-M exports (fixtures written from the documented example responses) through import and audit."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from audit_helpers import FIXTURES, run
from hedgespec.audit.engine import audit_file
from hedgespec.spec.profiles import load_profile

B = FIXTURES / "binance"


def trace_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_documentation_sample_fill_is_an_opening_fill_with_realized_pnl(tmp_path: Path) -> None:
    out = tmp_path / "doc.jsonl"
    assert run(["import", "binance", "--user-trades", str(B / "userTrades_doc_sample.json"), "--opening-flat",
                "--mode", "HEDGE", "-o", str(out)]) == 0
    records = trace_lines(out)
    fill = records[2]
    assert fill["type"] == "fill" and fill["position_side"] == "SHORT" and fill["side"] == "SELL"
    assert fill["fee"] == "-0.07819010"  # the sample's negative commission is a rebate: a negative fee
    assert fill["src"] == {"file": "userTrades_doc_sample.json", "id": "BTCUSDT:698759", "line": 2, "index": 0}
    notes = {n["what"] for n in records[0]["notes"]}
    assert "fills with a negative commission (a rebate): carried as a negative fee" in notes
    result = audit_file(out, load_profile("seed"))
    assert result.findings_by_rule == {"HM-NET-001": 1}
    assert result.findings[0].observed == "-0.91539999"
    assert result.findings[0].evidence[0]["source"] == "userTrades_doc_sample.json:2[0]"


def test_position_risk_sample_signs_and_unrealized_pnl(tmp_path: Path) -> None:
    out = tmp_path / "pos.jsonl"
    assert run(["import", "binance", "--user-trades", str(B / "userTrades_doc_sample.json"),
                "--positions", str(B / "positionRisk_v3_hedge_sample.json"), "-o", str(out)]) == 0
    rows = [r for r in trace_lines(out) if r["type"] == "position"]
    assert {(r["instrument"], r["position_side"], r["quantity"]) for r in rows} == {
        ("ADAUSDT", "LONG", "30"), ("COMPUSDT", "SHORT", "1.000")}
    result = audit_file(out, load_profile("seed"))
    # without an opening state the snapshots establish the legs; their own uPnL is consistent
    assert result.decided_by_rule["HM-POS-003"] == 2
    assert "HM-POS-003" not in result.findings_by_rule


def test_position_sign_contradicting_its_side_is_an_import_error(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    rows = json.loads((B / "positionRisk_v3_hedge_sample.json").read_text())
    rows[1]["positionAmt"] = "1.000"  # a SHORT row must be negative
    bad = tmp_path / "positionRisk.json"
    bad.write_text(json.dumps(rows, indent=2))
    out = tmp_path / "t.jsonl"
    code = run(["import", "binance", "--user-trades", str(B / "userTrades_doc_sample.json"),
                "--positions", str(bad), "-o", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert "positionRisk.json:24: positionAmt 1.000 has the wrong sign for a SHORT row" in err
    assert len([r for r in trace_lines(out) if r["type"] == "position"]) == 1  # the other row still imported


def _import_scenario(tmp_path: Path, variant: str) -> Path:
    out = tmp_path / f"{variant}.jsonl"
    code = run(["import", "binance", "--user-trades", str(B / f"userTrades_hedge_{variant}.json"),
                "--income", str(B / f"income_hedge_{variant}.json"), "--positions", str(B / "positionRisk_end.json"),
                "--funding-rates", str(B / "fundingRate.json"), "--requests", str(B / f"requests_{variant}.jsonl"),
                "--opening-flat", "--mode", "ONE_WAY", "-o", str(out)])
    assert code == 0
    return out


def test_clean_hedge_scenario_has_no_findings(tmp_path: Path) -> None:
    out = _import_scenario(tmp_path, "clean")
    result = audit_file(out, load_profile("seed"))
    assert result.findings == [] and result.undecided == []
    assert result.summary["records_rejected"] == 0
    for rule_id in ("HM-POS-002", "HM-FUND-001", "HM-FUND-002", "HM-FEE-001", "HM-MODE-002", "HM-POS-004"):
        assert result.decided_by_rule[rule_id] >= 1
    inputs = {i["file"]: i["sha256"] for i in result.provenance["inputs"]}
    assert inputs["userTrades_hedge_clean.json"] == hashlib.sha256(
        (B / "userTrades_hedge_clean.json").read_bytes()).hexdigest()
    assert result.provenance["trace_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert run(["audit", str(out)]) == 0


def test_violating_hedge_scenario_is_found_with_evidence(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = _import_scenario(tmp_path, "bad")
    assert run(["audit", str(out), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["findings_by_rule"] == {"HM-FUND-002": 1, "HM-MODE-002": 2, "HM-NET-001": 1, "HM-POS-002": 1}
    pnl = next(f for f in report["findings"] if f["rule_id"] == "HM-POS-002")
    assert pnl["expected"] == "3" and pnl["observed"] == "0.3"
    assert pnl["evidence"][0]["record_id"] == "BTCUSDT:1004"
    assert pnl["evidence"][0]["source"].startswith("userTrades_hedge_bad.json:")


def test_rejections_keep_the_venue_code(tmp_path: Path) -> None:
    out = _import_scenario(tmp_path, "clean")
    orders = [r for r in trace_lines(out) if r["type"] == "order"]
    assert [(o["outcome"], o.get("code")) for o in orders] == [("rejected", "-4061"), ("accepted", None)]
    result = audit_file(out, load_profile("seed"))
    assert result.summary["venue_codes_seen"] == {"-4061": 1}


def test_unreadable_venue_file_is_a_clear_error(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    bad = tmp_path / "userTrades.json"
    bad.write_text('[\n  {"id": 1},\n  {"id": 2,,}\n]\n')
    assert run(["import", "binance", "--user-trades", str(bad), "-o", str(tmp_path / "x.jsonl")]) == 2
    assert "userTrades.json:3:" in capsys.readouterr().err


def test_missing_fields_and_unknown_fields_are_reported(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    rows = json.loads((B / "userTrades_hedge_clean.json").read_text())
    del rows[1]["price"]
    rows[2]["brandNewField"] = "?"
    path = tmp_path / "userTrades.json"
    path.write_text(json.dumps(rows, indent=2))
    out = tmp_path / "t.jsonl"
    assert run(["import", "binance", "--user-trades", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "missing field 'price'" in err and "userTrades.json:" in err
    assert "unknown userTrades field 'brandNewField'" in err
    meta = trace_lines(out)[0]
    assert {"what": "rows not imported (see errors)", "count": 1} in meta["notes"]


@pytest.mark.parametrize("fmt, marker", [("--markdown", "# hedgespec audit report"), ("--json", '"provenance"')])
def test_reports_are_deterministic(tmp_path: Path, capsys, fmt: str, marker: str) -> None:  # noqa: ANN001
    out = _import_scenario(tmp_path, "bad")
    run(["audit", str(out), fmt])
    first = capsys.readouterr().out
    run(["audit", str(out), fmt])
    assert capsys.readouterr().out == first
    assert marker in first


def test_declared_opening_and_balances_reconcile(tmp_path: Path) -> None:
    out = tmp_path / "open.jsonl"
    argv = ["import", "binance", "--user-trades", str(B / "userTrades_close_declared.json"),
            "--opening-positions", str(B / "positionRisk_start.json"), "--balances", str(B / "balance_start.json"),
            "--balances", str(B / "balance_end.json"), "--ledger-complete", "-o", str(out)]
    assert run(argv) == 0
    records = trace_lines(out)
    opening = records[1]
    assert opening["t"] == 1699999990000 and opening["position_mode"] == "HEDGE" and opening["complete"]
    assert opening["legs"] == [{"instrument": "BTCUSDT", "position_side": "LONG", "quantity": "0.020",
                                "entry_price": "29950.5"}]
    result = audit_file(out, load_profile("seed"))
    assert result.findings == []
    assert result.decided_by_rule["HM-POS-002"] == 1 and result.decided_by_rule["HM-LEDG-001"] == 1
    # a wallet that moved by more than the fills explain is a ledger finding
    end = json.loads((B / "balance_end.json").read_text())
    end["response"][0]["balance"] = "1003.74920000"
    moved = tmp_path / "balance_end.json"
    moved.write_text(json.dumps(end))
    argv[argv.index(str(B / "balance_end.json"))] = str(moved)
    assert run(argv) == 0
    assert audit_file(out, load_profile("seed")).findings_by_rule == {"HM-LEDG-001": 1}
