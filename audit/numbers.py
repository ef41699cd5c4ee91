"""Exact decimal handling for the audit: strict parsing, canonical text, precision helpers.

The audit never uses binary floats. A decimal string has at most ``MAX_DIGITS`` digits before and
after the point (ASCII digits only), so a number has at most 40 significant digits and a product of
three (quantity x mark x rate) at most 120: arithmetic in the audit's context (``AUDIT_PRECISION`` =
120 digits, see ``audit_context``) is exact for sums and products; only pro-rata divisions round, far
below any venue's precision. The only differences the audit sees are the venue's own roundings,
which the tolerances cover.
"""

from __future__ import annotations

import re
from decimal import Context, Decimal, localcontext

AUDIT_PRECISION = 120
MAX_DIGITS = 20  # digits before and after the point in a decimal string (venues print far fewer)
# possessive quantifiers: a digit run is never followed by a digit, so giving digits back can never
# make a match; the pattern accepts exactly the strings of the schema's DEC_PATTERN, without backtracking
_UNSIGNED = r"[0-9]{1,20}+(?:\.[0-9]{1,20}+)?+"
_NUMBER = "-?" + _UNSIGNED
DECIMAL_TEXT = re.compile(_NUMBER)
#: four decimal strings joined by NUL, checked in one call on the fast path
FOUR_DECIMALS = re.compile("\x00".join([_NUMBER] * 4))
_TEXTS = {"number": _NUMBER, "unsigned": _UNSIGNED}


def joined_texts(*kinds: str) -> re.Pattern[str]:
    """One pattern for texts joined by NUL, checked in one call on the fast paths: each a "number" (a
    decimal string) or an "unsigned" one (not negative)."""
    return re.compile("\x00".join(_TEXTS[kind] for kind in kinds))


#: a fill's quantity, price, fee and realized PnL
FILL_NUMBERS = joined_texts("unsigned", "unsigned", "number", "number")
ZERO = Decimal(0)


def audit_context() -> Context:
    """A fresh context for a run: 120 significant digits, half-even (only divisions round)."""
    return Context(prec=AUDIT_PRECISION)


def local_audit_context():  # noqa: ANN201 - context manager
    """``with local_audit_context():`` runs a block in the audit's decimal context (thread-local)."""
    return localcontext(audit_context())


def parse_decimal(text: object) -> Decimal:
    """A decimal string (``-12.5``; ASCII digits, at most 20 before and after the point; no exponent,
    sign +, spaces or underscores) to Decimal.

    Raises ``ValueError`` for anything else, including JSON numbers: the trace format carries
    every amount as a string so that no parser can round it.
    """
    if type(text) is not str or DECIMAL_TEXT.fullmatch(text) is None:
        raise ValueError(f"expected a decimal string, got {text!r}")
    return Decimal(text)


def canonical(value: Decimal) -> str:
    """Canonical text: no exponent, no trailing zeros, ``"0"`` for zero."""
    if value == 0:
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


_STEPS = tuple(Decimal(1).scaleb(-places) for places in range(MAX_DIGITS + 1))


def step_of_text(text: str) -> Decimal:
    """``step_of`` for a checked decimal string (``DECIMAL_TEXT``), without reading it: the same value."""
    point = text.find(".")
    return _STEPS[len(text) - point - 1 if point >= 0 else 0]


def step_of(value: Decimal) -> Decimal:
    """One unit in the last printed place of ``value`` (``"70.92841"`` -> ``0.00001``)."""
    text = str(value)  # plain notation unless it shows an exponent: the places after the point are -exponent
    if "E" not in text and "e" not in text and value.is_finite():
        point = text.find(".")
        places = len(text) - point - 1 if point >= 0 else 0
        if places <= MAX_DIGITS:
            return _STEPS[places]
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return Decimal(1).scaleb(min(exponent, 0))
