"""Exact decimal handling for the audit: strict parsing, canonical text, precision helpers.

The audit never uses binary floats. Arithmetic runs in a local decimal context with
``AUDIT_PRECISION`` significant digits (see ``audit_context``), far beyond any venue's precision, so
the only differences the audit sees are the venue's own roundings, which the tolerances cover.
"""

from __future__ import annotations

import re
from decimal import Context, Decimal, localcontext

AUDIT_PRECISION = 60
DECIMAL_TEXT = re.compile(r"-?\d+(?:\.\d+)?")
ZERO = Decimal(0)


def audit_context() -> Context:
    """A fresh context for a run: 60 significant digits, half-even (only used on divisions)."""
    return Context(prec=AUDIT_PRECISION)


def local_audit_context():  # noqa: ANN201 - context manager
    """``with local_audit_context():`` runs a block in the audit's decimal context (thread-local)."""
    return localcontext(audit_context())


def parse_decimal(text: object) -> Decimal:
    """A decimal string (``-12.5``; no exponent, sign +, spaces or underscores) to Decimal.

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


def step_of(value: Decimal) -> Decimal:
    """One unit in the last printed place of ``value`` (``"70.92841"`` -> ``0.00001``)."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return Decimal(1).scaleb(min(exponent, 0))
