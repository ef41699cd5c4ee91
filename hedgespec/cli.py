"""The ``hedgespec`` command line.

Subcommands: ``rules`` (the rule catalogue), ``simulate`` (a scenario file through the reference
model), ``profiles`` (built-in venue profiles), plus those registered by
``hedgespec.conformance.cli`` (conform, vectors) and ``hedgespec.audit.cli`` (import, audit) when
they are installed.

Exit status: 0 success, 1 a command's own negative verdict (e.g. a failed check), 2 bad input
(usage, unreadable or malformed files: one line on stderr naming the file, step and field).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

from hedgespec import __version__, jsonio
from hedgespec.model import initial_state, snapshot, step
from hedgespec.model.codec import InputError, action_from_json, known_fields, outcome_to_json
from hedgespec.model.state import State
from hedgespec.names import text_name
from hedgespec.spec.profiles import Profile, ProfileError, builtin_profile_names, load_profile

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
SCENARIO_FORMAT = "2"  # written by hedgespec; "1" (no leg_settings in params) is still read
SCENARIO_FORMATS_READ = ("1", "2")
SCENARIO_FIELDS = ("scenario_format", "title", "description", "params", "actions")

Handler = Callable[[argparse.Namespace], int]


class CliError(Exception):
    """A handled input error: printed as one line on stderr, exit status 2."""


# --- scenarios ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scenario:
    """A validated scenario file: parameters and actions, each action in its raw and parsed form."""

    path: str
    title: str
    description: str
    params: dict[str, Any]
    raw_actions: tuple[dict[str, Any], ...]
    actions: tuple[Any, ...]


def read_json(path: str) -> Any:
    """A JSON file's document; CliError naming the file (and line:col for syntax errors)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except OSError as exc:  # a directory, no permission, a name longer than the system allows ...
        raise CliError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise CliError(f"{path}: cannot read: {exc}") from None
    try:
        return jsonio.loads(text)
    except jsonio.JSONInputError as exc:
        raise CliError(exc.at(path)) from None


def parse_scenario(document: Any, path: str) -> Scenario:
    """Validate a decoded scenario document (format "2", or "1" whose params state no ``leg_settings``);
    InputError naming file, step and field."""
    if not isinstance(document, dict):
        raise InputError(f"{path}: a scenario is a JSON object, got {type(document).__name__}")
    known_fields(document, SCENARIO_FIELDS, path)
    if "scenario_format" not in document:
        raise InputError(f"{path}: scenario_format: missing (expected {SCENARIO_FORMAT!r})")
    if document["scenario_format"] not in SCENARIO_FORMATS_READ:
        raise InputError(f"{path}: scenario_format: expected {' or '.join(map(repr, SCENARIO_FORMATS_READ))}, "
                         f"got {document['scenario_format']!r}")
    title = _string_field(document, "title", path, required=True)
    description = _string_field(document, "description", path, required=False)
    params = document.get("params")
    if not isinstance(params, dict):
        raise InputError(f"{path}: params: " + ("missing" if params is None else "a JSON object is required"))
    if document["scenario_format"] == "1" and isinstance(params.get("accounts"), dict):
        for name, account in params["accounts"].items():
            if isinstance(account, dict) and "leg_settings" in account:
                raise InputError(f"{path}: params: accounts.{name}: leg_settings: needs scenario_format \"2\"")
    raw_actions = document.get("actions")
    if not isinstance(raw_actions, list):
        raise InputError(f"{path}: actions: " + ("missing" if raw_actions is None else "a JSON list is required"))
    actions = tuple(_parse_action(raw, f"{path}: step {i}") for i, raw in enumerate(raw_actions, start=1))
    return Scenario(path, title, description, params, tuple(raw_actions), actions)


def _parse_action(raw: Any, where: str) -> Any:
    try:
        return action_from_json(raw, where)
    except TypeError as exc:  # a field the codec leaves to the action's constructor
        raise InputError(f"{where}: {exc}") from None


def _string_field(document: dict[str, Any], name: str, path: str, required: bool) -> str:
    value = document.get(name)
    if value is None and not required:
        return ""
    if value is None:
        raise InputError(f"{path}: {name}: missing")
    if not isinstance(value, str):
        raise InputError(f"{path}: {name}: a string is required, got {type(value).__name__}")
    return value


def load_scenario(path: str) -> Scenario:
    return parse_scenario(read_json(path), text_name(path))  # the name is printed: as text


def scenario_state(scenario: Scenario, profile: Profile | None) -> State:
    """The state the scenario starts from (``profile`` overrides the one named in its params)."""
    try:
        return initial_state(scenario.params, profile, where=f"{scenario.path}: params")
    except ProfileError as exc:  # the profile named in params
        raise InputError(f"{scenario.path}: params: profile: {exc}") from None


def run_scenario(scenario: Scenario, state: State) -> Iterator[dict[str, Any]]:
    """Step the model through the scenario; one JSON record per step (the ``--json`` line)."""
    for number, (raw, action) in enumerate(zip(scenario.raw_actions, scenario.actions, strict=True), start=1):
        outcome, state = step(state, action)
        outcome_json = outcome_to_json(outcome)
        snap = snapshot(state)
        yield {
            "type": "step",
            "step": number,
            "action": raw,
            "outcome": outcome_json,
            "ledger": [e for e in outcome_json["events"] if e["type"] == "ledger"],
            "accounts": snap["accounts"],
            "mark_prices": snap["mark_prices"],
            "insurance_fund": snap["insurance_fund"],
        }


# --- simulate: text rendering ---------------------------------------------------------------------

ROW_COLUMNS = ("account", "instrument", "side", "quantity", "entry", "type", "iso.margin", "unreal.PnL",
               "real.PnL", "fees", "funding", "liq.price")
LEDGER_COLUMNS = ("account", "instrument", "side", "kind", "bucket", "amount")


def _short(value: str | None, decimals: int = 8) -> str:
    """A derived price for display: at most ``decimals`` decimals (half-even); JSON keeps it exact."""
    if value is None:
        return "-"
    exact = Decimal(value)
    rounded = exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN).normalize()
    text = format(rounded, "f")
    return text if rounded == exact else "~" + text


def table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "    ") -> list[str]:
    """Left-aligned text columns."""
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    return [indent + "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in (header, *rows)]


def describe_action(raw: dict[str, Any]) -> str:
    """One line: the action kind and its fields."""
    fields = " ".join(f"{k}={v}" for k, v in raw.items() if k not in ("kind", "t"))
    return f"{raw.get('kind')} {fields}".rstrip()


def describe_event(event: dict[str, Any]) -> str | None:
    """One line for a non-ledger event (ledger entries have their own table)."""
    kind = event["type"]
    if kind == "fill":
        return (f"fill {event['account']} {event['instrument']} {event['position_side']} {event['side']} "
                f"{event['quantity']} @ {event['price']} {event['liquidity']} fee {event['fee']} "
                f"realized {event['realized_pnl']} ({event['cause']})")
    if kind == "order":
        return f"order {event['account']} {event['order_id']} {event['status']} ({event['cause']})"
    if kind == "funding":
        return (f"funding {event['account']} {event['instrument']} {event['position_side']} qty {event['quantity']} "
                f"mark {event['mark_price']} rate {event['rate']} amount {event['amount']}")
    if kind == "liquidation":
        return (f"LIQUIDATION {event['account']} {event['instrument'] or ''} {event['position_side']} "
                f"margin balance {event['margin_balance']} < maintenance {event['maintenance_margin']}")
    if kind == "mode":
        return f"mode {event['account']} scope {event['scope']} -> {event['mode']}"
    return None


def position_rows(accounts: dict[str, Any]) -> list[list[str]]:
    rows = []
    for account_id, account in accounts.items():
        for symbol, sides in account["positions"].items():
            for side, row in sides.items():
                margin = f"{row['margin_type'][:3].lower()} {row['leverage']}x"
                rows.append([account_id, symbol, side, row["quantity"], _short(row["entry_price"]), margin,
                             row["isolated_margin"], row["unrealized_pnl"] or "-", row["realized_pnl"],
                             row["fees_paid"], row["funding"], _short(row["liquidation_price"])])
    return rows


def render_step(record: dict[str, Any]) -> list[str]:
    outcome = record["outcome"]
    t = record["action"].get("t")
    lines = [f"step {record['step']}  t={t}  {describe_action(record['action'])}"]
    verdict = outcome["kind"].upper()
    if outcome["reason"]:
        verdict += f" {outcome['reason']}"
    if outcome["message"]:
        verdict += f": {outcome['message']}"
    lines.append(f"  -> {verdict}")
    lines += [f"  {text}" for text in map(describe_event, outcome["events"]) if text]
    for account_id, account in record["accounts"].items():
        modes = ", ".join(f"{scope}: {mode}" for scope, mode in account["position_mode"].items())
        lines.append(f"  {account_id}: mode {modes}; wallet {account['wallet']}; "
                     f"available {account['available_balance']}; open orders {len(account['open_orders'])}")
    lines += table(ROW_COLUMNS, position_rows(record["accounts"]))
    if record["ledger"]:
        lines.append("  ledger:")
        lines += table(LEDGER_COLUMNS, [[e["account"] or "-", e["instrument"] or "-", e["position_side"] or "-",
                                         e["kind"], e["bucket"], e["amount"]] for e in record["ledger"]])
    return lines


def render_header(scenario: Scenario, profile: Profile) -> list[str]:
    lines = [f"{scenario.path}: {scenario.title}"]
    if scenario.description:
        lines += textwrap.wrap(scenario.description, width=100, initial_indent="  ", subsequent_indent="  ")
    lines.append(f"profile: {profile.name} ({profile.digest})")
    return lines


def cmd_simulate(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.file)
    state = scenario_state(scenario, None if args.profile is None else load_profile(args.profile))
    profile = state.config.profile
    out = sys.stdout
    counts = {"accepted": 0, "rejected": 0, "unchanged": 0, "partially_applied": 0}
    if args.json:
        header = {"type": "scenario", "file": scenario.path, "title": scenario.title,
                  "description": scenario.description, "profile": profile.name, "profile_digest": profile.digest,
                  "steps": len(scenario.actions)}
        out.write(json.dumps(header, ensure_ascii=False) + "\n")
    else:
        out.write("\n".join(render_header(scenario, profile)) + "\n")
    for record in run_scenario(scenario, state):
        counts[record["outcome"]["kind"]] += 1
        if args.json:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            out.write("\n" + "\n".join(render_step(record)) + "\n")
    if args.json:
        out.write(json.dumps({"type": "end", **counts}) + "\n")
    else:
        out.write("\n" + ", ".join(f"{n} {k}" for k, n in counts.items() if n) + "\n")
    return EXIT_OK


# --- rules ------------------------------------------------------------------------------------------

def _all_rules() -> list[Any] | None:
    try:
        from hedgespec.spec.rulebook import all_rules
    except ImportError:
        return None
    return list(all_rules())


def render_rule(rule: dict[str, Any]) -> list[str]:
    sources = ", ".join(s["ref"] + (f" ({s['note']})" if s.get("note") else "") for s in rule["sources"])
    lines = [f"{rule['id']}  {rule['level']}  {rule['kind']}  [{rule['status']}]  {rule['digest']}",
             f"  {rule['title']}"]
    lines += textwrap.wrap(rule["statement"], width=100, initial_indent="    ", subsequent_indent="    ")
    lines.append(f"    sources: {sources or '-'}")
    return lines


def cmd_rules(args: argparse.Namespace) -> int:
    catalogue = _all_rules()
    if catalogue is None:
        sys.stderr.write("hedgespec rules: the rule catalogue (hedgespec.spec.rulebook) is not available in this "
                         "build\n")
        return EXIT_FAILED
    rules = [r.as_json() for r in catalogue]
    if args.json:
        sys.stdout.write(json.dumps({"rules": rules}, indent=2, ensure_ascii=False) + "\n")
        return EXIT_OK
    blocks = ["\n".join(render_rule(r)) for r in rules]
    active = sum(r["status"] == "active" for r in rules)
    sys.stdout.write("\n\n".join(blocks) + f"\n\n{len(rules)} rules ({active} active)\n")
    return EXIT_OK


# --- profiles ---------------------------------------------------------------------------------------

def _fallback_profiles(json_output: bool) -> str:
    profiles = [load_profile(name) for name in builtin_profile_names()]
    if json_output:
        return json.dumps({"profiles": [p.as_json() for p in profiles]}, indent=2, ensure_ascii=False) + "\n"
    lines = []
    for p in profiles:
        lines += ["", f"{p.name}  {p.digest}  {p.title}"]
        lines += [f"  {name}: {json.dumps(c.value)} [{c.status}]" for name, c in p.choices.items()]
    return "\n".join(lines[1:]) + "\n"


def cmd_profiles(args: argparse.Namespace) -> int:
    try:
        from hedgespec.spec.venues import profiles_report
    except ImportError:
        sys.stdout.write(_fallback_profiles(args.json))
        return EXIT_OK
    sys.stdout.write(profiles_report(args.json))
    return EXIT_OK


# --- parser -----------------------------------------------------------------------------------------

def _register_optional(subparsers: Any) -> None:
    """Subcommands contributed by other packages, when they are installed."""
    try:
        from hedgespec.conformance.cli import register as register_conformance
    except ImportError:
        pass
    else:
        register_conformance(subparsers)
    try:
        from hedgespec.audit.cli import register as register_audit
    except ImportError:
        pass
    else:
        register_audit(subparsers)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hedgespec",
        description="The hedge-mode rulebook for crypto derivatives: rules, reference model, conformance, audit.",
    )
    parser.add_argument("--version", action="version", version=f"hedgespec {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")

    rules = subparsers.add_parser("rules", help="list the rule catalogue")
    rules.add_argument("--json", action="store_true", help="print the catalogue as JSON")
    rules.set_defaults(func=cmd_rules)

    simulate = subparsers.add_parser("simulate", help="run a scenario file through the reference model")
    simulate.add_argument("file", metavar="FILE", help="scenario file (docs/formats/scenario.md)")
    simulate.add_argument("--profile", metavar="P", help="built-in profile name or profile file "
                                                         "(default: the scenario's params.profile, else seed)")
    simulate.add_argument("--json", action="store_true", help="print JSON lines (one per step)")
    simulate.set_defaults(func=cmd_simulate)

    profiles = subparsers.add_parser("profiles", help="list the built-in venue profiles")
    profiles.add_argument("--json", action="store_true", help="print the profiles as JSON")
    profiles.set_defaults(func=cmd_profiles)

    _register_optional(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Handler | None = getattr(args, "func", None)
    if func is None:
        parser.print_usage(sys.stderr)
        sys.stderr.write("hedgespec: error: a command is required\n")
        return EXIT_USAGE
    try:
        return func(args)
    except (CliError, InputError, ProfileError) as exc:
        message = " ".join(str(exc).split())
        sys.stderr.write(f"hedgespec {args.command}: {message}\n")
        return EXIT_USAGE
    except BrokenPipeError:  # the reader went away (e.g. ``| head``): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
