"""The audit: replay a trace, reconstruct every leg on its own, decide what the data can decide.

One pass, streaming. Memory is bounded by the open state (legs and their fill routes, fee-rate ranges,
last funding point per instrument, the pending funding group, at most ``MAX_DISTINCT`` names kept as
one object each, at most ``MAX_NUMBERS`` recent quantity and price texts of fills kept read) plus two
stated windows: the duplicate window
(every record key is remembered for at least ``dup_window`` and at most twice that many records) and the lists of findings and rejections shown in full
(``max_listed`` each; counts are always exact).

Each check cites its rule (see ``hedgespec.audit.rules``). What the data cannot decide is counted
under "not decidable" with what would be needed, never silently skipped.

Plain hedge fills (the bulk of any export) take a fused path, ``Auditor._fill_hot``, that validates
and applies them in one pass; plain funding rows, position snapshots, funding rates and balances
take their own (``_funding_hot``, ``_position_hot``, ``_funding_rate_hot``, ``_balance_hot``: checked
in one pass, then the same handlers). Their lines are decoded straight into typed structs
(``hedgespec.audit.fused``, with msgspec), which checks the JSON types on the way. Any doubt sends the
line to the reference path (``validate`` + ``_dispatch`` + the ``_on_*`` handlers), and tests hold
the two to identical reports.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal
from pathlib import Path
from typing import IO, Any

from hedgespec.jsonio import JSONInputError, unique_keys
from hedgespec.names import text_name

from . import rules as R
from .numbers import (
    AUDIT_PRECISION,
    DECIMAL_TEXT,
    FILL_NUMBERS,
    ZERO,
    canonical,
    joined_texts,
    local_audit_context,
    step_of,
    step_of_text,
)
from .trace import (
    PARSER,
    RECORD_TYPES,
    TRACE_VERSION,
    RecordError,
    decode,
    validate,
    validate_fast,
)

try:  # msgspec (the "fast" extra) gives the fused paths; without it every line takes the reference path
    from .fused import (
        BALANCE_QUOTES,
        COUNT_QUOTES,
        FILL_QUOTES,
        FUNDING_QUOTES,
        FUNDING_RATE_QUOTES,
        NOT_FUSED,
        POSITION_QUOTES,
        UNSET,
        BalanceLine,
        FillLine,
        FundingLine,
        FundingRateLine,
        PositionLine,
        Source,
        decode_fused,
    )
except ImportError:  # pragma: no cover - exercised only without the fast extra
    decode_fused = None

DEFAULT_DUP_WINDOW = 50_000


def modelled_needed(choice: str) -> str:
    """What decides a check that depends on a choice the profile leaves unmodelled."""
    return f"the profile's {choice} choice modelled (a profile file that extends this one, given to --profile)"

DEFAULT_MAX_LISTED = 1_000
DEFAULT_FUNDING_WINDOW_MS = 60_000
MAX_DISTINCT = 1_000  # distinct venue codes and not-decidable reasons kept apart (the rest counted together)
IDENTICAL_DUPLICATE = "identical duplicate"  # rejected as a copy of a record already read: not missing data
MAX_FUNDING_GROUP = 1_000  # funding rows of one instrument in one funding window held for the per-leg decision
NEVER = 2**64  # no pending funding window or liquidation instant (every trace time is below it)
MAX_OPENINGS = 256  # distinct opening quantities of the other leg kept per leg between confirmations (HM-NET-001)
MAX_NUMBERS = 4_096  # recent quantity and price texts of fills kept read (see Auditor._fill_number)
OPENING_SIDE = {("BUY", "LONG"): True, ("SELL", "SHORT"): True, ("SELL", "LONG"): False, ("BUY", "SHORT"): False}
OTHER = {"LONG": "SHORT", "SHORT": "LONG"}
#: what would decide a funding time without a funding rate and mark price, by the trace's venue (meta.venue)
FUNDING_SOURCE = {
    "binance": "the funding-rate history with the mark price: GET /fapi/v1/fundingRate (hedgespec import binance "
               "--funding-rates)",
    "bybit": "the transaction-log SETTLEMENT row of the long leg at that funding time (feeRate, tradePrice); with only "
             "the short leg open, the rate (GET /v5/market/funding/history) and the mark price at that time",
    "okx": "the funding rate (GET /api/v5/public/funding-rate-history) and the mark price at each funding time (not "
           "read by hedgespec import okx yet)",
    "ccxt": "the funding rate (fetchFundingRateHistory) and the mark price at each funding time (not read by "
            "hedgespec import ccxt yet)",
}
FUNDING_SOURCE_OTHER = ("the funding-rate history with the mark price at each funding time "
                        "(e.g. Binance GET /fapi/v1/fundingRate)")
MODE_NEEDED = "the position mode at the start (the opening record's position_mode)"
HEDGE_FILL_MODE_UNKNOWN = "hedge (LONG/SHORT) fill while the position mode is unknown"
FLAT = "flat (opening declared complete)"
UNKNOWN = "unknown (no opening state)"
BUILT = "built from this leg's own fills"
_BLANK_START = (b"", b" ", b"\t", b"\r", b"\n")
# the decimal texts of the fused records (the decoder has checked their names), joined by NUL and checked in one call
_DECIMAL = DECIMAL_TEXT.fullmatch
_UNSIGNED = joined_texts("unsigned").fullmatch
_FILL_NUMBERS = FILL_NUMBERS.fullmatch
_POSITION_NUMBERS = joined_texts("unsigned", "unsigned", "unsigned", "number").fullmatch  # with entry, mark, PnL
_RATE_MARK = joined_texts("number", "unsigned").fullmatch



# top-level keys that say which record and which leg: repeated, they leave both unknown
_IDENTITY = ("type", "instrument", "position_side")
# record types whose loss cannot change a leg or a balance
_NO_STATE_TYPES = ("meta", "mode_change", "order", "mark_price", "funding_rate", "liquidation", "adl", "position")


# --------------------------------------------------------------------------- repeated keys
# A JSON text has two ``"`` bytes per string (keys and string values) and one per escaped quote ``\"``;
# there are no others. Every key and every string value of the decoded value (orjson keeps the last of
# two equal keys) stands for a different string of the text, and a repeated key adds a key string the
# decoded value does not have. So a line with exactly ``2 * _strings(decoded)`` quotes repeats no key,
# and only the other lines (a repeated key, an escaped quote) are decoded again to decide exactly.


def _strings(value: Any) -> int:
    """Keys and string values in a decoded JSON value, through nested objects and arrays."""
    n, stack = 0, [value]
    while stack:
        item = stack.pop()
        kind = item.__class__
        if kind is dict:
            n += len(item)
            items = item.values()
        elif kind is list:
            items = item
        else:
            n += kind is str
            continue
        for value in items:
            kind = value.__class__
            if kind is str:
                n += 1
            elif kind is dict or kind is list:
                stack.append(value)
    return n


def _segment(key: str) -> str:
    return key if key.isidentifier() and len(key) <= 40 else f"{key!r:.40}"


def _repeated_key(line: bytes, raw: Any) -> tuple[str, frozenset[str]] | None:
    """None when no object of the (valid JSON) line gives a key twice, decided by ``hedgespec.jsonio.unique_keys``
    as every other hedgespec reader decides it; else the rejection's message, naming the first repeated key of the
    outermost object that has one and where that object is, and the keys the record itself repeats."""
    try:
        json.loads(line, object_pairs_hook=unique_keys)
        return None
    except JSONInputError:
        pass
    except RecursionError:  # (orjson reads a little deeper): as the other hedgespec readers say
        raise RecordError("malformed JSON", "not valid JSON here: nested too deeply") from None
    # find it: the same text with each object as its list of (key, value) pairs (arrays stay lists of values)
    tree = json.loads(line, object_pairs_hook=list)
    top: frozenset[str] = frozenset()
    found: tuple[str, str] | None = None
    queue: list[tuple[Any, str]] = [(tree, "")]
    for value, where in queue:  # outermost objects first
        if value.__class__ is not list:
            continue
        if value and value[0].__class__ is tuple:  # an object
            try:
                unique_keys(value)
            except JSONInputError:
                seen: set[str] = set()
                twice = {key for key, _ in value if key in seen or seen.add(key)}
                if value is tree:
                    top = frozenset(twice)
                if found is None:
                    found = (next(key for key, _ in value if key in twice), where)
            queue.extend((item, f"{where}{_segment(key)}: ") for key, item in value)
        else:
            queue.extend((item, f"{where.removesuffix(': ')}[{i}]: ") for i, item in enumerate(value))
        if found is not None:
            break
    assert found is not None  # unique_keys refused an object of this same text
    key, where = found
    kind = raw.get("type") if raw.__class__ is dict and "type" not in top else None
    prefix = f"{kind}: " if kind.__class__ is str and kind in RECORD_TYPES else ""  # a list or object is no type
    return f"{prefix}{where}repeated key {key!r:.40} (given twice in one object: which value is meant cannot be told)", top


# --------------------------------------------------------------------------- results


@dataclass
class Finding:
    """One violation: the rule, what was seen, where (trace line and the venue's record)."""

    rule_id: str
    message: str
    t: int | None
    evidence: list[dict[str, Any]]
    venue_code: str | None = None
    expected: str | None = None
    observed: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule_id": self.rule_id, "message": self.message, "t": self.t,
                               "evidence": self.evidence}
        for key in ("venue_code", "expected", "observed"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


@dataclass
class Undecided:
    """A rule the data could not decide here, how often, and what would decide it."""

    rule_id: str
    reason: str
    needs: str
    count: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "reason": self.reason, "needs": self.needs, "count": self.count,
                "examples": self.examples}


@dataclass
class Rejection:
    line: int
    reason: str
    message: str


@dataclass
class AuditResult:
    provenance: dict[str, Any]
    summary: dict[str, Any]
    findings: list[Finding]
    findings_by_rule: dict[str, int]
    decided_by_rule: dict[str, int]
    undecided: list[Undecided]
    rejections: list[Rejection]
    legs: list[dict[str, Any]]
    notes: list[dict[str, Any]]

    @property
    def finding_count(self) -> int:
        return sum(self.findings_by_rule.values())

    @property
    def exit_code(self) -> int:
        return 1 if self.finding_count else 0


class Leg:
    """One reconstructed leg: quantity, cost basis, and how sure we are of it (HM-POS-001)."""

    __slots__ = ("qty", "cost", "known", "entry_unc", "cost_unc", "opp_opened", "opp_fills", "origin")

    def __init__(self, known: bool, origin: Any) -> None:
        self.qty = ZERO
        self.cost = ZERO
        self.known = known
        self.entry_unc = ZERO  # uncertainty of the entry price when declared (half a printed step)
        self.cost_unc = ZERO  # the venue may round each pro-rata cost release by one money step
        self.opp_opened = ZERO  # quantity opened on the other leg since this leg was last confirmed
        self.opp_fills: set[Decimal] = set()  # the distinct quantities of those opening fills (MAX_OPENINGS at most)
        self.origin = origin

    def describe(self, trace_name: str) -> str:
        """Where the leg's state comes from, in words (stored as a tuple on the hot paths)."""
        if isinstance(self.origin, tuple):
            what, t, number = self.origin
            return f"{what} the snapshot at t={t} ({trace_name}:{number})"
        return self.origin

    def entry(self) -> Decimal | None:
        return self.cost / self.qty if self.qty else None

    def set(self, qty: Decimal, entry: Decimal | None, entry_unc: Decimal, origin: Any) -> None:
        self.qty = qty
        self.cost = qty * entry if entry is not None and qty else ZERO
        self.entry_unc = entry_unc if qty else ZERO
        self.cost_unc = ZERO
        self.known = entry is not None or qty == 0
        self.opp_opened = ZERO
        self.opp_fills = set()
        self.origin = origin


@dataclass(slots=True)
class FundingPoint:
    """A funding time (HM-FUND-001/002): rate, mark, both legs' sizes then, and the funding rows of its window."""

    t: int
    rate: Decimal
    mark: Decimal
    legs: dict[str, tuple[Decimal, bool]]
    ambiguous: bool  # a fill at the funding instant: the size at that instant is not known
    where: Any
    early: bool = False  # a funding row of the instrument came within the window before this point's record
    rows: list[tuple[dict[str, Any], Any]] = field(default_factory=list)
    overflow: bool = False
    unread: bool = False  # a record in the window could not be read: it may have been a funding row


@dataclass(slots=True)
class LiquidationInstant:
    """Liquidation fills and records of one instrument at one instant (HM-LIQ-001), judged once it is over.

    ``fills``: per leg, [fills, quantity, first fill's evidence]; ``records``: announced leg -> (margin type, evidence).
    """

    t: int
    fills: dict[str, list[Any]] = field(default_factory=dict)
    records: dict[str | None, tuple[str | None, Any]] = field(default_factory=dict)


_FLOOR = Context(prec=AUDIT_PRECISION, rounding=ROUND_FLOOR)
_CEIL = Context(prec=AUDIT_PRECISION, rounding=ROUND_CEILING)


def _rate(amount: Decimal, notional: Decimal | None = None) -> str:
    """A fee rate for messages, to 12 decimal places."""
    rate = amount if notional is None else amount / notional
    return canonical(rate.quantize(Decimal("1e-12")))


def _fmt(value: Decimal | None) -> str | None:
    return None if value is None else canonical(value)


# --------------------------------------------------------------------------- the auditor


class Auditor:
    """Feed it trace lines (``feed``) then call ``finish``; see the module docstring for bounds."""

    def __init__(self, profile: Any, *, trace_name: str = "<trace>", dup_window: int = DEFAULT_DUP_WINDOW,
                 max_listed: int = DEFAULT_MAX_LISTED, hot: bool = True) -> None:
        self.profile = profile
        self.trace_name = trace_name
        self.dup_window = dup_window
        self.max_listed = max_listed
        self.hot = hot  # the fused path for plain fills; ``hot=False`` runs the reference path only
        # fills decided on the fused path (of them: openings, and fills before any mode was known), folded
        # into the counts at the end
        self.hot_fills = self.hot_openings = self.hot_modeless = 0
        self.profile_tol = Decimal(profile.effective("rounding_tolerance_money"))
        # behaviour the venue is judged by: the profile's own value, or None where it does not model the
        # choice (the seed's value is what the model runs, not what the venue does): undecided then
        self.blocked_by_positions = profile.modelled("mode_switch_blocked_by_positions")
        self.oversized_close = profile.modelled("oversized_close")
        self.funding_report = profile.modelled("funding_report")
        # venue facts from the meta record (defaults: exact data)
        self.venue: str | None = None
        self.meta: dict[str, Any] | None = None
        self.settle_asset: str | None = None
        self.money_step = ZERO
        self.price_step = ZERO
        self.qty_step = ZERO
        self.entry_step = ZERO
        self.money_tol = self.profile_tol
        self.funding_window = DEFAULT_FUNDING_WINDOW_MS
        self.ledger_complete = False
        # state
        self.mode: str | None = None
        self.default_known = False
        self.opening_seen = False
        self.legs: dict[tuple[str, str], Leg] = {}
        self.leg_pairs: dict[str, dict[str, tuple[Leg, Leg]]] = {}  # each instrument's legs by side, with the other
        self.fill_routes: dict[tuple[str, str, str], tuple[bool, Leg, Leg, str]] = {}  # see _route_of
        self.names: dict[str, str] = {}  # file names and instruments, one object each (bounded)
        self.fill_numbers: dict[str, Decimal] = {}  # recent quantity and price texts, read (bounded)
        self.fee_ranges: dict[tuple[str, str, bool], list[Any]] = {}
        self.fee_discount_reported: set[tuple[str, str]] = set()
        self.last_fill_t: dict[str, int] = {}
        self.funding_points: dict[str, FundingPoint] = {}  # the last funding point of each instrument
        self.funding_open: dict[str, FundingPoint] = {}  # funding points whose window is still open
        self.last_funding_row_t: dict[str, int] = {}
        # funding rows that came while their instrument had no open funding window: held for a funding point
        # opened within funding_window_ms after them, not decidable once that time passes without one
        self.funding_held: dict[str, list[tuple[dict[str, Any], Any]]] = {}
        self.funding_held_overflow: set[str] = set()
        self.marks: dict[str, tuple[int, Decimal]] = {}
        self.liquidations: dict[str, LiquidationInstant] = {}  # the current liquidation instant per instrument
        self.due = NEVER  # a record later than this closes a funding window or a liquidation instant
        self.balances: dict[str, Decimal] = {}
        self.balance_delta: dict[str, Decimal] = {}
        self.last_t: int | None = None
        self.first_number: int | None = None
        # record key -> (line number, hash of the line's text): a repeated key with the same text is a copy
        # of a record already read (not a gap in what the audit saw), with other text a conflicting record
        self.dup_keys: dict[tuple[Any, ...], tuple[int, int]] = {}
        self.dup_previous: dict[tuple[Any, ...], tuple[int, int]] = {}
        self.line: bytes = b""  # the line being read
        # results
        self.read = 0
        self.blank = 0
        self.checked = 0
        self.by_type: dict[str, int] = dict.fromkeys(RECORD_TYPES, 0)
        self.rejected_by_reason: dict[str, int] = {}
        self.rejections: list[Rejection] = []
        self.findings: list[Finding] = []
        self.findings_by_rule: dict[str, int] = {}
        self.decided: dict[str, int] = dict.fromkeys(R.known_rule_ids(), 0)
        self.undecided: dict[tuple[str, str], Undecided] = {}
        self.venue_codes: dict[str, int] = {}
        self.sha = hashlib.sha256()
        self.handlers = {name[4:]: getattr(self, name) for name in dir(self) if name.startswith("_on_")}

    # ------------------------------------------------------------------ plumbing

    def feed(self, number: int, line: bytes) -> None:
        """One raw line of the trace (with its 1-based line number)."""
        self.sha.update(line)
        self.take(number, [line])

    def take(self, first: int, lines: Iterable[bytes]) -> int:
        """Lines numbered from ``first``, already hashed: plain fills, funding rows, snapshots, rates and
        balances through their fused paths, everything else (and every doubt) through ``consume``.

        Returns the last line's number (``first - 1`` when there is none).
        """
        consume = self.consume
        number = first - 1
        if not self.hot or decode_fused is None:
            for number, line in enumerate(lines, first):
                consume(number, line)
            return number
        fill_hot, funding_hot, position_hot = self._fill_hot, self._funding_hot, self._position_hot
        rate_hot, balance_hot = self._funding_rate_hot, self._balance_hot
        fast = 0
        for number, line in enumerate(lines, first):
            self.line = line
            try:
                rec = decode_fused(line)
            except NOT_FUSED:
                consume(number, line)
                continue
            # a repeated key: the line has more quotes than its struct accounts for (``fused.quotes``, inlined:
            # a value left out is UNSET, a null None, anything else a string); such a line (or one with an
            # escaped quote) goes to the reference path, which decides exactly
            src = rec.src
            quotes = line.count(b'"')
            if src.line is not UNSET or src.index is not UNSET:
                quotes -= COUNT_QUOTES[src.line.__class__] + COUNT_QUOTES[src.index.__class__]
            kind = rec.__class__
            if kind is FillLine:
                value = rec.order_id
                if quotes == FILL_QUOTES + (2 if value is None else 0 if value is UNSET else 4) \
                        and fill_hot(rec, number):
                    fast += 1
                    continue
            elif kind is FundingLine:
                if quotes == FUNDING_QUOTES + (0 if rec.position_side is None else 2) and funding_hot(rec, number):
                    continue
            elif kind is PositionLine:
                value, mark, pnl = rec.entry_price, rec.mark_price, rec.unrealized_pnl
                if quotes == POSITION_QUOTES + (0 if value is None else 2) + (2 if mark is None else 0 if mark is UNSET
                                                                             else 4) \
                        + (2 if pnl is None else 0 if pnl is UNSET else 4) and position_hot(rec, number):
                    continue
            elif kind is FundingRateLine:
                mark = rec.mark_price
                if quotes == FUNDING_RATE_QUOTES + (2 if mark is None else 0 if mark is UNSET else 4) \
                        and rate_hot(rec, number):
                    continue
            elif quotes == BALANCE_QUOTES and balance_hot(rec, number):
                continue
            consume(number, line)
        # fused fills are counted once per block (closes and mode checks derived at the end, see ``finish``)
        self.read += fast
        self.hot_fills += fast
        self.checked += fast
        self.by_type["fill"] += fast
        return number

    def consume(self, number: int, line: bytes) -> None:
        """One line through the reference path (``validate`` + ``_dispatch``), without hashing; its final
        newline, if any, is not part of the record."""
        self.line = line
        if line[-1:] == b"\n":
            line = line[:-1]
        if line[:1] in _BLANK_START and not line.strip():
            self.blank += 1
            return
        self.read += 1
        if self.first_number is None:
            self.first_number = number  # the first record never takes a fused path (no leg is known yet)
        raw: Any = None
        try:
            raw = decode(line)
            if line.count(b'"') != 2 * _strings(raw):  # perhaps a repeated key: decide exactly
                repeated = _repeated_key(line, raw)
                if repeated is not None:
                    message, top = repeated
                    if not top.isdisjoint(_IDENTITY):
                        raw = None  # which record or leg it is cannot be told: as for a line that cannot be read
                    raise RecordError("repeated key", message)
            rec = validate_fast(raw)
            if rec is None:
                raw = decode(line)
                rec = validate(raw)
            self._dispatch(rec, number)
        except RecordError as exc:
            self._reject(number, exc.reason, str(exc))
            if exc.reason not in ("duplicate", IDENTICAL_DUPLICATE, "out of order"):
                self._taint_raw(raw, f"a record that could not be read ({self.trace_name}:{number})")
            return
        self.checked += 1
        self.by_type[rec["type"]] += 1

    def _reject(self, number: int, reason: str, message: str) -> None:
        self.rejected_by_reason[reason] = self.rejected_by_reason.get(reason, 0) + 1
        if len(self.rejections) < self.max_listed:
            self.rejections.append(Rejection(number, reason, f"{self.trace_name}:{number}: {message}"))

    @staticmethod
    def _where(rec: dict[str, Any], number: int) -> tuple[int, dict[str, Any] | None]:
        """Evidence is kept as (line, src) and expanded only when cited."""
        return (number, rec.get("src"))

    def _ev(self, where: tuple[int, dict[str, Any] | None]) -> dict[str, Any]:
        number, src = where
        out: dict[str, Any] = {"trace": f"{self.trace_name}:{number}"}
        if src:
            if not isinstance(src, dict):
                src = src.as_dict()  # a fused line's source
            out["source"] = src["file"] + (f":{src['line']}" if "line" in src else "") + (
                f"[{src['index']}]" if "index" in src else "")
            out["record_id"] = src["id"]
        return out

    def _find(self, rule_id: str, message: str, t: int | None, evidence: list[Any], *,
              code: str | None = None, expected: Decimal | str | None = None,
              observed: Decimal | str | None = None) -> None:
        self.findings_by_rule[rule_id] = self.findings_by_rule.get(rule_id, 0) + 1
        self.decided[rule_id] += 1
        if len(self.findings) < self.max_listed:
            self.findings.append(Finding(
                rule_id, message, t, [self._ev(w) for w in evidence], code,
                canonical(expected) if isinstance(expected, Decimal) else expected,
                canonical(observed) if isinstance(observed, Decimal) else observed))

    def _ok(self, rule_id: str) -> None:
        self.decided[rule_id] += 1

    def _cannot(self, rule_id: str, reason: str, needs: str, where: Any, n: int = 1) -> None:
        """Count ``n`` checks of ``rule_id`` not decidable here, with why and what would decide them."""
        key = (rule_id, reason)
        entry = self.undecided.get(key)
        if entry is None and len(self.undecided) >= MAX_DISTINCT:
            key = (rule_id, "(other reasons)")
            entry = self.undecided.get(key)
            reason, needs = key[1], "see the reasons listed"
        if entry is None:
            entry = self.undecided[key] = Undecided(rule_id, reason, needs)
        entry.count += n
        if len(entry.examples) < 3:
            entry.examples.append(self._ev(where))

    def _count_code(self, code: str) -> None:
        """Venue codes seen, by code; distinct codes are capped (the rest are counted together)."""
        if code not in self.venue_codes and len(self.venue_codes) >= MAX_DISTINCT:
            code = "(other codes)"
        self.venue_codes[code] = self.venue_codes.get(code, 0) + 1

    def _leg(self, instrument: str, side: str) -> Leg:
        leg = self.legs.get((instrument, side))
        if leg is None:
            origin = FLAT if self.default_known else UNKNOWN
            leg = self.legs[(instrument, side)] = Leg(self.default_known, origin)
        return leg

    def _dispatch(self, rec: dict[str, Any], number: int) -> None:
        kind = rec["type"]
        if kind == "meta":
            self._on_meta(rec, number)
            return
        t = rec["t"]
        if self.last_t is not None and t < self.last_t:
            self._taint(rec, "out-of-order record rejected")
            raise RecordError("out of order", f"{kind}: t={t} is earlier than the previous record's t={self.last_t}")
        src = rec["src"]
        key = (kind, src["file"], src["id"], rec.get("instrument"))
        seen = self.dup_keys.get(key) or self.dup_previous.get(key)
        digest = hash(self.line.rstrip())
        if seen is not None:
            if seen[1] == digest:
                raise RecordError(IDENTICAL_DUPLICATE, f"{kind}: the same text as line {seen[0]} (same source record "
                                                       f"{src['file']} id {src['id']}): read there")
            raise RecordError("duplicate", f"{kind}: duplicate of line {seen[0]} (same source record {src['file']} "
                                           f"id {src['id']}) with different content")
        self.dup_keys[key] = (number, digest)
        if len(self.dup_keys) >= self.dup_window:
            # two generations: every key stays checked for at least dup_window records, at most twice that
            self.dup_previous, self.dup_keys = self.dup_keys, {}
        if t > self.due:
            self._close_due(t)
        self.last_t = t
        self.handlers[kind](rec, number)

    def _taint_raw(self, raw: Any, why: str) -> None:
        """After an unreadable record, forget what it might have changed: the legs it might have moved
        (every leg if it cannot be told) become unknown, and balances lose their base (HM-LEDG-001)."""
        kind = raw.get("type") if isinstance(raw, dict) else None
        if kind in _NO_STATE_TYPES:
            return
        if kind in (None, "funding") and self.funding_open:  # perhaps an entry of an open funding window
            instrument = raw.get("instrument") if kind == "funding" else None
            for name, point in self.funding_open.items():
                if instrument.__class__ is not str or name == instrument:
                    point.unread = True
        self.balances.clear()
        if kind in ("funding", "ledger", "insurance", "balance"):
            return
        instrument = raw.get("instrument") if isinstance(raw, dict) else None
        side = raw.get("position_side") if isinstance(raw, dict) else None
        side = side if isinstance(side, str) else None
        if kind == "fill" and isinstance(instrument, str) and side in OTHER:
            targets = [(instrument, side)]
        elif kind == "fill" and isinstance(instrument, str):
            targets = [(instrument, "LONG"), (instrument, "SHORT")]
        else:
            targets = list(self.legs)
            self.default_known = False
        for key in targets:
            leg = self._leg(*key)
            leg.known = False
            leg.origin = "unknown since " + why

    def _taint(self, rec: dict[str, Any], why: str) -> None:
        """A rejected record that would have moved a leg makes that leg unknown until re-confirmed."""
        if rec["type"] in ("fill", "adl") and rec.get("position_side") in OTHER:
            leg = self._leg(rec["instrument"], rec["position_side"])
            leg.known = False
            leg.origin = why
        elif rec["type"] == "opening":
            for leg in self.legs.values():
                leg.known = False
                leg.origin = why
            self.default_known = False

    # ------------------------------------------------------------------ records

    def _on_meta(self, rec: dict[str, Any], number: int) -> None:
        if number != self.first_number or self.meta is not None:
            raise RecordError("misplaced meta", "meta: a meta record is allowed only as the first record")
        self.meta = rec
        self.venue = rec["venue"]
        self.settle_asset = rec.get("settle_asset")
        precision = rec.get("precision", {})
        self.money_step = precision.get("money", ZERO)
        self.price_step = precision.get("price", ZERO)
        self.qty_step = precision.get("quantity", ZERO)
        self.entry_step = precision.get("entry_price", ZERO)
        self.money_tol = self.profile_tol + self.money_step
        self.funding_window = rec.get("funding_window_ms", DEFAULT_FUNDING_WINDOW_MS)
        self.ledger_complete = rec.get("ledger_complete", False)

    def _on_opening(self, rec: dict[str, Any], number: int) -> None:
        if self.opening_seen:
            raise RecordError("second opening", "opening: only one opening record is allowed")
        self.opening_seen = True
        self.mode = rec["position_mode"]
        self.default_known = rec["complete"]
        for leg in self.legs.values():
            leg.known = self.default_known
        for raw in rec["legs"]:
            leg = self._leg(raw["instrument"], raw["position_side"])
            entry = raw["entry_price"]
            unc = (max(step_of(entry), self.price_step) / 2) if entry is not None else ZERO
            leg.set(raw["quantity"], entry, unc, f"declared at t={rec['t']} ({self.trace_name}:{number})")
        for bal in rec.get("balances", ()):
            self.balances[bal["asset"]] = bal["wallet_balance"]
            self.balance_delta[bal["asset"]] = ZERO

    def _on_mode_change(self, rec: dict[str, Any], number: int) -> None:
        code = rec.get("code")
        if code:
            self._count_code(code)
        if rec["outcome"] != "accepted":
            return
        where = (number, rec.get("src"))
        if rec["requested"] != self.mode and self.blocked_by_positions is not False:
            open_legs = [f"{i} {s} {canonical(leg.qty)}" for (i, s), leg in self.legs.items()
                         if leg.known and leg.qty > 0]
            unknown = any(not leg.known for leg in self.legs.values()) or not self.default_known
            if (open_legs or unknown) and self.blocked_by_positions is None:  # fine where open legs may switch
                self._cannot(R.MODE_SWITCH_WITH_POSITIONS, "the profile does not say whether open positions block a "
                             "switch", modelled_needed("mode_switch_blocked_by_positions"), where)
            elif open_legs:
                self._find(R.MODE_SWITCH_WITH_POSITIONS,
                           f"switch to {rec['requested']} accepted while legs were open: {', '.join(open_legs)}",
                           rec["t"], [where], code=code)
            elif unknown:
                self._cannot(R.MODE_SWITCH_WITH_POSITIONS, "some legs' sizes are unknown at the switch",
                             "an opening state declared complete, or position snapshots before the switch", where)
            else:  # every leg known flat: right under either value of the choice
                self.decided[R.MODE_SWITCH_WITH_POSITIONS] += 1
        self.mode = rec["requested"]

    def _mode_check(self, rec: dict[str, Any], where: Any, what: str) -> bool:
        """HM-ORD-001: the position side must match the mode in force. True if it matches or is unknown (then
        listed as not decidable)."""
        side = rec.get("position_side")
        if self.mode is None:
            self._cannot(R.POSITION_SIDE_MATCHES_MODE, f"{what} while the position mode is unknown", MODE_NEEDED,
                         where)
            return True
        bad = (self.mode == "HEDGE" and side not in OTHER) or (self.mode == "ONE_WAY" and side in OTHER)
        if bad:
            self._find(R.POSITION_SIDE_MATCHES_MODE,
                       f"{what} with position side {side} accepted in {self.mode} mode" if side is not None
                       else f"{what} without a position side (null) accepted in {self.mode} mode",
                       rec["t"], [where], code=rec.get("code"))
            return False
        self.decided[R.POSITION_SIDE_MATCHES_MODE] += 1
        return True

    def _on_order(self, rec: dict[str, Any], number: int) -> None:
        code = rec.get("code")
        if code:
            self._count_code(code)
        if rec["outcome"] != "accepted":
            return
        where = (number, rec.get("src"))
        self._mode_check(rec, where, "order")
        side = rec["position_side"]
        if side not in OTHER or OPENING_SIDE[(rec["side"], side)] or rec["quantity"] is None:
            return
        leg = self._leg(rec["instrument"], side)
        if not leg.known:
            self._cannot(R.OVERSIZED_CLOSE, "closing order on a leg of unknown size",
                         "the leg's opening state or a position snapshot before the order", where)
        elif self.oversized_close is None and rec["quantity"] > leg.qty + self.qty_step:
            self._cannot(R.OVERSIZED_CLOSE, "closing order larger than its leg, and the profile does not say whether "
                                            "such orders are refused or trimmed", modelled_needed("oversized_close"), where)
        elif self.oversized_close == "reject" and rec["quantity"] > leg.qty + self.qty_step:
            self._find(R.OVERSIZED_CLOSE,
                       f"closing order for {canonical(rec['quantity'])} accepted on {rec['instrument']} {side} "
                       f"holding {canonical(leg.qty)} (profile: oversized closes are rejected)",
                       rec["t"], [where], code=code, expected=f"<= {canonical(leg.qty)}", observed=rec["quantity"])
        else:
            self.decided[R.OVERSIZED_CLOSE] += 1

    def _on_fill(self, rec: dict[str, Any], number: int) -> None:
        instrument, side, t = rec["instrument"], rec["position_side"], rec["t"]
        where = (number, rec["src"])
        self.last_fill_t[instrument] = t
        if self.funding_points:
            point = self.funding_points.get(instrument)
            if point is not None and point.t == t:
                point.ambiguous = True
        if self.mode is not None:
            if (self.mode == "HEDGE") == (side in OTHER):
                self.decided[R.POSITION_SIDE_MATCHES_MODE] += 1
            else:
                self._mode_check(rec, where, "fill")
        elif side in OTHER:
            self._cannot(R.POSITION_SIDE_MATCHES_MODE, HEDGE_FILL_MODE_UNKNOWN, MODE_NEEDED, where)
        if side not in OTHER:  # decided above (a finding in hedge mode) unless the mode is unknown
            if self.mode is None:
                self._cannot(R.POSITION_SIDE_MATCHES_MODE, "one-way (BOTH) fill while the position mode is unknown",
                             MODE_NEEDED, where)
            self._ledger_fill(rec)
            return
        legs = self.legs
        leg = legs.get((instrument, side)) or self._leg(instrument, side)
        other = legs.get((instrument, OTHER[side])) or self._leg(instrument, OTHER[side])
        qty = rec["quantity"]
        closed = rec.get("closed_quantity")
        if rec.get("cause") == "liquidation":
            self._check_liquidation_leg(rec, where)
        if OPENING_SIDE[(rec["side"], side)]:
            pnl = rec["realized_pnl"]
            if pnl is not None and -self.money_tol <= pnl <= self.money_tol:
                self.decided[R.NETTING] += 1
            else:
                self._check_opening(rec, leg, where)
            if closed is not None:
                if closed > self.qty_step:
                    self._find(R.NETTING, f"opening fill on {instrument} {side} reports {canonical(closed)} "
                                          f"closed: the venue netted it against the other leg",
                               t, [where], expected="0", observed=closed)
                else:
                    self.decided[R.NETTING] += 1
            self._check_fee(rec, where, other.qty > 0)
            leg.qty += qty
            leg.cost += qty * rec["price"]
            if leg.origin is FLAT:
                leg.origin = BUILT
            other.opp_opened += qty
            if len(other.opp_fills) < MAX_OPENINGS:
                other.opp_fills.add(qty)
        else:
            if closed is not None:
                if abs(closed - qty) > self.qty_step:
                    self._find(R.FILL_OWN_LEG, f"closing fill of {canonical(qty)} on {instrument} {side} reports "
                                               f"{canonical(closed)} closed", t, [where], expected=qty, observed=closed)
                else:
                    self.decided[R.FILL_OWN_LEG] += 1
            self._check_fee(rec, where, False)
            self._close(rec, leg, where)
        if self.balance_delta:
            self._ledger_fill(rec)

    def _route_of(self, instrument: Any, side: Any, position_side: Any) -> tuple[bool, Leg, Leg, str] | None:
        """For a fill's instrument, side and position side: whether it opens, its leg, the other leg and the
        instrument's name, once both legs exist (kept: legs are never replaced, only changed in place).
        None for a one-way (BOTH) or invalid side and for an instrument that is not a non-empty string."""
        opening = OPENING_SIDE.get((side, position_side))
        if opening is None or instrument.__class__ is not str or not instrument:
            return None
        leg, other = self.legs.get((instrument, position_side)), self.legs.get((instrument, OTHER[position_side]))
        if leg is None or other is None:
            return None
        self._name(instrument)
        long, short = (leg, other) if position_side == "LONG" else (other, leg)
        self.leg_pairs[instrument] = {"LONG": (long, short), "SHORT": (short, long)}
        route = self.fill_routes[(instrument, side, position_side)] = (opening, leg, other, instrument)
        return route

    def _name(self, name: str) -> None:
        """Keep one object for a name that recurs in record keys (bounded: later names are not kept)."""
        if len(self.names) < MAX_DISTINCT:
            self.names.setdefault(name, name)

    def _fill_hot(self, f: FillLine, number: int) -> bool:
        """A plain hedge fill in one pass: same checks and state as ``validate`` + ``_dispatch`` + ``_on_fill``.

        Returns False, having changed nothing, when the record needs the reference path: anything invalid,
        out of order, duplicate, unusual or suspicious. The reference path then decides;
        tests/audit/test_fast_path.py holds the two to identical reports.
        """
        instrument, side, position_side = f.instrument, f.side, f.position_side
        q, p, fee, pnl = f.quantity, f.price, f.fee, f.realized_pnl
        route = self.fill_routes.get((instrument, side, position_side)) or self._route_of(instrument, side, position_side)
        if route is None or _FILL_NUMBERS("\x00".join((q, p, fee, pnl))) is None:
            return False
        t = f.t
        last_t = self.last_t
        mode = self.mode
        if (last_t is not None and t < last_t) or mode == "ONE_WAY":
            return False
        settle = self.settle_asset  # a non-empty string when set: then so is an equal fee asset
        if settle is None or f.fee_asset != settle:
            return False
        opening, leg, other, name = route
        if not leg.known:
            return False
        # one object per file name and instrument: the duplicate window holds less
        src = f.src
        sfile = src.file
        key = ("fill", self.names.get(sfile, sfile), src.id, name)
        if key in self.dup_previous:
            return False
        # quantities and prices recur: read once (see ``_fill_number``); an opening fill's PnL is mostly "0"
        numbers = self.fill_numbers
        qty = numbers.get(q) or self._fill_number(q)
        price = numbers.get(p) or self._fill_number(p)
        fee, pnl = Decimal(fee), ZERO if pnl == "0" else Decimal(pnl)
        if not qty or not price:
            return False
        tol = self.money_tol
        notional = qty * price
        # decide everything first; anything unusual goes to the reference path before any change
        if opening:
            hedged = other.qty > ZERO
            if (pnl is not ZERO or tol < ZERO) and not -tol <= pnl <= tol:
                return False
        else:
            hedged = False
            held = leg.qty
            if qty > held:
                return False
            released = leg.cost if qty == held else leg.cost * qty / held
            diff = pnl - (notional - released if position_side == "LONG" else released - notional)
            pnl_tol = tol + qty * (self.entry_step + leg.entry_unc) + leg.cost_unc
            if not -pnl_tol <= diff <= pnl_tol:
                return False
        liquidity = f.liquidity
        current = self.fee_ranges.get((name, liquidity, hedged))
        if current is None:
            return False
        low, high = fee - tol, fee + tol
        lo_at, hi_at = current[0] * notional, current[1] * notional
        if high < lo_at or low > hi_at:
            return False
        dup_keys = self.dup_keys
        if dup_keys.setdefault(key, (number, hash(self.line.rstrip())))[0] != number:
            return False  # a duplicate (the earlier line stays recorded)
        # commit: the same state changes and counts as the reference path
        if t > self.due:
            self._close_due(t)  # as _dispatch does
        if len(dup_keys) >= self.dup_window:
            self.dup_previous, self.dup_keys = dup_keys, {}
        if key[1] is sfile:
            self._name(sfile)
        self.last_t = t
        self.last_fill_t[name] = t
        # a rate's funding point has a time no later than the last record's: only a fill at that time can match it
        if t == last_t and self.funding_points:
            point = self.funding_points.get(name)
            if point is not None and point.t == t:
                point.ambiguous = True
        if mode is None:  # as _on_fill: HM-ORD-001 is not decidable without the mode
            self.hot_modeless += 1
            self._cannot(R.POSITION_SIDE_MATCHES_MODE, HEDGE_FILL_MODE_UNKNOWN, MODE_NEEDED, (number, src))
        current[2] += 1  # as _narrow, inline
        narrowed = False
        if low > lo_at:
            current[0] = _FLOOR.divide(low, notional)
            narrowed = True
        if high < hi_at:
            current[1] = _CEIL.divide(high, notional)
            narrowed = True
        if opening:
            self.hot_openings += 1
            leg.qty += qty
            leg.cost += notional
            if leg.origin is FLAT:
                leg.origin = BUILT
            other.opp_opened += qty
            if len(other.opp_fills) < MAX_OPENINGS:
                other.opp_fills.add(qty)
        else:
            leg.qty -= qty
            leg.cost -= released
            if leg.qty == 0:
                leg.cost = ZERO
                leg.entry_unc = ZERO
                leg.cost_unc = ZERO
            else:
                leg.cost_unc += self.money_step
        if narrowed:  # the discount test can only change when a range does
            self._hedge_discount({"instrument": name, "liquidity": liquidity, "t": t}, (number, src))
        deltas = self.balance_delta
        if deltas:
            if settle in deltas:  # (the fee asset is the settle asset here)
                deltas[settle] += pnl - fee  # exact: the same sum as adding the PnL, then the fee
        return True

    def _fill_number(self, text: str) -> Decimal:
        """A fill's quantity or price text read into ``fill_numbers`` (at most ``MAX_NUMBERS`` texts: then the
        table starts again), so that a recurring text is read once; the same value as ``Decimal(text)``."""
        numbers = self.fill_numbers
        if len(numbers) >= MAX_NUMBERS:
            numbers.clear()
        value = numbers[text] = Decimal(text)
        return value

    def _check_opening(self, rec: dict[str, Any], leg: Leg, where: Any) -> None:
        """HM-NET-001 / HM-POS-002: an opening fill realizes nothing (no netting against the other leg)."""
        pnl = rec["realized_pnl"]
        if pnl is None:
            self._cannot(R.NETTING, "fill without realized PnL", "the fill's realized PnL as the venue reports it",
                         where)
            return
        if abs(pnl) > self.money_tol:
            other = self._leg(rec["instrument"], OTHER[rec["position_side"]])
            held = f"; the other leg held {canonical(other.qty)}" if other.known else ""
            self._find(R.NETTING,
                       f"opening fill {rec['side']} {rec['position_side']} {canonical(rec['quantity'])} @ "
                       f"{canonical(rec['price'])} on {rec['instrument']} realized {canonical(pnl)}{held}",
                       rec["t"], [where], expected="0", observed=pnl)
        else:
            self.decided[R.NETTING] += 1

    def _close(self, rec: dict[str, Any], leg: Leg, where: Any) -> None:
        """HM-ORD-003 (never more than the leg) and HM-POS-002 (PnL from this leg's own entry)."""
        instrument, side, qty, price = rec["instrument"], rec["position_side"], rec["quantity"], rec["price"]
        if not leg.known:
            need = "the leg's opening state (an opening record or a position snapshot before this fill)"
            self._cannot(R.NO_FLIP, "closing fill on a leg of unknown size", need, where)
            self._cannot(R.REALIZED_PNL, "closing fill on a leg of unknown entry", need, where)
            return
        if qty > leg.qty + self.qty_step:
            self._find(R.NO_FLIP, f"closing fill {rec['side']} {side} {canonical(qty)} on {instrument} is larger "
                                  f"than the leg ({canonical(leg.qty)}, {leg.describe(self.trace_name)})",
                       rec["t"], [where], expected=f"<= {canonical(leg.qty)}", observed=qty)
            leg.set(ZERO, None, ZERO, f"reset after an oversized close at t={rec['t']}")
            return
        self.decided[R.NO_FLIP] += 1
        qty = min(qty, leg.qty)
        released = leg.cost if qty == leg.qty else leg.cost * qty / leg.qty
        expected = qty * price - released if side == "LONG" else released - qty * price
        pnl = rec["realized_pnl"]
        if pnl is None:
            self._cannot(R.REALIZED_PNL, "fill without realized PnL",
                         "the fill's realized PnL (e.g. Binance userTrades realizedPnl)", where)
        else:
            tol = self.money_tol + qty * (self.entry_step + leg.entry_unc) + leg.cost_unc
            if abs(pnl - expected) > tol:
                entry = leg.entry()
                self._find(R.REALIZED_PNL,
                           f"closing fill {rec['side']} {side} {canonical(qty)} @ {canonical(price)} on {instrument}: "
                           f"realized {canonical(pnl)}, but (exit - entry) x qty on this leg is "
                           f"{canonical(expected)} (leg entry {canonical(entry) if entry is not None else '?'}, "
                           f"{leg.describe(self.trace_name)}; tolerance {canonical(tol)})",
                           rec["t"], [where], expected=expected, observed=pnl)
            else:
                self.decided[R.REALIZED_PNL] += 1
        leg.qty -= qty
        leg.cost -= released
        if leg.qty == 0:
            leg.cost = ZERO
            leg.entry_unc = ZERO
            leg.cost_unc = ZERO
        else:
            leg.cost_unc += self.money_step

    def _check_fee(self, rec: dict[str, Any], where: Any, hedged: bool) -> None:  # noqa: C901
        """HM-FEE-001: one maker and one taker rate per instrument, on the fill's own notional, no hedge discount.

        Each fill confines the rate to [fee - h, fee + h] / notional (h: money tolerance); the fills
        of one (instrument, liquidity) must share a rate, so the running intersection must stay
        non-empty. Hedged entries (opening while the other leg is open) keep their own range; if it
        lies below the other fills' range the venue discounted hedged entries.
        """
        fee = rec["fee"]
        if rec.get("cause", "order") in ("liquidation", "adl", "settlement"):
            self._cannot(R.FEES, f"{rec['cause']} fill: fee schedule differs by design",
                         "the venue's liquidation/settlement fee rate", where)
            return
        if fee is None or rec["liquidity"] is None:
            self._cannot(R.FEES, "fill without fee or maker/taker flag", "the fill's fee and maker/taker flag", where)
            return
        settle, fee_asset = self.settle_asset, rec["fee_asset"]
        if settle is None or fee_asset != settle:
            paid = "fee without its asset (fee_asset null)" if fee_asset is None else f"fee paid in {fee_asset}"
            if settle is None:  # the trace names no settle asset: say which part of it is missing
                missing = "no meta record" if self.meta is None else "its meta record has no settle_asset"
                self._cannot(R.FEES, f"{paid}; the trace declares no settle asset ({missing})",
                             "the settle asset (meta.settle_asset, on a meta record as the trace's first line)", where)
            elif fee_asset is None:
                self._cannot(R.FEES, f"{paid}, not known to be in the settle asset {settle}",
                             "the fill's fee asset (fee_asset)", where)
            else:
                self._cannot(R.FEES, f"{paid}, not in the settle asset {settle}",
                             f"the {fee_asset}/{settle} conversion rate the venue applied at each fill", where)
            return
        notional = rec["quantity"] * rec["price"]
        low, high = fee - self.money_tol, fee + self.money_tol  # the rate lies in [low, high] / notional
        key = (rec["instrument"], rec["liquidity"], hedged)
        current = self.fee_ranges.get(key)
        if current is None:
            self.fee_ranges[key] = [_FLOOR.divide(low, notional), _CEIL.divide(high, notional), 1, where]
            self.decided[R.FEES] += 1
        else:
            lo_at, hi_at = current[0] * notional, current[1] * notional
            if high < lo_at or low > hi_at:
                label = f"{rec['liquidity'].lower()} fills on {rec['instrument']}" + (
                    " (hedged entries)" if hedged else "")
                self._find(R.FEES, f"fee {canonical(fee)} on notional {canonical(notional)} is rate "
                                   f"{_rate(fee, notional)}; the {current[2]} earlier {label} share a rate in "
                                   f"[{_rate(current[0])}, {_rate(current[1])}]",
                           rec["t"], [where, current[3]], observed=fee)
                return
            self._narrow(current, low, high, lo_at, hi_at, notional)
            self.decided[R.FEES] += 1
        self._hedge_discount(rec, where)

    @staticmethod
    def _narrow(current: list[Any], low: Decimal, high: Decimal, lo_at: Decimal, hi_at: Decimal,
                notional: Decimal) -> bool:
        """Intersect the running rate range with this fill's (bounds rounded outwards: never narrower)."""
        current[2] += 1
        narrowed = False
        if low > lo_at:
            current[0] = _FLOOR.divide(low, notional)
            narrowed = True
        if high < hi_at:
            current[1] = _CEIL.divide(high, notional)
            narrowed = True
        return narrowed

    def _hedge_discount(self, rec: dict[str, Any], where: Any) -> None:
        pair = (rec["instrument"], rec["liquidity"])
        if pair in self.fee_discount_reported:
            return
        hedged_range = self.fee_ranges.get((rec["instrument"], rec["liquidity"], True))
        plain_range = self.fee_ranges.get((rec["instrument"], rec["liquidity"], False))
        if hedged_range and plain_range and hedged_range[1] < plain_range[0]:
            self.fee_discount_reported.add(pair)
            self._find(R.FEES, f"hedged entries on {rec['instrument']} ({rec['liquidity'].lower()}) were charged a "
                               f"lower rate (at most {_rate(hedged_range[1])}) than other fills "
                               f"(at least {_rate(plain_range[0])})",
                       rec["t"], [hedged_range[3], plain_range[3]])

    def _on_mark_price(self, rec: dict[str, Any], number: int) -> None:
        """Mark-price history: the mark for a funding rate that does not carry its own."""
        self.marks[rec["instrument"]] = (rec["t"], rec["price"])

    def _on_funding_rate(self, rec: dict[str, Any], number: int) -> None:
        """A funding time: opens its funding window (HM-FUND-001/002), with both legs' sizes at that time."""
        instrument = rec["instrument"]
        mark = rec.get("mark_price")
        if mark is None:
            seen = self.marks.get(instrument)
            if seen is None or abs(seen[0] - rec["t"]) > self.funding_window:
                self._cannot(R.FUNDING_AMOUNT, "funding rate without a mark price, and no mark_price record of the "
                                               "instrument within funding_window_ms before it",
                             "the mark price at the funding time: on the funding_rate record, or a mark_price record "
                             "at most funding_window_ms before it", (number, rec.get("src")))
                return
            mark = seen[1]
        self._open_point(instrument, rec["t"], rec["rate"], mark, (number, rec.get("src")))

    def _open_point(self, instrument: str, t: int, rate: Decimal, mark: Decimal, where: Any) -> FundingPoint:
        """A new funding point of ``instrument``; the instrument's earlier window, if still open, is closed first.

        A point inside the instrument's open window (a second rate record, or a row carrying its own rate, of
        the same funding time) is that window's point: it merges into it. Funding rows held from shortly
        before (within the funding window) join the new point.
        """
        earlier = self.funding_open.get(instrument)
        if earlier is not None:
            if t - earlier.t <= self.funding_window:
                return earlier  # the same funding time
            del self.funding_open[instrument]
            self._judge_funding(instrument, earlier, True)
        pairs = self.leg_pairs.get(instrument)
        long, short = pairs["LONG"] if pairs else (self._leg(instrument, "LONG"), self._leg(instrument, "SHORT"))
        legs = {"LONG": (long.qty, long.known), "SHORT": (short.qty, short.known)}
        last_row = self.last_funding_row_t.get(instrument)
        point = self.funding_points[instrument] = self.funding_open[instrument] = FundingPoint(
            t, rate, mark, legs, self.last_fill_t.get(instrument) == t, where,
            last_row is not None and t - last_row <= self.funding_window)
        held = self.funding_held.pop(instrument, None)
        if held is not None:
            point.rows.extend(held)  # all within the window before t: older ones were released by _close_due
            if instrument in self.funding_held_overflow:
                self.funding_held_overflow.discard(instrument)
                point.overflow = True
        self.due = min(self.due, t + self.funding_window)
        return point

    def _release_held(self, instrument: str, rows: list[tuple[dict[str, Any], Any]]) -> None:
        """Held funding rows whose funding window passed with no funding point: not decidable."""
        self.funding_held_overflow.discard(instrument)
        needs = FUNDING_SOURCE.get((self.venue or "").lower(), FUNDING_SOURCE_OTHER)
        for _, where in rows:
            self._cannot(R.FUNDING_AMOUNT, "no funding rate and mark price at the funding time", needs, where)

    def _on_funding(self, rec: dict[str, Any], number: int) -> None:
        where = (number, rec.get("src"))
        self._ledger_add(rec["asset"], rec["amount"])
        if rec["position_side"] == "BOTH":
            self._cannot(R.FUNDING_AMOUNT, "one-way (BOTH) funding: hedge-mode leg rules do not apply",
                         "nothing: one-way positions are outside the hedge-mode audit", where)
            return
        self._funding_row(rec, where)

    def _funding_row(self, rec: dict[str, Any], where: Any) -> None:
        """A LONG, SHORT or unsided funding row joins its instrument's open funding window (judged when it closes)."""
        instrument, t = rec["instrument"], rec["t"]
        self.last_funding_row_t[instrument] = t
        point = self.funding_open.get(instrument)
        if point is None:
            if rec.get("rate") is None or rec.get("mark_price") is None:
                # held for a funding point opened within the funding window (a rate record written just after)
                held = self.funding_held.setdefault(instrument, [])
                if len(held) >= MAX_FUNDING_GROUP:
                    self.funding_held_overflow.add(instrument)
                    self._cannot(R.FUNDING_AMOUNT, f"more than {MAX_FUNDING_GROUP} funding rows for one instrument "
                                                   "in one funding window", "funding rows that identify their leg",
                                 where)
                    return
                if not held:
                    self.due = min(self.due, t + self.funding_window)
                held.append((rec, where))
                return
            point = self._open_point(instrument, t, rec["rate"], rec["mark_price"], where)  # the row's own rate
        if len(point.rows) >= MAX_FUNDING_GROUP:
            point.overflow = True
            self._cannot(R.FUNDING_AMOUNT, f"more than {MAX_FUNDING_GROUP} funding rows for one instrument in one "
                                           "funding window", "funding rows that identify their leg", where)
            return
        point.rows.append((rec, where))

    def _funding_hot(self, r: FundingLine, number: int) -> bool:
        """A plain funding row (no rate, mark or quantity on it) in one pass: same as ``consume`` would do.

        Returns False, having changed nothing, when the reference path must decide.
        """
        src, instrument, amount, asset = r.src, r.instrument, r.amount, r.asset
        if _DECIMAL(amount) is None:
            return False
        last_t, t = self.last_t, r.t
        if (last_t is not None and t < last_t) or self.first_number is None:
            return False
        key = ("funding", src.file, src.id, instrument)
        dup_keys = self.dup_keys
        if key in self.dup_previous or dup_keys.setdefault(key, (number, hash(self.line.rstrip())))[0] != number:
            return False  # a duplicate (the earlier line stays recorded)
        # commit, as consume + _dispatch + _on_funding
        self.read += 1
        self.checked += 1
        self.by_type["funding"] += 1
        if len(dup_keys) >= self.dup_window:
            self.dup_previous, self.dup_keys = dup_keys, {}
        if t > self.due:
            self._close_due(t)
        self.last_t = t
        value = Decimal(amount)
        if asset in self.balance_delta:
            self.balance_delta[asset] += value
        # the row as the reference path holds it (the fields a funding window reads)
        self._funding_row({"t": t, "instrument": instrument, "position_side": r.position_side, "amount": value},
                          (number, src))
        return True

    def _hot_commit(self, kind: str, number: int, t: int, src: Source, instrument: str | None) -> bool:
        """The common part of a fused record: order and duplicates checked as ``_dispatch`` does, then its
        bookkeeping before the handler runs.

        False, having changed nothing, when the reference path must decide (it then gives the verdict).
        """
        last_t = self.last_t
        if (last_t is not None and t < last_t) or self.first_number is None:
            return False
        names = self.names
        sfile = src.file
        key = (kind, names.get(sfile, sfile), src.id, instrument if instrument is None else names.get(instrument, instrument))
        dup_keys = self.dup_keys
        if key in self.dup_previous or dup_keys.setdefault(key, (number, hash(self.line.rstrip())))[0] != number:
            return False  # a duplicate (the earlier line stays recorded)
        # commit, as consume + _dispatch
        self.read += 1
        self.checked += 1
        self.by_type[kind] += 1
        if len(dup_keys) >= self.dup_window:
            self.dup_previous, self.dup_keys = dup_keys, {}
        if t > self.due:
            self._close_due(t)
        self.last_t = t
        return True

    def _position_hot(self, r: PositionLine, number: int) -> bool:
        """A position snapshot without margin type in one pass: as ``consume`` would do (``_on_position``).

        Returns False, having changed nothing, when the reference path must decide.
        """
        src, instrument = r.src, r.instrument
        q, entry, mark, upnl = r.quantity, r.entry_price, r.mark_price, r.unrealized_pnl
        if mark.__class__ is not str:
            mark = None  # null or left out
        if upnl.__class__ is not str:
            upnl = None
        if entry is not None and mark is not None and upnl is not None:
            if _POSITION_NUMBERS("\x00".join((q, entry, mark, upnl))) is None:
                return False
        elif _UNSIGNED(q) is None or (entry is not None and _UNSIGNED(entry) is None) \
                or (mark is not None and _UNSIGNED(mark) is None) or (upnl is not None and _DECIMAL(upnl) is None):
            return False
        mark_price = None if mark is None else Decimal(mark)
        if mark_price is not None and not mark_price:
            return False  # a mark price is positive
        t = r.t
        if not self._hot_commit("position", number, t, src, instrument):
            return False
        rec = {"t": t, "src": src, "instrument": instrument, "position_side": r.position_side,
               "quantity": Decimal(q), "entry_price": None if entry is None else Decimal(entry),
               "mark_price": mark_price, "unrealized_pnl": None if upnl is None else Decimal(upnl)}
        self._on_position(rec, number, None if entry is None else step_of_text(entry),
                          None if mark is None else step_of_text(mark))
        return True

    def _funding_rate_hot(self, r: FundingRateLine, number: int) -> bool:
        """A funding rate in one pass: as ``consume`` would do (``_on_funding_rate``).

        Returns False, having changed nothing, when the reference path must decide.
        """
        src, instrument, rate, mark = r.src, r.instrument, r.rate, r.mark_price
        if mark.__class__ is not str:
            mark = None  # null or left out
        if (_DECIMAL(rate) if mark is None else _RATE_MARK(rate + "\x00" + mark)) is None:
            return False
        mark_price = None if mark is None else Decimal(mark)
        if mark_price is not None and not mark_price:
            return False  # a mark price is positive
        t = r.t
        if not self._hot_commit("funding_rate", number, t, src, instrument):
            return False
        rec = {"t": t, "src": src, "instrument": instrument, "rate": Decimal(rate), "mark_price": mark_price}
        self._on_funding_rate(rec, number)
        return True

    def _balance_hot(self, r: BalanceLine, number: int) -> bool:
        """A wallet balance in one pass: as ``consume`` would do (``_on_balance``, HM-LEDG-001).

        Returns False, having changed nothing, when the reference path must decide.
        """
        src, asset, balance = r.src, r.asset, r.wallet_balance
        if _DECIMAL(balance) is None:
            return False
        t = r.t
        if not self._hot_commit("balance", number, t, src, None):
            return False
        self._on_balance({"t": t, "src": src, "asset": asset, "wallet_balance": Decimal(balance)}, number)
        return True

    def _close_due(self, now: int) -> None:
        """Close the funding windows that ended before ``now`` and the liquidation instants before it."""
        window = self.funding_window
        for instrument, point in list(self.funding_open.items()):
            if point.t + window < now:
                del self.funding_open[instrument]
                self._judge_funding(instrument, point, True)
        for instrument, held in list(self.funding_held.items()):
            keep = [row for row in held if row[0]["t"] + window >= now]
            if len(keep) < len(held):
                self._release_held(instrument, held[:len(held) - len(keep)])
                if keep:
                    self.funding_held[instrument] = keep
                else:
                    del self.funding_held[instrument]
        for instrument, instant in list(self.liquidations.items()):
            if instant.t < now:
                del self.liquidations[instrument]
                self._judge_liquidation(instrument, instant)
        due = NEVER
        for point in self.funding_open.values():
            due = min(due, point.t + window)
        for held in self.funding_held.values():
            due = min(due, held[0][0]["t"] + window)
        for instant in self.liquidations.values():
            due = min(due, instant.t)
        self.due = due

    def _close_all(self) -> None:
        """At the end of the trace: every open funding window (not covered to its end) and liquidation instant."""
        opened, self.funding_open = self.funding_open, {}
        for instrument, point in opened.items():
            self._judge_funding(instrument, point, False)
        held_rows, self.funding_held = self.funding_held, {}
        for instrument, rows in held_rows.items():
            self._release_held(instrument, rows)
        instants, self.liquidations = self.liquidations, {}
        for instrument, instant in instants.items():
            self._judge_liquidation(instrument, instant)
        self.due = NEVER

    def _missing_funding(self, instrument: str, point: FundingPoint, covered: bool, what: str,
                         sides: list[str], evidence: list[Any]) -> None:
        """HM-FUND-002: no entry for the open ``sides`` at ``point``; a finding only where the trace shows it."""
        t = point.t
        expected = ", ".join(f"{s} {canonical((-q if s == 'LONG' else q) * point.mark * point.rate)}"
                             for s in sides for q in (point.legs[s][0],))
        if point.unread:
            self._cannot(R.FUNDING_PER_LEG, f"{what}: a record in the funding window could not be read",
                         "the rejected records fixed (see REJECTED RECORDS)", evidence[0])
            return
        if not covered:
            self._cannot(R.FUNDING_PER_LEG, f"{what}: the trace ends inside the funding window",
                         "the trace past the end of the funding window (funding_window_ms after the funding time)",
                         evidence[0])
            return
        self._find(R.FUNDING_PER_LEG, f"{what} for the open {instrument} {' and '.join(sides)} leg"
                                      f"{'s' if len(sides) > 1 else ''} at t={t} (expected {expected})",
                   t, evidence, expected=expected, observed="no entry")

    def _judge_unbooked(self, instrument: str, point: FundingPoint, covered: bool) -> None:
        """HM-FUND-002 for a funding point without any funding row in its window."""
        legs, where = point.legs, point.where
        if all(known and not q for q, known in legs.values()):
            return  # both legs flat: nothing is due
        if not all(known for _, known in legs.values()):
            self._cannot(R.FUNDING_PER_LEG, "no funding entry, and the legs' sizes at the funding time are unknown",
                         "the opening state or a position snapshot before the funding time", where)
            return
        if point.ambiguous:
            self._cannot(R.FUNDING_PER_LEG, "no funding entry, and a fill at the same instant as the funding time",
                         "the position size at the funding time (a snapshot at that instant)", where)
            return
        base_tol, unit_tol = self.profile_tol + self.money_step, abs(point.rate) * step_of(point.mark)
        due = [s for s, (q, _) in legs.items() if q > 0 and q * point.mark * abs(point.rate) > base_tol + q * unit_tol]
        if not due:
            self.decided[R.FUNDING_PER_LEG] += 1  # the amounts round to nothing: no entry is owed
            return
        if point.early:
            self._cannot(R.FUNDING_PER_LEG, "no funding entry after the funding-rate record; funding rows came "
                                            "shortly before it", "funding-rate records written before the funding "
                                            "rows they price (at equal or earlier times)", where)
            return
        if not self.ledger_complete:
            self._cannot(R.FUNDING_PER_LEG, "no funding entry in the funding window, and the trace does not declare "
                                            "a complete ledger", "an income export declared complete "
                                            "(meta ledger_complete, hedgespec import --ledger-complete)", where)
            return
        self._missing_funding(instrument, point, covered, "no funding entry in the funding window (ledger declared "
                              "complete)", due, [where])

    def _judge_funding(self, instrument: str, point: FundingPoint, covered: bool) -> None:  # noqa: C901
        """HM-FUND-001 (amount per leg = -q x mark x rate) and HM-FUND-002 (one entry per leg) for one funding
        window; ``covered``: the trace goes on past the window's end."""
        rows = point.rows
        if not rows:
            self._judge_unbooked(instrument, point, covered)
            return
        if point.overflow:
            for _, where in rows:
                self._cannot(R.FUNDING_AMOUNT, f"more than {MAX_FUNDING_GROUP} funding rows for one instrument in "
                                               "one funding window", "funding rows that identify their leg", where)
            return
        first = rows[0][0]
        if point.ambiguous:
            for _, where in rows:
                self._cannot(R.FUNDING_AMOUNT, "a fill at the same instant as the funding time",
                             "the position size at the funding time (a snapshot at that instant)", where)
            return
        legs, mark, rate = point.legs, point.mark, point.rate
        if False in (legs["LONG"][1], legs["SHORT"][1]):  # (a point holds both legs)
            for _, where in rows:
                self._cannot(R.FUNDING_AMOUNT, "leg size unknown at the funding time",
                             "the opening state or a position snapshot before the funding time", where)
            return
        # tolerance per leg: rounding + money step + q x |rate| x one step of the mark (products are exact)
        base_tol, unit_tol = self.profile_tol + self.money_step, abs(rate) * step_of(mark)
        expected: dict[str, Decimal] = {}
        tols: dict[str, Decimal] = {}
        open_sides = []
        for s, (q, _) in legs.items():
            expected[s] = (-q if s == "LONG" else q) * mark * rate
            tols[s] = base_tol + q * unit_tol
            if q > 0:
                open_sides.append(s)
        t = first["t"]
        sided: list[tuple[dict[str, Any], Any]] = []
        unsided: list[tuple[dict[str, Any], Any]] = []
        for row in rows:
            (unsided if row[0]["position_side"] is None else sided).append(row)
        seen: set[str] = set()
        decided = self.decided
        for r, where in sided:
            s = r["position_side"]
            if s in seen:
                self._find(R.FUNDING_PER_LEG, f"a second funding entry for {r['instrument']} {s} at t={t}", t, [where])
                continue
            seen.add(s)
            if abs(r["amount"] - expected[s]) <= tols[s]:
                decided[R.FUNDING_AMOUNT] += 1  # as _compare_funding, without building its label
            else:
                self._compare_funding(r, where, expected[s], tols[s], f"{s} leg of {legs[s][0]}")
        # rows that name their leg are a per-leg report, whatever the profile says or leaves open
        if sided and self.funding_report != "per_instrument" and not unsided:
            missing = [s for s in open_sides if s not in seen]
            if missing:
                self._missing_funding(instrument, point, covered, "no funding entry", missing, [w for _, w in rows])
        if not unsided:
            return
        total = sum((expected[s] for s in open_sides), ZERO)
        tol_total = sum((tols[s] for s in open_sides), ZERO)
        if len(open_sides) <= 1:
            if len(unsided) > 1:
                self._find(R.FUNDING_PER_LEG, f"{len(unsided)} funding entries for one open leg of "
                                              f"{first['instrument']} at t={t}", t, [w for _, w in unsided])
                return
            r, where = unsided[0]
            label = f"{open_sides[0]} leg" if open_sides else "no open leg"
            self._compare_funding(r, where, total, tol_total, label)
            return
        amounts = [r["amount"] for r, _ in unsided]
        per_leg = [expected[s] for s in open_sides]
        if len(unsided) == len(open_sides):
            matched = all(abs(a - e) <= tol_total for a, e in zip(sorted(amounts), sorted(per_leg), strict=True))
            if matched:
                self.decided[R.FUNDING_AMOUNT] += 1
                self.decided[R.FUNDING_PER_LEG] += 1
            else:
                self._find(R.FUNDING_AMOUNT, f"funding entries {', '.join(canonical(a) for a in amounts)} on "
                                             f"{first['instrument']} at t={t} do not match the per-leg amounts "
                                             f"{', '.join(canonical(e) for e in per_leg)}",
                           t, [w for _, w in unsided], expected=", ".join(canonical(e) for e in per_leg),
                           observed=", ".join(canonical(a) for a in amounts))
            return
        if len(unsided) == 1:
            amount = amounts[0]
            if abs(amount - total) <= tol_total:
                if self.funding_report is None:
                    self._cannot(R.FUNDING_PER_LEG, "one funding row for both open legs, the sum of their amounts, "
                                                    "and the profile does not say whether the venue reports funding "
                                                    "per leg or per instrument", modelled_needed("funding_report"),
                                 unsided[0][1])
                elif self.funding_report == "per_leg":
                    self._find(R.FUNDING_PER_LEG,
                               f"one funding entry {canonical(amount)} for both open legs of {first['instrument']} at "
                               f"t={t}: the sum of the per-leg amounts {', '.join(canonical(e) for e in per_leg)} "
                               f"(netted; the profile says per-leg entries)", t, [unsided[0][1]],
                               expected=", ".join(canonical(e) for e in per_leg), observed=amount)
                else:
                    self.decided[R.FUNDING_PER_LEG] += 1
                self.decided[R.FUNDING_AMOUNT] += 1
                return
            booked = [s for s in open_sides if abs(amount - expected[s]) <= tols[s]]
            if booked:  # one leg's own amount: the other leg's entry is missing (or left out of the one row)
                self.decided[R.FUNDING_AMOUNT] += 1
                missing = [s for s in open_sides if s != booked[0]]
                if self.funding_report != "per_instrument":  # per leg, or unknown: the other leg's is missing either way
                    self._missing_funding(instrument, point, covered, f"one funding entry {canonical(amount)} on "
                                          f"{instrument}, the {booked[0]} leg's amount; no entry", missing,
                                          [unsided[0][1]])
                else:
                    self._find(R.FUNDING_PER_LEG,
                               f"one funding entry {canonical(amount)} on {instrument} at t={t} is the {booked[0]} "
                               f"leg's amount alone; the profile's one entry per instrument is the sum of the legs "
                               f"{canonical(total)}", t, [unsided[0][1]], expected=total, observed=amount)
                return
        self._find(R.FUNDING_AMOUNT, f"funding entries {', '.join(canonical(a) for a in amounts)} on "
                                     f"{first['instrument']} at t={t} match neither the per-leg amounts "
                                     f"{', '.join(canonical(e) for e in per_leg)} nor their sum",
                   t, [w for _, w in unsided], expected=", ".join(canonical(e) for e in per_leg),
                   observed=", ".join(canonical(a) for a in amounts))

    def _compare_funding(self, r: dict[str, Any], where: Any, expected: Decimal, tol: Decimal,
                         label: str) -> None:
        if abs(r["amount"] - expected) > tol:
            self._find(R.FUNDING_AMOUNT, f"funding {canonical(r['amount'])} on {r['instrument']} ({label}) at "
                                         f"t={r['t']}; -q x mark x rate gives {canonical(expected)}",
                       r["t"], [where], expected=expected, observed=r["amount"])
        else:
            self.decided[R.FUNDING_AMOUNT] += 1

    def _liquidation_instant(self, instrument: str, t: int) -> LiquidationInstant:
        """The instrument's liquidation instant at ``t`` (an earlier one is judged first: it is over)."""
        instant = self.liquidations.get(instrument)
        if instant is not None and instant.t != t:
            del self.liquidations[instrument]
            self._judge_liquidation(instrument, instant)
            instant = None
        if instant is None:
            instant = self.liquidations[instrument] = LiquidationInstant(t)
            self.due = min(self.due, t)
        return instant

    def _check_liquidation_leg(self, rec: dict[str, Any], where: Any) -> None:
        """HM-LIQ-001: a liquidation fill, judged with the liquidation records of its instant once it is over."""
        instant = self._liquidation_instant(rec["instrument"], rec["t"])
        entry = instant.fills.get(rec["position_side"])
        if entry is None:
            instant.fills[rec["position_side"]] = [1, rec["quantity"], where]
        else:
            entry[0] += 1
            entry[1] += rec["quantity"]

    def _judge_liquidation(self, instrument: str, instant: LiquidationInstant) -> None:
        """HM-LIQ-001: an isolated liquidation closes only the leg it was announced for, unless the other leg was
        itself breached and liquidated in the same step (which only a record for that leg, or margin data, shows)."""
        records = instant.records
        announced = {s: v for s, v in records.items() if s in OTHER}
        for side, (count, qty, where) in instant.fills.items():
            if not records:
                if len(instant.fills) == 2:
                    self._cannot(R.LIQUIDATION_ONE_LEG, "both legs liquidated at one instant without a liquidation "
                                                        "record: allowed only if each leg was itself breached",
                                 "the venue's liquidation records (leg and margin type), or each leg's margin and "
                                 "the mark price at that instant", where, count)
                else:
                    self._cannot(R.LIQUIDATION_ONE_LEG, "liquidation fill without a liquidation record at its time",
                                 "the venue's liquidation record at the fill's time (the leg, isolated or cross)",
                                 where, count)
                continue
            margins = [announced[side][0]] if side in announced else [m for m, _ in announced.values()]
            if side not in announced and "ISOLATED" in margins:
                other = next(s for s, (m, _) in announced.items() if m == "ISOLATED")
                self._find(R.LIQUIDATION_ONE_LEG,
                           f"isolated liquidation of {instrument} {other} also closed {canonical(qty)} of the {side} "
                           f"leg{f' ({count} fills)' if count > 1 else ''}, for which no liquidation was recorded",
                           instant.t, [where, announced[other][1]])
            elif not margins:
                self._cannot(R.LIQUIDATION_ONE_LEG, "liquidation record without the leg it was announced for",
                             "the liquidated leg's position side on the liquidation record", where, count)
            elif side in announced and margins == ["ISOLATED"]:
                self.decided[R.LIQUIDATION_ONE_LEG] += count
            elif "CROSS" in margins and None not in margins:
                self._cannot(R.LIQUIDATION_ONE_LEG, "cross-margin liquidation: the rule covers isolated legs",
                             "nothing: a cross liquidation may close both legs", where, count)
            else:
                self._cannot(R.LIQUIDATION_ONE_LEG, "liquidation without its margin type",
                             "the margin type of the liquidated leg (isolated or cross)", where, count)

    def _on_liquidation(self, rec: dict[str, Any], number: int) -> None:
        where = (number, rec.get("src"))
        instant = self._liquidation_instant(rec["instrument"], rec["t"])
        instant.records.setdefault(rec["position_side"], (rec.get("margin_type"), where))
        self._cannot(R.LIQUIDATION_TRIGGER, "liquidation without margin data",
                     "margin balance, maintenance brackets and mark price of the leg at the time", where)

    def _on_adl(self, rec: dict[str, Any], number: int) -> None:
        pass  # informative: ADL reductions reach the legs as fills with cause "adl"

    def _on_insurance(self, rec: dict[str, Any], number: int) -> None:
        pass  # informative: insurance-fund flows are not account cash flows

    def _on_position(self, rec: dict[str, Any], number: int, entry_step: Decimal | None = None,
                     mark_step: Decimal | None = None) -> None:
        """HM-POS-004 (size), HM-POS-001 (entry), HM-POS-003 (unrealized PnL), HM-NET-001 (netting seen).

        ``entry_step``, ``mark_step``: ``step_of`` the entry and mark price when the caller has them from the text.
        """
        instrument, side, t = rec["instrument"], rec["position_side"], rec["t"]
        where = (number, rec.get("src"))
        qty, entry = rec["quantity"], rec["entry_price"]
        if (self.mode == "HEDGE" and side == "BOTH" and qty > 0) or (self.mode == "ONE_WAY" and side in OTHER
                                                                      and qty > 0):
            self._find(R.MODE_ROWS, f"{side} position row with size {canonical(qty)} in {self.mode} mode", t, [where])
            return
        if side not in OTHER:
            return
        leg = self.legs.get((instrument, side)) or self._leg(instrument, side)
        if entry is not None and entry_step is None:
            entry_step = step_of(entry)
        entry_unc = (max(entry_step, self.price_step) / 2) if entry_step is not None else ZERO
        if leg.known:
            diff = leg.qty - qty
            if abs(diff) > self.qty_step:
                self._find(R.SNAPSHOT, f"{instrument} {side}: the venue reports {canonical(qty)}, the fills give "
                                       f"{canonical(leg.qty)} ({leg.describe(self.trace_name)})", t, [where],
                           expected=leg.qty, observed=qty)
                if diff > 0:
                    self._check_netted(instrument, side, leg, diff, t, where)
            else:
                self.decided[R.SNAPSHOT] += 1
                if entry is not None and qty > 0 and leg.qty:
                    # |cost / q - entry| <= tol + cost_unc / q, compared without dividing
                    tol = 2 * entry_unc + self.entry_step + leg.entry_unc
                    if abs(leg.cost - entry * leg.qty) > tol * leg.qty + leg.cost_unc:
                        recon = (leg.cost / leg.qty).quantize(Decimal("1e-12"))
                        self._find(R.ENTRY_PER_LEG, f"{instrument} {side}: entry price {canonical(entry)} reported, "
                                                    f"this leg's own fills give {canonical(recon)}",
                                   t, [where], expected=recon, observed=entry)
                    else:
                        self.decided[R.ENTRY_PER_LEG] += 1
        mark, upnl = rec.get("mark_price"), rec.get("unrealized_pnl")
        if mark is not None and upnl is not None and entry is not None:
            exp = qty * (mark - entry) * (1 if side == "LONG" else -1)
            if mark_step is None:
                mark_step = step_of(mark)
            tol = self.profile_tol + self.money_step + qty * (2 * entry_unc + self.entry_step + mark_step)
            if abs(exp - upnl) > tol:
                self._find(R.UNREALIZED_PNL, f"{instrument} {side}: unrealized PnL {canonical(upnl)} reported, "
                                             f"q x (mark - entry) gives {canonical(exp)}", t, [where],
                           expected=exp, observed=upnl)
            else:
                self.decided[R.UNREALIZED_PNL] += 1
        if leg.known and abs(leg.qty - qty) <= self.qty_step:
            # sizes agree: keep the entry built from this leg's own fills (fills are the primary evidence)
            leg.opp_opened = ZERO
            leg.opp_fills = set()
            leg.origin = ("confirmed by", t, number)
            return
        leg.set(qty, entry, entry_unc, ("taken from", t, number))
        if entry is None and qty > 0:
            leg.known = False
            leg.origin = f"snapshot at t={t} without entry price"

    def _check_netted(self, instrument: str, side: str, leg: Leg, diff: Decimal, t: int, where: Any) -> None:
        """HM-NET-001 seen in a snapshot: the leg is short by exactly what an opening fill (or all of them) of the
        other leg opened since this leg was last confirmed. Any other shortfall (a fill missing from the export) is
        the size finding (HM-POS-004) alone."""
        step = self.qty_step
        if abs(diff - leg.opp_opened) <= step:
            what = f"the {canonical(leg.opp_opened)} opened on the {OTHER[side]} leg"
        else:
            match = next((q for q in sorted(leg.opp_fills) if abs(diff - q) <= step), None)
            if match is None:
                if len(leg.opp_fills) >= MAX_OPENINGS and diff < leg.opp_opened:
                    self._cannot(R.NETTING, f"snapshot shortfall with more than {MAX_OPENINGS} distinct opening "
                                            "quantities on the other leg since the leg was last confirmed",
                                 "position snapshots more often (between fewer opening fills)", where)
                return
            what = f"an opening fill of {canonical(match)} on the {OTHER[side]} leg"
        self._find(R.NETTING, f"{instrument} {side} is short by {canonical(diff)}, exactly {what} since it was last "
                              f"confirmed: consistent with netting", t, [where])

    def _ledger_add(self, asset: str, amount: Decimal) -> None:
        if asset in self.balance_delta:
            self.balance_delta[asset] += amount

    def _ledger_fill(self, rec: dict[str, Any]) -> None:
        if rec["realized_pnl"] is not None and self.settle_asset:
            self._ledger_add(self.settle_asset, rec["realized_pnl"])
        if rec["fee"] is not None and rec["fee_asset"]:
            self._ledger_add(rec["fee_asset"], -rec["fee"])

    def _on_ledger(self, rec: dict[str, Any], number: int) -> None:
        self._ledger_add(rec["asset"], rec["amount"])

    def _on_balance(self, rec: dict[str, Any], number: int) -> None:
        """HM-LEDG-001: the wallet moves by exactly the ledger between two balance snapshots."""
        asset, balance = rec["asset"], rec["wallet_balance"]
        where = (number, rec.get("src"))
        if asset in self.balances:
            if not self.ledger_complete:
                self._cannot(R.LEDGER, "the trace does not declare a complete ledger",
                             "every wallet movement between the snapshots (all income types, transfers)", where)
            else:
                expected = self.balances[asset] + self.balance_delta[asset]
                if abs(expected - balance) > self.profile_tol + self.money_step:
                    self._find(R.LEDGER, f"{asset} wallet balance {canonical(balance)}; the previous balance plus "
                                         f"the ledger gives {canonical(expected)}", rec["t"], [where],
                               expected=expected, observed=balance)
                else:
                    self.decided[R.LEDGER] += 1
        self.balances[asset] = balance
        self.balance_delta[asset] = ZERO

    # ------------------------------------------------------------------ end

    def finish(self, provenance: dict[str, Any]) -> AuditResult:
        self._close_all()
        fills, openings = self.hot_fills, self.hot_openings
        for rule_id, count in ((R.POSITION_SIDE_MATCHES_MODE, fills - self.hot_modeless), (R.FEES, fills),
                               (R.NETTING, openings), (R.NO_FLIP, fills - openings),
                               (R.REALIZED_PNL, fills - openings)):
            self.decided[rule_id] += count
        self.hot_fills = self.hot_openings = self.hot_modeless = 0
        checked, rejected = self.checked, sum(self.rejected_by_reason.values())
        summary = {
            "records_read": self.read,
            "records_checked": checked,
            "records_rejected": rejected,
            "reconciles": self.read == checked + rejected,
            "blank_lines": self.blank,
            "rejected_by_reason": dict(sorted(self.rejected_by_reason.items())),
            "checked_by_type": {k: v for k, v in sorted(self.by_type.items()) if v},
            "findings": sum(self.findings_by_rule.values()),
            "findings_listed": len(self.findings),
            "rejections_listed": len(self.rejections),
            "not_decidable": sum(u.count for u in self.undecided.values()),
            "venue_codes_seen": dict(sorted(self.venue_codes.items())),
        }
        legs = [
            {"instrument": i, "position_side": s, "quantity": canonical(leg.qty) if leg.known else None,
             "entry_price": _fmt(leg.entry()) if leg.known and leg.qty else None,
             "state": leg.describe(self.trace_name)}
            for (i, s), leg in sorted(self.legs.items())
        ]
        provenance = dict(provenance)
        provenance["trace_sha256"] = self.sha.hexdigest()
        provenance["venue"] = self.venue
        if self.meta is not None:
            provenance["inputs"] = self.meta.get("inputs", [])
        provenance["tolerances"] = {
            "rounding_tolerance_money (profile)": canonical(self.profile_tol),
            "money step (venue)": canonical(self.money_step),
            "price step (venue)": canonical(self.price_step),
            "quantity step (venue)": canonical(self.qty_step),
            "entry price step (venue)": canonical(self.entry_step),
            "funding window ms": self.funding_window,
        }
        provenance["windows"] = {"duplicate_window_records": self.dup_window, "listed_per_kind": self.max_listed}
        return AuditResult(
            provenance=provenance,
            summary=summary,
            findings=self.findings,
            findings_by_rule=dict(sorted(self.findings_by_rule.items())),
            decided_by_rule={k: v for k, v in sorted(self.decided.items()) if v},
            undecided=sorted(self.undecided.values(), key=lambda u: (u.rule_id, u.reason)),
            rejections=self.rejections,
            legs=legs,
            notes=(self.meta or {}).get("notes", []),
        )


# --------------------------------------------------------------------------- entry points


def base_provenance(profile: Any, trace_name: str) -> dict[str, Any]:
    from hedgespec.spec import SPEC_VERSION

    from hedgespec import __version__

    return {
        "hedgespec_version": __version__,
        "spec_version": SPEC_VERSION,
        "trace_format": TRACE_VERSION,
        "profile": profile.name,
        "profile_digest": profile.digest,
        "trace": trace_name,
        "parser": PARSER,
    }


def audit_lines(lines: Iterable[bytes], profile: Any, *, trace_name: str = "<trace>", **options: Any) -> AuditResult:
    """Audit an iterable of raw lines (bytes, with or without newline)."""
    auditor = Auditor(profile, trace_name=trace_name, **options)
    with local_audit_context():
        for number, line in enumerate(lines, 1):
            auditor.feed(number, line)
        return auditor.finish(base_provenance(profile, trace_name))


BLOCK = 1 << 20


def _hashed_chunks(stream: IO[bytes], sha: Any) -> Iterator[bytes]:
    """A binary stream in chunks of whole lines (about ``BLOCK`` bytes each; the last line may lack its
    newline), hashing the stream as it goes."""
    tail = b""
    while block := stream.read(BLOCK):
        sha.update(block)
        cut = block.rfind(b"\n") + 1
        if cut:
            yield tail + block[:cut]
            tail = block[cut:]
        else:
            tail += block
    if tail:
        yield tail


def audit_stream(stream: IO[bytes], profile: Any, *, trace_name: str = "<trace>", **options: Any) -> AuditResult:
    """Audit a binary stream; memory does not depend on its length (see the module docstring)."""
    auditor = Auditor(profile, trace_name=trace_name, **options)
    number = 0
    with local_audit_context():
        for chunk in _hashed_chunks(stream, auditor.sha):
            # lines one at a time from the chunk (no list of them: each line's memory is reused at once)
            number = auditor.take(number + 1, io.BytesIO(chunk))
        return auditor.finish(base_provenance(profile, trace_name))


def audit_file(path: str | Path, profile: Any, **options: Any) -> AuditResult:
    """Audit a trace file; lines are read one at a time."""
    path = Path(path)
    with path.open("rb") as stream:
        return audit_stream(stream, profile, trace_name=text_name(path.name), **options)
