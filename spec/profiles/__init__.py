"""Profiles: the rulebook's parameters where venues differ.

A profile is a JSON data file (``profile_format`` "1"). Each choice has a ``value``, a ``source``
(seed clause IDs, venue document tags) and a ``status``:

* ``modelled``: the reference model behaves so under this profile;
* ``documented``: stated and cited, not simulated (the model runs the seed behaviour instead);
* ``unconfirmed``: sources conflict or are missing; the value is ``null`` or a stated guess.

Engine authors add their own profile with ``load_profile(path)``. Only ``modelled`` values steer the
model; the others are published so that auditors see what the venue promises.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from hedgespec.spec.numbers import is_decimal_text
from hedgespec.spec.reasons import REASON_CLASSES

from hedgespec import jsonio

PROFILE_FORMAT = "1"
RATE_ATOM = Decimal("0.00000001")  # rates are read in 1e-8 steps (hedgespec.model.units.RATE)
STATUSES = ("modelled", "documented", "unconfirmed")
#: a reason code entry's status: stated in the venue's documentation, seen in user reports, or not established
REASON_CODE_STATUSES = ("documented", "observed", "unconfirmed")
REASON_CODE_FIELDS = ("code", "message", "status", "source", "note", "observed")
OBSERVED_FIELDS = ("code", "message", "source")


@dataclass(frozen=True)
class ChoiceSpec:
    """What one profile choice means and which values it accepts."""

    name: str
    allowed: tuple[Any, ...] | None  # the values of an enum; None for the other kinds
    meaning: str
    kind: str = "enum"  # enum; int (a JSON integer >= 0); and decimal strings: decimal (>= 0), rate
    # (0 <= rate < 1, at most 8 decimals) or leverage (a whole number >= 1)


CHOICE_SPECS: tuple[ChoiceSpec, ...] = (
    ChoiceSpec("mode_scope", ("account", "settle_asset", "instrument"),
               "What one position-mode setting covers."),
    ChoiceSpec("default_position_mode", ("ONE_WAY", "HEDGE"), "The mode of a scope never switched."),
    ChoiceSpec("mode_switch_blocked_by_positions", (True, False),
               "A switch is refused while the scope holds a position."),
    ChoiceSpec("mode_switch_blocked_by_orders", (True, False),
               "A switch is refused while the scope has an open order (conditional ones included)."),
    ChoiceSpec("mode_switch_precedence", ("positions_first", "orders_first", "either"),
               "Which reason is reported when both positions and orders block a switch."),
    ChoiceSpec("mode_switch_coin_level_partial", (True, False),
               "A switch requested for a settle asset applies to its idle instruments only and skips busy "
               "ones (outcome partially_applied), as Bybit's coin-level switch does."),
    ChoiceSpec("same_mode_request", ("unchanged", "rejected"),
               "Outcome of asking for the mode in force (both change nothing)."),
    ChoiceSpec("mode_switch_cooldown_seconds", None, "Seconds after a switch during which orders are held.",
               kind="int"),
    ChoiceSpec("reduce_only_in_hedge", ("implicit", "accepted", "forbidden"),
               "Meaning of the reduce-only flag in hedge mode; closing orders are reduce-only by construction "
               "under every value."),
    ChoiceSpec("oversized_close", ("reject", "trim"),
               "A closing order larger than what its leg has left: rejected, or accepted and trimmed "
               "worst-price first."),
    ChoiceSpec("close_position_orders", ("conditional_only", "any"),
               "Which order types may carry close_position."),
    ChoiceSpec("margin_type_scope", ("leg", "instrument", "account"), "What one margin-type setting covers."),
    ChoiceSpec("leverage_scope", ("leg", "instrument"), "What one leverage setting covers."),
    ChoiceSpec("default_margin_type", ("ISOLATED", "CROSS"), "Margin type of a leg never set."),
    ChoiceSpec("default_leverage", None, "Leverage of a leg never set.", kind="leverage"),
    ChoiceSpec("hedged_maintenance", ("both_legs", "larger_leg"),
               "What maintenance margin two opposite legs of one instrument are charged under cross margin."),
    ChoiceSpec("liquidation_trigger", ("below", "at_or_below"),
               "Liquidation when margin balance < maintenance, or <= maintenance."),
    ChoiceSpec("liquidation_price_basis", ("mark", "bankruptcy"),
               "Price at which a liquidated leg is closed."),
    ChoiceSpec("liquidation_extent", ("full", "partial_by_bracket"), "How much of a breached leg is closed."),
    ChoiceSpec("liquidation_clearance_fee_rate", None,
               "Rate on the liquidated notional paid to the insurance fund.", kind="rate"),
    ChoiceSpec("liquidation_cancels_orders", ("leg", "instrument", "account"),
               "Which open orders are cancelled before a liquidation executes."),
    ChoiceSpec("isolated_liquidation_remainder", ("insurance_fund", "wallet"),
               "Where what is left of a liquidated isolated leg's margin goes."),
    ChoiceSpec("cross_liquidation_scope", ("all_cross_legs", "offset_hedged_first"),
               "What a breach of the cross pool closes."),
    ChoiceSpec("cross_liquidation_price", ("shared", "none"),
               "Whether the snapshot carries the pool's shared liquidation price for cross legs."),
    ChoiceSpec("funding_source", ("wallet", "isolated_margin", "wallet_then_margin"),
               "Where an isolated leg's funding payment is taken from (cross legs always use the wallet)."),
    ChoiceSpec("funding_report", ("per_leg", "per_instrument"),
               "Whether each leg gets its own funding ledger entry, or one netted row per instrument."),
    ChoiceSpec("trigger_price_source", ("mark", "last"), "Price that triggers conditional orders."),
    ChoiceSpec("orders_on_leg_close", ("cancel", "keep"),
               "What happens to a leg's closing orders when the leg closes."),
    ChoiceSpec("pnl_destination", ("wallet",), "Where realized PnL and released margin go."),
    ChoiceSpec("settlement_fee_rate", None, "Rate charged on the settled notional at expiry.", kind="rate"),
    ChoiceSpec("rounding_tolerance_money", None,
               "Largest money difference an audit accepts as venue rounding.", kind="decimal"),
    # Documentary choices: published for auditors and adapters; the model does not branch on them.
    ChoiceSpec("reported_short_size_sign", ("negative", "positive"),
               "Sign of a SHORT leg's size in the venue's own position report (documentary: audit "
               "adapters normalise it; hedgespec snapshots use signed quantities)."),
)
CHOICE_BY_NAME = {spec.name: spec for spec in CHOICE_SPECS}


class ProfileError(ValueError):
    """A profile file is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class Choice:
    value: Any
    status: str
    source: str
    note: str = ""


@dataclass(frozen=True)
class Profile:
    """A validated profile. ``effective(name)`` is what the model runs."""

    name: str
    title: str
    description: str
    choices: dict[str, Choice]
    reason_codes: dict[str, Any] = field(default_factory=dict)
    out_of_scope: tuple[str, ...] = ()
    extends: str | None = None
    digest: str = ""
    origin: str = field(default="", compare=False)  # where it was read from, for error messages

    def effective(self, name: str) -> Any:
        """The value the model uses: the profile's if modelled, else the seed's."""
        choice = self.choices[name]
        if choice.status == "modelled":
            return choice.value
        return _seed_profile().choices[name].value

    def modelled(self, name: str) -> Any:
        """The profile's own value where it models the choice, else None: what a venue is judged by."""
        choice = self.choices[name]
        return choice.value if choice.status == "modelled" else None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "digest": self.digest,
            "extends": self.extends,
            "out_of_scope": list(self.out_of_scope),
            "choices": {
                name: {"value": c.value, "status": c.status, "source": c.source, **({"note": c.note} if c.note else {})}
                for name, c in self.choices.items()
            },
            "reason_codes": self.reason_codes,
        }


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _decimal_choice_problem(kind: str, value: Any) -> str:
    """What is wrong with a decimal-string choice of ``kind`` ('' when nothing)."""
    if not is_decimal_text(value) or value.startswith("-"):
        return "a non-negative decimal string (hedgespec's decimal grammar) is required"
    number = Decimal(value)
    if kind == "rate" and (number >= 1 or number != number.quantize(RATE_ATOM, rounding=ROUND_DOWN)):
        return "a rate below 1 with at most 8 decimals is required"
    if kind == "leverage" and (number < 1 or number != number.to_integral_value()):
        return "a whole number of at least 1 is required"
    return ""


def _validate_choice(where: str, name: str, raw: Any) -> Choice:
    if not isinstance(raw, dict):
        raise ProfileError(f"{where}: choices.{name}: expected an object with value, status, source")
    spec = CHOICE_BY_NAME.get(name)
    if spec is None:
        raise ProfileError(f"{where}: choices.{name}: unknown choice (known: {', '.join(CHOICE_BY_NAME)})")
    for key in raw:
        if key not in ("value", "status", "source", "note"):
            raise ProfileError(f"{where}: choices.{name}.{key}: unknown field")
    status = raw.get("status")
    if status not in STATUSES:
        raise ProfileError(f"{where}: choices.{name}.status: must be one of {STATUSES}, got {status!r}")
    source = raw.get("source")
    if not isinstance(source, str) or not source.strip():
        raise ProfileError(f"{where}: choices.{name}.source: a non-empty string is required")
    value = raw.get("value")
    if status == "unconfirmed" and value is None:
        pass
    elif spec.kind == "enum":
        allowed = spec.allowed or ()
        if value not in allowed or type(value) is not type(allowed[0]):
            raise ProfileError(f"{where}: choices.{name}.value: must be one of {list(allowed)}, got {value!r}")
    elif spec.kind == "int":
        if type(value) is not int or value < 0:
            raise ProfileError(f"{where}: choices.{name}.value: a non-negative integer is required, got {value!r}")
    else:
        problem = _decimal_choice_problem(spec.kind, value)
        if problem:
            raise ProfileError(f"{where}: choices.{name}.value: {problem}, got {value!r}")
    note = raw.get("note", "")
    if not isinstance(note, str):
        raise ProfileError(f"{where}: choices.{name}.note: must be a string")
    return Choice(value=value, status=status, source=source, note=note)


def _code_field(at: str, key: str, value: Any, *, code: bool) -> None:
    """A reason code entry's ``code`` (a non-empty string) or ``message`` (a string), either of them null."""
    if value is not None and (not isinstance(value, str) or (code and not value.strip())):
        kind = "a non-empty string" if code else "a string"
        raise ProfileError(f"{at}.{key}: {kind} or null is required, got {value!r:.60}")


def _fields_object(at: str, value: Any, known: tuple[str, ...], required: tuple[str, ...]) -> dict[str, Any]:
    """``value``, an object with only ``known`` fields and each of ``required``; else the error naming ``at``."""
    if not isinstance(value, dict):
        raise ProfileError(f"{at}: expected an object with {', '.join(required)}, got {type(value).__name__}")
    for key in value:
        if key not in known:
            raise ProfileError(f"{at}.{key:.60}: unknown field (known: {', '.join(known)})")
    for key in required:
        if key not in value:
            raise ProfileError(f"{at}: missing field {key!r}")
    return value


def _source_field(at: str, value: Any) -> None:
    """A reason code entry's (or its observation's) ``source``: a non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise ProfileError(f"{at}.source: a non-empty string is required, got {value!r:.60}")


def _validate_reason_codes(where: str, raw: Any) -> dict[str, Any]:
    """The venue's code and message for each reason class it maps: ``{"CLASS": {"code", "message", "status",
    "source", optional "note", optional "observed": {"code", "message", "source"}}}`` (what the venue
    comparison publishes). A documented or observed entry has a code; only an unconfirmed one may leave it null."""
    if not isinstance(raw, dict):
        raise ProfileError(f"{where}: reason_codes: an object is required")
    for reason, entry in raw.items():
        at = f"{where}: reason_codes.{reason:.60}"
        if reason not in REASON_CLASSES:
            raise ProfileError(f"{at}: unknown reason class (known: {', '.join(REASON_CLASSES)})")
        _fields_object(at, entry, REASON_CODE_FIELDS, ("code", "message", "status", "source"))
        status = entry["status"]
        if status not in REASON_CODE_STATUSES or type(status) is not str:
            raise ProfileError(f"{at}.status: must be one of {REASON_CODE_STATUSES}, got {status!r:.60}")
        _source_field(at, entry["source"])
        _code_field(at, "code", entry["code"], code=True)
        _code_field(at, "message", entry["message"], code=False)
        if entry["code"] is None and status != "unconfirmed":
            raise ProfileError(f"{at}.code: a {status} entry needs the venue's code (only an unconfirmed one "
                               "may have null)")
        if not isinstance(entry.get("note", ""), str):
            raise ProfileError(f"{at}.note: a string is required, got {entry['note']!r:.60}")
        if "observed" in entry:
            observed = _fields_object(f"{at}.observed", entry["observed"], OBSERVED_FIELDS, OBSERVED_FIELDS)
            _code_field(f"{at}.observed", "code", observed["code"], code=True)
            if observed["code"] is None:
                raise ProfileError(f"{at}.observed.code: the observed code is required")
            _code_field(f"{at}.observed", "message", observed["message"], code=False)
            _source_field(f"{at}.observed", observed["source"])
    return raw


def _text(raw: dict[str, Any], key: str, default: str, where: str) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise ProfileError(f"{where}: {key}: a string is required, got {type(value).__name__}")
    return value


def parse_profile(raw: Any, where: str) -> Profile:
    """Validate a decoded profile document; ``where`` names its file for error messages."""
    if not isinstance(raw, dict):
        raise ProfileError(f"{where}: a profile is a JSON object")
    if raw.get("profile_format") != PROFILE_FORMAT:
        raise ProfileError(f"{where}: profile_format: expected {PROFILE_FORMAT!r}, got {raw.get('profile_format')!r}")
    for key in raw:
        if key not in ("profile_format", "name", "title", "description", "extends", "choices",
                       "reason_codes", "out_of_scope"):
            raise ProfileError(f"{where}: {key}: unknown field")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise ProfileError(f"{where}: name: a non-empty string is required")
    extends = raw.get("extends")
    base: dict[str, Any] = {}
    if extends is not None:
        base = dict(_raw_builtin(extends)["choices"]) if extends in builtin_profile_names() else {}
        if not base:
            raise ProfileError(f"{where}: extends: unknown built-in profile {extends!r}")
    choices_raw = raw.get("choices")
    if not isinstance(choices_raw, dict):
        raise ProfileError(f"{where}: choices: an object is required")
    merged = {**base, **choices_raw}
    missing = [n for n in CHOICE_BY_NAME if n not in merged]
    if missing:
        raise ProfileError(f"{where}: choices: missing {', '.join(missing)}")
    choices = {n: _validate_choice(where, n, merged[n]) for n in CHOICE_BY_NAME}
    for n in merged:
        if n not in CHOICE_BY_NAME:
            raise ProfileError(f"{where}: choices.{n}: unknown choice")
    reason_codes = _validate_reason_codes(where, raw.get("reason_codes", {}))
    out_of_scope = raw.get("out_of_scope", [])
    if not isinstance(out_of_scope, list) or not all(isinstance(x, str) for x in out_of_scope):
        raise ProfileError(f"{where}: out_of_scope: a list of strings is required")
    digest_source = {"name": name, "choices": {n: {"value": c.value, "status": c.status}
                                               for n, c in choices.items()}}
    return Profile(
        name=name,
        title=_text(raw, "title", name, where),
        description=_text(raw, "description", "", where),
        choices=choices,
        reason_codes=reason_codes,
        out_of_scope=tuple(out_of_scope),
        extends=extends,
        digest="sha256:" + hashlib.sha256(_canonical(digest_source)).hexdigest(),
        origin=where,
    )


def builtin_profile_names() -> list[str]:
    """Names of the profiles shipped with hedgespec, seed first."""
    names = sorted(p.name[:-5] for p in resources.files(__package__).iterdir() if p.name.endswith(".json"))
    return ["seed"] + [n for n in names if n != "seed"]


def _raw_builtin(name: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath(f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text)


_CACHE: dict[str, Profile] = {}


def _seed_profile() -> Profile:
    return load_profile("seed")


def load_profile(name_or_path: str) -> Profile:
    """A built-in profile by name, or a profile file by path. Raises ProfileError naming the place."""
    if name_or_path in _CACHE:
        return _CACHE[name_or_path]
    if not name_or_path.strip():  # never "no profile given" (the default): a name was given, and it is blank
        empty = "an empty profile name" if not name_or_path else "a blank profile name (spaces only)"
        raise ProfileError(f"{empty}: give a built-in profile ({', '.join(builtin_profile_names())}) or a profile file")
    if name_or_path in builtin_profile_names():
        where = f"{name_or_path}.json (built-in profile)"
        raw = _raw_builtin(name_or_path)
    else:
        path = Path(name_or_path)
        try:
            is_file = path.is_file()
        except OSError as exc:  # e.g. a name longer than the system allows
            raise ProfileError(f"{name_or_path}: cannot read: {exc.strerror or exc}") from None
        if not is_file:
            known = ", ".join(builtin_profile_names())
            raise ProfileError(f"{name_or_path}: no such profile file, and not a built-in profile ({known})")
        where = str(path)
        try:
            raw = jsonio.loads(path.read_text(encoding="utf-8"))
        except jsonio.JSONInputError as exc:
            raise ProfileError(exc.at(where)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ProfileError(f"{where}: cannot read: {exc}") from None
    profile = parse_profile(raw, where)
    _CACHE[name_or_path] = profile
    return profile
