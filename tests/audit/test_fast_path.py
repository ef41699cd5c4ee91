"""The fused fast paths (fills, funding rows, snapshots, rates, balances) decide exactly what the reference path decides."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from audit_helpers import synth_lines
from hedgespec.audit.engine import audit_lines, audit_stream
from hedgespec.audit.report import as_json
from hedgespec.audit.synth import PLANTS
from hedgespec.spec.profiles import load_profile


@pytest.mark.parametrize("plant", [(), tuple(sorted(PLANTS))])
def test_fast_and_reference_paths_agree(plant: tuple[str, ...]) -> None:
    lines, _ = synth_lines(3000, seed=11, plant=plant)
    lines.insert(40, b'{"v": 1, "type": "fill", "t": 5}\n')  # a broken fill in the middle
    profile = load_profile("seed")
    fast = as_json(audit_stream(io.BytesIO(b"".join(lines)), profile, trace_name="t"))
    reference = as_json(audit_lines(lines, profile, trace_name="t", hot=False))
    assert fast == reference
    assert fast["summary"]["records_rejected"] == 1


def test_state_stays_bounded_while_streaming() -> None:
    from hedgespec.audit.engine import Auditor
    from hedgespec.audit.numbers import local_audit_context

    lines, _ = synth_lines(6000, seed=12)
    auditor = Auditor(load_profile("seed"), dup_window=500)
    sizes = []
    with local_audit_context():
        for number, line in enumerate(lines, 1):
            auditor.feed(number, line)
            if number % 500 == 0:
                sizes.append((len(auditor.dup_keys) + len(auditor.dup_previous), len(auditor.legs),
                              len(auditor.fee_ranges), len(auditor.pending_funding)))
    assert max(s[0] for s in sizes) <= 1000  # the duplicate window: at least 500, at most 1000 keys
    assert max(s[1] for s in sizes) == 4 and max(s[2] for s in sizes) <= 8  # 2 instruments x 2 legs
    assert max(s[3] for s in sizes) <= 2


def test_crlf_line_endings_and_a_missing_final_newline_change_nothing() -> None:
    lines, _ = synth_lines(800, seed=13, plant=("wrong_realized_pnl",))
    plain = as_json(audit_stream(io.BytesIO(b"".join(lines)), load_profile("seed"), trace_name="t"))
    crlf = b"".join(line.rstrip(b"\n") + b"\r\n" for line in lines).rstrip(b"\r\n")
    other = as_json(audit_stream(io.BytesIO(crlf), load_profile("seed"), trace_name="t"))
    for report in (plain, other):
        del report["provenance"]["trace_sha256"]
    assert other == plain and plain["findings_by_rule"] == {"HM-POS-002": 1}


# one change to one record of each kind the fused paths take (fills, funding rows, snapshots, rates, balances);
# "(missing)" removes the field
_EDITS: list[tuple[str, str, object]] = [
    (field, kind, value)
    for kind, fields in {
        "fill": ("quantity", "price", "fee", "realized_pnl", "fee_asset", "liquidity", "order_id", "position_side"),
        "funding": ("amount", "position_side", "asset", "instrument"),
        "position": ("quantity", "entry_price", "mark_price", "unrealized_pnl", "position_side", "instrument"),
        "funding_rate": ("rate", "mark_price", "instrument"),
        "balance": ("wallet_balance", "asset"),
    }.items()
    for field in fields
    for value in ("-0", "0", "0.0", "-1.5", "1e5", " 1", "", None, 7, "(missing)", "BOTH")
] + [(field, kind, value) for kind in ("fill", "funding", "position", "funding_rate", "balance")
     for field, value in (("src", {"file": "f", "id": "i", "line": 3}), ("src", {"file": "f", "id": "i", "x": 1}),
                          ("src", {"file": "f", "id": ""}), ("src", {"file": "f\x00g", "id": "i"}),
                          ("src", {"file": 7, "id": "i"}), ("src", {"id": "i"}), ("src", "f"),
                          ("t", 0), ("t", -1), ("v", True), ("margin_type", "ISOLATED"), ("extra", 1))
] + [("id", "fill", value) for value in ("", "a\x00b", 7, None, "(missing)")] + [
    ("instrument", kind, "A\x00B") for kind in ("fill", "funding", "position", "funding_rate")]


def _edited(lines: list[bytes], kind: str, field: str, value: object, nth: int) -> list[bytes]:
    """``lines`` with the ``nth`` record of ``kind`` changed: ``field`` set to ``value`` (or removed)."""
    out, seen = [], 0
    for line in lines:
        record = json.loads(line)
        if record.get("type") == kind:
            seen += 1
            if seen == nth:
                if value == "(missing)":
                    record.pop(field, None)
                else:
                    record[field] = value
                line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        out.append(line)
    return out


def _fast_report(lines: list[bytes]) -> dict[str, Any]:
    """The fast path's report on ``lines``, after checking that the reference path gives the same."""
    profile = load_profile("seed")
    fast = as_json(audit_stream(io.BytesIO(b"".join(lines)), profile, trace_name="t"))
    reference = as_json(audit_lines([line.rstrip(b"\n") for line in lines], profile, trace_name="t", hot=False))
    for report in (fast, reference):
        del report["provenance"]["trace_sha256"]
    assert fast == reference
    return fast


@pytest.mark.parametrize(("field", "kind", "value"), _EDITS)
def test_every_fused_path_defers_to_the_reference_on_any_doubt(field: str, kind: str, value: object) -> None:
    lines, _ = synth_lines(600, seed=21, other_share=0.5)
    lines = _edited(lines, kind, field, value, nth=7)
    _fast_report(lines)


def test_fills_before_any_mode_is_known_count_as_the_reference_counts_them() -> None:
    """Without an opening record the mode stays unknown: fills on legs a snapshot confirmed still take the fused path."""
    lines, _ = synth_lines(1500, seed=23, other_share=0.3)
    lines = [line for line in lines if b'"type":"opening"' not in line.replace(b" ", b"")]
    fast = _fast_report(lines)
    assert "HM-ORD-001" not in fast["decided_by_rule"] and fast["decided_by_rule"]["HM-FEE-001"] > 100


# edits of the line's text that a JSON value cannot express: repeated keys, large integers, escapes, spacing
_TEXT_EDITS: list[tuple[str, bytes, bytes]] = [
    ("t past 2**64 (a float for orjson)", b'"t":', b'"t":99999999999999999999999,"t":'),
    ("t of 2**64 - 1", b'"t":', b'"t":18446744073709551615,"t":'),
    ("t after a value past 2**64", b'"t":', b'"t":1,"t":99999999999999999999999,"x":'),
    ("t as 1.0", b',"t":', b',"t":1.0,"t0":'),
    ("v as 1.0", b'"v":1', b'"v":1.0'),
    ("v repeated", b'"v":1', b'"v":2,"v":1'),
    ("type repeated", b'"type":', b'"type":"ledger","type":'),
    ("src repeated", b'"src":', b'"src":{"file":"a","id":"b"},"src":'),
    ("src ID repeated", b'"id":', b'"id":"other","id":', ),
    ("src line as text", b'"src":{', b'"src":{"line":"3",'),
    ("src line past 2**63", b'"src":{', b'"src":{"line":9223372036854775808,'),
    ("src index", b'"src":{', b'"src":{"index":2,"line":0,'),
    ("escaped names", b'USDT"', b'US\\u0044T"'),
    ("an escaped NUL", b'USDT"', b'US\\u0000T"'),
    ("a lone surrogate", b'USDT"', b'US\\ud800T"'),
    ("spaces", b'","', b'" , "'),
    ("a tab before the end", b'"}\n', b'"}\t\n'),
    ("a second object", b'}\n', b'}{}\n'),
]


@pytest.mark.parametrize("kind", ["fill", "funding", "position", "funding_rate", "balance"])
@pytest.mark.parametrize(("what", "old", "new"), _TEXT_EDITS, ids=[e[0] for e in _TEXT_EDITS])
def test_the_fused_decoder_reads_a_line_as_the_reference_parser_does(kind: str, what: str, old: bytes,
                                                                     new: bytes) -> None:
    lines, _ = synth_lines(600, seed=21, other_share=0.5)
    marker = f'"type":"{kind}"'.encode()
    nth = [number for number, line in enumerate(lines) if marker in line][7]
    if old not in lines[nth]:
        pytest.skip(f"no {old!r} in a {kind} line")
    lines[nth] = lines[nth].replace(old, new, 1)
    _fast_report(lines)


def test_the_fused_paths_take_the_plain_records() -> None:
    pytest.importorskip("msgspec")
    from hedgespec.audit.engine import Auditor
    from hedgespec.audit.numbers import local_audit_context

    lines, _ = synth_lines(3000, seed=11)
    auditor = Auditor(load_profile("seed"))
    with local_audit_context():
        auditor.take(1, [line.rstrip(b"\n") for line in lines])
    # all but the fills that open a fee-rate range (one per instrument, liquidity and hedged or not)
    assert auditor.by_type["fill"] - 8 <= auditor.hot_fills < auditor.by_type["fill"]
    assert auditor.read == auditor.checked == len(lines)
