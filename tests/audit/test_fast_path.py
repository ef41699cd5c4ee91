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
                              len(auditor.fee_ranges),
                              sum(len(p.rows) for p in auditor.funding_open.values())))
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
                          ("t", 0), ("t", -1), ("t", 2**63 - 1), ("t", 2**63), ("t", 2**64 - 1), ("t", 10**25),
                          ("v", True), ("margin_type", "ISOLATED"), ("extra", 1))
] + [("id", "fill", value) for value in ("", "a\x00b", 7, None, "(missing)")] + [
    ("instrument", kind, "A\x00B") for kind in ("fill", "funding", "position", "funding_rate")]


def edited(lines: list[bytes], kind: str, field: str, value: object, nth: int) -> list[bytes]:
    """``lines`` with the ``nth`` record of ``kind`` changed: ``field`` set to ``value``, or removed for
    ``"(missing)"``; a field ``"src.NAME"`` is ``NAME`` in the record's ``src``."""
    out, seen = [], 0
    for line in lines:
        record = json.loads(line)
        if record.get("type") == kind:
            seen += 1
            if seen == nth:
                if value == "(missing)":
                    record.pop(field, None)
                elif field.startswith("src."):
                    record["src"][field[4:]] = value
                else:
                    record[field] = value
                line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        out.append(line)
    return out


def fast_report(lines: list[bytes]) -> dict[str, Any]:
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
    lines = edited(lines, kind, field, value, nth=7)
    fast_report(lines)


def test_fills_before_any_mode_is_known_count_as_the_reference_counts_them() -> None:
    """Without an opening record the mode stays unknown: fills on legs a snapshot confirmed still take the fused path."""
    lines, _ = synth_lines(1500, seed=23, other_share=0.3)
    lines = [line for line in lines if b'"type":"opening"' not in line.replace(b" ", b"")]
    fast = fast_report(lines)
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
    fast_report(lines)


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


# --------------------------------------------------------------------------- repeated keys


def _text(pairs: list[tuple[str, object]], repeat: str | None, first: object, variant: str) -> str:
    """An object's text from its pairs, with key ``repeat`` given twice: first ``first``, then its own value."""
    out = []
    for key, value in pairs:
        text = json.dumps(value, separators=(",", ":"))
        if key == repeat:
            name = json.dumps(key) if variant != "escaped" else '"' + "".join(f"\\u{ord(c):04x}" for c in key) + '"'
            out.append(name + (" :" if variant == "spaced" else ":") + json.dumps(first, separators=(",", ":")))
        out.append(json.dumps(key) + ":" + text)
    return "{" + ",".join(out) + "}"


def _repeat(line: bytes, other: bytes, where: str, nth_key: int, variant: str) -> tuple[bytes, str]:
    """``line`` with one key of the record (``where`` "top") or of its src given twice; the first of the two
    carries ``other``'s value for it ("other"), the same value ("same", "spaced", "escaped")."""
    record, alternative = json.loads(line), json.loads(other)
    obj, alt = (record, alternative) if where == "top" else (record["src"], alternative["src"])
    key = list(obj)[nth_key % len(obj)]
    first = alt.get(key, obj[key]) if variant == "other" else obj[key]
    if where == "top":
        return (_text(list(record.items()), key, first, variant) + "\n").encode(), key
    src = _text(list(record["src"].items()), key, first, variant)
    pairs = [(k, v) for k, v in record.items()]
    text = _text(pairs, None, None, variant).replace(json.dumps(record["src"], separators=(",", ":")), src, 1)
    return (text + "\n").encode(), key


_KINDS = ["fill", "funding", "position", "funding_rate", "balance"]


@pytest.mark.parametrize("variant", ["other", "same", "spaced", "escaped"])
@pytest.mark.parametrize("where", ["top", "src"])
@pytest.mark.parametrize("kind", _KINDS)
def test_a_repeated_key_rejects_the_record_on_every_path(kind: str, where: str, variant: str) -> None:
    """Every key of a record of each fused kind, and of its src, given twice (one key per record): each such
    record is rejected as ``repeated key``, naming its line and the key, by the fused paths as by the reference."""
    lines, _ = synth_lines(600, seed=21, other_share=0.5)
    marker = f'"type":"{kind}"'.encode()
    numbers = [number for number, line in enumerate(lines) if marker in line][5:]
    edited = {}
    for nth_key, number in enumerate(numbers[:16]):
        lines[number], key = _repeat(lines[number], lines[numbers[nth_key + 16]], where, nth_key, variant)
        edited[number + 1] = key
    report = fast_report(lines)
    assert report["summary"]["rejected_by_reason"] == {"repeated key": len(edited)}
    assert report["summary"]["reconciles"]
    listed = {r["line"]: r["message"] for r in report["rejected"]}
    for number, key in edited.items():
        inside = "src: " if where == "src" else ""
        assert listed[number].startswith(f"t:{number}: ") and f"{inside}repeated key {key!r}" in listed[number]


@pytest.mark.parametrize("kind", _KINDS)
def test_escaped_quotes_and_spaces_are_not_repeated_keys(kind: str) -> None:
    """Lines whose quotes the fast count cannot account for, but that repeat no key, are read as before."""
    lines, _ = synth_lines(600, seed=21, other_share=0.5)
    marker = f'"type":"{kind}"'.encode()
    numbers = [number for number, line in enumerate(lines) if marker in line][5:]
    for i, number in enumerate(numbers[:12]):
        line = lines[number]
        if i % 3 == 0:
            line = line.replace(b'"id":"', b'"id":"\\"q\\\\', 1)  # an ID with a quote and a backslash
        elif i % 3 == 1:
            line = line.replace(b'":', b'" \t:')  # blanks before every colon
        else:
            line = line.replace(b'"file":"', b'"file":"\\u0022', 1)
        lines[number] = line
    report = fast_report(lines)
    assert report["summary"]["records_rejected"] == 0 and report["summary"]["reconciles"]


def test_the_quote_count_never_passes_a_repeated_key() -> None:
    """The fast test (a line's quotes against its struct's, or against its decoded value's) holds for every clean
    line and for no line with a repeated key: checked on varied lines against ``hedgespec.jsonio.unique_keys``."""
    pytest.importorskip("msgspec")
    import random

    import orjson
    from hedgespec.audit.engine import _strings
    from hedgespec.audit.fused import NOT_FUSED, decode_fused, quotes

    from hedgespec.jsonio import JSONInputError, unique_keys

    rng = random.Random(5)
    lines, _ = synth_lines(400, seed=22, other_share=0.5)
    variants = ["other", "same", "spaced", "escaped"]
    checked = 0
    for number, line in enumerate(lines[2:], 2):
        candidates = [line]
        for _ in range(4):
            where = rng.choice(["top", "src"]) if b'"src"' in line else "top"
            candidates.append(_repeat(line, lines[number - 1] if where == "top" else line, where, rng.randrange(20),
                                      rng.choice(variants))[0])
        candidates.append(line.replace(b'":', b'" :', rng.randrange(1, 4)).replace(b'"id":"', b'"id":"\\"', 1))
        for text in candidates:
            try:
                json.loads(text, object_pairs_hook=unique_keys)
                repeated = False
            except JSONInputError:
                repeated = True
            passes = text.count(b'"') == 2 * _strings(orjson.loads(text))
            assert not (passes and repeated), text
            try:
                fused = text.count(b'"') == quotes(decode_fused(text))
            except NOT_FUSED:
                fused = False
            assert not (fused and repeated), text
            if text is line:
                assert passes and (fused or b'"type":"fill"' not in line), text  # a clean line takes no detour
            checked += 1
    assert checked > 2000
