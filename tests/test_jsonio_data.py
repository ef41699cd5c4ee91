"""``hedgespec.jsonio.json_data_problem``: what a reply of an in-process engine may hold (docs/formats/protocol.md)."""

from __future__ import annotations

import enum
from collections import OrderedDict
from decimal import Decimal

from hedgespec.jsonio import json_data_problem


class Side(enum.StrEnum):
    LONG = "LONG"


class Count(enum.IntEnum):
    ONE = 1


def nested(depth: int, leaf: object) -> object:
    for _ in range(depth):
        leaf = [leaf]
    return leaf


def test_json_data_passes_subclasses_and_deep_or_long_values() -> None:
    ok = {"a": OrderedDict(b=[True, None, Count.ONE, Side.LONG, "\U0001f600"]), "deep": nested(300, "x"),
          "big": 10**4000}
    assert json_data_problem(ok, "outcome") is None


def test_each_problem_is_named_at_its_place_whatever_else_the_reply_holds() -> None:
    deep = nested(300, "x")
    assert json_data_problem({"deep": deep, "odd": OrderedDict(f=1.5)}, "r") == \
        "r.odd.f: 1.5 is a binary float; numbers are decimal strings"
    assert json_data_problem({"deep": deep, "big": 10**5000, "t": (1,)}, "r") == \
        "r.t: a tuple is not JSON data (objects, lists, strings, integers, booleans, null)"
    assert json_data_problem({"x": [Decimal("1")]}, "r") == \
        "r.x[0]: a Decimal is not JSON data (objects, lists, strings, integers, booleans, null)"
    assert json_data_problem({"x": "a\\udc80"}, "r") is None  # an escaped backslash is text
    assert json_data_problem({"x": "a\udc80"}, "r").startswith("r.x: 'a\\udc80' holds a lone UTF-16 surrogate")
