"""The per-step work area: copies of touched accounts, the step's events, and the ledger.

Every money movement goes through ``ledger``/``transfer`` so that each bucket (wallet, a leg's
isolated margin, the insurance fund) changes by exactly the sum of its entries (HM-LEDG-001).
Fills of one leg go through ``apply_fill``, which calls the position kernels.
"""

from __future__ import annotations

import dataclasses
import operator
import typing
from collections.abc import Callable
from typing import Any

from .events import Fill, LedgerEntry, ModeChange, OrderUpdate
from .fees import fill_fee
from .positions import is_opening, open_leg, reduce_leg, released_share
from .state import BOTH, BUY, FLAT, ISOLATED, Account, Leg, LegSettings, Order, State, record


class MutableAccount:
    """One account as a step changes it, copy-on-write: a dict of the input state is copied before
    its first change and never written to, so the input state stays as it was (HM-ATOM-001)."""

    __slots__ = ("source", "wallet", "modes", "legs", "settings", "orders", "open_legs", "_legs_owned",
                 "_orders_owned", "_settings_owned", "_modes_owned")

    def __init__(self, account: Account) -> None:
        self.source = account
        self.wallet, self.modes, self.legs, self.settings, self.orders, self.open_legs = account
        # which dicts this step has copied and may change (``open_legs`` goes with ``legs``)
        self._legs_owned = self._orders_owned = self._settings_owned = self._modes_owned = False

    def frozen(self) -> Account:
        """The account as a state value (the input's own value when nothing changed)."""
        if not (self._legs_owned or self._orders_owned or self._settings_owned or self._modes_owned) \
                and self.wallet == self.source.wallet:
            return self.source
        return record(Account, (self.wallet, self.modes, self.legs, self.settings, self.orders, self.open_legs))

    def leg(self, instrument: str, position_side: str) -> Leg:
        return self.legs.get((instrument, position_side), FLAT)

    def set_leg(self, key: tuple[str, str], leg: Leg) -> None:
        if not self._legs_owned:
            self.legs = dict(self.legs)
            self.open_legs = dict(self.open_legs)
            self._legs_owned = True
        self.legs[key] = leg
        if leg.quantity:
            self.open_legs[key] = None
        else:
            self.open_legs.pop(key, None)

    def put_order(self, order: Order) -> None:
        if not self._orders_owned:
            self.orders = dict(self.orders)
            self._orders_owned = True
        self.orders[order.order_id] = order

    def pop_order(self, order_id: str) -> Order | None:
        """Remove an open order (None when there is none)."""
        if order_id not in self.orders:
            return None
        if not self._orders_owned:
            self.orders = dict(self.orders)
            self._orders_owned = True
        return self.orders.pop(order_id)

    def set_settings(self, key: tuple[str, str], settings: LegSettings) -> None:
        if not self._settings_owned:
            self.settings = dict(self.settings)
            self._settings_owned = True
        self.settings[key] = settings

    def set_mode(self, scope: str, mode: str) -> None:
        if not self._modes_owned:
            self.modes = dict(self.modes)
            self._modes_owned = True
        self.modes[scope] = mode


class Work:
    """Collects one step's changes; ``freeze`` builds the next state.

    Read an account with ``current`` (no copy); ``account`` gives the copy a change goes to.
    """

    __slots__ = ("state", "config", "t", "touched", "events", "insurance_fund", "mark_prices", "last_prices",
                 "expired", "seq", "_prices_copied")

    def __init__(self, state: State, t: int) -> None:
        self.state = state
        self.config = state.config
        self.t = t
        self.touched: dict[str, MutableAccount] = {}
        self.events: list[Any] = []
        self.insurance_fund = state.insurance_fund
        self.mark_prices = state.mark_prices
        self.last_prices = state.last_prices
        self.expired = state.expired
        self.seq = state.seq
        self._prices_copied = False

    # -- accounts ---------------------------------------------------------------------------
    def account(self, account_id: str) -> MutableAccount:
        """The account as this step changes it."""
        account = self.touched.get(account_id)
        if account is None:
            account = self.touched[account_id] = MutableAccount(self.state.accounts[account_id])
        return account

    def current(self, account_id: str) -> Account | MutableAccount:
        """The account as this step has changed it so far (read-only use)."""
        touched = self.touched.get(account_id)
        return touched if touched is not None else self.state.accounts[account_id]

    def copy_prices(self) -> None:
        if not self._prices_copied:
            self.mark_prices = dict(self.mark_prices)
            self.last_prices = dict(self.last_prices)
            self._prices_copied = True

    def freeze(self) -> State:
        accounts = self.state.accounts
        if self.touched:
            accounts = dict(accounts)
            for account_id, account in self.touched.items():
                accounts[account_id] = account.frozen()
        return record(State, (self.config, accounts, self.mark_prices, self.last_prices, self.insurance_fund,
                              self.expired, self.seq, self.t))

    # -- ledger -------------------------------------------------------------------------------
    def ledger(self, account_id: str, instrument: str, position_side: str, kind: str, bucket: str,
               amount: int) -> None:
        """Record a movement of ``amount`` into ``bucket`` and apply it."""
        if amount == 0:
            return
        self.events.append(record(LedgerEntry, (account_id, instrument, position_side, kind, bucket, amount)))
        if bucket == "wallet":
            self.account(account_id).wallet += amount
        elif bucket == "isolated_margin":
            account = self.account(account_id)
            key = (instrument, position_side)
            leg = account.legs.get(key, FLAT)
            account.set_leg(key, record(Leg, (leg.quantity, leg.cost_basis, leg.isolated_margin + amount,
                                              leg.realized_pnl, leg.fees_paid, leg.funding)))
        else:
            self.insurance_fund += amount

    def transfer(self, account_id: str, instrument: str, position_side: str, kind: str, source: str,
                 destination: str, amount: int) -> None:
        """Move ``amount`` from one bucket to another: two entries that sum to zero."""
        self.ledger(account_id, instrument, position_side, kind, source, -amount)
        self.ledger(account_id, instrument, position_side, kind, destination, amount)

    # -- settings, modes, orders ---------------------------------------------------------------
    def set_mode(self, account_id: str, scope: str, mode: str) -> None:
        self.account(account_id).set_mode(scope, mode)
        self.events.append(ModeChange(account_id, scope, mode))

    def set_settings(self, account_id: str, instrument: str, position_side: str, settings: LegSettings) -> None:
        self.account(account_id).set_settings((instrument, position_side), settings)

    def add_funding(self, account_id: str, instrument: str, position_side: str, amount: int) -> None:
        account = self.account(account_id)
        leg = account.leg(instrument, position_side)
        account.set_leg((instrument, position_side), record(Leg, (*leg[:5], leg.funding + amount)))

    def cancel(self, account_id: str, order_id: str, cause: str) -> None:
        """Cancel an open order; its reservation returns to the available balance."""
        order = self.account(account_id).pop_order(order_id)
        if order is None:
            raise KeyError(f"no open order {order_id!r} to cancel")
        self.events.append(record(OrderUpdate, (account_id, order_id, "CANCELLED", cause, order.quantity)))

    def put_order(self, account_id: str, order: Order) -> None:
        self.account(account_id).put_order(order)

    # -- fills ---------------------------------------------------------------------------------
    def apply_fill(self, account_id: str, order_id: str, instrument: str, side: str, position_side: str,
                   quantity: int, price: int, liquidity: str, cause: str, margin: int,
                   fee_rate: int | None = None, remainder_to: str = "wallet") -> Fill:
        """Fill ``quantity`` (> 0) of one leg at ``price``.

        ``margin`` is the initial margin the opening part brings (from the order's reservation);
        a one-way fill that crosses zero closes the position and opens the rest the other way.
        """
        account = self.account(account_id)
        inst = self.config.instruments[instrument]
        rate = fee_rate if fee_rate is not None else (inst.maker_rate if liquidity == "MAKER" else inst.taker_rate)
        signed = quantity if side == BUY else -quantity
        leg = account.leg(instrument, position_side)
        isolated = self._isolated(account, instrument, position_side)
        fee = fill_fee(quantity, price, rate)
        realized_total = 0
        key = (instrument, position_side)
        if is_opening(leg.quantity, signed, position_side):
            reduce_part, open_part = 0, signed
        elif position_side == BOTH and abs(signed) > abs(leg.quantity):
            reduce_part, open_part = -leg.quantity, signed + leg.quantity
        else:
            reduce_part, open_part = signed, 0
        fee_reduce = released_share(fee, abs(reduce_part), quantity) if reduce_part else 0
        if reduce_part:
            new_leg, realized, released = reduce_leg(leg, reduce_part, price, fee_reduce)
            account.set_leg(key, record(Leg, (new_leg.quantity, new_leg.cost_basis, leg.isolated_margin,
                                              new_leg.realized_pnl, new_leg.fees_paid, new_leg.funding)))
            realized_total += realized
            self._settle_reduction(account_id, instrument, position_side, realized, released, isolated,
                                   remainder_to)
            leg = account.legs[key]
        if open_part:
            leg = open_leg(leg, open_part, price, fee - fee_reduce)
            account.set_leg(key, leg)
            if isolated and margin:
                self.transfer(account_id, instrument, position_side, "MARGIN_ALLOCATE", "wallet",
                              "isolated_margin", margin)
        if fee:
            self.ledger(account_id, instrument, position_side, "FEE", "wallet", -fee)
        fill = record(Fill, (account_id, order_id, instrument, side, position_side, quantity, price, liquidity, fee,
                             realized_total, cause))
        self.events.append(fill)
        if reduce_part:
            self.tidy_closing_orders(account_id, instrument, position_side, order_id)
        return fill

    def closing_orders(self, account_id: str, instrument: str, position_side: str) -> list[Order]:
        return [o for o in self.current(account_id).orders.values()
                if o.instrument == instrument and o.position_side == position_side and not o.opening]

    def tidy_closing_orders(self, account_id: str, instrument: str, position_side: str, skip: str) -> None:
        """After a leg shrank: a closed leg's closing orders are cancelled (HM-STOP-004, profile
        ``orders_on_leg_close``); resting closing limit orders larger in total than the leg are
        trimmed, least favourable price first (HM-ORD-004); a one-way position that flipped cancels
        the closing orders that would now increase it (HM-ORD-003)."""
        quantity = self.current(account_id).leg(instrument, position_side).quantity
        leg_size = abs(quantity)
        closing = [o for o in self.closing_orders(account_id, instrument, position_side) if o.order_id != skip]
        cancel = self.config.choices["orders_on_leg_close"] == "cancel"
        if leg_size == 0 and cancel:
            for order in sorted(closing, key=lambda o: o.seq):
                self.cancel(account_id, order.order_id, "leg_closed")
            return
        if position_side == BOTH:  # a one-way position that flipped: its old closing orders would now increase it
            stale = [o for o in closing if (o.side == BUY) == (quantity > 0)]
            closing = [o for o in closing if (o.side == BUY) != (quantity > 0)]
            for order in sorted(stale, key=lambda o: o.seq) if cancel else ():
                self.cancel(account_id, order.order_id, "leg_closed")
        self.trim_closing_limits(account_id, [o for o in closing if o.order_type == "LIMIT"], leg_size)

    def trim_closing_limits(self, account_id: str, closing: list[Order], leg_size: int) -> None:
        excess = sum([o.quantity for o in closing]) - leg_size
        if excess <= 0:
            return
        # least favourable first: the lowest-priced sell, the highest-priced buy; newest first on ties
        for order in sorted(closing, key=lambda o: (o.price if o.side != BUY else -o.price, -o.seq)):
            if excess <= 0:
                break
            if order.quantity <= excess:
                excess -= order.quantity
                self.cancel(account_id, order.order_id, "trimmed")
            else:
                keep = order.quantity - excess
                fee_left = released_share(order.fee_reserved, keep, order.quantity)
                self.put_order(account_id, order.with_remaining(keep, order.margin_reserved, fee_left))
                self.events.append(OrderUpdate(account_id, order.order_id, "TRIMMED", "trimmed", keep))
                excess = 0

    def _isolated(self, account: MutableAccount, instrument: str, position_side: str) -> bool:
        return account.settings.get((instrument, position_side), self.config.default_settings).margin_type == ISOLATED

    def _settle_reduction(self, account_id: str, instrument: str, position_side: str, realized: int,
                          released: int, isolated: bool, destination: str = "wallet") -> None:
        """Where a reducing fill's PnL and released margin go (Implements HM-MARG-003, HM-LIQ-003).

        Cross: the PnL goes to the wallet. Isolated: the PnL is booked on the leg's margin; a loss
        beyond the released margin is covered by the insurance fund, never by the wallet or the
        other leg; what remains of the released margin goes to ``destination``, or stays with the leg
        when that is ``isolated_margin`` (a partial liquidation, HM-LIQ-004).
        """
        if not isolated:
            self.ledger(account_id, instrument, position_side, "REALIZED_PNL", "wallet", realized)
            return
        self.ledger(account_id, instrument, position_side, "REALIZED_PNL", "isolated_margin", realized)
        if destination == "isolated_margin":
            return
        proceeds = released + realized
        if proceeds < 0:
            self.transfer(account_id, instrument, position_side, "INSURANCE_COVER", "insurance_fund",
                          "isolated_margin", -proceeds)
            proceeds = 0
        if proceeds:
            kind = "MARGIN_RELEASE" if destination == "wallet" else "INSURANCE_INFLOW"
            self.transfer(account_id, instrument, position_side, kind, "isolated_margin", destination, proceeds)


_FIELD_TYPES: dict[type, tuple[Callable[[Any], tuple[Any, ...]], tuple[type, ...], tuple[str, ...]]] = {}


def well_typed(action: object) -> str:
    """'' when every field of the action has its declared type, else a message naming the field."""
    cls = type(action)
    checks = _FIELD_TYPES.get(cls)
    if checks is None:
        hints = typing.get_type_hints(cls)  # int, str or bool, whether the annotations are strings or not
        names = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        # every action has ``t`` and at least one more field, so the getter returns a tuple
        getter: Callable[[Any], tuple[Any, ...]] = operator.attrgetter(*names)
        checks = _FIELD_TYPES[cls] = (getter, tuple(hints[name] for name in names), names)
    getter, expected, names = checks
    values = getter(action)
    if tuple(map(type, values)) == expected:
        return ""
    for name, value, wanted in zip(names, values, expected, strict=True):
        if type(value) is not wanted:
            return f"{name}: expected {wanted.__name__}, got {type(value).__name__}"
    return ""
