"""Importer and command robustness: overlapping pages, venue error replies, partial exports, bounds on
numbers and integers, output paths, contract sizes, duplicate JSON keys, file:line inside wrappers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from audit_helpers import FIXTURES, run
from hedgespec.audit.engine import audit_file
from hedgespec.audit.importers.common import Builder, Row, RowError
from hedgespec.spec.profiles import load_profile

B = FIXTURES / "binance"


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def trades() -> list[dict]:
    return json.loads((B / "userTrades_hedge_clean.json").read_text())


def write(path: Path, doc: object) -> Path:
    path.write_text(json.dumps(doc, indent=2))
    return path


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "Traceback" not in err
    return lines[0]


# ---------------------------------------------------------------- 1. overlapping pages


def test_the_same_fill_in_two_overlapping_pages_is_kept_once(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    rows = trades()
    first, second = write(tmp_path / "page1.json", rows[:3]), write(tmp_path / "page2.json", rows[2:])
    out = tmp_path / "t.jsonl"
    assert run(["import", "binance", "--user-trades", str(first), "--user-trades", str(second), "--opening-flat",
                "--mode", "HEDGE", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "1 duplicate rows kept once" in err
    assert "note: duplicate rows across files/pages (same venue ID, identical row): kept once: 1 " \
           "(page1.json / page2.json)" in err
    fills = [r for r in records(out) if r["type"] == "fill"]
    assert sorted(f["id"] for f in fills) == sorted(str(r["id"]) for r in rows)  # each trade exactly once
    result = audit_file(out, load_profile("seed"))
    assert result.findings == []  # before: the repeated fill was a false HM-POS-002
    assert result.decided_by_rule["HM-POS-002"] == 2
    assert {"what": "duplicate rows across files/pages (same venue ID, identical row): kept once", "count": 1,
            "detail": "page1.json / page2.json"} in result.notes
    assert run(["audit", str(out)]) == 0
    assert "duplicate rows across files/pages" in capsys.readouterr().out


def test_the_same_trade_id_with_different_values_names_both_places(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    rows = trades()
    changed = [dict(r) for r in rows[2:]]
    changed[0]["price"] = "30401"
    first, second = write(tmp_path / "page1.json", rows[:3]), write(tmp_path / "page2.json", changed)
    out = tmp_path / "t.jsonl"
    assert run(["import", "binance", "--user-trades", str(first), "--user-trades", str(second), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    line_1 = [n for n, text in enumerate(first.read_text().splitlines(), 1) if text == "  {"][2]
    assert f"page2.json:2: fill BTCUSDT:1003 was already read at page1.json:{line_1} from a different row" in err


# ---------------------------------------------------------------- 2. error replies, partial exports, empty traces


@pytest.mark.parametrize("venue, reply, quoted", [
    ("okx", {"code": "50011", "msg": "rate limit", "data": []}, "code 50011 'rate limit'"),
    ("bybit", {"retCode": 10001, "retMsg": "params error", "result": {}, "retExtInfo": {}, "time": 1},
     "code 10001 'params error'"),
    ("binance", {"code": -1121, "msg": "Invalid symbol."}, "code -1121 'Invalid symbol.'"),
])
def test_a_venue_error_reply_is_an_import_error(tmp_path: Path, capsys, venue: str, reply: dict,  # noqa: ANN001
                                                 quoted: str) -> None:
    path = write(tmp_path / "reply.json", reply)
    out = tmp_path / "t.jsonl"
    assert run(["import", venue, "--user-trades", str(path), "--contract-size=X=1" if venue == "okx" else
                "--opening-flat", "-o", str(out)]) == 2
    assert one_error_line(capsys.readouterr().err) == (
        f"hedgespec import: reply.json: the venue answered with an error, not data: {quoted}")
    assert not out.exists()


def test_bybit_page_with_a_next_cursor_is_noted_as_incomplete(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    doc = json.loads((FIXTURES / "bybit/execution_list_hedge.json").read_text())
    doc["result"]["nextPageCursor"] = "page_args%3D1001%26"
    path = write(tmp_path / "executions.json", doc)
    out = tmp_path / "t.jsonl"
    assert run(["import", "bybit", "--user-trades", str(path), "--opening-flat", "-o", str(out)]) == 0
    what = "pages the venue marks as not the last (nextPageCursor set): the export is incomplete"
    assert f"note: {what}: 1 (executions: executions.json)" in capsys.readouterr().err
    assert {"what": what, "count": 1, "detail": "executions: executions.json"} in records(out)[0]["notes"]


def test_a_binance_page_of_exactly_the_page_limit_is_noted(tmp_path: Path) -> None:
    template = trades()[0]
    rows = [{**template, "id": 5000 + i, "time": template["time"] + i} for i in range(500)]
    out = tmp_path / "t.jsonl"
    assert run(["import", "binance", "--user-trades", str(write(tmp_path / "u.json", rows)), "-o", str(out)]) == 0
    assert {"what": "pages holding exactly the venue's page limit of rows: later pages may exist", "count": 1,
            "detail": "userTrades: u.json, 500 rows"} in records(out)[0]["notes"]


def test_an_empty_export_is_not_a_clean_audit(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    path = write(tmp_path / "fills.json", {"code": "0", "msg": "", "data": []})
    out = tmp_path / "t.jsonl"
    assert run(["import", "okx", "--user-trades", str(path), "-o", str(out)]) == 0
    assert "note: input files without rows: 1 (fills: fills.json)" in capsys.readouterr().err
    assert run(["audit", str(out)]) == 2
    captured = capsys.readouterr()
    assert "VERDICT: NOTHING DECIDED" in captured.out and "no findings" not in captured.out
    assert "nothing could be decided" in one_error_line(captured.err)
    assert run(["audit", str(out), "--json"]) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "nothing decided" and report["report_format"] == 3
    assert run(["audit", str(out), "--markdown"]) == 2
    assert "Verdict: **NOTHING DECIDED" in capsys.readouterr().out


# ---------------------------------------------------------------- 3. numbers


@pytest.mark.parametrize("value, shown", [("1e999999999", "'1e999999999'"), ("1e99999999999", "'1e99999999999'"),
                                          ("1E-99999999999", "'1E-99999999999'")])
def test_a_huge_exponent_is_a_row_error_not_a_crash(tmp_path: Path, capsys, value: str, shown: str) -> None:  # noqa: ANN001
    rows = trades()
    rows[1]["price"] = value  # formatted in full, the first would take a gigabyte, the others cannot be
    path = write(tmp_path / "u.json", rows)
    assert run(["import", "binance", "--user-trades", str(path), "-o", str(tmp_path / "t.jsonl")]) == 2
    assert f"u.json:18: price: {shown} has more than 20 digits before or after the point" in capsys.readouterr().err


def test_huge_json_numbers_and_constants_give_one_line_errors(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    text = json.dumps(trades(), indent=2)
    huge = tmp_path / "huge.json"
    huge.write_text(text.replace('"price": "30400.0"', '"price": 1e999999999').replace('"time": 1700000000000',
                                                                                     '"time": 1' + "0" * 5000))
    assert run(["import", "binance", "--user-trades", str(huge), "-o", str(tmp_path / "t.jsonl")]) == 2
    err = capsys.readouterr().err
    time_error = next(line for line in err.splitlines() if "huge.json:2: time: Decimal('1000" in line)
    assert time_error.endswith("is larger than a trace can carry (2**63-1)")
    assert "huge.json:18: price: Decimal('1E+999999999') has more than 20 digits" in err
    nan = tmp_path / "nan.json"
    nan.write_text(text.replace('"price": "30400.0"', '"price": NaN'))
    assert run(["import", "binance", "--user-trades", str(nan), "-o", str(tmp_path / "t.jsonl")]) == 2
    assert one_error_line(capsys.readouterr().err) == "hedgespec import: nan.json:18: not valid JSON: NaN is not a " \
                                                       "JSON number"


# ---------------------------------------------------------------- 4. output paths


@pytest.mark.parametrize("target, message", [("{tmp}", "is a directory"),
                                             ("/nonexistent-dir/x.out", "directory /nonexistent-dir does not exist")])
def test_bad_output_paths_are_refused_before_the_work(tmp_path: Path, capsys, target: str,  # noqa: ANN001
                                                      message: str) -> None:
    output = target.format(tmp=tmp_path)
    missing_input = str(tmp_path / "not-read.json")  # never opened: the output is checked first
    assert run(["import", "binance", "--user-trades", missing_input, "-o", output]) == 2
    assert one_error_line(capsys.readouterr().err) == f"hedgespec import: {output}: {message}" + (
        " (give a file name)" if "directory" == message.split()[-1] else "")
    trace = tmp_path / "t.jsonl"
    assert run(["import", "binance", "--user-trades", str(B / "userTrades_hedge_clean.json"), "--opening-flat",
                "-o", str(trace)]) == 0
    capsys.readouterr()
    assert run(["audit", str(trace), "-o", output]) == 2
    assert one_error_line(capsys.readouterr().err).startswith(f"hedgespec audit: {output}: {message}")


def test_write_errors_and_overwriting_an_input_are_one_line_errors(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    source = B / "userTrades_hedge_clean.json"
    assert run(["import", "binance", "--user-trades", str(source), "-o", "/dev/full"]) == 2
    assert one_error_line(capsys.readouterr().err) == "hedgespec import: /dev/full: cannot write: No space left on " \
                                                       "device"
    trace = tmp_path / "t.jsonl"
    assert run(["import", "binance", "--user-trades", str(source), "--opening-flat", "-o", str(trace)]) == 0
    capsys.readouterr()
    assert run(["audit", str(trace), "-o", "/dev/full"]) == 2
    assert one_error_line(capsys.readouterr().err).endswith("/dev/full: cannot write: No space left on device")
    before = trace.read_bytes()
    assert run(["audit", str(trace), "-o", str(trace)]) == 2
    assert "is also an input file" in one_error_line(capsys.readouterr().err)
    assert trace.read_bytes() == before
    copy = write(tmp_path / "u.json", trades())
    assert run(["import", "binance", "--user-trades", str(copy), "-o", str(copy)]) == 2
    assert "is also an input file" in one_error_line(capsys.readouterr().err)
    assert json.loads(copy.read_text()) == trades()


# ---------------------------------------------------------------- 5. contract sizes


def test_okx_without_a_contract_size_is_refused(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "t.jsonl"
    assert run(["import", "okx", "--user-trades", str(FIXTURES / "okx/fills_hedge.json"), "--positions",
                str(FIXTURES / "okx/positions_hedge.json"), "-o", str(out)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "contract value (ctVal) unknown for BTC-USDT-SWAP" in line
    assert "--contract-size INSTRUMENT=SIZE" in line and "GET /api/v5/public/instruments" in line
    assert not out.exists()


def test_ccxt_needs_a_contract_size_unless_the_position_rows_carry_it(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    trades_file = str(FIXTURES / "ccxt/trades_binanceusdm.json")
    out = tmp_path / "t.jsonl"
    assert run(["import", "ccxt", "--user-trades", trades_file, "-o", str(out)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "contract size unknown for BTC/USDT:USDT" in line and "contractSize" in line
    assert run(["import", "ccxt", "--user-trades", trades_file, "--positions",
                str(FIXTURES / "ccxt/positions_hedged.json"), "-o", str(out)]) == 0
    assert run(["import", "ccxt", "--user-trades", trades_file, "--contract-size", "BTC/USDT:USDT=1",
                "-o", str(out)]) == 0
    assert [r["quantity"] for r in records(out) if r["type"] == "fill"][0] == "0.01"


# ---------------------------------------------------------------- 6. integers the trace cannot carry


@pytest.mark.parametrize("value", [10**30, 2**63, str(2**63)])
def test_times_beyond_64_bits_are_row_errors(tmp_path: Path, capsys, value: object) -> None:  # noqa: ANN001
    rows = trades()
    rows[2]["time"] = value
    out = tmp_path / "t.jsonl"
    assert run(["import", "binance", "--user-trades", str(write(tmp_path / "u.json", rows)), "--opening-flat",
                "-o", str(out)]) == 2
    assert "u.json:34: time: " in capsys.readouterr().err
    result = audit_file(out, load_profile("seed"))
    assert result.summary["records_rejected"] == 0  # what was written, the audit reads


def test_the_largest_time_a_trace_carries_is_imported(tmp_path: Path) -> None:
    rows = trades()[:1]
    rows[0]["time"] = 2**63 - 1
    out = tmp_path / "t.jsonl"
    assert run(["import", "binance", "--user-trades", str(write(tmp_path / "u.json", rows)), "-o", str(out)]) == 0
    assert records(out)[1]["t"] == 2**63 - 1
    assert audit_file(out, load_profile("seed")).summary["records_rejected"] == 0


def test_builder_never_adds_an_integer_the_audit_cannot_read() -> None:
    b = Builder("test")
    row = Row("f.json", 1, 0, {})
    with pytest.raises(RowError, match="t: 9223372036854775808 is outside"):
        b.add("funding_rate", 2**63, row, "x", instrument="X", rate="0.0001", mark_price=None)
    assert b.records == []


def test_a_snapshot_time_beyond_64_bits_is_an_import_error(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    doc = json.loads((B / "positionRisk_start.json").read_text())
    doc["time"] = 10**30
    path = write(tmp_path / "start.json", doc)
    assert run(["import", "binance", "--user-trades", str(B / "userTrades_close_declared.json"),
                "--opening-positions", str(path), "-o", str(tmp_path / "t.jsonl")]) == 2
    assert "start.json: time: 1000000000000000000000000000000 is larger than a trace can carry" in \
        one_error_line(capsys.readouterr().err)


# ---------------------------------------------------------------- 7. silent conversions


def test_duplicate_json_keys_are_an_error_naming_file_line_and_key(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    text = json.dumps(trades(), indent=2).replace('"price": "30400.0",', '"price": "30400.0",\n    "price": "1",')
    path = tmp_path / "u.json"
    path.write_text(text)
    assert run(["import", "binance", "--user-trades", str(path), "-o", str(tmp_path / "t.jsonl")]) == 2
    assert one_error_line(capsys.readouterr().err).startswith(
        "hedgespec import: u.json:18: not valid JSON: key 'price' appears twice in one object")
    wrapped = write(tmp_path / "w.json", {"code": "0", "msg": "", "data": []})
    wrapped.write_text(wrapped.read_text().replace('"msg": ""', '"msg": "", "msg": "x"'))
    assert run(["import", "okx", "--user-trades", str(wrapped), "-o", str(tmp_path / "t.jsonl")]) == 2
    assert "w.json:1: not valid JSON: key 'msg' appears twice" in one_error_line(capsys.readouterr().err)


def test_escaped_emoji_import_and_a_lone_surrogate_after_them_is_named_by_line_and_column(
        tmp_path: Path, capsys) -> None:  # noqa: ANN001
    rows = trades()
    for row in rows:  # an escaped pair is one character; an escaped backslash before "ud800" is text
        row["note"] = "\U0001f600 \\ud800"
    path = write(tmp_path / "u.json", rows)
    assert run(["import", "binance", "--user-trades", str(path), "--opening-flat", "-o", str(tmp_path / "t.jsonl")]) == 0
    capsys.readouterr()
    text = path.read_text()
    at = text.rindex("\\ud83d")
    path.write_text(text[:at] + "\\ude00" + text[at + 6:])  # two low halves: the first is named
    line, column = text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)
    assert run(["import", "binance", "--user-trades", str(path), "--opening-flat", "-o", str(tmp_path / "t.jsonl")]) == 2
    assert one_error_line(capsys.readouterr().err) == (f"hedgespec import: u.json:{line}:{column}: not valid JSON here: "
                                                       "\\ude00 is a lone UTF-16 surrogate escape (not Unicode text)")


def test_a_number_where_text_belongs_is_a_type_error(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    rows = trades()
    rows[0]["symbol"] = 5
    out = tmp_path / "t.jsonl"
    assert run(["import", "binance", "--user-trades", str(write(tmp_path / "u.json", rows)), "-o", str(out)]) == 2
    assert "u.json:2: symbol: expected a string, got int 5" in capsys.readouterr().err
    assert "5" not in {r.get("instrument") for r in records(out)}
    assert {r["id"] for r in records(out) if r["type"] == "fill"} == {"1002", "1003", "1004", "1005"}  # int ids


@pytest.mark.parametrize(("role", "fixture", "key", "value", "message"), [
    ("--positions", "position_list_hedge.json", "positionIdx", {"a": 1}, "positionIdx: expected 0, 1 or 2, got {'a': 1}"),
    ("--income", "transaction_log.json", "side", ["Sell"], "side: expected a string, got list ['Sell']"),
])
def test_bybit_a_list_or_object_where_a_code_belongs_is_a_row_error(tmp_path: Path, capsys, role: str,  # noqa: ANN001
                                                                   fixture: str, key: str, value: object,
                                                                   message: str) -> None:
    doc = json.loads((FIXTURES / "bybit" / fixture).read_text())
    rows = doc["result"]["list"]
    row = next(r for r in rows if key in r and (key != "side" or r.get("type") == "SETTLEMENT"))
    row[key] = value  # once a TypeError (unhashable) and a traceback
    path = write(tmp_path / fixture, doc)
    files = {"--user-trades": "execution_list_hedge.json", "--positions": "position_list_hedge.json",
             "--income": "transaction_log.json"}
    argv = ["import", "bybit", "--opening-flat", "-o", str(tmp_path / "t.jsonl")]
    for option, name in files.items():
        argv += [option, str(path if option == role else FIXTURES / "bybit" / name)]
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"hedgespec import: {fixture}:" in err and message in err
    assert "1 rows not imported" in err


# ---------------------------------------------------------------- 8. file:line inside wrappers


def test_rows_inside_wrappers_are_named_by_their_line(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    doc = json.loads((FIXTURES / "bybit/execution_list_hedge.json").read_text())
    doc["result"]["list"][2]["side"] = "Sideways"
    path = write(tmp_path / "executions.json", doc)
    out = tmp_path / "t.jsonl"
    assert run(["import", "bybit", "--user-trades", str(path), "-o", str(out)]) == 2
    lines = path.read_text().splitlines()
    starts = [n for n, text in enumerate(lines, 1) if text == "      {"]
    assert f"executions.json:{starts[2]}: side: expected Buy or Sell, got 'Sideways'" in capsys.readouterr().err
    fills = [r for r in records(out) if r["type"] == "fill"]
    assert [(f["src"]["line"], f["src"]["index"]) for f in fills] == [
        (starts[i], i) for i in (0, 1, 3, 4)]
    okx = tmp_path / "t2.jsonl"
    assert run(["import", "okx", "--user-trades", str(FIXTURES / "okx/fills_hedge.json"), "--contract-size",
                "BTC-USDT-SWAP=0.01", "-o", str(okx)]) == 0
    raw = (FIXTURES / "okx/fills_hedge.json").read_text().splitlines()
    okx_starts = [n for n, text in enumerate(raw, 1) if text == "    {"]
    assert [r["src"]["line"] for r in records(okx) if r["type"] == "fill"] == okx_starts


# ---------------------------------------------------------------- 9. audit input


def test_audit_of_a_directory_or_a_bom_trace_says_so(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert run(["audit", str(tmp_path)]) == 2
    assert one_error_line(capsys.readouterr().err) == f"hedgespec audit: {tmp_path}: is a directory, not a trace file"
    trace = tmp_path / "t.jsonl"
    assert run(["import", "binance", "--user-trades", str(B / "userTrades_hedge_clean.json"), "--opening-flat",
                "-o", str(trace)]) == 0
    capsys.readouterr()
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + trace.read_bytes())
    assert run(["audit", str(bom)]) == 2
    assert one_error_line(capsys.readouterr().err) == (
        f"hedgespec audit: {bom}:1: UTF-8 BOM at start of file (a trace is UTF-8 without a byte order mark; "
        "remove the first 3 bytes)")
