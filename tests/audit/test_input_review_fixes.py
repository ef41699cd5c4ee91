"""Input review: the fused (msgspec) path refuses what the reference refuses; the ccxt and Binance importers
report malformed fields instead of dropping or defaulting them; an audit message never says ``None``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from audit_helpers import FIXTURES, both_paths, lines_of, meta, opening, rec, run, synth_lines
from hedgespec.audit.engine import audit_lines
from hedgespec.audit.report import render_text
from hedgespec.audit.trace import RECORD_TYPES
from hedgespec.spec.profiles import load_profile
from test_fast_path import edited, fast_report  # the late edits, and both paths checked equal

B = FIXTURES / "binance"
C = FIXTURES / "ccxt"


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def err_lines(err: str) -> list[str]:
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.strip()]


# ---------------------------------------------------------------- 1. the fused path refuses an empty order_id


def _binance_trace(tmp_path: Path) -> Path:
    out = tmp_path / "t.jsonl"
    assert run(["import", "binance", "--user-trades", str(B / "userTrades_hedge_clean.json"), "--opening-flat",
                "--mode", "HEDGE", "-o", str(out)]) == 0
    return out


def test_an_empty_order_id_is_rejected_by_the_fused_path_as_by_the_reference(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    pytest.importorskip("msgspec")
    trace = _binance_trace(tmp_path)
    text = trace.read_text()
    assert '"order_id":"6004"' in text
    trace.write_text(text.replace('"order_id":"6004"', '"order_id":""'))
    capsys.readouterr()
    code = run(["audit", "--profile", "seed", str(trace)])
    out = capsys.readouterr().out
    assert code == 2  # before: "VERDICT: no findings", exit 0 (the fused path took the fill)
    assert "t.jsonl:6: fill: order_id: expected a non-empty string, got str ''" in out
    lines = trace.read_bytes().splitlines(keepends=True)
    both_paths(lines)  # the fused and the reference paths give the same report


_FUSED_KINDS = ("fill", "funding", "position", "funding_rate", "balance")
# every field of every fused kind (and its src), set to values a string field of the reference may refuse; the
# record edited is late in the trace, where the fused paths take it (the differential test in test_fast_path.py
# edits an early fill, one that opens a fee-rate range and so takes the reference path anyway)
_LATE_EDITS = [(kind, field, value) for kind in _FUSED_KINDS for field in (*RECORD_TYPES[kind], "src.file", "src.id")
               for value in ("", None, 7)]


@pytest.mark.parametrize(("kind", "field", "value"), _LATE_EDITS)
def test_a_late_record_of_each_fused_kind_is_read_as_the_reference_reads_it(kind: str, field: str,
                                                                             value: object) -> None:
    lines, _ = synth_lines(600, seed=21, other_share=0.5)
    fast_report(edited(lines, kind, field, value, nth=30))


def test_the_late_edits_reach_the_fused_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unedited, the 30th record of each fused kind takes its fused path (so the edits above test that path)."""
    pytest.importorskip("msgspec")
    from hedgespec.audit.engine import Auditor
    from hedgespec.audit.numbers import local_audit_context

    taken: dict[str, set[int]] = {kind: set() for kind in _FUSED_KINDS}
    for kind in _FUSED_KINDS:
        method = getattr(Auditor, f"_{kind}_hot")

        def spy(self: Any, r: Any, number: int, _method: Any = method, _kind: str = kind) -> bool:
            ok = _method(self, r, number)
            if ok:
                taken[_kind].add(number)
            return ok

        monkeypatch.setattr(Auditor, f"_{kind}_hot", spy)
    lines, _ = synth_lines(600, seed=21, other_share=0.5)
    auditor = Auditor(load_profile("seed"))
    with local_audit_context():
        auditor.take(1, [line.rstrip(b"\n") for line in lines])
    for kind in _FUSED_KINDS:
        numbers = [n for n, line in enumerate(lines, 1) if json.loads(line)["type"] == kind]
        assert numbers[29] in taken[kind], kind


# ---------------------------------------------------------------- 2. ccxt: malformed fields are row errors


def _ccxt_import(tmp_path: Path, capsys, **row0: Any) -> tuple[int, list[str], Path]:  # noqa: ANN001
    rows = json.loads((C / "trades_binanceusdm.json").read_text())
    for key, value in row0.items():
        if value == "(missing)":
            rows[0].pop(key)
        else:
            rows[0][key] = value
    path = tmp_path / "cc.json"
    path.write_text(json.dumps(rows, indent=1))
    out = tmp_path / "cc.jsonl"
    capsys.readouterr()
    code = run(["import", "ccxt", "--user-trades", str(path), "--opening-flat", "--contract-size",
                "BTC/USDT:USDT=1", "-o", str(out)])
    return code, err_lines(capsys.readouterr().err), out


@pytest.mark.parametrize(("row0", "message"), [
    ({"fee": "0.12"}, "cc.json:2: fee: expected an object, got str '0.12'"),
    ({"fee": [1]}, "cc.json:2: fee: expected an object, got list [1]"),
    ({"takerOrMaker": "Taker"}, "cc.json:2: takerOrMaker: expected maker or taker, got 'Taker'"),
    ({"takerOrMaker": 1}, "cc.json:2: takerOrMaker: expected maker or taker, got 1"),
    ({"price": "abc"}, "cc.json:2: price: expected a decimal number, got 'abc'"),
    ({"info": "x"}, "cc.json:2: info: expected an object, got str 'x'"),
    ({"fee": "0.12", "takerOrMaker": "Taker", "price": "abc"}, "cc.json:2: price: expected a decimal number"),
])
def test_ccxt_malformed_fields_are_row_errors(tmp_path: Path, capsys, row0: dict[str, Any], message: str) -> None:  # noqa: ANN001
    code, err, out = _ccxt_import(tmp_path, capsys, **row0)
    assert code == 2  # before: exit 0, the fill written with fee, fee_asset and liquidity null (or info's price)
    assert any(line.startswith("hedgespec import: " + message) for line in err), err
    assert "1 rows not imported" in "\n".join(err)
    assert "1001" not in {r.get("id") for r in records(out)}


@pytest.mark.parametrize("row0", [{"fee": None, "takerOrMaker": None}, {"fee": "(missing)",
                                                                          "takerOrMaker": "(missing)"}])
def test_ccxt_absent_fee_and_liquidity_stay_unknown(tmp_path: Path, capsys, row0: dict[str, Any]) -> None:  # noqa: ANN001
    code, err, out = _ccxt_import(tmp_path, capsys, **row0)
    assert code == 0, err
    fill = next(r for r in records(out) if r.get("id") == "1001")
    assert (fill["fee"], fill["fee_asset"], fill["liquidity"]) == (None, None, None)


def test_ccxt_reads_the_raw_price_when_the_unified_one_is_absent(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    code, err, out = _ccxt_import(tmp_path, capsys, price=None)
    assert code == 0, err
    assert next(r for r in records(out) if r.get("id") == "1001")["price"] == "30000.0"


def test_ccxt_positions_with_a_malformed_hedged_flag_are_row_errors(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    rows = json.loads((C / "positions_hedged.json").read_text())
    rows[0]["hedged"] = "false"  # before: read as a hedge-mode row
    path = tmp_path / "pos.json"
    path.write_text(json.dumps(rows, indent=1))
    capsys.readouterr()
    code = run(["import", "ccxt", "--user-trades", str(C / "trades_binanceusdm.json"), "--opening-flat",
                "--positions", str(path), "--contract-size", "BTC/USDT:USDT=1", "-o", str(tmp_path / "o.jsonl")])
    err = err_lines(capsys.readouterr().err)
    assert code == 2
    assert any(line.startswith("hedgespec import: pos.json:2: hedged: expected true or false, got 'false'")
               for line in err), err


# ---------------------------------------------------------------- 3. Binance: an empty positionSide is an error


@pytest.mark.parametrize("value", ["", " ", "long", 1])
def test_binance_user_trades_with_a_bad_position_side_are_row_errors(tmp_path: Path, capsys, value: object) -> None:  # noqa: ANN001
    rows = json.loads((B / "userTrades_hedge_clean.json").read_text())
    rows[0]["positionSide"] = value
    path = tmp_path / "ut.json"
    path.write_text(json.dumps(rows, indent=1))
    capsys.readouterr()
    code = run(["import", "binance", "--user-trades", str(path), "--opening-flat", "--mode", "HEDGE",
                "-o", str(tmp_path / "t.jsonl")])
    err = err_lines(capsys.readouterr().err)
    assert code == 2  # before ("" only): imported as a BOTH fill, exit 0
    assert any(line.startswith(f"hedgespec import: ut.json:2: positionSide: expected LONG|SHORT|BOTH, got {value!r}")
               for line in err), err


def test_binance_position_risk_with_an_empty_position_side_is_a_row_error(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    rows = json.loads((B / "positionRisk_end.json").read_text())
    rows[0]["positionSide"] = ""
    path = tmp_path / "pr.json"
    path.write_text(json.dumps(rows, indent=1))
    capsys.readouterr()
    code = run(["import", "binance", "--user-trades", str(B / "userTrades_hedge_clean.json"), "--opening-flat",
                "--mode", "HEDGE", "--positions", str(path), "-o", str(tmp_path / "t.jsonl")])
    err = err_lines(capsys.readouterr().err)
    assert code == 2
    assert any(line.startswith("hedgespec import: pr.json:2: positionSide: expected LONG|SHORT|BOTH, got ''")
               for line in err), err


@pytest.mark.parametrize("how", ["missing", "null"])
def test_binance_rows_without_a_position_side_are_one_way_rows(tmp_path: Path, capsys, how: str) -> None:  # noqa: ANN001
    rows = json.loads((B / "userTrades_hedge_clean.json").read_text())
    for row in rows:
        if how == "missing":
            del row["positionSide"]
        else:
            row["positionSide"] = None
    path = tmp_path / "ut.json"
    path.write_text(json.dumps(rows, indent=1))
    out = tmp_path / "t.jsonl"
    code = run(["import", "binance", "--user-trades", str(path), "--opening-flat", "--mode", "ONE_WAY",
                "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    assert {r["position_side"] for r in records(out) if r["type"] == "fill"} == {"BOTH"}


# ---------------------------------------------------------------- 6. no Python None in a message


def _fills_only() -> list[dict[str, Any]]:
    return [rec("fill", 1000 + i, f"f{i}", id=f"f{i}", instrument="BTCUSDT", side="BUY", position_side="LONG",
                quantity="1", price="100", fee="0.04", fee_asset="USDT", realized_pnl="0", liquidity="TAKER")
            for i in range(3)]


def test_a_trace_without_a_meta_record_says_the_settle_asset_is_not_declared() -> None:
    result = audit_lines(lines_of(_fills_only()), load_profile("seed"), trace_name="t.jsonl")
    text = render_text(result)
    assert not re.search(r"\bNone\b", text), text  # before: "not in the settle asset None", "venue None"
    assert "fee paid in USDT; the trace declares no settle asset (no meta record)" in text
    assert "venue         not declared (the trace has no meta record)" in text
    both_paths(lines_of(_fills_only()))


def test_a_meta_record_without_a_settle_asset_is_named() -> None:
    head = meta()
    del head["settle_asset"]
    text = render_text(audit_lines(lines_of([head, opening(), *_fills_only()]), load_profile("seed"),
                                   trace_name="t.jsonl"))
    assert not re.search(r"\bNone\b", text), text
    assert "the trace declares no settle asset (its meta record has no settle_asset)" in text


def test_a_fee_without_its_asset_and_an_order_without_a_side_are_named_without_none() -> None:
    fills = _fills_only()
    fills[1]["fee_asset"] = None
    order = rec("order", 1005, "o1", order_id="o1", instrument="BTCUSDT", side="BUY", position_side=None,
                quantity="1", outcome="accepted")
    text = render_text(audit_lines(lines_of([meta(), opening(), *fills, order]), load_profile("seed"),
                                   trace_name="t.jsonl"))
    assert not re.search(r"\bNone\b", text), text
    assert "fee without its asset (fee_asset null), not known to be in the settle asset USDT" in text
    assert "order without a position side (null) accepted in HEDGE mode" in text

