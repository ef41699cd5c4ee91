"""The decimal-string grammar of hedgespec's JSON formats (actions, run parameters, profiles).

A number is written ``-?D(.D)?`` where each ``D`` is 1 to 20 ASCII digits: ``"0.1"``, ``"50000"``,
``"-0.0001"``. No exponent, sign ``+``, spaces, underscores or non-ASCII digits: every reader
accepts exactly the same strings, and no input can make a reader build a huge number.
"""

from __future__ import annotations

import re

DECIMAL_GRAMMAR = "-?[0-9]{1,20}(?:\\.[0-9]{1,20})?"
_DECIMAL = re.compile(DECIMAL_GRAMMAR)


def is_decimal_text(text: object) -> bool:
    """Whether ``text`` is a string in the decimal grammar."""
    return isinstance(text, str) and _DECIMAL.fullmatch(text) is not None
