"""The rulebook's chapters; importing this package registers every rule."""

from . import fees, funding, integrity, liquidation, margin, mode, orders, positions, settlement, stops  # noqa: F401
