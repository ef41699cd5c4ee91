"""A meta record's ``src``: the reader and the JSON schema agree with docs/audit/trace-format.md.

``meta`` may leave ``src`` out; a ``src`` it gives is checked like any other record's, so ``null``
(not an object) is refused by both, with reason ``wrong type`` naming file:line and the field.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from audit_helpers import both_paths, fill, lines_of, meta, opening
from hedgespec.audit.trace import RecordError, json_schema, validate

SCHEMA = jsonschema.Draft202012Validator(json_schema())

CASES = [
    ("src left out", meta(), True),
    ("src an object", {**meta(), "src": {"file": "meta", "id": "m"}}, True),
    ("src with line and index", {**meta(), "src": {"file": "meta", "id": "m", "line": 1, "index": 0}}, True),
    ("src null", {**meta(), "src": None}, False),
    ("src a string", {**meta(), "src": "meta"}, False),
    ("src without id", {**meta(), "src": {"file": "meta"}}, False),
]


def _reader_accepts(record: dict[str, Any]) -> bool:
    try:
        validate(json.loads(json.dumps(record)))
    except RecordError:
        return False
    return True


@pytest.mark.parametrize(("label", "record", "valid"), CASES, ids=[c[0] for c in CASES])
def test_reader_and_schema_agree_on_meta_src(label: str, record: dict[str, Any], valid: bool) -> None:
    assert SCHEMA.is_valid(record) is valid, label
    assert _reader_accepts(record) is valid, label


def test_null_src_is_a_wrong_type_naming_file_line_and_field() -> None:
    lines = lines_of([{**meta(), "src": None}, opening(), fill(10, "1", "BUY", "LONG", "1", "100")])
    report = both_paths(lines)
    assert report["summary"]["rejected_by_reason"] == {"wrong type": 1}
    (rejection,) = report["rejected"]
    assert rejection["line"] == 1
    assert rejection["message"].startswith("t.jsonl:1: meta: src: expected an object")


def test_null_src_on_any_record_is_a_wrong_type_not_a_missing_field() -> None:
    record = {**fill(10, "1", "BUY", "LONG", "1", "100"), "src": None}
    assert not SCHEMA.is_valid(record)
    with pytest.raises(RecordError) as info:
        validate(record)
    assert info.value.reason == "wrong type" and "src" in str(info.value)
