"""The trace format: schema file, validator, canonical numbers (docs/audit/trace-format.md)."""

from __future__ import annotations

import json
from decimal import Decimal
from importlib import resources

import jsonschema
import pytest
from audit_helpers import fill, meta, opening, rec, synth_lines
from hedgespec.audit import trace
from hedgespec.audit.numbers import canonical, parse_decimal, step_of
from hedgespec.audit.trace import RecordError, check_line, json_schema, validate, validate_fast


def test_schema_file_is_generated_from_record_types() -> None:
    shipped = resources.files("hedgespec.audit").joinpath("schema/trace-1.json").read_text(encoding="utf-8")
    assert json.loads(shipped) == json_schema()


def test_synthetic_records_validate_against_the_json_schema() -> None:
    validator = jsonschema.Draft202012Validator(json_schema())
    lines, _ = synth_lines(200, plant=("funding_netted", "order_oversized", "mode_switch_with_positions"))
    for line in lines:
        errors = list(validator.iter_errors(json.loads(line)))
        assert errors == [], (line, errors[:1])


def test_schema_and_validator_agree_on_bad_records() -> None:
    validator = jsonschema.Draft202012Validator(json_schema())
    good = fill(5, "1", "BUY", "LONG", "1", "100")
    bad_cases = [
        {**good, "quantity": 1.5},  # a JSON number, not a decimal string
        {**good, "quantity": "1e5"},
        {**good, "quantity": "0"},
        {**good, "price": "-3"},
        {**good, "price": "100\n"},  # Python's ``$`` would let this through; the schema's lookahead does not
        {**good, "realized_pnl": "-1.5\n"},
        {**good, "closed_quantity": "-0"},
        {**good, "fee_asset": ""},
        {**good, "side": "buy"},
        {**good, "extra": 1},
        {k: v for k, v in good.items() if k != "fee"},
        {**good, "v": 2},
        {**good, "t": -1},
        {**good, "src": {"file": "a"}},
    ]
    assert validator.is_valid(good)
    validate(dict(good))
    for case in bad_cases:
        assert not validator.is_valid(case), case
        with pytest.raises(RecordError):
            validate(case)


def test_fast_path_matches_reference_on_valid_records() -> None:
    lines, _ = synth_lines(300)
    for line in lines:
        assert check_line(line) == validate(json.loads(line))
        assert validate_fast(json.loads(line)) in (None, validate(json.loads(line)))


@pytest.mark.parametrize("line, reason", [
    (b"{not json", "malformed JSON"),
    (b"[1, 2]", "wrong type"),
    (b'{"v": 1, "type": "fill", "t": 1}', "missing field"),
    (b'{"v": 1, "type": "teleport", "t": 1, "src": {"file": "a", "id": "1"}}', "unknown type"),
    (b'{"v": 7, "type": "fill"}', "unsupported version"),
])
def test_check_line_reasons(line: bytes, reason: str) -> None:
    with pytest.raises(RecordError) as err:
        check_line(line)
    assert err.value.reason == reason


def test_numbers_are_decimals_not_floats() -> None:
    out = check_line(json.dumps(fill(1, "1", "BUY", "LONG", "0.1", "0.2", fee="0.30000000")).encode())
    assert out["quantity"] * out["price"] == Decimal("0.02")
    assert isinstance(out["fee"], Decimal) and str(out["fee"]) == "0.30000000"


def test_decimal_text_rules() -> None:
    assert parse_decimal("-12.50") == Decimal("-12.5")
    for bad in ("1e3", "1_000", " 1", "+1", "NaN", "Infinity", ".5", "1.", 1.5):
        with pytest.raises(ValueError):
            parse_decimal(bad)
    assert canonical(Decimal("0E-8")) == "0"
    assert canonical(Decimal("12.3400")) == "12.34"
    assert canonical(Decimal("1E+2")) == "100"
    assert step_of(Decimal("70.92841")) == Decimal("0.00001")
    assert step_of(Decimal("30")) == Decimal(1)



def test_decimal_texts_are_exactly_the_schema_pattern() -> None:
    """The checked patterns (one number, four joined by NUL) accept exactly what DEC_PATTERN accepts."""
    import itertools
    import random
    import re

    from hedgespec.audit.numbers import DECIMAL_TEXT, FILL_NUMBERS, FOUR_DECIMALS, step_of_text

    schema = re.compile(trace.DEC_PATTERN)
    rng = random.Random(3)
    texts = ["".join(chars) for size in range(6) for chars in itertools.product("09.-", repeat=size)]
    texts += [text + "\n" for text in texts[:200]]
    for _ in range(20_000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.choice((1, 19, 20, 21, rng.randint(0, 23)))))
        text = rng.choice(("", "-")) + digits + rng.choice(("", ".", "." + digits[: rng.randint(0, 22)] + "5"))
        texts.append(text[: rng.randint(0, len(text))] + rng.choice(("", "e", " ", "_", "+", "\u0661")) if
                     rng.random() < 0.1 else text)
    for text in texts:
        assert (DECIMAL_TEXT.fullmatch(text) is not None) == (schema.search(text) is not None), text
        if DECIMAL_TEXT.fullmatch(text):
            assert str(step_of_text(text)) == str(step_of(Decimal(text))), text
    for group in zip(texts[::4], texts[1::4], texts[2::4], texts[3::4], strict=False):
        expected = all(schema.search(text) is not None for text in group)
        assert (FOUR_DECIMALS.fullmatch("\x00".join(group)) is not None) == expected, group
        # a fill's numbers: quantity and price not negative
        expected = expected and not group[0].startswith("-") and not group[1].startswith("-")
        assert (FILL_NUMBERS.fullmatch("\x00".join(group)) is not None) == expected, group
    for bad in (0.5, 1.5):
        with pytest.raises(ValueError):
            parse_decimal(bad)
    assert step_of(Decimal("0.00000001")) == Decimal("1E-8") and step_of(Decimal("-2.50")) == Decimal("0.01")
    assert step_of(Decimal("1E+2")) == Decimal(1) and str(step_of(Decimal("5E-30"))) == "1E-30"

def test_meta_and_opening_validate() -> None:
    m = validate(meta(precision={"money": "0.00000001"}, inputs=[{"file": "a.json", "sha256": "00"}]))
    assert m["precision"]["money"] == Decimal("0.00000001")
    o = validate(opening(legs=[{"instrument": "X", "position_side": "LONG", "quantity": "1", "entry_price": "2"}]))
    assert o["legs"][0]["entry_price"] == Decimal(2)
    with pytest.raises(RecordError, match="position_side"):
        validate(opening(legs=[{"instrument": "X", "position_side": "UP", "quantity": "1", "entry_price": "2"}]))


def test_dumps_writes_canonical_decimal_strings() -> None:
    line = trace.dumps(rec("mark_price", 1, instrument="X", price=Decimal("100.500")))
    assert json.loads(line)["price"] == "100.5"


def test_examples_in_the_format_reference_are_valid_records() -> None:
    from pathlib import Path

    doc = Path(__file__).parents[2] / "docs" / "audit" / "trace-format.md"
    examples = [line for line in doc.read_text(encoding="utf-8").splitlines() if line.startswith('{"v":1')]
    assert len(examples) >= 5
    for line in examples:
        check_line(line.encode())


@pytest.mark.parametrize("kind", ["fill", "funding", "position", "order"])
def test_schema_validator_and_fast_path_agree_field_by_field(kind: str) -> None:
    validator = jsonschema.Draft202012Validator(json_schema())
    lines, _ = synth_lines(400, plant=("order_oversized",))
    base = next(json.loads(line) for line in lines if json.loads(line)["type"] == kind)
    candidates = [1, 1.5, "1e3", "", None, "-0", "0", "x", True, [], {}, "LONG", "BUY", "12.5", "\u0663",
                  "1" * 21, "0." + "1" * 21, "1" * 20 + "." + "1" * 20]
    for field in [k for k in base if k not in ("v", "type")]:
        for value in candidates:
            case = {**base, field: value}
            line = json.dumps(case).encode()
            try:
                check_line(line)
                ours = True
            except RecordError:
                ours = False
            assert ours == validator.is_valid(case), (field, value)


def test_a_repeated_key_rejects_the_record_naming_line_and_key() -> None:
    from hedgespec.audit.engine import audit_lines
    from hedgespec.spec.profiles import load_profile

    good = [meta(), opening(), fill(10, "1", "BUY", "LONG", "1", "100")]
    lines = [(trace.dumps(r) + "\n").encode() for r in good] + [
        b'{"v":1,"type":"fill","t":11,"src":{"file":"f","id":"2"},"id":"2","instrument":"BTCUSDT","side":"BUY",'
        b'"position_side":"LONG","quantity":"1","price":"1","price":"2","fee":"0","fee_asset":"USDT",'
        b'"realized_pnl":"0","liquidity":"TAKER"}\n',
        b'{"v":1,"type":"mark_price","t":12,"src":{"file":"f","id" :"3","id":"4"},"instrument":"X","price":"1"}\n',
        b'{"v":1,"type":"mark_price","t":13,"src":{"file":"f","id":"a\\"b"},"instrument":"X","price":"1"}\n',
        b'{"v":1,"type":"opening","t":14,"src":{"file":"f","id":"5"},"position_mode":"HEDGE","complete":true,'
        b'"legs":[{"instrument":"X","position_side":"LONG","quantity":"1","quantity":"1","entry_price":null}]}\n',
        b'{"v":1,"type":"mark_price","t":15,"src":{"file":"f","id":"6"},"instrument":"X","price":"1","x":'
        + b"[" * 1020 + b'"\\""' + b"]" * 1020 + b"}\n",
    ]
    for hot in (True, False):
        result = audit_lines(lines, load_profile("seed"), trace_name="r.jsonl", hot=hot)
        s = result.summary
        assert s["records_read"] == 8 and s["reconciles"] and s["records_checked"] == 4
        assert s["rejected_by_reason"] == {"repeated key": 3, "malformed JSON": 1}
        by_line = {r.line: r.message for r in result.rejections}
        assert by_line[4].startswith("r.jsonl:4: fill: repeated key 'price'")
        assert by_line[5].startswith("r.jsonl:5: mark_price: src: repeated key 'id'")
        assert by_line[7].startswith("r.jsonl:7: opening: legs[0]: repeated key 'quantity'")
        assert by_line[8] == "r.jsonl:8: not valid JSON here: nested too deeply"
