"""A record repeated word for word was read: it does not make the report incomplete; a conflicting one does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from audit_helpers import both_paths, fill, lines_of, meta, opening, rec, run
from hedgespec.audit.engine import audit_lines
from hedgespec.audit.report import render_text
from hedgespec.spec.profiles import load_profile


def _trace() -> list[bytes]:
    return lines_of([meta(funding_window_ms=1000), opening(),
                     fill(1, "L", "BUY", "LONG", "2", "100"), fill(2, "S", "SELL", "SHORT", "1", "100"),
                     fill(3, "L2", "BUY", "LONG", "1", "100"),
                     rec("funding_rate", 5, "r", instrument="BTCUSDT", rate="0.001", mark_price="100"),
                     rec("funding", 5, "f1", instrument="BTCUSDT", position_side="LONG", amount="-0.3",
                         asset="USDT"),
                     rec("mark_price", 6, "m", instrument="BTCUSDT", price="100")])


@pytest.mark.parametrize("copied", [4, 6, 7])  # a fill, a funding row, a mark price (fused and reference paths)
def test_a_record_repeated_word_for_word_leaves_the_report_clean(copied: int) -> None:
    lines = _trace()
    lines.insert(copied + 1, lines[copied])  # the copy right after its original
    report = both_paths(lines)
    assert report["findings"] == []
    assert report["summary"]["rejected_by_reason"] == {"identical duplicate": 1}
    assert report["summary"]["records_rejected"] == 1 and report["summary"]["reconciles"]
    assert report["verdict"] == "clean"  # before: "incomplete"
    [rejected] = report["rejected"]
    assert rejected["line"] == copied + 2 and f"the same text as line {copied + 1}" in rejected["message"]


def test_a_copy_with_other_line_endings_is_the_same_record() -> None:
    lines = _trace()
    lines.insert(5, lines[4].rstrip(b"\n") + b"\r\n")
    assert both_paths(lines)["verdict"] == "clean"


@pytest.mark.parametrize("copied", [4, 6, 7])
def test_a_same_id_record_with_other_content_still_makes_the_report_incomplete(copied: int) -> None:
    lines = _trace()
    other = json.loads(lines[copied])
    other["t"] = 10  # same source record, other content (and in time order)
    lines.append((json.dumps(other) + "\n").encode())
    report = both_paths(lines)
    assert report["summary"]["rejected_by_reason"] == {"duplicate": 1}
    assert report["verdict"] == "incomplete"
    assert "with different content" in report["rejected"][0]["message"]


def test_the_cli_exit_status_and_text_follow_the_verdict(tmp_path: Path) -> None:
    lines = _trace()
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(b"".join([*lines, lines[-1]]))  # the last record written twice
    assert run(["audit", str(copy)]) == 0  # before: 2 (incomplete)
    result = audit_lines([*lines, lines[-1]], load_profile("seed"), trace_name="t.jsonl")
    assert "INCOMPLETE" not in render_text(result)
    changed = tmp_path / "changed.jsonl"
    other = json.loads(lines[4])
    other["price"], other["t"] = "101", 10
    changed.write_bytes(b"".join([*lines, (json.dumps(other) + "\n").encode()]))
    assert run(["audit", str(changed)]) == 2
