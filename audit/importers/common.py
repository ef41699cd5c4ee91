"""What every importer shares: reading venue JSON with line numbers, collecting records, writing.

Venue files are JSON: an array of rows, an object wrapping the array (``data``, ``result.list``,
``response``), or JSON lines (one row per line). Several responses one after another (arrays or
wrapper objects appended to one file, e.g. with ``>>``, on one line each or not) are read as pages, in
order, and counted in the notes; anything else after a value (``}garbage``) is an error naming
``file:line``, never ignored. Numbers are read as Decimal from their text (``parse_float=Decimal``),
never as floats; ``NaN``/``Infinity`` and an object with the same key twice are errors naming the file.
Every row gets the line where it starts, also inside a wrapper object, so errors and ``src`` name
``file:line``. A venue error reply (Binance ``{"code": -1121, "msg": ...}``, OKX ``{"code": "50011",
...}``, Bybit ``{"retCode": 10001, ...}``) is an import error quoting the venue's code and message; a
page the venue says is not the last (Bybit ``nextPageCursor``), or one holding exactly the venue's
page limit of rows, is noted. The importer keeps the (already small) API exports in memory to sort
them by time; the audit itself streams.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from hedgespec.jsonio import JSONInputError, line_column, lone_surrogate_at, unique_keys
from hedgespec.names import text_name

from ..numbers import MAX_DIGITS, canonical
from ..trace import RecordError, decode, dumps, record, validate

#: the largest integer a trace carries (the audit reads integers as signed 64-bit)
MAX_INT = 2**63 - 1
#: longest run of digits read as a Python int; longer JSON integers are read as Decimal and rejected
#: by the field readers as too long (Python refuses to convert more than 4300 digits at all)
_INT_TEXT = 40


class _NotJSON(Exception):
    pass


def _parse_int(text: str) -> int | Decimal:
    return int(text) if len(text) <= _INT_TEXT else Decimal(text)


def _no_constant(name: str) -> Any:
    raise _NotJSON(f"{name} is not a JSON number")


_DECODER = json.JSONDecoder(parse_float=Decimal, parse_int=_parse_int, parse_constant=_no_constant,
                            object_pairs_hook=unique_keys)

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
    index: int  # the row's position in its file, counting the rows of every response in it from 0
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


def _decode_at(text: str, pos: int, name: str, line: int, first_line: int = 1) -> tuple[Any, int]:
    """The JSON value starting at ``pos`` (on ``line``) and the offset after it; ``ImportError_`` otherwise.

    ``first_line``: the file's line number of ``text``'s first line (JSON lines decode one line at a time).
    """
    try:
        return _DECODER.raw_decode(text, pos)
    except JSONInputError as exc:  # a key given twice in one object
        raise ImportError_(f"{name}:{line}: {exc.reason[:120]}") from None
    except json.JSONDecodeError as exc:
        raise ImportError_(f"{name}:{exc.lineno + first_line - 1}:{exc.colno}: not valid JSON: {exc.msg}") from None
    except _NotJSON as exc:
        raise ImportError_(f"{name}:{line}: not valid JSON: {exc}") from None
    except RecursionError:
        raise ImportError_(f"{name}:{line}: not valid JSON here: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise ImportError_(f"{name}:{line}: not valid JSON here: {str(exc)[:80]}") from None


def iter_array(text: str, start: int, name: str, end: list[int] | None = None) -> Iterator[tuple[int, Any]]:
    """Elements of the JSON array opening at ``start`` with the line each one starts on.

    ``end``, when given, receives the offset just after the closing ``]``.
    """
    pos = _skip_ws(text, start + 1)
    cache = [0, 1]
    if pos < len(text) and text[pos] == "]":
        if end is not None:
            end[:] = [pos + 1]
        return
    while True:
        line = _line_of(text, pos, cache)
        value, pos = _decode_at(text, pos, name, line)
        yield line, value
        pos = _skip_ws(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
            continue
        if pos < len(text) and text[pos] == "]":
            if end is not None:
                end[:] = [pos + 1]
            return
        line = _line_of(text, min(pos, len(text)), cache)
        raise ImportError_(f"{name}:{line}: not valid JSON: expected ',' or ']' in the array")


def _member_starts(text: str, pos: int) -> dict[str, int]:
    """Offset of each member's value in the (already decoded, so valid) JSON object opening at ``pos``."""
    starts: dict[str, int] = {}
    pos = _skip_ws(text, pos + 1)
    while pos < len(text) and text[pos] != "}":
        key, pos = _DECODER.raw_decode(text, pos)
        pos = _skip_ws(text, _skip_ws(text, pos) + 1)  # past ':'
        starts[key] = pos
        _, pos = _DECODER.raw_decode(text, pos)
        pos = _skip_ws(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
    return starts


WRAPPERS = (("data",), ("result", "list"), ("response",), ("list",), ("rows",))


def venue_error(obj: Any) -> str | None:
    """``code N 'message'`` when ``obj`` is a venue's error reply, else None.

    Binance answers ``{"code": <negative int>, "msg": ...}`` instead of data, OKX ``{"code": "<non-zero>",
    "msg": ..., "data": []}``, Bybit ``{"retCode": <non-zero>, "retMsg": ...}``; success is code 0 ("0"),
    and Binance's ``{"code": 200, "msg": "success"}``.
    """
    if not isinstance(obj, dict):
        return None
    if "retCode" in obj:
        code, message = obj["retCode"], obj.get("retMsg")
    elif "code" in obj and ("msg" in obj or "message" in obj):
        code, message = obj["code"], obj.get("msg", obj.get("message"))
    else:
        return None
    if type(code) in (int, str) and code in (0, "0", 200, "200"):
        return None
    return f"code {str(code)[:40]} {str(message)[:200]!r}"


@dataclass
class Page:
    """One venue response in a file: its rows, the wrapper's other fields, the line where it starts."""

    rows: list[Row]
    extra: dict[str, Any]
    line: int


def _wrapper_rows(text: str, pos: int, whole: dict[str, Any], name: str) -> Page | None:
    """The page of the recognised wrapper object at ``pos`` (already decoded as ``whole``), or None."""
    for keys in WRAPPERS:
        node: Any = whole
        start = pos
        extra: dict[str, Any] = {}
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                node = None
                break
            extra.update((k, v) for k, v in node.items() if k != key)
            start = _member_starts(text, start)[key]
            node = node[key]
        if isinstance(node, list):
            rows = [Row(name, line, i, v) for i, (line, v) in enumerate(iter_array(text, start, name))]
            return Page(rows, extra, 0)
    return None


def _utf8(blob: bytes, name: str) -> str:
    try:
        text = blob.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, column = line_column(blob, exc.start)
        raise ImportError_(f"{name}:{line}:{column}: not UTF-8 text ({exc.reason}, byte {exc.start}); save the "
                           "venue's response as UTF-8") from None
    at = lone_surrogate_at(text)
    if at is not None:  # JSON may spell it, but no trace (UTF-8) can hold it
        line, column = line_column(text, at)
        raise ImportError_(f"{name}:{line}:{column}: not valid JSON here: {text[at:at + 6]} is a lone UTF-16 "
                           "surrogate escape (not Unicode text)")
    return text


def read_pages(path: str | Path) -> tuple[str, list[Page]]:
    """(sha256, pages) of a venue file; raises ``ImportError_`` naming file:line.

    A file is one response (an array of rows or a recognised wrapper object), several responses one
    after another (each a page), or JSON lines of rows (one page). Rows and whole responses are not
    mixed in one file, and nothing but whitespace may follow the last value.
    """
    path = Path(path)
    name = text_name(path.name)  # the trace and the messages carry it: as text
    try:
        if path.is_dir():
            raise ImportError_(f"{path}: is a directory, not a venue file")
        blob = path.read_bytes()
    except OSError as exc:  # also a name longer than the system allows
        raise ImportError_(f"{path}: cannot read: {exc.strerror}") from None
    sha = hashlib.sha256(blob).hexdigest()
    text = _utf8(blob, name)
    pos = _skip_ws(text, 0)
    if pos >= len(text):
        raise ImportError_(f"{name}: empty file (expected the venue's JSON response)")
    cache = [0, 1]
    pages: list[Page] = []
    lines: list[Row] = []  # JSON lines: single rows
    values = 0
    numbered = 0  # rows of the earlier responses
    while pos < len(text):
        line = _line_of(text, pos, cache)
        if text[pos] == "[":
            end = [len(text)]
            rows = [Row(name, row_line, i, v) for i, (row_line, v) in enumerate(iter_array(text, pos, name, end))]
            page: Page | None = Page(rows, {}, line)
            pos = end[0]
        elif text[pos] == "{":
            start = pos
            whole, pos = _decode_at(text, start, name, line)
            page = _wrapper_rows(text, start, whole, name)
            if page is not None:
                error = venue_error(whole)
                if error is not None:
                    where = f"{name}:{line}" if values else name  # the first response starts the file
                    raise ImportError_(f"{where}: the venue answered with an error, not data: {error}")
                page.line = line
            else:
                lines.append(Row(name, line, len(lines), whole))
        else:
            what = "more text" if values else "text"
            raise ImportError_(f"{name}:{line}: not valid JSON here: {what} starting {text[pos:pos + 12]!r}; expected "
                               "a JSON array of rows, an object wrapping one, or one JSON object per line")
        if page is not None:
            for row in page.rows:  # numbered across the file: responses appended on one line stay apart
                row.index = numbered
                numbered += 1
            pages.append(page)
        if pages and lines:
            raise ImportError_(f"{name}:{line}: {'a row' if page is None else 'a whole response'} after "
                               f"{'whole responses' if page is None else 'rows'}: a file holds either responses "
                               "(JSON arrays or wrapper objects) or JSON lines of rows, not both")
        values += 1
        page = None
        pos = _skip_ws(text, pos)
    if lines:
        if len(lines) == 1:  # the whole file is one object: an error reply, or a single row
            whole = lines[0].data
            nested = whole.get("response") if isinstance(whole, dict) and "request" not in whole else None
            for node in (whole, nested):
                error = venue_error(node)
                if error is not None:
                    raise ImportError_(f"{name}: the venue answered with an error, not data: {error}")
        return sha, [Page(lines, {}, lines[0].line or 1)]
    return sha, pages


def read_rows(path: str | Path) -> tuple[str, list[Row], dict[str, Any]]:
    """(sha256, rows of every page, wrapper fields of the last page) of a venue file."""
    sha, pages = read_pages(path)
    return sha, [row for page in pages for row in page.rows], pages[-1].extra if pages else {}


class RowError(ValueError):
    """One row that cannot be imported; the message says which field and why."""


def text_decimal(row: dict[str, Any], key: str, *, required: bool = True) -> Decimal | None:
    """A venue number (string or JSON number, read exactly) as Decimal, at most ``MAX_DIGITS`` digits
    before and after the point (checked on the exponent first: ``1e999999999`` is never expanded)."""
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
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    if len(digits) + exponent > MAX_DIGITS or -exponent > MAX_DIGITS:
        raise RowError(f"{key}: {value!r:.40} has more than {MAX_DIGITS} digits before or after the point")
    return number


def text_int(row: dict[str, Any], key: str) -> int:
    """A non-negative integer (milliseconds) a trace can carry: at most 2**63-1."""
    value = row.get(key)
    if isinstance(value, bool) or value is None:
        raise RowError(f"missing field {key!r}" if value is None else f"{key}: expected an integer")
    number: int | None = None
    if isinstance(value, int) and value >= 0:
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value) if len(value.strip()) <= _INT_TEXT else MAX_INT + 1
    elif isinstance(value, Decimal) and value.is_finite() and value >= 0 and value == value.to_integral_value():
        number = int(value) if value.adjusted() < _INT_TEXT else MAX_INT + 1  # never expand 1e999999999
    if number is None:
        raise RowError(f"{key}: expected an integer (milliseconds), got {value!r:.40}")
    if number > MAX_INT:
        raise RowError(f"{key}: {value!r:.40} is larger than a trace can carry (2**63-1)")
    return number


def text_str(row: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    """A venue text field; a JSON number or anything else where text belongs is an error, never converted."""
    value = row.get(key)
    if value is None or value == "":
        if required:
            raise RowError(f"missing field {key!r}")
        return None
    if not isinstance(value, str):
        raise RowError(f"{key}: expected a string, got {type(value).__name__} {value!r:.40}")
    return value


def text_id(row: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    """A venue record ID: a string, or a non-negative JSON integer (Binance ``id``, ``orderId``, ``tranId``)."""
    value = row.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise RowError(f"{key}: expected an ID, got {value!r:.40}")
        return str(value)
    if isinstance(value, Decimal):
        raise RowError(f"{key}: expected a string or integer ID, got {value!r:.40}")
    return text_str(row, key, required=required)


def numeric_order(ident: str) -> int | None:
    """A venue trade id that is a number (Binance ``id``, OKX ``tradeId``) as an int for ordering records at
    equal times; None for any other id (then the order the rows were read in is kept)."""
    if ident.isascii() and ident.isdigit() and len(ident) <= _INT_TEXT:
        return int(ident)
    return None


def snapshot_time(extra: dict[str, Any], name: str) -> int | None:
    """The ``time`` of a file wrapped as ``{"time": ms, ...}``, checked (None when the file states none)."""
    if extra.get("time") is None:
        return None
    try:
        return text_int(extra, "time")
    except RowError as exc:
        raise ImportError_(f"{name}: {exc}") from None


def _canonical_row(data: Any) -> str:
    return json.dumps(data, sort_keys=True, default=repr, ensure_ascii=False)


@dataclass
class Builder:
    """Collects trace records, importer notes, row errors and input digests for one import."""

    venue: str
    #: (sort key, record): the key is (t, type rank, no venue order, venue order, sequence read), see ``add``
    records: list[tuple[tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)
    inputs: list[dict[str, str]] = field(default_factory=list)
    notes: dict[tuple[str, str], int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    rows_read: int = 0
    #: rows that became a trace record of their own
    rows_written: int = 0
    #: rows folded into the opening record (its legs, and the flat rows that make it complete)
    rows_merged: int = 0
    #: rows read but deliberately not imported, per reason
    skipped: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    #: (record type, venue record ID) -> (where the row was first read, its file, its canonical text)
    seen: dict[tuple[str, str], tuple[str, str, str]] = field(default_factory=dict)

    def read(self, path: str | Path, role: str, page_limits: tuple[int, ...] = ()) -> list[Page]:
        """Pages of one venue file; notes several pages, a last page the venue marks as not the last, or
        one exactly full (the venue's page limit: later pages may exist)."""
        sha, pages = read_pages(path)
        name = text_name(Path(path).name)
        self.inputs.append({"file": name, "sha256": sha, "role": role})
        count = sum(len(page.rows) for page in pages)
        self.rows_read += count
        if len(pages) > 1:
            self.note("files holding several responses one after another: every one read as a page",
                      f"{role}: {name}, {len(pages)} pages")
        if not count:
            self.note("input files without rows", f"{role}: {name}")
        last = pages[-1] if pages else Page([], {}, 1)
        cursor = last.extra.get("nextPageCursor")
        if cursor not in (None, ""):
            self.note("pages the venue marks as not the last (nextPageCursor set): the export is incomplete",
                      f"{role}: {name}")
        elif last.rows and len(last.rows) in page_limits:
            self.note("pages holding exactly the venue's page limit of rows: later pages may exist",
                      f"{role}: {name}, {len(last.rows)} rows")
        return pages

    def note(self, what: str, detail: str = "") -> None:
        key = (what, detail)
        self.notes[key] = self.notes.get(key, 0) + 1

    def skip(self, what: str, detail: str = "") -> None:
        """Count one row read but deliberately not imported (``what`` is the reason), and note it."""
        self.skipped[what] = self.skipped.get(what, 0) + 1
        self.note(what, detail)

    def unaccounted(self) -> int:
        """Rows read that are neither written, merged, skipped, kept once as duplicates nor in error (0)."""
        return self.rows_read - (self.rows_written + self.rows_merged + sum(self.skipped.values())
                                 + self.duplicates + self.error_count)

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

    def add(self, type_: str, t: int, row: Row | None, ident: str, *, venue_id: bool = True, derived: bool = False,
            order: int | None = None, **fields: Any) -> None:
        """Add one record. ``ident`` is the venue's record ID (``venue_id``): the same ID read again from an
        identical row (overlapping pages or files) is kept once and counted; from a different row it is a
        row error naming both places. ``derived``: a second record from a row already counted as written.

        Records are written by time, then by ``TYPE_RANK``, then in the venue's own order: ``order`` (a
        numeric trade id, for venues whose ids are numbers and increase with time), else the order the
        rows were read in (never the text of the ID: ``"10"`` sorts before ``"9"``)."""
        src: dict[str, Any] | None = None
        if row is not None:
            src = {"file": row.file, "id": ident}
            if row.line is not None:
                src["line"] = row.line
            src["index"] = row.index
        for key, value in (("t", t), *fields.items()):
            if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= MAX_INT:
                raise RowError(f"{key}: {str(value):.40} is outside the integers a trace carries (0 to 2**63-1)")
        rec = record(type_, t, src, **{k: plain(v) for k, v in fields.items()})
        try:  # an importer never writes a record the audit would reject: read back with the audit's parser
            validate(decode(dumps(rec).encode("utf-8")))
        except RecordError as exc:
            raise RowError(f"not a valid {type_} record: {exc}") from None
        if row is not None and venue_id:
            key = (type_, ident)
            text = _canonical_row(row.data)
            first = self.seen.get(key)
            if first is not None:
                if first[2] != text:
                    raise RowError(f"{type_} {ident} was already read at {first[0]} from a different row; "
                                   "which one the venue meant is unclear")
                self.duplicates += 1
                self.note("duplicate rows across files/pages (same venue ID, identical row): kept once",
                          f"{first[1]} / {row.file}")
                return
            self.seen[key] = (row.where(), row.file, text)
        if row is not None and not derived:
            self.rows_written += 1
        sequence = len(self.records)
        self.records.append(((t, TYPE_RANK[type_], order is None, order or 0, sequence), rec))

    def lines(self, meta: dict[str, Any], opening: dict[str, Any] | None) -> Iterator[str]:
        meta = dict(meta)
        meta["inputs"] = self.inputs
        if self.notes:
            meta["notes"] = [{"what": w, "count": c, **({"detail": d} if d else {})}
                             for (w, d), c in sorted(self.notes.items())]
        for head in (meta, opening):
            if head is not None:
                try:
                    validate(decode(dumps(head).encode("utf-8")))
                except RecordError as exc:
                    raise ImportError_(f"the {head['type']} record would be invalid: {exc}") from None
        yield dumps(meta)
        if opening is not None:
            yield dumps(opening)
        for _, rec in sorted(self.records, key=lambda item: item[0]):
            yield dumps(rec)

    def earliest(self) -> int:
        return min((key[0] for key, _ in self.records), default=0)


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
        for page in b.read(path, "opening positions"):
            t = snapshot_time(page.extra, text_name(Path(path).name)) if page.extra.get("time") is not None else t
            complete = True
            for row in page.rows:
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
                b.rows_merged += 1
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


def each_row(b: Builder, files: list[str], role: str, handle: Any, known: frozenset[str] | None,
             page_limits: tuple[int, ...] = (), page_hook: Any = None) -> None:
    """Read every row of ``files`` and hand it to ``handle(b, row, snapshot_time)``; row errors are kept.

    ``page_limits``: the venue's documented page sizes for this export (a file holding exactly that
    many rows is noted as possibly cut short). ``page_hook(rows)``, when given, sees each page's rows
    before they are handled. A row holding none of the ``known`` fields is reported as a response
    shape the importer does not know (a wrapper it does not recognise), not as a row missing a field."""
    for path in files:
        for page in b.read(path, role, page_limits):
            t_default = snapshot_time(page.extra, text_name(Path(path).name))
            if page_hook is not None:
                page_hook(page.rows)
            for row in page.rows:
                if not isinstance(row.data, dict):
                    b.error(row, f"expected an object, got {type(row.data).__name__}")
                    continue
                error = venue_error(row.data)
                if error is not None:
                    b.error(row, f"an error reply of the venue, not a {role} row: {error}")
                    continue
                if known is not None and row.data and not any(key in known for key in row.data):
                    b.error(row, _unknown_shape(row.data, role))
                    continue
                if known is not None:
                    b.unknown_fields(row, known, role)
                try:
                    handle(b, row, t_default)
                except RowError as exc:
                    b.error(row, str(exc))


def _unknown_shape(data: dict[str, Any], role: str) -> str:
    """Why an object with none of a row's fields is not read: names its keys and the known wrappers."""
    keys = ", ".join(repr(k)[:40] for k in list(data)[:5]) + (", ..." if len(data) > 5 else "")
    lists = [k for k, v in data.items() if isinstance(v, (list, dict))]
    shape = (f"a response wrapper the importer does not recognise (rows under {lists[0]!r}?)" if lists
             else "not a row of this export")
    wrappers = ", ".join(".".join(keys_) for keys_ in WRAPPERS)
    return (f"not a {role} row: none of its keys ({keys}) is a {role} field; {shape}. Expected a JSON array of "
            f"rows, a wrapper object ({wrappers}), several of these one after another, or one row per line")


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
    """Contract size per instrument, as the auditor gave it (or as the rows carry it).

    An instrument without one is never guessed: ``size`` collects it (returning 1 so the rows can still
    be checked) and ``check`` then fails the import listing every such instrument and where its size is
    published (``how``).
    """

    def __init__(self, sizes: dict[str, Decimal], what: str = "contract size", how: str = "") -> None:
        self.sizes = sizes
        self.what = what
        self.how = how
        self.settle: set[str] = set()
        self.missing: set[str] = set()

    def size(self, b: Builder, symbol: str) -> Decimal:
        if symbol not in self.sizes:
            self.missing.add(symbol)
            return Decimal(1)
        return self.sizes[symbol]

    def check(self) -> None:
        if self.missing:
            names = sorted(self.missing)
            shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
            raise ImportError_(f"{self.what} unknown for {shown}: the rows count contracts, so every instrument "
                               f"needs --contract-size INSTRUMENT=SIZE ({self.how})")
