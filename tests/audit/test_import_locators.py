"""Every imported row has its own place in its venue file (src file, line, index), however the responses were saved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from audit_helpers import FIXTURES, run
from hedgespec.audit.importers.common import read_rows

B = FIXTURES / "binance"


def _trades() -> list[dict]:
    return json.loads((B / "userTrades_hedge_clean.json").read_text())


@pytest.mark.parametrize("layout", ["appended", "one per line", "pretty, appended", "wrapped, appended"])
def test_rows_of_several_responses_have_distinct_locators(tmp_path: Path, capsys, layout: str) -> None:  # noqa: ANN001
    rows = _trades()
    assert len(rows) > 3
    first, second = rows[:3], rows[3:]
    text = {"appended": json.dumps(first) + json.dumps(second),  # `curl >> file`: every row on line 1
            "one per line": json.dumps(first) + "\n" + json.dumps(second) + "\n",
            "pretty, appended": json.dumps(first, indent=1) + json.dumps(second, indent=1),
            "wrapped, appended": json.dumps({"data": first}) + json.dumps({"data": second})}[layout]
    path = tmp_path / "p.json"
    path.write_text(text)
    out = tmp_path / "t.jsonl"
    code = run(["import", "binance", "--user-trades", str(path), "--opening-flat", "--mode", "HEDGE", "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    fills = [r for r in map(json.loads, out.read_text().splitlines()) if r["type"] == "fill"]
    assert len(fills) == len(rows)
    places = {(f["src"]["file"], f["src"].get("line"), f["src"]["index"]) for f in fills}
    assert len(places) == len(fills)  # before: ids 1001 and 1004 both p.json:1[0]
    assert sorted(f["src"]["index"] for f in fills) == list(range(len(rows)))


def test_the_row_index_counts_every_response_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('[{"a": 1}, {"a": 2}][{"a": 3}]\n[{"a": 4}]')
    _, found, _ = read_rows(path)
    assert [(r.line, r.index, r.data["a"]) for r in found] == [(1, 0, 1), (1, 1, 2), (1, 2, 3), (2, 3, 4)]
