"""Import side: pages appended to one file, unknown response shapes, option checks, flat legs without a time,
Bybit funding rates, a summary that accounts for every row, file:line for bad encodings, maker rebates and
the audit's profile note and venue-export hint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from audit_helpers import FIXTURES, run
from hedgespec.audit.engine import audit_file
from hedgespec.spec.profiles import load_profile

B = FIXTURES / "binance"
Y = FIXTURES / "bybit"


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def trades() -> list[dict]:
    return json.loads((B / "userTrades_hedge_clean.json").read_text())


def err_lines(err: str) -> list[str]:
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.strip()]


def import_trades(tmp_path: Path, path: Path, *extra: str) -> tuple[int, Path]:
    out = tmp_path / "t.jsonl"
    return run(["import", "binance", "--user-trades", str(path), "--opening-flat", "--mode", "HEDGE",
                *extra, "-o", str(out)]), out


# ---------------------------------------------------------------- 1. several responses in one file


@pytest.mark.parametrize("layout", ["appended", "one per line", "pretty, appended", "wrapped, one per line"])
def test_every_page_of_a_file_holding_several_responses_is_read(tmp_path: Path, capsys, layout: str) -> None:  # noqa: ANN001
    rows = trades()
    first, second = rows[:2], rows[2:]
    text = {"appended": json.dumps(first) + json.dumps(second),
            "one per line": json.dumps(first) + "\n" + json.dumps(second) + "\n",
            "pretty, appended": json.dumps(first, indent=1) + json.dumps(second, indent=1),
            "wrapped, one per line": json.dumps({"data": first}) + "\n" + json.dumps({"data": second}) + "\n"}[layout]
    path = tmp_path / "userTrades.json"
    path.write_text(text)
    code, out = import_trades(tmp_path, path)
    err = capsys.readouterr().err
    assert code == 0, err
    fills = [r for r in records(out) if r["type"] == "fill"]
    assert sorted(f["id"] for f in fills) == sorted(str(r["id"]) for r in rows)  # before: only the first page
    assert ("note: files holding several responses one after another: every one read as a page: 1 "
            "(userTrades: userTrades.json, 2 pages)") in err
    assert f"{len(rows)} rows read = {len(rows)} written as records" in err
    second_page = next(f for f in fills if f["id"] == str(second[0]["id"]))
    assert second_page["src"]["index"] == 2  # the position in the file, counting the first response's rows
    if layout == "one per line":
        assert second_page["src"]["line"] == 2


def test_text_after_the_array_is_an_error_naming_its_line(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    path = tmp_path / "userTrades.json"
    path.write_text(json.dumps(trades(), indent=1) + "\n}garbage\n")
    code, out = import_trades(tmp_path, path)
    assert code == 2 and not out.exists()
    lines = err_lines(capsys.readouterr().err)
    last = len(path.read_text().splitlines())
    assert lines == [f"hedgespec import: userTrades.json:{last}: not valid JSON here: more text starting "
                     "'}garbage\\n'; expected a JSON array of rows, an object wrapping one, or one JSON object per "
                     "line"]


def test_rows_and_whole_responses_are_not_mixed_in_one_file(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    rows = trades()
    path = tmp_path / "userTrades.json"
    path.write_text(json.dumps(rows[0]) + "\n" + json.dumps(rows[1:]) + "\n")
    code, _ = import_trades(tmp_path, path)
    assert code == 2
    assert err_lines(capsys.readouterr().err) == [
        "hedgespec import: userTrades.json:2: a whole response after rows: a file holds either responses (JSON "
        "arrays or wrapper objects) or JSON lines of rows, not both"]


def test_an_error_reply_among_appended_pages_names_its_line(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    path = tmp_path / "fills.json"
    page = {"code": "0", "msg": "", "data": []}
    path.write_text(json.dumps(page) + "\n" + json.dumps({"code": "50011", "msg": "rate limit", "data": []}) + "\n")
    assert run(["import", "okx", "--user-trades", str(path), "-o", str(tmp_path / "t.jsonl")]) == 2
    assert err_lines(capsys.readouterr().err) == [
        "hedgespec import: fills.json:2: the venue answered with an error, not data: code 50011 'rate limit'"]


# ---------------------------------------------------------------- 2. unknown shapes; venue files given to audit


@pytest.mark.parametrize("per_line", [False, True])
def test_an_unknown_wrapper_is_named_as_such_not_as_a_missing_field(tmp_path: Path, capsys, per_line: bool) -> None:  # noqa: ANN001
    rows = trades()
    path = tmp_path / "userTrades.json"
    if per_line:
        path.write_text(json.dumps({"trades": rows[:2]}) + "\n" + json.dumps({"trades": rows[2:]}) + "\n")
    else:
        path.write_text(json.dumps({"trades": rows}, indent=1))
    code, _ = import_trades(tmp_path, path)
    assert code == 2
    err = capsys.readouterr().err
    assert "missing field" not in err  # before: "missing field 'commission'" on every line
    lines = [line for line in err_lines(err) if "not a userTrades row" in line]
    assert len(lines) == (2 if per_line else 1)
    assert lines[0].startswith("hedgespec import: userTrades.json:1: not a userTrades row: none of its keys "
                               "('trades') is a userTrades field; a response wrapper the importer does not "
                               "recognise (rows under 'trades'?)")
    assert "(data, result.list, response, list, rows)" in lines[0]


def test_a_venue_file_given_to_audit_gets_a_hint_to_import_it(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    path = tmp_path / "userTrades.json"
    path.write_text(json.dumps(trades(), indent=1))
    assert run(["audit", str(path)]) == 2
    err = capsys.readouterr().err
    assert (f"hedgespec audit: {path}: this looks like a venue export (an API response), not a hedgespec trace: "
            f"convert it first, e.g. hedgespec import binance --user-trades {path} -o trace.jsonl") in err
    code, trace = import_trades(tmp_path, B / "userTrades_hedge_clean.json")
    capsys.readouterr()
    assert run(["audit", str(trace), "--profile", "seed"]) == 0
    assert "looks like a venue export" not in capsys.readouterr().err


# ---------------------------------------------------------------- 3. --entry-precision


@pytest.mark.parametrize("value", ["1e-8", "abc", "-0.00000001", "0.000000000000000000001"])
def test_entry_precision_must_be_a_plain_decimal_and_the_error_names_the_option(tmp_path: Path, capsys,  # noqa: ANN001
                                                                                value: str) -> None:
    code, out = import_trades(tmp_path, B / "userTrades_hedge_clean.json", f"--entry-precision={value}")
    assert code == 2 and not out.exists()
    assert err_lines(capsys.readouterr().err) == [
        f"hedgespec import: --entry-precision {value!r}: expected a non-negative plain decimal step such as "
        "0.00000001 (at most 20 digits before and after the point, no exponent)"]


def test_entry_precision_default_is_written_in_the_form_the_option_accepts(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    code, out = import_trades(tmp_path, B / "userTrades_hedge_clean.json")
    assert code == 0
    assert records(out)[0]["precision"]["entry_price"] == "0.00000001"
    code, out = import_trades(tmp_path, B / "userTrades_hedge_clean.json", "--entry-precision", "0.00000001")
    assert code == 0
    assert records(out)[0]["precision"]["entry_price"] == "0.00000001"


# ---------------------------------------------------------------- 4. raw positionRisk: flat legs with updateTime 0


def test_a_raw_position_risk_response_keeps_its_flat_legs(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    raw = json.loads((B / "positionRisk_start.json").read_text())["response"]  # as the venue returns it
    flat = [r for r in raw if r["positionAmt"] == "0"]
    assert flat and all(r["updateTime"] == 0 for r in flat)
    latest = max(r["updateTime"] for r in raw)
    path = tmp_path / "positionRisk.json"
    path.write_text(json.dumps(raw, indent=1))
    code, out = import_trades(tmp_path, B / "userTrades_hedge_clean.json", "--positions", str(path))
    err = capsys.readouterr().err
    assert code == 0, err  # before: the flat row was "not imported", exit 2
    positions = [r for r in records(out) if r["type"] == "position"]
    assert len(positions) == len(raw)
    short = next(p for p in positions if p["position_side"] == "SHORT")
    assert short["quantity"] == "0" and short["t"] == latest
    assert ("note: flat position rows with updateTime 0 dated at the latest updateTime of their response: 1 "
            "(positionRisk without a snapshot time)") in err


def test_an_open_leg_without_update_time_is_still_a_row_error(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    raw = json.loads((B / "positionRisk_start.json").read_text())["response"]
    next(r for r in raw if r["positionAmt"] != "0")["updateTime"] = 0
    path = tmp_path / "positionRisk.json"
    path.write_text(json.dumps(raw))
    code, _ = import_trades(tmp_path, B / "userTrades_hedge_clean.json", "--positions", str(path))
    assert code == 2
    assert ("positionRisk.json:1: updateTime is 0 on an open leg and the file has no snapshot time"
            in capsys.readouterr().err)


# ---------------------------------------------------------------- 5. Bybit funding rate, mark and size


def _bybit(tmp_path: Path, log: Path) -> tuple[int, Path]:
    out = tmp_path / "bybit.jsonl"
    code = run(["import", "bybit", "--user-trades", str(Y / "execution_list_hedge.json"), "--positions",
                str(Y / "position_list_hedge.json"), "--income", str(log), "--opening-flat", "--mode", "HEDGE",
                "-o", str(out)])
    return code, out


def test_bybit_settlement_rows_carry_rate_mark_and_size_so_funding_is_decided(tmp_path: Path) -> None:
    code, out = _bybit(tmp_path, Y / "transaction_log.json")
    assert code == 0
    recs = records(out)
    funding = {r["position_side"]: r for r in recs if r["type"] == "funding"}
    assert funding["LONG"]["rate"] == "0.0001" and funding["LONG"]["mark_price"] == "30150"
    assert funding["LONG"]["quantity"] == "0.02" and funding["SHORT"]["quantity"] == "0.03"
    assert funding["SHORT"]["mark_price"] == "30150" and "rate" not in funding["SHORT"]  # sign not documented
    rates = [r for r in recs if r["type"] == "funding_rate"]
    assert [(r["instrument"], r["t"], r["rate"], r["mark_price"]) for r in rates] == [
        ("BTCUSDT", 1700028800000, "0.0001", "30150")]
    result = audit_file(out, load_profile("bybit-v5"))
    assert result.findings == []
    assert result.decided_by_rule["HM-FUND-001"] == 2  # before: not decidable for Bybit


def test_bybit_wrong_funding_on_the_short_leg_is_found(tmp_path: Path) -> None:
    doc = json.loads((Y / "transaction_log.json").read_text())
    short = doc["result"]["list"][1]
    short["funding"] = short["change"] = "0.0603"  # the long leg's amount: q x mark x rate of the wrong leg
    log = tmp_path / "transaction_log.json"
    log.write_text(json.dumps(doc, indent=1))
    code, out = _bybit(tmp_path, log)
    assert code == 0
    result = audit_file(out, load_profile("bybit-v5"))
    assert result.findings_by_rule == {"HM-FUND-001": 1}
    assert result.findings[0].expected == "0.09045"


def test_bybit_negative_size_on_a_buy_settlement_row_is_a_row_error(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    doc = json.loads((Y / "transaction_log.json").read_text())
    doc["result"]["list"][0]["size"] = "-0.02"
    log = tmp_path / "transaction_log.json"
    log.write_text(json.dumps(doc, indent=2))
    code, _ = _bybit(tmp_path, log)
    assert code == 2
    assert "size -0.02 is negative on a Buy (LONG) settlement row" in capsys.readouterr().err


# ---------------------------------------------------------------- 6. every row read is accounted for


def test_the_import_summary_accounts_for_every_row(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "t.jsonl"
    assert run(["import", "binance", "--user-trades", str(B / "userTrades_hedge_clean.json"),
                "--income", str(B / "income_hedge_clean.json"), "--positions", str(B / "positionRisk_end.json"),
                "--opening-positions", str(B / "positionRisk_start.json"), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    income = json.loads((B / "income_hedge_clean.json").read_text())
    opening = json.loads((B / "positionRisk_start.json").read_text())["response"]
    skipped = {kind: sum(r["incomeType"] == kind for r in income) for kind in ("COMMISSION", "REALIZED_PNL")}
    read = len(trades()) + len(income) + len(json.loads((B / "positionRisk_end.json").read_text())) + len(opening)
    written = read - sum(skipped.values()) - len(opening)
    assert all(skipped.values())
    assert (f"{read} rows read = {written} written as records + {len(opening)} merged into the opening record"
            f" + {sum(skipped.values())} skipped (income rows COMMISSION not imported: {skipped['COMMISSION']}; "
            f"income rows REALIZED_PNL not imported: {skipped['REALIZED_PNL']}) + 0 duplicate rows kept once"
            f" + 0 rows not imported;") in err  # before: "14 rows read, 10 records written, 0 rows not imported"
    assert written == len([r for r in records(out) if r["type"] not in ("meta", "opening")])


# ---------------------------------------------------------------- 7. not UTF-8


def test_a_venue_file_that_is_not_utf8_is_named_by_line_and_column(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    text = json.dumps(trades(), indent=2).replace('"BTCUSDT"', '"BTC\u00e9USDT"', 2)
    path = tmp_path / "userTrades.json"
    path.write_bytes(text.encode("latin-1"))
    line = next(n for n, t in enumerate(text.splitlines(), 1) if "\u00e9" in t)
    column = text.splitlines()[line - 1].index("\u00e9") + 1
    code, _ = import_trades(tmp_path, path)
    assert code == 2
    (message,) = err_lines(capsys.readouterr().err)
    assert message.startswith(f"hedgespec import: userTrades.json:{line}:{column}: not UTF-8 text (")


# ---------------------------------------------------------------- 8. maker rebates


def test_a_negative_commission_is_carried_as_a_negative_fee(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    rows = trades()
    maker = next(r for r in rows if r["maker"])
    maker["commission"] = "-" + maker["commission"]  # a maker rebate at the same rate
    for r in rows:
        if r["maker"] and r is not maker:
            r["commission"] = "-" + r["commission"]
    path = tmp_path / "userTrades.json"
    path.write_text(json.dumps(rows, indent=1))
    code, out = import_trades(tmp_path, path)
    err = capsys.readouterr().err
    assert code == 0
    fill = next(r for r in records(out) if r["type"] == "fill" and r["id"] == str(maker["id"]))
    assert fill["fee"] == maker["commission"] and fill["fee"].startswith("-")  # before: the magnitude, paid
    rebates = sum(r["maker"] for r in rows)
    assert (f"note: fills with a negative commission (a rebate): carried as a negative fee: {rebates} "
            "(maker fills)") in err
    result = audit_file(out, load_profile("seed"))
    assert result.findings == []
    assert result.decided_by_rule["HM-FEE-001"] >= rebates


# ---------------------------------------------------------------- 9. audit without --profile


def test_audit_without_profile_names_the_shipped_profile_of_the_trace_venue(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    code, trace = import_trades(tmp_path, B / "userTrades_hedge_clean.json")
    capsys.readouterr()
    assert run(["audit", str(trace)]) == 0
    captured = capsys.readouterr()
    assert "profile       seed" in captured.out  # still the seed, as documented
    assert err_lines(captured.err) == [
        "hedgespec audit: note: no --profile given: auditing t.jsonl under the seed profile, not binance-usdm, the "
        "shipped profile of its venue 'binance' (meta.venue); pass --profile binance-usdm to audit against the "
        "venue's documented choices, or --profile seed to silence this note"]
    assert run(["audit", str(trace), "--profile", "seed"]) == 0
    assert capsys.readouterr().err == ""
