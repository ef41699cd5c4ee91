"""Records at equal times keep the venue's own order: numeric trade ids by number, other ids by the order
the rows were read in, never by the text of the ID ("ETHUSDT:10" before "ETHUSDT:9")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from audit_helpers import run
from hedgespec.audit.engine import audit_file
from hedgespec.spec.profiles import load_profile

T = 1700000000000


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def binance_trade(ident: int, side: str, pnl: str) -> dict[str, Any]:
    return {"symbol": "ETHUSDT", "id": ident, "orderId": 7000 + ident, "side": side, "positionSide": "LONG",
            "price": "2000.00", "qty": "0.500", "realizedPnl": pnl, "quoteQty": "1000.00000",
            "commission": "0.40000000", "commissionAsset": "USDT", "time": T, "buyer": side == "BUY",
            "maker": False}


def test_binance_fills_in_one_millisecond_are_ordered_by_numeric_trade_id(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    # trade 9 opens the long leg, trade 10 closes it, in the same millisecond; the file lists 10 first
    path = tmp_path / "userTrades.json"
    path.write_text(json.dumps([binance_trade(10, "SELL", "0"), binance_trade(9, "BUY", "0")], indent=1))
    out = tmp_path / "t.jsonl"
    assert run(["import", "binance", "--user-trades", str(path), "--opening-flat", "--mode", "HEDGE",
                "-o", str(out)]) == 0
    capsys.readouterr()
    fills = [r for r in records(out) if r["type"] == "fill"]
    assert [f["id"] for f in fills] == ["9", "10"]  # before: "10" first (text order of "ETHUSDT:10" < "ETHUSDT:9")
    result = audit_file(out, load_profile("binance-usdm"))
    assert result.findings == []  # before: HM-ORD-003, a close of 0.5 on a leg holding 0
    assert result.decided_by_rule["HM-ORD-003"] == 1


def bybit_execution(ident: str, side: str, closed: str) -> dict[str, Any]:
    return {"symbol": "BTCUSDT", "orderId": f"ord-{ident}", "side": side, "execTime": str(T), "feeCurrency": "USDT",
            "isMaker": False, "execFee": "0.12", "execId": ident, "execPrice": "30000.0", "execQty": "0.010",
            "execType": "Trade", "closedSize": closed, "execPnl": "0"}


def test_bybit_executions_in_one_millisecond_keep_the_order_they_were_read_in(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    # the opening Buy comes first in the file; its execId sorts after the closing Sell's as text
    page = {"retCode": 0, "retMsg": "OK", "result": {"list": [bybit_execution("z-open", "Buy", "0"),
                                                               bybit_execution("a-close", "Sell", "0.010")]}}
    path = tmp_path / "executions.json"
    path.write_text(json.dumps(page, indent=1))
    out = tmp_path / "t.jsonl"
    assert run(["import", "bybit", "--user-trades", str(path), "--opening-flat", "--mode", "HEDGE",
                "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert [f["id"] for f in records(out) if f["type"] == "fill"] == ["z-open", "a-close"]  # before: a-close first
    assert ("note: executions at the same execTime on one symbol: kept in the order they were read (Bybit does not "
            f"order executions within one execTime; HM-ORD-003 there depends on that order): 1 (BTCUSDT t={T})") in err
    result = audit_file(out, load_profile("bybit-v5"))
    assert result.findings == []
    assert result.decided_by_rule["HM-ORD-003"] == 1
