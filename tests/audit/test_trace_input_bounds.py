"""Trace lines that are not UTF-8, and integers beyond 2**63-1, are rejected alike on the fused and the reference
paths, naming the line (docs/audit/trace-format.md)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from audit_helpers import both_paths, fill, lines_of, meta, opening, rec, run
from hedgespec.audit.trace import RecordError, decode, json_schema, validate


def _hedged() -> list[dict[str, Any]]:
    return [fill(1, "L", "BUY", "LONG", "2", "100"), fill(2, "S", "SELL", "SHORT", "1", "100")]


def _rate(t: int) -> dict[str, Any]:
    return rec("funding_rate", t, f"r{t}", instrument="BTCUSDT", rate="0.001", mark_price="100")


def _funding(t: int, ident: str, amount: str) -> dict[str, Any]:
    return rec("funding", t, ident, instrument="BTCUSDT", position_side=None, amount=amount, asset="USDT")


def _later(t: int) -> dict[str, Any]:
    return rec("balance", t, f"b{t}", asset="USDT", wallet_balance="0")


# --------------------------------------------------------------------------- 1. non-UTF-8 bytes


@pytest.mark.parametrize("kind", ["fill", "funding", "position", "funding_rate", "balance"])
def test_a_non_utf8_byte_in_a_record_is_rejected_onboth_paths(kind: str) -> None:
    records = [meta(), opening(), *_hedged(), _rate(10),
               _funding(10, "f1", "-0.2"), _funding(10, "f2", "0.1"),
               rec("position", 11, "p", instrument="BTCUSDT", position_side="LONG", quantity="2", entry_price="100"),
               rec("balance", 12, "b", asset="USDT", wallet_balance="5"),
               fill(13, "x", "BUY", "LONG", "1", "100")]
    lines = lines_of(records)
    index = next(i for i, r in enumerate(records) if r["type"] == kind)
    bad = lines[index].replace(b'"src":{"file":"test"', b'"src":{"file":"t\xe9st"')
    assert bad != lines[index]
    lines[index] = bad
    report = both_paths(lines)
    assert report["summary"]["records_rejected"] == 1 and report["summary"]["reconciles"]
    [rejection] = report["rejected"]
    assert rejection["reason"] == "malformed JSON" and rejection["line"] == index + 1
    assert rejection["message"].startswith(f"t.jsonl:{index + 1}: not valid UTF-8: byte 0xe9 at column ")


def test_the_cli_rejects_a_non_utf8_line_without_a_traceback(tmp_path: Any, capsys: Any) -> None:
    lines = lines_of([meta(), opening(), *_hedged()])
    lines[2] = lines[2].replace(b"BTCUSDT", b"BTC\xe9USDT")
    trace = tmp_path / "t.jsonl"
    trace.write_bytes(b"".join(lines))
    assert run(["audit", str(trace), "--json"]) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "incomplete"
    assert report["rejected"][0]["message"].startswith("t.jsonl:3: not valid UTF-8: byte 0xe9 at column ")


# --------------------------------------------------------------------------- 9. the integer bound


@pytest.mark.parametrize("t", [2**63, 2**64 - 1])
def test_times_above_2_63_minus_1_are_refused_by_schema_validator_and_audit(t: int) -> None:
    record = _later(1)
    validator = jsonschema.Draft202012Validator(json_schema())
    assert validator.is_valid(record | {"t": 2**63 - 1})
    assert not validator.is_valid(record | {"t": t})
    assert not validator.is_valid(record | {"src": {"file": "f", "id": "i", "line": t}})
    with pytest.raises(RecordError, match=r"t: expected an integer from 0 to 2\*\*63-1"):
        validate(decode(json.dumps(record | {"t": t}).encode()))
    report = both_paths(lines_of([meta(), opening(), record | {"t": t}]))
    assert report["summary"]["rejected_by_reason"] == {"wrong type": 1}
