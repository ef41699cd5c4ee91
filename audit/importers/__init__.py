"""Importers: venue exports (API responses saved as JSON) to a hedgespec trace.

Each venue module states its venue's conventions (signs, units, field names) with the document they
come from; those are importer facts, never model behaviour. ``VENUES`` maps the command-line venue
name to its importer.
"""

from __future__ import annotations

from . import binance, bybit, ccxt, okx

VENUES = {"binance": binance, "ccxt": ccxt, "bybit": bybit, "okx": okx}
