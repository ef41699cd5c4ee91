"""What every importer shares: reading venue JSON with line numbers, collecting records, writing.

Venue files are JSON: an array of rows, an object wrapping the array (``data``, ``result.list``,
``response``), or JSON lines. Numbers are read as Decimal from their text (``parse_float=Decimal``),
never as floats. Rows of a top-level array get their line number, so errors and ``src`` name
``file:line``. The importer keeps the (already small) API exports in memory to sort them by time;
the audit itself streams.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..numbers import MAX_DIGITS, canonical
from ..trace import RecordError, dumps, record, validate

_DECODER = json.JSONDecoder(parse_float=Decimal)

#: at equal times: the opening first, requests before their fills, snapshots after the fills
TYPE_RANK = {"meta": -1, "opening": 0, "mode_change": 1, "funding_rate": 2, "mark_price": 2, "funding": 3,
             "order": 4, "fill": 5, "liquidation": 6, "adl": 6, "insurance": 6, "ledger": 7, "position": 8,
             "balance": 9}


class ImportError_(ValueError):
    """A venue file that cannot be read at all (not one bad row)."""


@dataclass
class Row:
    file: str
    line: int | None
    index: int
    data: Any

    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else f"{self.file}[{self.index}]"


def _line_of(text: str, pos: int, cache: list[int]) -> int:
    """1-based line number of ``pos``; ``cache`` = [last_pos, last_line] for a forward scan."""
    last_pos, last_line = cache
    line = last_line + text.count("\n", last_pos, pos)
    cache[0], cache[1] = pos, line
    return line


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def iter_array(text: str, start: int, name: str) -> Iterator[tuple[int, Any]]:
    """Elements of the JSON array opening at ``start`` with their line numbers."""
    pos = _skip_ws(text, start + 1)
    cache = [0, 1]
    if pos < len(text) and text[pos] == "]":
        return
    while True:
        line = _line_of(text, pos, cache)
        try:
            value, pos = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise ImportError_(f"{name}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
        yield line, value
        pos = _skip_ws(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
            continue
        if pos < len(text) and text[pos] == "]":
            return
        line = _line_of(text, min(pos, len(text)), cache)
        raise ImportError_(f"{name}:{line}: not valid JSON: expected ',' or ']' in the array")


WRAPPERS = (("data",), ("result", "list"), ("response",), ("list",), ("rows",))


def read_rows(path: str | Path) -> tuple[str, list[Row], dict[str, Any]]:
    """(sha256, rows, wrapper fields) of a venue file; raises ``ImportError_`` naming file:line."""
    path = Path(path)
    name = path.name
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise ImportError_(f"{path}: cannot read: {exc.strerror}") from None
    sha = hashlib.sha256(blob).hexdigest()
    try:
        text = blob.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportError_(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    pos = _skip_ws(text, 0)
    if pos < len(text) and text[pos] == "[":
        return sha, [Row(name, line, i, v) for i, (line, v) in enumerate(iter_array(text, pos, name))], {}
    try:
        whole = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        if pos < len(text) and text[pos] == "{" and "\n{" in text:
            return sha, _json_lines(text, name), {}
        raise ImportError_(f"{name}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    if isinstance(whole, dict):
        for keys in WRAPPERS:
            node: Any = whole
            for key in keys:
                node = node.get(key) if isinstance(node, dict) else None
            if isinstance(node, list):
                extra = {k: v for k, v in whole.items() if k != keys[0]}
                return sha, [Row(name, None, i, v) for i, v in enumerate(node)], extra
        return sha, [Row(name, 1, 0, whole)], {}
    raise ImportError_(f"{name}: expected a JSON array of rows or an object wrapping one")


def _json_lines(text: str, name: str) -> list[Row]:
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(Row(name, number, len(rows), _DECODER.decode(line)))
        except json.JSONDecodeError as exc:
            raise ImportError_(f"{name}:{number}:{exc.colno}: not valid JSON: {exc.msg}") from None
    return rows


class RowError(ValueError):
    """One row that cannot be imported; the message says which field and why."""


def text_decimal(row: dict[str, Any], key: str, *, required: bool = True) -> Decimal | None:
    """A venue number (string or JSON number, read exactly) as Decimal."""
    value = row.get(key)
    if value is None or value == "":
        if required:
            raise RowError(f"missing field {key!r}")
        return None
    if isinstance(value, bool):
        raise RowError(f"{key}: expected a number, got {value!r}")
    if isinstance(value, (int, Decimal)):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except ArithmeticError:
            raise RowError(f"{key}: expected a decimal number, got {value!r:.40}") from None
    else:
        raise RowError(f"{key}: expected a number, got {type(value).__name__}")
    if not number.is_finite():
        raise RowError(f"{key}: not a finite number: {value!r:.40}")
    whole, _, fraction = format(number, "f").lstrip("-").partition(".")
    if len(whole) > MAX_DIGITS or len(fraction) > MAX_DIGITS:
        raise RowError(f"{key}: {value!r:.40} has more than {MAX_DIGITS} digits before or after the point")
    return number


def text_int(row: dict[str, Any], key: str) -> int:
    value = row.get(key)
    if isinstance(value, bool) or value is None:
        raise RowError(f"missing field {key!r}" if value is None else f"{key}: expected an integer")
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value)
    if isinstance(value, Decimal) and value >= 0 and value == value.to_integral_value():
        return int(value)
    raise RowError(f"{key}: expected an integer (milliseconds), got {value!r:.40}")


def text_str(row: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    value = row.get(key)
    if value is None or value == "":
        if required:
            raise RowError(f"missing field {key!r}")
        return None
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise RowError(f"{key}: expected a string, got {type(value).__name__}")
    return value


@dataclass
class Builder:
    """Collects trace records, importer notes, row errors and input digests for one import."""

    venue: str
    records: list[tuple[tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)
    inputs: list[dict[str, str]] = field(default_factory=list)
    notes: dict[tuple[str, str], int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    rows_read: int = 0

    def read(self, path: str | Path, role: str) -> tuple[list[Row], dict[str, Any]]:
        sha, rows, extra = read_rows(path)
        self.inputs.append({"file": Path(path).name, "sha256": sha, "role": role})
        self.rows_read += len(rows)
        return rows, extra

    def note(self, what: str, detail: str = "") -> None:
        key = (what, detail)
        self.notes[key] = self.notes.get(key, 0) + 1

    def error(self, row: Row, message: str) -> None:
        self.error_count += 1
        self.note("rows not imported (see errors)", "")
        if len(self.errors) < 1000:
            self.errors.append(f"{row.where()}: {message}")

    def unknown_fields(self, row: Row, known: frozenset[str], kind: str) -> None:
        if isinstance(row.data, dict):
            for key in row.data:
                if key not in known:
                    self.note(f"unknown {kind} field {key!r} (not carried into the trace)")

    def add(self, type_: str, t: int, row: Row | None, ident: str, **fields: Any) -> None:
        src: dict[str, Any] | None = None
        if row is not None:
            src = {"file": row.file, "id": ident}
            if row.line is not None:
                src["line"] = row.line
            src["index"] = row.index
        rec = record(type_, t, src, **{k: plain(v) for k, v in fields.items()})
        try:
            validate(json.loads(dumps(rec)))  # an importer never writes a record the audit would reject
        except RecordError as exc:
            raise RowError(f"not a valid {type_} record: {exc}") from None
        self.records.append(((t, TYPE_RANK[type_], ident), rec))

    def lines(self, meta: dict[str, Any], opening: dict[str, Any] | None) -> Iterator[str]:
        meta = dict(meta)
        meta["inputs"] = self.inputs
        if self.notes:
            meta["notes"] = [{"what": w, "count": c, **({"detail": d} if d else {})}
                             for (w, d), c in sorted(self.notes.items())]
        for head in (meta, opening):
            if head is not None:
                try:
                    validate(json.loads(dumps(head)))
                except RecordError as exc:
                    raise ImportError_(f"the {head['type']} record would be invalid: {exc}") from None
        yield dumps(meta)
        if opening is not None:
            yield dumps(opening)
        for _, rec in sorted(self.records, key=lambda item: item[0]):
            yield dumps(rec)

    def earliest(self) -> int:
        return min((key[0] for key, _ in self.records), default=0)


def write_trace(lines: Iterator[str], out: str | Path) -> int:
    count = 0
    with open(out, "w", encoding="utf-8", newline="\n") as stream:
        for line in lines:
            stream.write(line + "\n")
            count += 1
    return count


def dec_text(value: Decimal) -> str:
    return canonical(value)


def plain(value: Any) -> Any:
    """Decimals as plain text keeping the venue's printed precision (``"70.00000000"`` stays so)."""
    if isinstance(value, Decimal):
        return format(abs(value) if value == 0 else value, "f")
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def opening_record(b: Builder, args: Any, parse_position: Any, known: frozenset[str] | None) -> dict[str, Any] | None:
    """The declared opening state from ``--opening-positions`` / ``--opening-flat`` / ``--mode``.

    ``parse_position(row) -> (instrument, position_side, size, entry_price)`` is the venue's own row
    reader. A file wrapped as ``{"time": ms, ...}`` gives the opening time; otherwise the opening is
    placed just before the first record.
    """
    mode = args.mode
    legs: list[dict[str, Any]] = []
    complete = False
    t: int | None = None
    for path in args.opening_positions:
        rows, extra = b.read(path, "opening positions")
        value = extra.get("time")
        t = value if isinstance(value, int) and not isinstance(value, bool) else t
        complete = True
        for row in rows:
            try:
                if not isinstance(row.data, dict):
                    raise RowError("expected an object")
                if known is not None:
                    b.unknown_fields(row, known, "positions")
                instrument, side, qty, entry = parse_position(row.data)
            except RowError as exc:
                b.error(row, str(exc))
                complete = False
                continue
            if side != "BOTH" and mode is None:
                mode = "HEDGE"
            if qty:
                legs.append({"instrument": instrument, "position_side": side, "quantity": format(qty, "f"),
                             "entry_price": None if entry is None else format(entry, "f")})
    if args.opening_flat:
        complete = True
    if mode is None and not legs and not complete:
        return None
    first = b.earliest()
    start = min(t, first) if t is not None else max(first - 1, 0)
    return {"v": 1, "type": "opening", "t": start, "src": {"file": "opening", "id": "declared"},
            "position_mode": mode, "legs": legs, "complete": complete}


def each_row(b: Builder, files: list[str], role: str, handle: Any, known: frozenset[str] | None) -> None:
    """Read every row of ``files`` and hand it to ``handle(b, row, snapshot_time)``; row errors are kept."""
    for path in files:
        rows, extra = b.read(path, role)
        value = extra.get("time")
        t_default = value if isinstance(value, int) and not isinstance(value, bool) else None
        for row in rows:
            if not isinstance(row.data, dict):
                b.error(row, f"expected an object, got {type(row.data).__name__}")
                continue
            if known is not None:
                b.unknown_fields(row, known, role)
            try:
                handle(b, row, t_default)
            except RowError as exc:
                b.error(row, str(exc))


def contract_sizes(values: list[str]) -> dict[str, Decimal]:
    """``--contract-size INSTRUMENT=SIZE`` options as a mapping."""
    out: dict[str, Decimal] = {}
    for value in values:
        name, _, size = value.partition("=")
        try:
            number = Decimal(size)
        except ArithmeticError:
            number = Decimal(0)
        if not name or not number.is_finite() or number <= 0:
            raise ImportError_(f"--contract-size {value!r}: expected INSTRUMENT=SIZE with a positive size")
        out[name] = number
    return out


class ContractSizes:
    """Contract size per instrument, as the auditor gave it; an unknown one is 1, and the trace says so."""

    def __init__(self, sizes: dict[str, Decimal], what: str = "contract size") -> None:
        self.sizes = sizes
        self.what = what
        self.settle: set[str] = set()

    def size(self, b: Builder, symbol: str) -> Decimal:
        if symbol not in self.sizes:
            b.note(f"{self.what} unknown, 1 assumed", symbol)
            return Decimal(1)
        return self.sizes[symbol]
