"""The run parameters conformance runs start from, and the observable projection compared.

``default_params(profile)`` is a small market: a perpetual and a dated linear contract settled
in USDT, two accounts in hedge mode (the scopes follow the profile's ``mode_scope``). Every
number is a decimal string (the model's params format, ``hedgespec.model.initial_state``).

``observable(snapshot)`` keeps the fields every profile fixes (the comparison of the
differential run and of vector states): per leg ``quantity, cost_basis, isolated_margin,
realized_pnl, fees_paid, funding, margin_type, leverage``; per account ``wallet,
position_mode`` and the open order ids; the ``insurance_fund``. Derived fields (entry price,
unrealized PnL, maintenance margin, liquidation price, available balance) are left out: they
follow from these and a profile may leave their rounding open.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from hedgespec.model import SETTING_SIDES
from hedgespec.spec.profiles import Profile, load_profile

PERP = "BTCUSDT"
DATED = "BTCUSDT-0327"
ACCOUNTS = ("alice", "bob")
SETTLE = "USDT"
RANDOM_WALLET = "3000"  # random runs: small enough that cross pools and wallets can be breached

LEG_FIELDS = ("quantity", "cost_basis", "isolated_margin", "realized_pnl", "fees_paid", "funding",
              "margin_type", "leverage")
ACCOUNT_FIELDS = ("wallet", "position_mode")

_BRACKETS = [
    {"notional_floor": "0", "notional_cap": "50000", "maintenance_rate": "0.004", "maintenance_amount": "0",
     "max_leverage": "50"},
    {"notional_floor": "50000", "notional_cap": "0", "maintenance_rate": "0.01", "maintenance_amount": "300",
     "max_leverage": "20"},
]


def instrument(symbol: str, kind: str = "PERPETUAL", fees: bool = True) -> dict[str, Any]:
    """A test instrument; without ``fees`` its maker and taker rates are 0 (for engines without fees)."""
    maker, taker = ("0.0002", "0.0005") if fees else ("0", "0")
    return {"symbol": symbol, "settle_asset": SETTLE, "kind": kind, "tick_size": "0.5", "lot_size": "0.001",
            "maker_rate": maker, "taker_rate": taker, "brackets": copy.deepcopy(_BRACKETS)}


def mode_scopes(profile: Profile, instruments: list[str]) -> list[str]:
    """The scope keys a position-mode setting uses under the profile's ``mode_scope``."""
    scope = profile.effective("mode_scope")
    if scope == "account":
        return ["*"]
    if scope == "settle_asset":
        return [SETTLE]
    return list(instruments)


def default_params(profile: Profile | str, mode: str = "HEDGE", wallet: str = "10000",
                   dated: bool = True, accounts: tuple[str, ...] = ACCOUNTS, fees: bool = True) -> dict[str, Any]:
    """Run parameters: instruments (fee-free without ``fees``), accounts in ``mode`` with ``wallet``,
    marks and last prices."""
    if isinstance(profile, str):
        profile = load_profile(profile)
    symbols = [PERP] + ([DATED] if dated else [])
    scopes = mode_scopes(profile, symbols)
    return {
        "profile": profile.name,
        "instruments": [instrument(PERP, fees=fees)] + ([instrument(DATED, "DATED", fees)] if dated else []),
        "accounts": {name: {"wallet": wallet, "position_mode": {s: mode for s in scopes}} for name in accounts},
        "insurance_fund": "1000",
        "mark_prices": {s: "30000" for s in symbols},
        "last_prices": {s: "30000" for s in symbols},
    }


def params_for(profile: Profile, capabilities: frozenset[str] | set[str], wallet: str) -> dict[str, Any]:
    """The random run's parameters for an engine: only what its capabilities cover (one account
    without ``multi-account``, one-way accounts without ``hedge-mode``, no dated contract without
    ``expiry``, fee-free instruments without ``fees``); with ``leg-settings``, the legs' settings are
    stated where the profile leaves their defaults open (``with_leg_settings``): the first account's as the
    profile runs them, the others' at another leverage and (with both margin capabilities) the other margin
    type, so that starting legs from stated settings is tried both ways."""
    accounts = ("alice", "bob") if "multi-account" in capabilities else ("alice",)
    mode = "HEDGE" if "hedge-mode" in capabilities or "one-way-mode" not in capabilities else "ONE_WAY"
    params = default_params(profile, mode=mode, dated="expiry" in capabilities, accounts=accounts, wallet=wallet,
                            fees="fees" in capabilities)
    if "leg-settings" not in capabilities:
        return params
    margin_type, leverage = profile.effective("default_margin_type"), str(profile.effective("default_leverage"))
    if {"isolated-margin", "cross-margin"} <= set(capabilities):
        margin_type = "CROSS" if margin_type == "ISOLATED" else "ISOLATED"
    return with_leg_settings(params, profile, (margin_type, "10" if leverage != "10" else "5"))


DEFAULT_SETTINGS = ("default_margin_type", "default_leverage")  # the profile choices leg settings stand in for


def _max_leverage(inst: dict[str, Any]) -> int:
    return int(Decimal(inst["brackets"][0]["max_leverage"]))


def with_leg_settings(params: dict[str, Any], profile: Profile,
                      others: tuple[str, str] | None = None) -> dict[str, Any]:
    """``params`` with every leg's margin type and leverage stated (``leg_settings``), as the profile
    runs them, where it leaves ``default_margin_type`` or ``default_leverage`` open: a venue's default
    is then no longer what a case turns on. ``params`` itself where the profile models both defaults.
    ``others`` (margin type, leverage): the settings of every account after the first instead."""
    if all(profile.choices[c].status == "modelled" for c in DEFAULT_SETTINGS):
        return params
    accounts = params["accounts"]
    if isinstance(accounts, list):
        accounts = {name: {} for name in accounts}
    first = (profile.effective("default_margin_type"), str(profile.effective("default_leverage")))
    out = copy.deepcopy(params)
    out["accounts"] = {name: {**copy.deepcopy(raw), "leg_settings": _stated(params["instruments"], *(
        first if i == 0 or others is None else others))} for i, (name, raw) in enumerate(accounts.items())}
    return out


def _stated(instruments: list[dict[str, Any]], margin_type: str, leverage: str) -> dict[str, Any]:
    """Every side of every instrument at these settings; the leverage at most what a leverage request may set."""
    return {inst["symbol"]: {side: {"margin_type": margin_type, "leverage": str(min(int(leverage), _max_leverage(inst)))}
                             for side in SETTING_SIDES} for inst in instruments}


def observable(snap: dict[str, Any]) -> dict[str, Any]:
    """The projection of a snapshot on the fields every profile fixes (see module docstring).

    A malformed snapshot projects to what can be read; missing fields become ``None`` so that
    the comparison reports them instead of raising.
    """
    out: dict[str, Any] = {"accounts": {}, "insurance_fund": snap.get("insurance_fund")
                           if isinstance(snap, dict) else None}
    accounts = snap.get("accounts") if isinstance(snap, dict) else None
    if not isinstance(accounts, dict):
        return out
    for aid, acc in sorted(accounts.items()):
        if not isinstance(acc, dict):
            out["accounts"][aid] = None
            continue
        rows: dict[str, Any] = {}
        positions = acc.get("positions")
        if isinstance(positions, dict):
            for symbol, sides in sorted(positions.items()):
                if not isinstance(sides, dict):
                    rows[symbol] = None
                    continue
                rows[symbol] = {side: ({f: row.get(f) for f in LEG_FIELDS} if isinstance(row, dict) else None)
                                for side, row in sorted(sides.items())}
        orders = acc.get("open_orders")
        out["accounts"][aid] = {
            **{f: acc.get(f) for f in ACCOUNT_FIELDS},
            "open_orders": sorted(orders) if isinstance(orders, dict) else None,
            "positions": rows,
        }
    return out


def diff(expected: Any, actual: Any, path: str = "", limit: int = 5) -> list[str]:
    """Where ``actual`` differs from ``expected`` (both JSON); at most ``limit`` lines.

    ``expected`` may hold patterns: ``{"$any": true}`` matches anything present,
    ``{"$pattern": "regex"}`` a string matching the regex in full (``pattern_problem`` bounds the regex, and a
    value of more than ``PATTERN_VALUE_LIMIT`` characters matches none; either is a difference, never a hang).
    """
    out: list[str] = []
    _diff(expected, actual, path, out, limit)
    return out


#: the longest value a ``$pattern`` is matched against (a longer one does not match, and the difference says so)
PATTERN_VALUE_LIMIT = 100
PATTERN_LIMIT = 200  # characters of a pattern
#: the most ways a pattern may try to match one value (the product of each quantifier's and alternation's choices)
PATTERN_COST_LIMIT = 10**7


def pattern_problem(pattern: Any) -> str | None:
    """Why ``pattern`` cannot be a vector's ``{"$pattern": ...}``, or None.

    A pattern is a regular expression (Python's ``re``) matched in full against a value of at most
    ``PATTERN_VALUE_LIMIT`` characters, restricted so that matching is bounded: no quantifier or
    alternation inside a group repeated more than once (``(\\d+)+``: nested quantifiers), no back-reference
    or lookaround, at most ``PATTERN_LIMIT`` characters, and few enough choices (three unbounded quantifiers
    at most, say; ``-?\\d+(\\.\\d+)?`` is fine).
    """
    import re
    from re import _constants as C  # noqa: N812
    from re import _parser

    if not isinstance(pattern, str):
        return f"a string is required, got {type(pattern).__name__}"
    if len(pattern) > PATTERN_LIMIT:
        return f"at most {PATTERN_LIMIT} characters, got {len(pattern)}"
    try:
        tree = _parser.parse(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        return f"not a valid regular expression ({_short(str(exc))[1:-1]})"
    repeats = (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT)
    simple = (C.LITERAL, C.NOT_LITERAL, C.IN, C.ANY, C.AT)

    def cost(items: Any, repeated: bool) -> int:
        total = 1
        for op, av in items:
            if op in simple:
                continue
            if op in repeats:
                low, high, sub = av
                if repeated:
                    raise ValueError("a quantifier inside a repeated group (nested quantifiers) is not allowed")
                choices = min(high, PATTERN_VALUE_LIMIT) - min(low, PATTERN_VALUE_LIMIT) + 1
                total *= choices * cost(sub, high > 1)
            elif op is C.BRANCH:
                if repeated:
                    raise ValueError("an alternation inside a repeated group is not allowed")
                total *= sum(cost(sub, repeated) for sub in av[1])
            elif op is C.SUBPATTERN:
                total *= cost(av[-1], repeated)
            elif op is C.ATOMIC_GROUP:
                total *= cost(av, repeated)
            else:
                raise ValueError("back-references, lookarounds and conditionals are not allowed")
            if total > PATTERN_COST_LIMIT:
                raise ValueError("too many ways to match (more than three unbounded quantifiers, say): "
                                 "matching could take too long")
        return total

    try:
        cost(tree, False)
    except ValueError as exc:
        return str(exc)
    return None


def _pattern_mismatch(pattern: Any, actual: Any) -> str | None:
    """Why ``actual`` does not match the vector's pattern (or the pattern cannot be used), or None."""
    import re

    problem = pattern_problem(pattern)
    if problem is not None:
        return f"the vector's $pattern {_short(pattern)} cannot be used: {problem}"
    if not isinstance(actual, str):
        return f"expected /{_escaped(pattern)}/, got {_short(actual)}"
    if len(actual) > PATTERN_VALUE_LIMIT:
        return (f"expected /{_escaped(pattern)}/, got {_short(actual)} ({len(actual)} characters: a pattern matches "
                f"at most {PATTERN_VALUE_LIMIT})")
    if re.fullmatch(pattern, actual) is None:
        return f"expected /{_escaped(pattern)}/, got {_short(actual)}"
    return None


def _escaped(text: str) -> str:
    """``text`` with its control characters escaped (as ``repr`` does), without the quotes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _diff(expected: Any, actual: Any, path: str, out: list[str], limit: int) -> None:
    if len(out) >= limit:
        return
    if isinstance(expected, dict) and "$any" in expected and len(expected) == 1:
        return
    if isinstance(expected, dict) and "$pattern" in expected and len(expected) == 1:
        mismatch = _pattern_mismatch(expected["$pattern"], actual)
        if mismatch is not None:
            out.append(f"{path or '.'}: {mismatch}")
        return
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in expected:
            sub = f"{path}.{key}" if path else str(key)
            if key not in actual:
                out.append(f"{sub}: missing (expected {_short(expected[key])})")
            else:
                _diff(expected[key], actual[key], sub, out, limit)
            if len(out) >= limit:
                return
        return
    if expected != actual:
        out.append(f"{path or '.'}: expected {_short(expected)}, got {_short(actual)}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
