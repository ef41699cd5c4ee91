"""Bad input: every line is either checked or rejected with a reason and file:line; nothing runs."""

from __future__ import annotations

import json

from audit_helpers import audit_records, fill, lines_of, meta, opening, rec
from hedgespec.audit.engine import audit_lines
from hedgespec.spec.profiles import load_profile


def _audit(lines: list[bytes], **options):  # noqa: ANN202
    return audit_lines(lines, load_profile("seed"), trace_name="bad.jsonl", **options)


def test_summary_reconciles_with_reasons_and_lines() -> None:
    good = lines_of([meta(), opening(), fill(10, "1", "BUY", "LONG", "1", "100")])
    lines = good + [
        b"{broken json\n",
        b"\n",
        (json.dumps({**fill(11, "2", "BUY", "LONG", "1", "100"), "quantity": 1}) + "\n").encode(),
        (json.dumps({k: v for k, v in fill(12, "3", "BUY", "LONG", "1", "100").items() if k != "price"}) + "\n")
        .encode(),
        (json.dumps({**fill(13, "4", "BUY", "LONG", "1", "100"), "venueSecret": "x"}) + "\n").encode(),
        (json.dumps(rec("warp", 14)) + "\n").encode(),
        (json.dumps(fill(5, "5", "BUY", "LONG", "1", "100")) + "\n").encode(),  # out of order
        (json.dumps(fill(20, "1", "BUY", "LONG", "1", "100")) + "\n").encode(),  # duplicate id "1"
    ]
    result = _audit(lines)
    s = result.summary
    assert s["records_read"] == 10 and s["blank_lines"] == 1
    assert s["records_read"] == s["records_checked"] + s["records_rejected"]
    assert s["reconciles"]
    assert s["rejected_by_reason"] == {"duplicate": 1, "malformed JSON": 1, "missing field": 1, "out of order": 1,
                                       "unknown field": 1, "unknown type": 1, "wrong type": 1}
    by_line = {r.line: r for r in result.rejections}
    assert by_line[4].message.startswith("bad.jsonl:4: not valid JSON")
    assert "quantity" in by_line[6].message and "decimal string" in by_line[6].message
    assert "'price'" in by_line[7].message
    assert "venueSecret" in by_line[8].message
    assert "duplicate of line 3" in by_line[11].message
    assert "earlier" in by_line[10].message
    assert result.exit_code == 0  # no findings: the CLI turns rejections into exit status 2


def test_unreadable_fill_makes_its_leg_unknown_not_wrong() -> None:
    # a close after an unreadable opening fill is not judged against a wrong reconstruction
    records = [meta(), opening(), fill(1, "1", "BUY", "LONG", "2", "100")]
    lines = lines_of(records) + [(json.dumps({**fill(2, "2", "BUY", "LONG", "1", "110"), "fee": 0.1}) + "\n").encode()]
    lines += lines_of([fill(3, "3", "SELL", "LONG", "3", "120", pnl="50")])
    result = _audit(lines)
    assert result.findings == []
    assert {u.rule_id for u in result.undecided} == {"HM-ORD-003", "HM-POS-002"}
    # a snapshot re-establishes the leg; later checks resume
    lines += lines_of([rec("position", 4, "p", instrument="BTCUSDT", position_side="LONG", quantity="1",
                           entry_price="100"),
                       fill(5, "5", "SELL", "LONG", "1", "90", pnl="-5")])
    result = _audit(lines)
    assert result.findings_by_rule == {"HM-POS-002": 1}


def test_malformed_line_of_unknown_type_makes_every_leg_unknown() -> None:
    lines = lines_of([meta(), opening(), fill(1, "1", "BUY", "LONG", "1", "100"),
                      fill(1, "2", "SELL", "SHORT", "1", "100")])
    lines += [b"}}}\n"]
    lines += lines_of([fill(3, "3", "SELL", "LONG", "1", "100", pnl="7"), fill(4, "4", "BUY", "SHORT", "1", "90",
                                                                              pnl="3")])
    result = _audit(lines)
    assert result.findings == []
    assert sum(u.count for u in result.undecided if u.rule_id == "HM-POS-002") == 2


def test_meta_must_come_first_and_opening_once() -> None:
    second = {**opening(1), "src": {"file": "test", "id": "open-2"}}
    result = audit_records([opening(), meta(), second])
    assert result.summary["rejected_by_reason"] == {"misplaced meta": 1, "second opening": 1}


def test_duplicate_window_is_bounded_and_stated() -> None:
    records = [meta(), opening()] + [rec("mark_price", i, str(i), instrument="X", price="1") for i in range(1, 30)]
    records.append(rec("mark_price", 40, "1", instrument="X", price="1"))  # same id as line 3, 29 records later
    assert audit_records(records, dup_window=50).summary["rejected_by_reason"] == {"duplicate": 1}
    wide = audit_records(records, dup_window=10)
    assert wide.summary["rejected_by_reason"] == {}
    assert wide.provenance["windows"]["duplicate_window_records"] == 10


def test_listing_is_capped_but_counts_are_exact() -> None:
    records = [meta(), opening()] + [fill(i, str(i), "BUY", "LONG", "1", "100", pnl="1") for i in range(1, 8)]
    result = audit_records(records, max_listed=3)
    assert result.findings_by_rule == {"HM-NET-001": 7}
    assert len(result.findings) == 3
    assert result.summary["findings"] == 7 and result.summary["findings_listed"] == 3


def test_input_is_data_only() -> None:
    payloads = [
        b'{"v": 1, "type": "__class__", "t": 1, "src": {"file": "a", "id": "1"}}\n',
        b'{"v": 1, "type": "fill", "t": 1, "src": {"file": "a", "id": "1"}, "quantity": "__import__(\'os\')"}\n',
        b"!!python/object/apply:os.system ['true']\n",
        b"\x80\x04\x95pickle\n",
    ]
    result = _audit(lines_of([meta()]) + payloads)
    assert result.summary["records_rejected"] == 4
    assert result.summary["reconciles"]


def test_distinct_venue_codes_are_capped() -> None:
    from hedgespec.audit.engine import MAX_DISTINCT

    records = [meta(), opening()] + [
        rec("order", i, f"o{i}", order_id=f"o{i}", instrument="X", side="BUY", position_side="LONG", quantity="1",
            outcome="rejected", code=f"-{i}") for i in range(1, MAX_DISTINCT + 6)]
    codes = audit_records(records).summary["venue_codes_seen"]
    assert len(codes) == MAX_DISTINCT + 1 and codes["(other codes)"] == 5


def test_fuzzed_records_never_crash_the_audit() -> None:
    import io
    import random

    from audit_helpers import synth_lines
    from hedgespec.audit.engine import audit_stream
    from hedgespec.audit.report import render_markdown, render_text

    rng = random.Random(99)
    lines, _ = synth_lines(600, plant=("order_oversized", "mode_switch_with_positions", "funding_netted"))
    values = [None, True, 0, -1, 1.5, "", "x", "-0", "1e5", "LONG", "BOTH", "SELL", "fill", [], [1], {}, {"a": 1},
              {"file": "f", "id": "1"}, "9" * 400]
    fuzzed = []
    for line in lines:
        doc = json.loads(line)
        if rng.random() < 0.3:
            key = rng.choice(list(doc))
            doc[key] = rng.choice(values)
        if rng.random() < 0.05:
            doc[rng.choice(["extra", "quantity", "src"])] = rng.choice(values)
        fuzzed.append((json.dumps(doc) + "\n").encode())
        if rng.random() < 0.02:
            fuzzed.append(line[: rng.randint(0, len(line))] + b"\n")
    for hot in (True, False):
        result = audit_lines(fuzzed, load_profile("seed"), hot=hot)
        assert result.summary["reconciles"]
        render_text(result), render_markdown(result)
    streamed = audit_stream(io.BytesIO(b"".join(fuzzed)), load_profile("seed"))
    assert streamed.summary == audit_lines(fuzzed, load_profile("seed"), hot=False).summary


def test_deeply_nested_line_is_rejected_on_every_path(tmp_path, capsys, monkeypatch) -> None:  # noqa: ANN001
    import hedgespec.audit.trace as trace
    from audit_helpers import run

    deep = b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"\n"  # msgspec skips the unknown field recursively
    good = lines_of([meta(), opening(), fill(1, "1", "BUY", "LONG", "1", "100")])
    for hot in (True, False):  # msgspec (fused path) raises RecursionError, not a decode error
        result = _audit(good + [deep], hot=hot)
        assert [(r.line, r.reason) for r in result.rejections] == [(4, "malformed JSON")]
    monkeypatch.setattr(trace, "_loads", trace._json_loads)  # without orjson: json.loads raises RecursionError
    result = _audit(good + [deep], hot=False)
    assert result.rejections[0].message == "bad.jsonl:4: not valid JSON here: nested too deeply"
    monkeypatch.undo()
    path = tmp_path / "deep.jsonl"  # as the first line too (read for its meta record before the audit)
    path.write_bytes(deep + b"".join(good))
    assert run(["audit", str(path)]) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "deep.jsonl:1: not valid JSON" in out


def test_repeated_key_in_a_record_whose_type_is_an_object() -> None:
    line = json.dumps({**fill(2, "2", "BUY", "LONG", "1", "100"), "type": {"a": 1}})
    line = line.replace('"fee": "0"', '"fee": "0", "fee": "1"').encode() + b"\n"
    result = _audit(lines_of([meta(), opening()]) + [line])
    assert [(r.line, r.reason) for r in result.rejections] == [(3, "repeated key")]
    assert result.rejections[0].message == ("bad.jsonl:3: repeated key 'fee' (given twice in one object: which value "
                                            "is meant cannot be told)")


def test_a_path_too_long_for_the_system_is_an_input_error(tmp_path, capsys) -> None:  # noqa: ANN001
    from audit_helpers import FIXTURES, run

    name = "a" * 5000
    trace = tmp_path / "t.jsonl"
    trace.write_bytes(b"".join(lines_of([meta(), opening()])))
    trades = str(FIXTURES / "binance/userTrades_hedge_clean.json")
    for argv, message in [
        (["audit", name], f"hedgespec audit: {name}: cannot read: File name too long"),
        (["audit", str(trace), "-o", name], f"hedgespec audit: {name}: cannot write: File name too long"),
        (["import", "binance", "--user-trades", name, "-o", str(tmp_path / "o.jsonl")],
         f"hedgespec import: {name}: cannot read: File name too long"),
        (["import", "binance", "--user-trades", trades, "--income", name, "-o", str(tmp_path / "o.jsonl")],
         f"hedgespec import: {name}: cannot read: File name too long"),
    ]:
        assert run(argv) == 2
        out, err = capsys.readouterr()
        assert err.strip() == message and out == ""


def test_a_lone_surrogate_escape_is_rejected_by_import_and_audit(tmp_path, capsys, monkeypatch) -> None:  # noqa: ANN001
    import hedgespec.audit.trace as trace
    from audit_helpers import FIXTURES, run

    trades = (FIXTURES / "binance/userTrades_hedge_clean.json").read_text()
    at = trades.index('"BTCUSDT"') + 4
    bad = tmp_path / "userTrades.json"
    bad.write_text(trades[:at] + "\\udc00" + trades[at:])
    line = trades.count("\n", 0, at) + 1
    column = at - trades.rfind("\n", 0, at)
    assert run(["import", "binance", "--user-trades", str(bad), "--opening-flat", "-o", str(tmp_path / "t.jsonl")]) == 2
    out, err = capsys.readouterr()
    assert err == (f"hedgespec import: userTrades.json:{line}:{column}: not valid JSON here: \\udc00 is a lone UTF-16 "
                   "surrogate escape (not Unicode text)\n")
    line = (json.dumps(fill(1, "1", "BUY", "LONG", "1", "100")).replace('"BTCUSDT"', '"BTC\\ud800"') + "\n").encode()
    for hot in (True, False):
        result = _audit(lines_of([meta(), opening()]) + [line], hot=hot)
        assert [(r.line, r.reason) for r in result.rejections] == [(3, "malformed JSON")]
    monkeypatch.setattr(trace, "_loads", trace._json_loads)  # without orjson, json.loads accepts it
    result = _audit(lines_of([meta(), opening()]) + [line], hot=False)
    column = line.index(b"\\ud800") + 1
    assert [r.message for r in result.rejections] == [
        f"bad.jsonl:3: not valid JSON: lone UTF-16 surrogate escape at column {column} (not Unicode text)"]


def test_file_names_that_are_not_utf8_are_written_as_text(tmp_path) -> None:  # noqa: ANN001
    import os

    from audit_helpers import FIXTURES, run

    trades = tmp_path / os.fsdecode(b"\xff-trades.json")  # once a UnicodeEncodeError writing the trace or report
    trades.write_bytes((FIXTURES / "binance/userTrades_hedge_clean.json").read_bytes())
    trace = tmp_path / os.fsdecode(b"\xfe.jsonl")
    assert run(["import", "binance", "--user-trades", str(trades), "--opening-flat", "-o", str(trace)]) == 0
    first = json.loads(trace.read_text(encoding="utf-8").splitlines()[0])
    assert first["inputs"][0]["file"] == "\ufffd-trades.json"
    report = tmp_path / "report.json"
    assert run(["audit", str(trace), "--json", "-o", str(report)]) == 0
    assert json.loads(report.read_text(encoding="utf-8"))["provenance"]["trace"] == "\ufffd.jsonl"
