"""Shared helpers for the audit tests: build traces in memory and audit them."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

from hedgespec.audit import cli
from hedgespec.audit.engine import AuditResult, audit_lines, audit_stream
from hedgespec.audit.report import as_json
from hedgespec.audit.synth import Synthesis, synthesize
from hedgespec.audit.trace import dumps
from hedgespec.spec.profiles import load_profile

FIXTURES = Path(__file__).parent / "fixtures"
SRC = {"file": "test", "id": "x"}


def both_paths(lines: list[bytes], profile: str = "seed") -> dict[str, Any]:
    """The JSON report of the fused (fast) paths, checked equal to the reference path's."""
    prof = load_profile(profile)
    fast = as_json(audit_stream(io.BytesIO(b"".join(lines)), prof, trace_name="t.jsonl"))
    reference = as_json(audit_lines(lines, prof, trace_name="t.jsonl", hot=False))
    assert fast == reference
    return fast


def lines_of(records: list[dict[str, Any]]) -> list[bytes]:
    return [(dumps(r) + "\n").encode() for r in records]


def audit_records(records: list[dict[str, Any]], profile: str = "seed", **options: Any) -> AuditResult:
    return audit_lines(lines_of(records), load_profile(profile), trace_name="t.jsonl", **options)


def synth_lines(n: int, **kwargs: Any) -> tuple[list[bytes], Synthesis]:
    info = Synthesis()
    return lines_of(list(synthesize(n, info=info, **kwargs))), info


def rec(type_: str, t: int | None, ident: str = "x", **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"v": 1, "type": type_, "t": t}
    if type_ != "meta":
        out["src"] = {"file": "test", "id": ident}
    out.update(fields)
    return out


def meta(**fields: Any) -> dict[str, Any]:
    base = {"venue": "test", "settle_asset": "USDT", "funding_window_ms": 0}
    base.update(fields)
    return rec("meta", None, **base)


def opening(t: int = 0, legs: list[dict[str, Any]] | None = None, mode: str | None = "HEDGE",
            complete: bool = True) -> dict[str, Any]:
    return rec("opening", t, "open", position_mode=mode, legs=legs or [], complete=complete)


def fill(t: int, ident: str, side: str, position_side: str, qty: str, price: str, *, fee: str | None = "0",
         pnl: str | None = "0", liquidity: str | None = "TAKER", instrument: str = "BTCUSDT",
         fee_asset: str = "USDT", **extra: Any) -> dict[str, Any]:
    return rec("fill", t, ident, id=ident, instrument=instrument, side=side, position_side=position_side,
               quantity=qty, price=price, fee=fee, fee_asset=fee_asset, realized_pnl=pnl, liquidity=liquidity,
               **extra)


def to_json(result: AuditResult) -> dict[str, Any]:
    from hedgespec.audit.report import render_json

    return json.loads(render_json(result))


def run(argv: list[str]) -> int:
    """``hedgespec import`` / ``hedgespec audit`` with ``argv``, in process; the exit status."""
    parser = argparse.ArgumentParser(prog="hedgespec")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)
