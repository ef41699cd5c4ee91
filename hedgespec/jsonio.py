"""Reading JSON documents strictly, for every hedgespec input file.

``json.loads`` keeps the last of two equal keys in one object and gives up on deep nesting with a
``RecursionError``; here a repeated key is an error (a value is never dropped silently) and every
failure is a ``JSONInputError`` that names its line and column where the parser knows them.
"""

from __future__ import annotations

import json
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


def loads(text: str | bytes, **options: Any) -> Any:
    """``json.loads`` with unique keys; every failure is a JSONInputError."""
    try:
        return json.loads(text, object_pairs_hook=unique_keys, **options)
    except json.JSONDecodeError as exc:
        raise JSONInputError(f"not valid JSON: {exc.msg}", exc.lineno, exc.colno) from None
    except RecursionError:
        raise JSONInputError("not valid JSON: nested too deeply") from None
