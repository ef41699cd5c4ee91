"""Reading JSON documents strictly, for every hedgespec input file.

``json.loads`` keeps the last of two equal keys in one object, gives up on deep nesting with a
``RecursionError`` and on an integer of more than ``sys.get_int_max_str_digits()`` digits with a
plain ``ValueError``; here a repeated key is an error (a value is never dropped silently) and every
failure is a ``JSONInputError`` that names its line and column where they can be told.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any


class JSONInputError(ValueError):
    """A JSON document that cannot be read; ``at(path)`` is the one-line message for that file."""

    def __init__(self, reason: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.line, self.column = reason, line, column

    def at(self, path: str) -> str:
        if self.line is None:
            return f"{path}: {self.reason}"
        return f"{path}:{self.line}:{self.column}: {self.reason}"


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` that refuses a key given twice in one object."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise JSONInputError(f"not valid JSON: key {key!r} appears twice in one object")
            seen.add(key)
    return obj


_HIGH = r"\\u[dD][89abAB][0-9a-fA-F]{2}"
_LOW = r"\\u[dD][c-fC-F][0-9a-fA-F]{2}"
#: from the start of a JSON text: every character, escape and surrogate pair up to the first ``\\uD800``-``\\uDFFF``
#: escape that is not half of a pair (an escaped backslash ``\\\\`` is consumed whole, so ``\\\\ud800`` is text)
_LONE_SURROGATE = re.compile(rf"(?:[^\\]++|\\[^u]|{_HIGH}{_LOW}|\\u(?![dD][89a-fA-F]))*+(\\u[dD][89a-fA-F][0-9a-fA-F]{{2}})")


def lone_surrogate_at(text: str) -> int | None:
    """The offset of the first ``\\uD800``-``\\uDFFF`` escape of a JSON text that is not half of a surrogate pair,
    or None. JSON's grammar allows one, but it is not Unicode text: no UTF-8 file or report can hold it."""
    if "\\u" not in text:
        return None
    found = _LONE_SURROGATE.match(text)
    return found.start(1) if found else None


def lone_surrogate_in(obj: Any, path: str = "") -> str | None:
    """The place (``a.b[2]``; ``<key>`` for a key) of the first string of decoded JSON data holding a lone
    surrogate, or None; ``path`` itself when ``obj`` is such a string."""
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    if isinstance(obj, dict):
        for key, value in obj.items():
            if lone_surrogate_in(key) is not None:
                return f"{path}.<key>" if path else "<key>"
            found = lone_surrogate_in(value, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            found = lone_surrogate_in(value, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def json_data_problem(obj: Any, path: str) -> str | None:
    """``"<place>: <why>"`` for the first value of ``obj`` that JSON text with decimal-string numbers could not
    have carried (a binary float, a lone surrogate, a key that is not a string, a tuple, a set, a Decimal or any
    other Python object), or None. ``path`` names ``obj`` (``outcome``, ``snapshot``).

    For what an in-process engine hands back: the JSON-lines protocol can only deliver JSON, so the two paths
    refuse the same replies. The check runs in C (a round trip through ``json``) and walks the data in Python
    only to name the place of a problem it found."""
    try:
        text = json.dumps(obj, ensure_ascii=False, allow_nan=False)
        text.encode("utf-8")
        if json.loads(text, parse_float=_no_float) == obj:
            return None
    except (TypeError, ValueError, RecursionError, _FloatFound):  # UnicodeEncodeError is a ValueError
        pass
    return _walk_json_data(obj, path)


class _FloatFound(Exception):
    pass


def _no_float(_: str) -> float:
    raise _FloatFound


def _walk_json_data(obj: Any, path: str) -> str | None:
    """The first place ``json_data_problem``'s round trip failed on; None when it failed on nothing the format
    refuses (an integer longer than Python prints, say). Subclasses of dict, list, str and int pass, as the round
    trip passes them; a tuple does not (it would come back as a list)."""
    try:
        return _walk(obj, path)
    except RecursionError:
        return f"{path}: nested too deeply"


def _walk(obj: Any, path: str) -> str | None:
    if obj is None or isinstance(obj, int):  # bool is an int
        return None
    if isinstance(obj, str):
        return None if lone_surrogate_in(obj) is None else \
            f"{path}: {obj[:40]!r} holds a lone UTF-16 surrogate (U+D800-U+DFFF): not Unicode text"
    if isinstance(obj, float):
        return f"{path}: {obj!r} is a binary float; numbers are decimal strings"
    if isinstance(obj, list):
        for i, value in enumerate(obj):
            found = _walk(value, f"{path}[{i}]")
            if found:
                return found
        return None
    if isinstance(obj, dict):
        for key, value in obj.items():
            if not isinstance(key, str) or lone_surrogate_in(key) is not None:
                return f"{path}: the key {key!r:.40} is not JSON text (a key is a Unicode string)"
            found = _walk(value, f"{path}.{key}")
            if found:
                return found
        return None
    return f"{path}: a {type(obj).__name__} is not JSON data (objects, lists, strings, integers, booleans, null)"


def line_column(text: str | bytes, offset: int) -> tuple[int, int]:
    """The 1-based line and column of ``offset`` in ``text`` (in bytes for bytes)."""
    if isinstance(text, bytes):
        return text.count(b"\n", 0, offset) + 1, offset - text.rfind(b"\n", 0, offset)
    return text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)


def too_long_number(text: str) -> tuple[int, str] | None:
    """(offset, ``"a number of N digits (at most L)"``) of the first JSON integer of ``text`` with more digits than
    Python converts (``sys.get_int_max_str_digits()``), or None; digits in strings and in a number with a fraction
    or an exponent (read as a float) do not count."""
    limit = sys.get_int_max_str_digits()
    if not limit:
        return None
    tokens = re.compile(rf'"(?:[^"\\]++|\\.)*+"|(?<![0-9.eE+\-])-?([0-9]{{{limit + 1},}}+)(?![.eE])')
    for found in tokens.finditer(text):
        if found.group(1) is not None:
            return found.start(), f"a number of {len(found.group(1))} digits (at most {limit})"
    return None


def loads(text: str | bytes, **options: Any) -> Any:
    """``json.loads`` with unique keys; every failure is a JSONInputError (a lone surrogate escape too)."""
    if isinstance(text, (bytes, bytearray)):
        try:  # strictly: json.loads would decode UTF-8-encoded surrogates ("surrogatepass")
            text = bytes(text).decode(json.detect_encoding(text))
        except UnicodeDecodeError as exc:  # bytes that are not UTF-8
            raise JSONInputError(f"not valid UTF-8: byte 0x{exc.object[exc.start]:02x} at offset {exc.start}") from None
    at = lone_surrogate_at(text)
    if at is not None:
        line, column = line_column(text, at)
        raise JSONInputError(f"not valid JSON: {text[at:at + 6]} is a lone UTF-16 surrogate escape (not Unicode "
                             "text)", line, column)
    try:
        return json.loads(text, object_pairs_hook=unique_keys, **options)
    except json.JSONDecodeError as exc:
        raise JSONInputError(f"not valid JSON: {exc.msg}", exc.lineno, exc.colno) from None
    except JSONInputError:  # a repeated key (unique_keys)
        raise
    except RecursionError:
        raise JSONInputError("not valid JSON: nested too deeply") from None
    except ValueError as exc:  # an integer longer than Python converts (4300 digits by default)
        found = too_long_number(text)
        if found is None:
            raise JSONInputError(f"not valid JSON: {str(exc)[:80]}") from None
        line, column = line_column(text, found[0])
        raise JSONInputError(f"not valid JSON: {found[1]}", line, column) from None
