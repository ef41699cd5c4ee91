"""The per-step work area: copies of touched accounts, the step's events, and the ledger.

Every money movement goes through ``ledger``/``transfer`` so that each bucket (wallet, a leg's
isolated margin, the insurance fund) changes by exactly the sum of its entries (HM-LEDG-001).
Fills of one leg go through ``apply_fill``, which calls the position kernels.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .events import Fill, LedgerEntry, ModeChange, OrderUpdate
from .fees import fill_fee
from .positions import is_opening, open_leg, reduce_leg, released_share
from .state import BOTH, BUY, FLAT, ISOLATED, Account, Leg, LegSettings, Order, State


class MutableAccount:
    """A copy of one account for the duration of a step."""

    __slots__ = ("wallet", "modes", "legs", "settings", "orders")

    def __init__(self, account: Account) -> None:
        self.wallet = account.wallet
        self.modes = dict(account.modes)
        self.legs = dict(account.legs)
        self.settings = dict(account.settings)
        self.orders = dict(account.orders)

    def frozen(self) -> Account:
        """The account as a state value; the dicts are this step's own copies, handed over."""
        return Account(self.wallet, self.modes, self.legs, self.settings, self.orders)

    def leg(self, instrument: str, position_side: str) -> Leg:
        return self.legs.get((instrument, position_side), FLAT)


class Work:
    """Collects one step's changes; ``freeze`` builds the next state."""

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
            accounts = {**accounts, **{k: v.frozen() for k, v in self.touched.items()}}
        return State(self.config, accounts, self.mark_prices, self.last_prices, self.insurance_fund,
                     self.expired, self.seq, self.t)

    # -- ledger -------------------------------------------------------------------------------
    def ledger(self, account_id: str, instrument: str, position_side: str, kind: str, bucket: str,
               amount: int) -> None:
        """Record a movement of ``amount`` into ``bucket`` and apply it."""
        if amount == 0:
            return
        self.events.append(LedgerEntry(account_id, instrument, position_side, kind, bucket, amount))
        if bucket == "wallet":
            self.account(account_id).wallet += amount
        elif bucket == "isolated_margin":
            account = self.account(account_id)
            leg = account.leg(instrument, position_side)
            account.legs[(instrument, position_side)] = Leg(leg.quantity, leg.cost_basis, leg.isolated_margin + amount,
                                                            leg.realized_pnl, leg.fees_paid, leg.funding)
        else:
            self.insurance_fund += amount

    def transfer(self, account_id: str, instrument: str, position_side: str, kind: str, source: str,
                 destination: str, amount: int) -> None:
        """Move ``amount`` from one bucket to another: two entries that sum to zero."""
        self.ledger(account_id, instrument, position_side, kind, source, -amount)
        self.ledger(account_id, instrument, position_side, kind, destination, amount)

    # -- settings, modes, orders ---------------------------------------------------------------
    def set_mode(self, account_id: str, scope: str, mode: str) -> None:
        self.account(account_id).modes[scope] = mode
        self.events.append(ModeChange(account_id, scope, mode))

    def set_settings(self, account_id: str, instrument: str, position_side: str, settings: LegSettings) -> None:
        self.account(account_id).settings[(instrument, position_side)] = settings

    def add_funding(self, account_id: str, instrument: str, position_side: str, amount: int) -> None:
        account = self.account(account_id)
        leg = account.leg(instrument, position_side)
        account.legs[(instrument, position_side)] = Leg(leg.quantity, leg.cost_basis, leg.isolated_margin,
                                                        leg.realized_pnl, leg.fees_paid, leg.funding + amount)

    def cancel(self, account_id: str, order_id: str, cause: str) -> None:
        """Cancel an open order; its reservation returns to the available balance."""
        order = self.account(account_id).orders.pop(order_id)
        self.events.append(OrderUpdate(account_id, order_id, "CANCELLED", cause, order.quantity))

    def put_order(self, account_id: str, order: Order) -> None:
        self.account(account_id).orders[order.order_id] = order

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
            account.legs[key] = Leg(new_leg.quantity, new_leg.cost_basis, leg.isolated_margin, new_leg.realized_pnl,
                                    new_leg.fees_paid, new_leg.funding)
            realized_total += realized
            self._settle_reduction(account_id, instrument, position_side, realized, released, isolated,
                                   remainder_to)
            leg = account.legs[key]
        if open_part:
            leg = open_leg(leg, open_part, price, fee - fee_reduce)
            account.legs[key] = leg
            if isolated and margin:
                self.transfer(account_id, instrument, position_side, "MARGIN_ALLOCATE", "wallet",
                              "isolated_margin", margin)
        if fee:
            self.ledger(account_id, instrument, position_side, "FEE", "wallet", -fee)
        fill = Fill(account_id, order_id, instrument, side, position_side, quantity, price, liquidity, fee,
                    realized_total, cause)
        self.events.append(fill)
        if reduce_part:
            self.tidy_closing_orders(account_id, instrument, position_side, order_id)
        return fill

    def closing_orders(self, account_id: str, instrument: str, position_side: str) -> list[Order]:
        return [o for o in self.account(account_id).orders.values()
                if o.instrument == instrument and o.position_side == position_side and not o.opening]

    def tidy_closing_orders(self, account_id: str, instrument: str, position_side: str, skip: str) -> None:
        """After a leg shrank: a closed leg's closing orders are cancelled (HM-STOP-004, profile
        ``orders_on_leg_close``); resting closing limit orders larger in total than the leg are
        trimmed, least favourable price first (HM-ORD-004)."""
        leg_size = abs(self.account(account_id).leg(instrument, position_side).quantity)
        closing = [o for o in self.closing_orders(account_id, instrument, position_side) if o.order_id != skip]
        if leg_size == 0 and self.config.choices["orders_on_leg_close"] == "cancel":
            for order in sorted(closing, key=lambda o: o.seq):
                self.cancel(account_id, order.order_id, "leg_closed")
            return
        self.trim_closing_limits(account_id, [o for o in closing if o.order_type == "LIMIT"], leg_size)

    def trim_closing_limits(self, account_id: str, closing: list[Order], leg_size: int) -> None:
        excess = sum(o.quantity for o in closing) - leg_size
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
        settings = account.settings.get((instrument, position_side))
        margin_type = settings.margin_type if settings else self.config.choices["default_margin_type"]
        return margin_type == ISOLATED

    def _settle_reduction(self, account_id: str, instrument: str, position_side: str, realized: int,
                          released: int, isolated: bool, destination: str = "wallet") -> None:
        """Where a reducing fill's PnL and released margin go (Implements HM-MARG-003, HM-LIQ-003).

        Cross: the PnL goes to the wallet. Isolated: the PnL is booked on the leg's margin; a loss
        beyond the released margin is covered by the insurance fund, never by the wallet or the
        other leg; what remains of the released margin goes to ``destination``.
        """
        if not isolated:
            self.ledger(account_id, instrument, position_side, "REALIZED_PNL", "wallet", realized)
            return
        self.ledger(account_id, instrument, position_side, "REALIZED_PNL", "isolated_margin", realized)
        proceeds = released + realized
        if proceeds < 0:
            self.transfer(account_id, instrument, position_side, "INSURANCE_COVER", "insurance_fund",
                          "isolated_margin", -proceeds)
            proceeds = 0
        if proceeds:
            kind = "MARGIN_RELEASE" if destination == "wallet" else "INSURANCE_INFLOW"
            self.transfer(account_id, instrument, position_side, kind, "isolated_margin", destination, proceeds)


_FIELD_TYPES: dict[type, tuple[tuple[str, type], ...]] = {}


def well_typed(action: object) -> str:
    """'' when every field of the action has its declared type, else a message naming the field."""
    cls = type(action)
    fields = _FIELD_TYPES.get(cls)
    if fields is None:
        hints = {"int": int, "str": str, "bool": bool}
        fields = _FIELD_TYPES[cls] = tuple((f.name, hints[f.type]) for f in dataclasses.fields(cls))
    for name, expected in fields:
        if type(getattr(action, name)) is not expected:
            return f"{name}: expected {expected.__name__}, got {type(getattr(action, name)).__name__}"
    return ""
