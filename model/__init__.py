"""The reference model: exact, deterministic, pure. ``step(state, action) -> (outcome, state)``.

Chapters: ``mode``, ``orders``, ``positions``, ``margin``, ``fees``, ``funding``,
``liquidation``, ``settlement``; units in ``units``; the JSON edge in ``codec``.
"""

from __future__ import annotations

from types import FunctionType
from typing import Any

from hedgespec.spec.profiles import Profile, ProfileError, load_profile

from .codec import InputError, instrument_from_json, known_fields, parse_units
from .mode import scope_of
from .snapshot import snapshot
from .state import BOTH, CROSS, HEDGE, HEDGE_SIDES, ISOLATED, ONE_WAY, Account, Config, LegSettings, State
from .step import step

BUILD = "interpreted" if isinstance(step, FunctionType) else "compiled"
"""How this model runs: ``interpreted`` from its Python sources, or ``compiled`` by mypyc from the same
sources (``HEDGESPEC_COMPILE=1``, see setup.py)."""

_RATE_CHOICES = ("liquidation_clearance_fee_rate", "settlement_fee_rate")

ACCOUNT_FIELDS = ("wallet", "position_mode", "leg_settings")
LEG_SETTINGS_FIELDS = ("margin_type", "leverage")
SETTING_SIDES = (*HEDGE_SIDES, BOTH)
PARAMS_FIELDS = ("instruments", "accounts", "profile", "insurance_fund", "mark_prices", "last_prices")


def resolve_choices(profile: Profile) -> dict[str, Any]:
    """The profile's effective choices in model units (rates as RATE atoms, leverage as int).

    A choice marked modelled with a value the model does not simulate (a switch cooldown) is refused,
    never run silently as something else.
    """
    where = profile.origin or f"profile {profile.name}"
    cooldown = profile.choices["mode_switch_cooldown_seconds"]
    if cooldown.status == "modelled" and cooldown.value:
        raise InputError(f"{where}: choices.mode_switch_cooldown_seconds: a cooldown is not "
                         "simulated (the model has logical time only); mark it documented")
    choices = {name: profile.effective(name) for name in profile.choices}
    for name in _RATE_CHOICES:
        choices[name] = parse_units(choices[name], "rate", where, name)
    choices["default_leverage"] = parse_units(choices["default_leverage"], "int", where,
                                              "default_leverage")
    return choices


def initial_state(params: Any, profile: Any = None, where: str = "params") -> State:
    """Build the state a run starts from, from run parameters in their JSON form.

    ``params``: instruments (list), accounts ({id: {"wallet": str, "position_mode": {scope: mode},
    "leg_settings": {instrument: {position_side: {"margin_type", "leverage"}}}}} or a list of ids),
    optional profile name, insurance_fund, mark_prices, last_prices. ``profile``: a Profile, a profile
    name or None (the one ``params`` names). Typed Any so that the compiled build, which checks annotated
    types on entry, reaches the checks below and raises InputError as the interpreted model does.
    """
    if not isinstance(params, dict):
        raise InputError(f"{where}: parameters are a JSON object")
    known_fields(params, PARAMS_FIELDS, where)
    if profile is None:
        profile = params.get("profile", "seed")
    if isinstance(profile, str):
        try:
            profile = load_profile(profile)
        except ProfileError as exc:
            raise InputError(f"{where}: profile: {exc}") from None
    if not isinstance(profile, Profile):
        raise InputError(f"{where}: profile: a profile name or file path is required, got {profile!r}")
    raw_instruments = params.get("instruments")
    if not isinstance(raw_instruments, list) or not raw_instruments:
        raise InputError(f"{where}: instruments: a non-empty list is required")
    instruments = {}
    for i, raw in enumerate(raw_instruments):
        inst = instrument_from_json(raw, f"{where}: instruments[{i}]")
        if inst.symbol in instruments:
            raise InputError(f"{where}: instruments[{i}]: duplicate symbol {inst.symbol}")
        instruments[inst.symbol] = inst
    raw_accounts = params.get("accounts")
    if isinstance(raw_accounts, list):
        for i, name in enumerate(raw_accounts):
            if not isinstance(name, str) or not name:
                raise InputError(f"{where}: accounts[{i}]: an account ID is a non-empty string, got {name!r}")
        if len(set(raw_accounts)) != len(raw_accounts):
            raise InputError(f"{where}: accounts: an account ID is listed twice")
        raw_accounts = {name: {} for name in raw_accounts}
    if not isinstance(raw_accounts, dict) or not raw_accounts:
        raise InputError(f"{where}: accounts: a non-empty object or list is required")
    config = Config(instruments, profile, tuple(sorted(raw_accounts)), resolve_choices(profile))
    accounts = {}
    for name, raw in sorted(raw_accounts.items()):
        at = f"{where}: accounts.{name}"
        if not isinstance(raw, dict):
            raise InputError(f"{at}: an account is a JSON object")
        known_fields(raw, ACCOUNT_FIELDS, at)
        wallet = parse_units(raw.get("wallet", "0"), "money", at, "wallet")
        modes = raw.get("position_mode", {})
        if not isinstance(modes, dict) or any(m not in (HEDGE, ONE_WAY) for m in modes.values()):
            raise InputError(f"{at}: position_mode: an object of scope -> HEDGE/ONE_WAY is required")
        scopes = sorted({scope_of(config, symbol) for symbol in instruments})
        for scope in modes:
            if scope not in scopes:
                raise InputError(f"{at}: position_mode.{scope}: not a mode scope under profile {profile.name} "
                                 f"(mode_scope {config.choices['mode_scope']}: {', '.join(scopes)})")
        if wallet < 0:
            raise InputError(f"{at}: wallet: must not be negative")
        settings = leg_settings(raw.get("leg_settings", {}), config, f"{at}: leg_settings")
        accounts[name] = Account(wallet, dict(modes), {}, settings, {}, {})
    prices = {}
    for key in ("mark_prices", "last_prices"):
        raw_prices = params.get(key, {})
        if not isinstance(raw_prices, dict):
            raise InputError(f"{where}: {key}: an object of instrument -> price is required")
        for symbol in raw_prices:
            if symbol not in instruments:
                raise InputError(f"{where}: {key}.{symbol}: unknown instrument")
        prices[key] = {s: parse_units(p, "price", where, f"{key}.{s}") for s, p in raw_prices.items()}
    insurance = parse_units(params.get("insurance_fund", "0"), "money", where, "insurance_fund")
    return State(config, accounts, prices["mark_prices"], prices["last_prices"], insurance)


def leg_settings(raw: Any, config: Config, where: str) -> dict[tuple[str, str], LegSettings]:
    """The legs' starting margin type and leverage, stated in the run parameters instead of left to the
    profile's defaults (``default_margin_type``, ``default_leverage``).

    Under a profile whose ``margin_type_scope`` or ``leverage_scope`` is ``instrument``, one setting covers
    every side of the instrument, so an instrument stated at all states LONG, SHORT and BOTH alike; under
    ``margin_type_scope: account``, one margin type covers every leg of every instrument.
    """
    if not isinstance(raw, dict):
        raise InputError(f"{where}: an object of instrument -> position side -> settings is required")
    out: dict[tuple[str, str], LegSettings] = {}
    for symbol, sides in raw.items():
        at = f"{where}.{symbol}"
        if symbol not in config.instruments:
            raise InputError(f"{at}: unknown instrument")
        if not isinstance(sides, dict) or not sides:
            raise InputError(f"{at}: a non-empty object of position side -> settings is required")
        max_leverage = config.instruments[symbol].max_leverage
        for side, fields in sides.items():
            if side not in SETTING_SIDES:
                raise InputError(f"{at}.{side}: not a position side (LONG, SHORT or BOTH)")
            if not isinstance(fields, dict):
                raise InputError(f"{at}.{side}: settings are a JSON object")
            known_fields(fields, LEG_SETTINGS_FIELDS, f"{at}.{side}")
            for field in LEG_SETTINGS_FIELDS:
                if field not in fields:
                    raise InputError(f"{at}.{side}: {field}: missing (a leg's settings state both "
                                     f"{' and '.join(LEG_SETTINGS_FIELDS)})")
            margin_type = fields["margin_type"]
            if margin_type not in (ISOLATED, CROSS):
                raise InputError(f"{at}.{side}: margin_type: ISOLATED or CROSS, got {margin_type!r:.40}")
            leverage = parse_units(fields["leverage"], "int", f"{at}.{side}", "leverage")
            if not 1 <= leverage <= max_leverage:
                raise InputError(f"{at}.{side}: leverage: must be 1..{max_leverage} (the instrument's maximum)")
            out[(symbol, side)] = LegSettings(margin_type, leverage)
    for field, choice in (("margin_type", "margin_type_scope"), ("leverage", "leverage_scope")):
        scope = config.choices[choice]
        if scope == "leg":
            continue
        groups = {f"{where}.{symbol}": [(symbol, side) for side in SETTING_SIDES] for symbol in config.instruments} \
            if scope == "instrument" else {where: [(symbol, side) for symbol in config.instruments
                                                   for side in SETTING_SIDES]}
        for at, legs in groups.items():
            stated = [out.get(leg) for leg in legs]
            if all(s is None for s in stated):
                continue
            if None in stated or len({getattr(s, field) for s in stated}) > 1:
                which = "LONG, SHORT and BOTH" if scope == "instrument" else "every instrument's LONG, SHORT and BOTH"
                raise InputError(f"{at}: {choice} is {scope} under profile {config.profile.name}: one {field} covers "
                                 f"the {scope}, so {which} are all stated with the same {field}")
    return out


__all__ = ["initial_state", "step", "snapshot", "resolve_choices", "leg_settings", "InputError", "State",
           "SETTING_SIDES"]
