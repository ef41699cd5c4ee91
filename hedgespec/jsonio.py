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


#: a ``\\uD800``-``\\uDFFF`` escape, with the backslashes before it (an even run escapes only itself)
_SURROGATE_ESCAPE = re.compile(r"(\\+)u([dD][89a-fA-F][0-9a-fA-F]{2})")


def lone_surrogate(text: str) -> int | None:
    """The offset of the first ``\\uD800``-``\\uDFFF`` escape of a JSON text that is not half of a surrogate pair,
    or None. JSON's grammar allows one, but it is not Unicode text: no UTF-8 file or report can hold it."""
    if "\\u" not in text:
        return None
    paired = -1  # the offset of the low half of the last pair found
    for found in _SURROGATE_ESCAPE.finditer(text):
        if len(found.group(1)) % 2 == 0:
            continue  # an escaped backslash followed by the letters "ud800"
        start = found.end(1) - 1
        if start == paired:
            continue
        code = int(found.group(2), 16)
        after = found.end()
        if code <= 0xDBFF and text[after:after + 2] == "\\u" and _is_low(text[after + 2:after + 6]):
            paired = after
            continue
        return start
    return None


def _is_low(digits: str) -> bool:
    try:
        return len(digits) == 4 and 0xDC00 <= int(digits, 16) <= 0xDFFF
    except ValueError:
        return False


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def loads(text: str | bytes, **options: Any) -> Any:
    """``json.loads`` with unique keys; every failure is a JSONInputError (a lone surrogate escape too)."""
    if isinstance(text, str):
        at = lone_surrogate(text)
        if at is not None:
            line, column = _line_column(text, at)
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
    except UnicodeDecodeError as exc:  # bytes that are not UTF-8
        raise JSONInputError(f"not valid UTF-8: byte 0x{exc.object[exc.start]:02x} at offset {exc.start}") from None
    except ValueError as exc:  # an integer longer than Python converts (4300 digits by default)
        raise _too_long(text, exc) from None


def _too_long(text: str | bytes, exc: ValueError) -> JSONInputError:
    """The error for a number ``json`` refused to convert, at the first run of digits longer than the limit."""
    limit = sys.get_int_max_str_digits()
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    found = re.search(rf"(?:^|(?<=[\s\[:,]))-?([0-9]{{{limit + 1},}})", text) if limit else None
    if found is None:
        return JSONInputError(f"not valid JSON: {str(exc)[:80]}")
    line, column = _line_column(text, found.start())
    return JSONInputError(f"not valid JSON: a number of {len(found.group(1))} digits (at most {limit})", line, column)
