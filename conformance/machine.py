"""Differential stateful testing with Hypothesis: any engine against the reference model.

``HedgeModeMachine.for_engine(adapter_factory, profile)`` returns a ``unittest.TestCase`` class
(the zarr pattern) that drives a fresh engine and the model in lockstep. Every rule of the
machine is one action kind (deposit, withdraw, set_position_mode, set_margin_type, set_leverage,
adjust_margin, place_order with market, limit, stop, take-profit and trailing orders,
cancel_order, market_trade, mark_price, funding, expire on the dated contract) plus
``crash_through_leg``, which moves the mark through an open leg's liquidation on either side.
Preconditions read the model's state (an open order to cancel, an open leg to adjust or crash,
a live dated contract to expire) and the engine's declared capabilities.

After each step the machine checks:

* every step check of the rulebook on the engine's own ``(before, action, outcome, after)``
  (rules whose capabilities the engine declares);
* that the engine's outcome (kind, reason class) and observable state agree with the model on
  the fields the profile fixes (``quantity, cost_basis, isolated_margin, realized_pnl,
  fees_paid, funding, margin_type, leverage, wallet, position_mode``, the open order ids and the
  insurance fund). A disagreement no rule flags fails as an *unexplained divergence*.

Usage::

    from hedgespec.conformance.machine import HedgeModeMachine
    TestMyEngine = HedgeModeMachine.for_engine(lambda: MyAdapter(), profile="seed")
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from hedgespec.conformance.failures import DEFAULT_STEP_TIMEOUT, EngineFailure
from hedgespec.conformance.generate import Generator
from hedgespec.conformance.rulebook import Rulebook, applies, load_rulebook
from hedgespec.conformance.runner import Engine, compare, permitted_reasons
from hedgespec.conformance.vectors import event_capabilities, model_step
from hedgespec.conformance.world import RANDOM_WALLET, mode_scopes, params_for
from hedgespec.model import initial_state, snapshot
from hedgespec.model.codec import format_units, parse_units
from hedgespec.spec.observe import rows_shown
from hedgespec.spec.profiles import load_profile
from hedgespec.spec.registry import StepView
from hypothesis import assume, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

T = TypeVar("T")


class DataChooser:
    """The generator's choices drawn from Hypothesis ``data`` (so failures shrink)."""

    def __init__(self, data: Any) -> None:
        self.data = data

    def choice(self, options: Sequence[T]) -> T:
        return self.data.draw(st.sampled_from(list(options)))

    def integer(self, lo: int, hi: int) -> int:
        return self.data.draw(st.integers(lo, hi))


def _needs(*caps: str) -> Callable[[Any], bool]:
    return lambda self: set(caps) <= self.engine.capabilities


class HedgeModeMachine(RuleBasedStateMachine):
    """Engine and model in lockstep; see the module docstring. Subclass through ``for_engine``."""

    adapter_factory: Callable[[], Any] | None = None
    profile_name: str = "seed"
    rulebook: Rulebook | None = None
    step_timeout: float | None = DEFAULT_STEP_TIMEOUT  # seconds an in-process engine call may take

    def __init__(self) -> None:
        super().__init__()
        if self.adapter_factory is None:
            raise TypeError("use HedgeModeMachine.for_engine(adapter_factory, profile)")
        self.profile = load_profile(self.profile_name)
        book = type(self).rulebook
        if book is None:
            book = type(self).rulebook = load_rulebook()
        self.book = book
        self.engine = Engine(type(self).adapter_factory(), type(self).step_timeout)
        caps = self.engine.capabilities
        self.params = params_for(self.profile, caps, RANDOM_WALLET)
        self.params["profile"] = self.profile_name  # a built-in name, or the profile file as given
        symbols = [i["symbol"] for i in self.params["instruments"]]
        self.gen = Generator(self.params, mode_scopes(self.profile, symbols))
        self.gen.gentle = "liquidation" not in caps
        self.rules = book.checkable(caps)
        self.model = initial_state(self.params, self.profile)
        self.model_snap = snapshot(self.model)
        self._engine_call(lambda: self.engine.reset(self.params), "reset")
        self.before = self._engine_call(self.engine.snapshot, "snapshot")
        self.shown: dict[tuple[str, str, str], dict[str, Any]] = {}  # rows of the run's snapshots (HM-MODE-009)

    @staticmethod
    def _engine_call(fn: Callable[[], T], what: str) -> T:
        try:
            return fn()
        except EngineFailure as exc:
            raise AssertionError(f"engine failure at {what}: {exc}") from None

    # -- one lockstep step ----------------------------------------------------------------------

    def _step(self, action: dict[str, Any]) -> None:
        note(json.dumps(action, sort_keys=True))
        m_outcome, model = model_step(self.model, action)
        # the model used a capability the engine lacks (a liquidation): this run cannot be compared further
        assume(not event_capabilities(m_outcome) - self.engine.capabilities)
        self.model = model
        self.model_snap = snapshot(self.model)
        outcome = self._engine_call(lambda: self.engine.apply(action), f"apply {action['kind']}")
        after = self._engine_call(self.engine.snapshot, "snapshot")
        self.shown = rows_shown(self.shown, self.before)
        view = StepView(self.params, self.before, action, outcome, after, self.shown)
        violations, unread = self.book.check_step(view, [r for r in self.rules if applies(r, action)])
        assert not unread, f"engine failure at apply {action['kind']}: {unread[0].failure()}"
        assert not violations, "rule violation: " + "; ".join(str(v) for v in violations)
        problems = compare(m_outcome, self.model_snap, outcome, after,
                           permitted_reasons(self.rules, view, m_outcome.get("reason")))
        assert not problems, "unexplained divergence from the model: " + "; ".join(problems)
        self.before = after

    def _propose(self, data: Any, kind: str, **options: Any) -> None:
        action = self.gen.propose(DataChooser(data), self.model_snap, kind, **options)
        if action.get("order_type") == "TRAILING_STOP_MARKET" and "trailing-stops" not in self.engine.capabilities:
            return
        if action.get("order_type") in ("STOP_MARKET", "TAKE_PROFIT_MARKET") and \
                "conditional-orders" not in self.engine.capabilities:
            return
        if action.get("order_type") == "LIMIT" and "limit-orders" not in self.engine.capabilities:
            return
        if action.get("margin_type") == "CROSS" and "cross-margin" not in self.engine.capabilities:
            return
        self._step(action)

    # -- rules: one per action kind --------------------------------------------------------------

    @rule(data=st.data())
    def deposit(self, data: Any) -> None:
        self._propose(data, "deposit")

    @rule(data=st.data())
    def withdraw(self, data: Any) -> None:
        self._propose(data, "withdraw")

    @precondition(_needs("mode-switching"))
    @rule(data=st.data())
    def set_position_mode(self, data: Any) -> None:
        self._propose(data, "set_position_mode")

    @rule(data=st.data())
    def set_margin_type(self, data: Any) -> None:
        self._propose(data, "set_margin_type")

    @rule(data=st.data())
    def set_leverage(self, data: Any) -> None:
        self._propose(data, "set_leverage")

    @precondition(lambda self: "margin-adjustment" in self.engine.capabilities and self.gen.open_legs(self.model_snap))
    @rule(data=st.data())
    def adjust_margin(self, data: Any) -> None:
        self._propose(data, "adjust_margin")

    @rule(data=st.data())
    def place_order(self, data: Any) -> None:
        self._propose(data, "place_order")

    @rule(data=st.data())
    def open_order(self, data: Any) -> None:
        self._propose(data, "place_order", closing=False)

    @precondition(lambda self: self.gen.open_legs(self.model_snap))
    @rule(data=st.data())
    def close_order(self, data: Any) -> None:
        self._propose(data, "place_order", closing=True)

    @precondition(lambda self: "hedge-mode" in self.engine.capabilities)
    @rule(data=st.data(), quantity=st.sampled_from(("0.01", "0.1", "0.5")))
    def open_both_legs(self, data: Any, quantity: str) -> None:
        """A long and a short of one instrument: the hedge every HM-NET/FEE/FUND rule is about."""
        account = data.draw(st.sampled_from(self.gen.accounts))
        live = [s for s in self.gen.instruments if s not in self.model_snap.get("expired", [])]
        if not live:
            return
        symbol = data.draw(st.sampled_from(live))
        price = self.model_snap["mark_prices"].get(symbol, "30000")
        price = format_units(parse_units(price, "price") // (10**8 // 2) * (10**8 // 2), "price")
        for side, position_side in (("BUY", "LONG"), ("SELL", "SHORT")):
            self.gen.next_order += 1
            self.gen.t += 1
            self._step({"t": self.gen.t, "kind": "place_order", "account": account,
                        "order_id": f"o{self.gen.next_order}", "instrument": symbol, "side": side,
                        "position_side": position_side, "order_type": "MARKET", "quantity": quantity,
                        "price": price})

    @precondition(lambda self: self.gen.open_orders(self.model_snap))
    @rule(data=st.data())
    def cancel_order(self, data: Any) -> None:
        self._propose(data, "cancel_order")

    @precondition(_needs("market-trades"))
    @rule(data=st.data())
    def market_trade(self, data: Any) -> None:
        self._propose(data, "market_trade")

    @rule(data=st.data())
    def mark_price(self, data: Any) -> None:
        self._propose(data, "mark_price")

    @precondition(_needs("funding"))
    @rule(data=st.data())
    def funding(self, data: Any) -> None:
        self._propose(data, "funding")

    @precondition(lambda self: "expiry" in self.engine.capabilities and self.gen.has_live_dated(self.model_snap))
    @rule(data=st.data())
    def expire(self, data: Any) -> None:
        self._propose(data, "expire")

    @precondition(lambda self: "liquidation" in self.engine.capabilities and self.gen.open_legs(self.model_snap))
    @rule(data=st.data())
    def crash_through_leg(self, data: Any) -> None:
        """Move the mark 5-60 % against one open leg: into and through its liquidation (HM-LIQ-001..008)."""
        account, symbol, side, quantity = data.draw(st.sampled_from(self.gen.open_legs(self.model_snap)))
        if symbol in self.model_snap.get("expired", []):
            return
        mark = parse_units(self.model_snap["mark_prices"].get(symbol, "30000"), "price")
        pct = data.draw(st.sampled_from((5, 10, 25, 60)))
        moved = mark - mark * pct // 100 if quantity > 0 else mark + mark * pct // 100
        moved -= moved % (10**8 // 2)
        self.gen.t += 1
        self._step({"t": self.gen.t, "kind": "mark_price", "instrument": symbol,
                    "price": format_units(max(moved, 10**11), "price")})

    @invariant()
    def engine_snapshot_is_an_object(self) -> None:
        assert isinstance(self.before, dict)

    def teardown(self) -> None:
        self.engine.close()

    # -- the zarr pattern ----------------------------------------------------------------------

    @classmethod
    def for_engine(cls, adapter_factory: Callable[[], Any], profile: str = "seed",
                   rulebook: Rulebook | None = None, test_settings: settings | None = None,
                   name: str | None = None, step_timeout: float | None = DEFAULT_STEP_TIMEOUT) -> type:
        """A ``unittest.TestCase`` class running this machine against the factory's engine."""
        load_profile(profile)  # fail early on a bad profile name
        machine = type(name or "HedgeModeMachineFor", (cls,), {
            "adapter_factory": staticmethod(adapter_factory), "profile_name": profile, "rulebook": rulebook,
            "step_timeout": step_timeout,
        })
        test_case = machine.TestCase
        if test_settings is not None:
            test_case.settings = test_settings
        return test_case
