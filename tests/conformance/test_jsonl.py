"""The JSON-lines engine protocol hedgespec-engine/1: handshake, request ids, numbers as strings."""

from __future__ import annotations

import io
import json
import sys

import pytest
from conform_helpers import small
from hedgespec.conformance.adapter import ReferenceAdapter
from hedgespec.conformance.failures import EngineFailure
from hedgespec.conformance.jsonl import PROTOCOL, JsonLinesAdapter, decode_line, serve, stray_integer
from hedgespec.conformance.runner import run
from hedgespec.conformance.world import default_params

SERVE_REFERENCE = [sys.executable, "-m", "hedgespec.conformance.jsonl", "hedgespec.conformance.adapter:ReferenceAdapter",
                   "seed"]


def test_handshake_names_the_engine_and_its_capabilities() -> None:
    with JsonLinesAdapter(SERVE_REFERENCE) as engine:
        assert engine.name == "hedgespec-reference"
        assert engine.capabilities == ReferenceAdapter.capabilities


def test_reference_over_json_lines_matches_in_process() -> None:
    params = default_params("seed")
    action = {"t": 1, "kind": "place_order", "account": "alice", "order_id": "o1", "instrument": "BTCUSDT",
              "side": "BUY", "position_side": "LONG", "order_type": "MARKET", "quantity": "0.01", "price": "30000"}
    local = ReferenceAdapter("seed")
    local.reset(params)
    with JsonLinesAdapter(SERVE_REFERENCE) as remote:
        remote.reset(params)
        assert remote.apply(action) == local.apply(action)
        assert remote.snapshot() == local.snapshot()


def test_same_report_in_process_and_over_json_lines() -> None:
    config = small(examples=2, steps=8)
    local = run(lambda: ReferenceAdapter("seed"), config)
    remote = run(lambda: JsonLinesAdapter(SERVE_REFERENCE), config)
    assert local["rules"] == remote["rules"]
    assert local["summary"] == remote["summary"]


def test_serve_answers_each_request_with_its_id() -> None:
    requests = [{"id": 0, "op": "hello", "protocol": PROTOCOL}, {"id": 1, "op": "reset", "params": default_params("seed")},
                {"id": 2, "op": "snapshot"}, {"id": 3, "op": "bogus"}, {"id": 4, "op": "close"}]
    out = io.StringIO()
    serve(ReferenceAdapter("seed"), io.StringIO("".join(json.dumps(r) + "\n" for r in requests)), out)
    replies = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["id"] for r in replies] == [0, 1, 2, 3, 4]
    assert replies[0]["result"]["protocol"] == PROTOCOL
    assert replies[3]["ok"] is False and "unknown op" in replies[3]["error"]["message"]
    assert stray_integer(replies[2]["result"]) is None  # every number a decimal string (time is an integer)


def test_fractional_json_numbers_are_refused() -> None:
    with pytest.raises(ValueError, match="decimal string"):
        decode_line('{"id": 1, "ok": true, "result": {"wallet": 1.5}}')
    assert stray_integer({"accounts": {"a": {"wallet": 3}}}) == "accounts.a.wallet"
    assert stray_integer({"t": 3, "time": 4}) is None


def test_protocol_version_mismatch_is_a_handshake_failure(tmp_path) -> None:
    script = tmp_path / "old.py"
    script.write_text("import sys, json\nfor line in sys.stdin:\n"
                      "    r = json.loads(line)\n"
                      "    print(json.dumps({'id': r['id'], 'ok': True, 'result': {'protocol': 'hedgespec-engine/0',"
                      " 'name': 'old', 'capabilities': []}}), flush=True)\n")
    with pytest.raises(EngineFailure, match="hedgespec-engine/0") as info:
        JsonLinesAdapter([sys.executable, str(script)])
    assert info.value.kind == "handshake"


def test_a_command_that_does_not_exist_is_a_handshake_failure() -> None:
    with pytest.raises(EngineFailure) as info:
        JsonLinesAdapter(["/nonexistent/engine-binary"])
    assert info.value.kind == "handshake"
