"""The hedgespec trace format, version 1: JSON lines, one observation per line.

Every record is a JSON object with ``"v": 1``, ``"type"``, ``"t"`` (milliseconds since the epoch,
or any logical time from 0 to 2**63-1), ``"src"`` (where the observation came from) and the
fields of its type. Amounts, prices, quantities and rates are decimal strings. The full reference
is ``docs/audit/trace-format.md``; the JSON Schema (``audit/schema/trace-1.json``) is generated
from ``RECORD_TYPES`` below by ``json_schema()`` and a test keeps the two identical.

Validation here is hand-written (one pass, no schema engine in the hot loop) and returns the record
with its numbers as ``Decimal``. It never evaluates input: records are parsed as JSON data only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

from hedgespec.jsonio import lone_surrogate_at

from .numbers import DECIMAL_TEXT, FOUR_DECIMALS, canonical


def _json_loads(line: bytes) -> Any:
    """``json.loads`` refusing a lone surrogate escape (``"\\ud800"``) as orjson does: JSON's grammar allows one,
    but it is not Unicode text, and no report (UTF-8) could quote it."""
    value = json.loads(line)
    if b"\\u" in line:
        at = lone_surrogate_at(line.decode("utf-8"))
        if at is not None:
            raise ValueError(f"lone UTF-16 surrogate escape at column {at + 1} (not Unicode text)")
    return value


try:  # orjson is optional; both parsers treat JSON numbers the same way (they are rejected in amounts)
    import orjson

    _loads: Callable[[bytes], Any] = orjson.loads
    PARSER = "orjson"
except ImportError:  # pragma: no cover - exercised only without the fast extra
    _loads = _json_loads
    PARSER = "json"

TRACE_VERSION = 1
SCHEMA_ID = "https://hedgespec.dev/schema/audit/trace-1.json"

POSITION_SIDES = ("LONG", "SHORT", "BOTH")
SIDES = ("BUY", "SELL")
MODES = ("HEDGE", "ONE_WAY")


class RecordError(ValueError):
    """A record that cannot be used; ``reason`` is the summary category, ``str()`` the detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


# --------------------------------------------------------------------------- field kinds


@dataclass(frozen=True)
class Kind:
    """How one field is checked and converted, and its JSON Schema fragment."""

    name: str
    convert: Callable[[Any], Any]
    schema: dict[str, Any]


def _wrong(expected: str, value: Any) -> RecordError:
    return RecordError("wrong type", f"expected {expected}, got {type(value).__name__} {value!r:.60}")


def _dec(value: Any) -> Decimal:
    if type(value) is not str or DECIMAL_TEXT.fullmatch(value) is None:
        raise _wrong("a decimal string", value)
    return Decimal(value)


def _udec(value: Any) -> Decimal:
    number = _dec(value)
    if number < 0 or value[0] == "-":  # "-0" too: the schema's pattern has no sign
        raise RecordError("wrong type", f"expected a non-negative decimal string, got {value!r}")
    return number


def _pdec(value: Any) -> Decimal:
    number = _dec(value)
    if number <= 0:
        raise RecordError("wrong type", f"expected a positive decimal string, got {value!r}")
    return number


def _str(value: Any) -> str:
    if type(value) is not str or not value:
        raise _wrong("a non-empty string", value)
    return value


def _text(value: Any) -> str:
    if type(value) is not str:
        raise _wrong("a string", value)
    return value


MAX_INT = 2**63 - 1  # the largest integer a trace carries (times, source lines and indexes, counts)


def _int(value: Any) -> int:
    if type(value) is not int or not 0 <= value <= MAX_INT:
        raise _wrong("an integer from 0 to 2**63-1", value)
    return value


def _bool(value: Any) -> bool:
    if type(value) is not bool:
        raise _wrong("true or false", value)
    return value


# ``(?!\n)`` before ``$``: ECMA-262 (JSON Schema's dialect) ends ``$`` at the end of the text, but
# Python's ``re`` (the jsonschema package) also lets it match before a final newline; with the
# lookahead both dialects accept the same strings, and "1\n" is not a decimal in either.
DEC_PATTERN = "^-?[0-9]{1,20}(\\.[0-9]{1,20})?(?!\\n)$"
UDEC_PATTERN = "^[0-9]{1,20}(\\.[0-9]{1,20})?(?!\\n)$"
DEC = Kind("decimal", _dec, {"type": "string", "pattern": DEC_PATTERN})
UDEC = Kind("non-negative decimal", _udec, {"type": "string", "pattern": UDEC_PATTERN})
PDEC = Kind("positive decimal", _pdec, {"type": "string", "pattern": UDEC_PATTERN, "not": {"pattern": "^[0.]+$"}})
STR = Kind("string", _str, {"type": "string", "minLength": 1})
TEXT = Kind("text", _text, {"type": "string"})
INT = Kind("integer", _int, {"type": "integer", "minimum": 0, "maximum": MAX_INT})
BOOL = Kind("boolean", _bool, {"type": "boolean"})


def enum(*values: str) -> Kind:
    allowed = frozenset(values)

    def convert(value: Any) -> str:
        if type(value) is not str or value not in allowed:
            raise RecordError("wrong type", f"expected one of {'|'.join(values)}, got {value!r:.60}")
        return value

    return Kind("one of " + "|".join(values), convert, {"enum": list(values)})


def nullable(kind: Kind) -> Kind:
    def convert(value: Any) -> Any:
        return None if value is None else kind.convert(value)

    schema = {"anyOf": [kind.schema, {"type": "null"}]}
    return Kind(kind.name + " or null", convert, schema)


def obj(fields: dict[str, tuple[Kind, bool]], name: str) -> Kind:
    """A nested object with its own fields (no unknown keys)."""
    allowed = frozenset(fields)

    def convert(value: Any) -> dict[str, Any]:
        if type(value) is not dict:
            raise _wrong(f"an object ({name})", value)
        return _convert_fields(value, fields, allowed)

    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": sorted(k for k, (_, req) in fields.items() if req),
        "properties": {k: kind.schema for k, (kind, _) in fields.items()},
    }
    return Kind(name, convert, schema)


def array(item: Kind, name: str) -> Kind:
    def convert(value: Any) -> list[Any]:
        if type(value) is not list:
            raise _wrong(f"an array ({name})", value)
        return [item.convert(v) for v in value]

    return Kind(name, convert, {"type": "array", "items": item.schema})


def _convert_fields(raw: dict[str, Any], fields: dict[str, tuple[Kind, bool]], allowed: frozenset[str],
                    prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in raw:
        if key not in allowed:
            raise RecordError("unknown field", f"unknown field {prefix}{key!r}")
    for key, (kind, required) in fields.items():
        if key in raw:
            try:
                out[key] = kind.convert(raw[key])
            except RecordError as exc:
                raise RecordError(exc.reason, f"{prefix}{key}: {exc}") from None
        elif required:
            raise RecordError("missing field", f"missing field {prefix}{key!r}")
    return out


# --------------------------------------------------------------------------- record types

SRC = obj({"file": (STR, True), "id": (STR, True), "line": (INT, False), "index": (INT, False)}, "src")
LEG = obj({
    "instrument": (STR, True),
    "position_side": (enum(*POSITION_SIDES), True),
    "quantity": (UDEC, True),
    "entry_price": (nullable(UDEC), True),
}, "leg")
INPUT = obj({"file": (STR, True), "sha256": (STR, True), "role": (STR, False)}, "input")
PRECISION = obj({
    "money": (UDEC, False),
    "price": (UDEC, False),
    "quantity": (UDEC, False),
    "entry_price": (UDEC, False),
    "rate": (UDEC, False),
}, "precision")
NOTE = obj({"what": (STR, True), "count": (INT, True), "detail": (TEXT, False)}, "note")
PS_LEG = enum("LONG", "SHORT")

#: type -> field -> (kind, required). Common fields v, type, t, src are added to every type.
RECORD_TYPES: dict[str, dict[str, tuple[Kind, bool]]] = {
    "meta": {
        "venue": (STR, True),
        "account": (STR, False),
        "created_by": (STR, False),
        "inputs": (array(INPUT, "inputs"), False),
        "settle_asset": (STR, False),
        "precision": (PRECISION, False),
        "funding_window_ms": (INT, False),
        "ledger_complete": (BOOL, False),
        "notes": (array(NOTE, "notes"), False),
    },
    "opening": {
        "position_mode": (nullable(enum(*MODES)), True),
        "legs": (array(LEG, "legs"), True),
        "complete": (BOOL, True),
        "balances": (array(obj({"asset": (STR, True), "wallet_balance": (DEC, True)}, "balance"), "balances"), False),
    },
    "mode_change": {
        "requested": (enum(*MODES), True),
        "outcome": (enum("accepted", "rejected", "unchanged"), True),
        "code": (nullable(STR), False),
        "message": (TEXT, False),
    },
    "order": {
        "order_id": (STR, True),
        "instrument": (STR, True),
        "side": (enum(*SIDES), True),
        "position_side": (nullable(enum(*POSITION_SIDES)), True),
        "quantity": (nullable(PDEC), True),
        "price": (nullable(PDEC), False),
        "order_type": (STR, False),
        "reduce_only": (BOOL, False),
        "close_position": (BOOL, False),
        "outcome": (enum("accepted", "rejected"), True),
        "code": (nullable(STR), False),
        "message": (TEXT, False),
    },
    "fill": {
        "id": (STR, True),
        "order_id": (nullable(STR), False),
        "instrument": (STR, True),
        "side": (enum(*SIDES), True),
        "position_side": (enum(*POSITION_SIDES), True),
        "quantity": (PDEC, True),
        "price": (PDEC, True),
        "fee": (nullable(DEC), True),
        "fee_asset": (nullable(STR), True),
        "realized_pnl": (nullable(DEC), True),
        "liquidity": (nullable(enum("MAKER", "TAKER")), True),
        "cause": (enum("order", "trigger", "liquidation", "adl", "settlement"), False),
        "closed_quantity": (UDEC, False),
    },
    "funding": {
        "instrument": (STR, True),
        "position_side": (nullable(enum(*POSITION_SIDES)), True),
        "amount": (DEC, True),
        "asset": (STR, True),
        "rate": (nullable(DEC), False),
        "mark_price": (nullable(PDEC), False),
        "quantity": (nullable(UDEC), False),
    },
    "mark_price": {"instrument": (STR, True), "price": (PDEC, True)},
    "funding_rate": {"instrument": (STR, True), "rate": (DEC, True), "mark_price": (nullable(PDEC), False)},
    "liquidation": {
        "instrument": (STR, True),
        "position_side": (nullable(enum(*POSITION_SIDES)), True),
        "quantity": (nullable(UDEC), False),
        "price": (nullable(PDEC), False),
        "margin_type": (nullable(enum("ISOLATED", "CROSS")), False),
    },
    "adl": {
        "instrument": (STR, True),
        "position_side": (enum(*POSITION_SIDES), True),
        "quantity": (PDEC, True),
        "price": (nullable(PDEC), False),
    },
    "insurance": {"instrument": (nullable(STR), False), "amount": (DEC, True), "asset": (STR, True)},
    "position": {
        "instrument": (STR, True),
        "position_side": (enum(*POSITION_SIDES), True),
        "quantity": (UDEC, True),
        "entry_price": (nullable(UDEC), True),
        "mark_price": (nullable(PDEC), False),
        "unrealized_pnl": (nullable(DEC), False),
        "margin_type": (nullable(enum("ISOLATED", "CROSS")), False),
    },
    "balance": {"asset": (STR, True), "wallet_balance": (DEC, True)},
    "ledger": {
        "kind": (STR, True),
        "asset": (STR, True),
        "amount": (DEC, True),
        "instrument": (nullable(STR), False),
    },
}

COMMON_FIELDS = ("v", "type", "t", "src")
_COMPILED = {
    name: (tuple((k, kind.convert, req) for k, (kind, req) in fields.items()),
           frozenset(fields) | frozenset(COMMON_FIELDS))
    for name, fields in RECORD_TYPES.items()
}
_SRC_CONVERT = SRC.convert


def validate(raw: Any) -> dict[str, Any]:
    """Check one decoded record and return it with Decimal numbers; raises ``RecordError``."""
    if type(raw) is not dict:
        raise RecordError("wrong type", f"a record is a JSON object, got {type(raw).__name__}")
    if raw.get("v") != TRACE_VERSION or type(raw.get("v")) is not int:
        if "v" not in raw:
            raise RecordError("missing field", "missing field 'v' (format version)")
        raise RecordError("unsupported version", f"format version {raw.get('v')!r:.20} (this audit reads v1)")
    kind = raw.get("type")
    compiled = _COMPILED.get(kind) if type(kind) is str else None
    if compiled is None:
        if "type" not in raw:
            raise RecordError("missing field", "missing field 'type'")
        raise RecordError("unknown type", f"unknown record type {kind!r:.40}")
    fields, allowed = compiled
    for key in raw:
        if key not in allowed:
            raise RecordError("unknown field", f"{kind}: unknown field {key!r:.40}")
    out: dict[str, Any] = {"v": TRACE_VERSION, "type": kind}
    t = raw.get("t")
    if type(t) is not int or not 0 <= t <= MAX_INT:
        if t is None and kind == "meta":
            out["t"] = None
        elif "t" not in raw:
            raise RecordError("missing field", f"{kind}: missing field 't'")
        else:
            raise RecordError("wrong type", f"{kind}: t: expected an integer from 0 to 2**63-1, got {t!r:.40}")
    else:
        out["t"] = t
    if "src" not in raw:  # only meta may leave it out; a src given (even null) is checked like any other
        if kind != "meta":
            raise RecordError("missing field", f"{kind}: missing field 'src'")
        out["src"] = None
    else:
        try:
            out["src"] = _SRC_CONVERT(raw["src"])
        except RecordError as exc:
            raise RecordError(exc.reason, f"{kind}: src: {exc}") from None
    for key, convert, required in fields:
        value = raw.get(key, _MISSING)
        if value is _MISSING:
            if required:
                raise RecordError("missing field", f"{kind}: missing field {key!r}")
            continue
        try:
            out[key] = convert(value)
        except RecordError as exc:
            raise RecordError(exc.reason, f"{kind}: {key}: {exc}") from None
    return out


_MISSING = object()


def decode(line: bytes) -> Any:
    """Parse one JSON line; raises ``RecordError`` ("malformed JSON") with the parser's message, or naming the
    first byte that is not UTF-8 (the same message whichever parser is installed)."""
    try:
        return _loads(line)
    except ValueError as exc:  # orjson.JSONDecodeError and json.JSONDecodeError (and UnicodeDecodeError) are ValueErrors
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise RecordError("malformed JSON", f"not valid UTF-8: byte 0x{line[bad.start]:02x} at column "
                                                f"{bad.start + 1} (a trace is UTF-8 text)") from None
        raise RecordError("malformed JSON", f"not valid JSON: {exc}") from None
    except RecursionError:  # json (without orjson) on deep nesting; orjson says so as a ValueError
        raise RecordError("malformed JSON", "not valid JSON here: nested too deeply") from None


def read_lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """Numbered non-blank lines of a binary stream (line numbers count blank lines too)."""
    for number, line in enumerate(stream, 1):
        if line.strip():
            yield number, line


# --------------------------------------------------------------------------- writing


def record(type_: str, t: int | None, src: dict[str, Any] | None, **fields: Any) -> dict[str, Any]:
    """Build a trace record (numbers as Decimal or str are written as canonical strings by ``dumps``)."""
    out: dict[str, Any] = {"v": TRACE_VERSION, "type": type_, "t": t}
    if src is not None:
        out["src"] = src
    out.update(fields)
    return out


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return canonical(value)
    raise TypeError(f"cannot write {type(value).__name__} in a trace")


def dumps(rec: dict[str, Any]) -> str:
    """One trace line (without newline): compact, key order as given, Decimals as strings."""
    return json.dumps(rec, separators=(",", ":"), ensure_ascii=False, default=_default)


# --------------------------------------------------------------------------- JSON Schema


def json_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of one trace line, generated from ``RECORD_TYPES``."""
    variants = []
    for name, fields in RECORD_TYPES.items():
        required = ["v", "type", "t"] + ([] if name == "meta" else ["src"])
        required += [k for k, (_, req) in fields.items() if req]
        props: dict[str, Any] = {
            "v": {"const": TRACE_VERSION},
            "type": {"const": name},
            "t": INT.schema if name != "meta" else {"anyOf": [INT.schema, {"type": "null"}]},
            "src": SRC.schema,
        }
        props.update({k: kind.schema for k, (kind, _) in fields.items()})
        variants.append({
            "title": name,
            "type": "object",
            "additionalProperties": False,
            "required": required,
            "properties": props,
        })
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "hedgespec audit trace, format version 1 (one JSON object per line)",
        "oneOf": variants,
    }


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=False) + "\n"


# --------------------------------------------------------------------------- fast path
# ``validate`` above is the reference (and gives the error messages). ``validate_fast`` accepts exactly
# the same records with flat converters; on any doubt ``check_line`` defers to ``validate``, so verdicts
# and messages are those of the reference.


class FastPathMiss(Exception):
    """The fast path declines; the reference validator decides."""


_Bad = FastPathMiss


_MATCH = DECIMAL_TEXT.fullmatch


def _f_dec(v: Any) -> Decimal:
    if type(v) is str and _MATCH(v) is not None:
        return Decimal(v)
    raise _Bad


def _f_udec(v: Any) -> Decimal:
    if type(v) is str and _MATCH(v) is not None and v[0] != "-":
        return Decimal(v)
    raise _Bad


def _f_pdec(v: Any) -> Decimal:
    if type(v) is str and _MATCH(v) is not None and v[0] != "-":
        d = Decimal(v)
        if d:
            return d
    raise _Bad


def _f_str(v: Any) -> str:
    if type(v) is str and v:
        return v
    raise _Bad


_F_DEC, _F_UDEC, _F_PDEC, _F_STR, _F_ENUM, _F_REF = range(1, 7)


def _spec_of(kind: Kind) -> tuple[int, bool, Any]:
    """(how to check, nullable, argument) for the fast path, read off the kind's schema."""
    schema, nullable_ = kind.schema, False
    if "anyOf" in schema and schema["anyOf"][1] == {"type": "null"}:
        schema, nullable_ = schema["anyOf"][0], True
    for base, ref in ((_F_DEC, DEC), (_F_UDEC, UDEC), (_F_PDEC, PDEC), (_F_STR, STR)):
        if schema == ref.schema:
            return base, nullable_, None
    if set(schema) == {"enum"}:
        return _F_ENUM, nullable_, frozenset(schema["enum"])
    return _F_REF, False, kind.convert


def _flat_or_ref(kind: Kind) -> tuple[Callable[[Any], Any], bool]:
    """A plain converter for ``kind`` (used where the fast path needs a callable)."""
    base, nullable_, arg = _spec_of(kind)
    flat = {_F_DEC: _f_dec, _F_UDEC: _f_udec, _F_PDEC: _f_pdec, _F_STR: _f_str}.get(base)
    if flat is None:
        return kind.convert, True
    if nullable_:
        return (lambda v, f=flat: None if v is None else f(v)), False
    return flat, False


_FAST = {
    name: (
        frozenset(fields) | frozenset(COMMON_FIELDS),
        frozenset(k for k, (_, req) in fields.items() if req) | frozenset(COMMON_FIELDS),
        {k: _spec_of(kind) for k, (kind, _) in fields.items()},
    )
    for name, fields in RECORD_TYPES.items() if name != "meta"
}
_SRC_KEYS = frozenset(("file", "id", "line", "index"))


def _check_src_extras(src: dict[str, Any]) -> None:
    if src.keys() - _SRC_KEYS:
        raise _Bad
    for extra in ("line", "index"):
        if extra in src and (type(src[extra]) is not int or not 0 <= src[extra] <= MAX_INT):
            raise _Bad


def validate_fast(raw: Any) -> dict[str, Any] | None:
    """``validate`` for well-formed records, converting ``raw`` in place; ``None`` when in doubt.

    After ``None``, ``raw`` may be partly converted: decode the line again and call ``validate``
    for the verdict and its message.
    """
    try:
        kind = raw["type"]
        if kind == "fill":
            return fast_fill(raw)
        allowed, required, convs = _FAST[kind]
        if raw["v"] != 1 or type(raw["v"]) is not int:
            raise _Bad
        keys = raw.keys()
        if not (keys <= allowed and keys >= required):
            raise _Bad
        t = raw["t"]
        src = raw["src"]
        if type(t) is not int or not 0 <= t <= MAX_INT or type(src) is not dict:
            raise _Bad
        file, ident = src.get("file"), src.get("id")
        if type(file) is not str or not file or type(ident) is not str or not ident:
            raise _Bad
        if len(src) > 2:
            _check_src_extras(src)
        for key in keys:
            spec = convs.get(key)
            if spec is None:
                continue
            base, nullable_, arg = spec
            value = raw[key]
            if value is None:
                if nullable_:
                    continue
                raise _Bad
            if base <= _F_PDEC:
                if value.__class__ is not str or _MATCH(value) is None or (base != _F_DEC and value[0] == "-"):
                    raise _Bad
                number = Decimal(value)
                if base == _F_PDEC and not number:
                    raise _Bad
                raw[key] = number
            elif base == _F_STR:
                if value.__class__ is not str or not value:
                    raise _Bad
            elif base == _F_ENUM:
                if value.__class__ is not str or value not in arg:
                    raise _Bad
            else:
                raw[key] = arg(value)
        return raw
    except (_Bad, KeyError, TypeError, RecordError, AttributeError):
        return None


def check_line(line: bytes) -> dict[str, Any]:
    """Decode and validate one line; raises ``RecordError``."""
    rec = validate_fast(decode(line))
    return rec if rec is not None else validate(decode(line))


_FILL_ALLOWED = frozenset(RECORD_TYPES["fill"]) | frozenset(COMMON_FIELDS)
_FILL_REQUIRED = frozenset(k for k, (_, req) in RECORD_TYPES["fill"].items() if req) | frozenset(COMMON_FIELDS)
_FILL_OPTIONAL = {k: _flat_or_ref(kind)[0] for k, (kind, req) in RECORD_TYPES["fill"].items() if not req}
_SIDES = frozenset(SIDES)
_PSIDES = frozenset(POSITION_SIDES)
_LIQ = frozenset(("MAKER", "TAKER", None))
_NUM4 = FOUR_DECIMALS


def fast_fill(raw: dict[str, Any]) -> dict[str, Any]:
    """``validate_fast`` for the commonest record, written out (raises ``_Bad`` when in doubt)."""
    keys = raw.keys()
    if not (keys <= _FILL_ALLOWED and keys >= _FILL_REQUIRED) or raw["v"] != 1 or type(raw["v"]) is not int:
        raise _Bad
    t, src = raw["t"], raw["src"]
    if type(t) is not int or not 0 <= t <= MAX_INT or type(src) is not dict:
        raise _Bad
    file, ident = src.get("file"), src.get("id")
    if type(file) is not str or not file or type(ident) is not str or not ident:
        raise _Bad
    if len(src) > 2:
        _check_src_extras(src)
    q, p, fee, pnl = raw["quantity"], raw["price"], raw["fee"], raw["realized_pnl"]
    if type(fee) is not str or type(pnl) is not str or _NUM4.fullmatch("\x00".join((q, p, fee, pnl))) is None:
        raise _Bad
    q, p = Decimal(q), Decimal(p)
    if q <= 0 or p <= 0:
        raise _Bad
    raw["quantity"], raw["price"], raw["fee"], raw["realized_pnl"] = q, p, Decimal(fee), Decimal(pnl)
    i, inst, asset = raw["id"], raw["instrument"], raw["fee_asset"]
    if type(i) is not str or not i or type(inst) is not str or not inst or type(asset) is not str or not asset:
        raise _Bad
    if raw["side"] not in _SIDES or raw["position_side"] not in _PSIDES or raw["liquidity"] not in _LIQ:
        raise _Bad
    if len(keys) > len(_FILL_REQUIRED):
        for key, convert in _FILL_OPTIONAL.items():
            if key in raw:
                raw[key] = convert(raw[key])
    return raw
