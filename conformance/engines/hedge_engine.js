#!/usr/bin/env node
// hedge_engine.js: an example hedge-mode engine for hedgespec's JSON-lines engine protocol.
//
// A self-contained engine, written without hedgespec (no imports, no dependencies), that speaks
// the "hedgespec-engine/1" protocol on stdin/stdout: one JSON request per line, one JSON reply per
// line. stdout carries protocol replies only; diagnostics go to stderr.
//
// Every number is a BigInt counted in fixed-point atoms (no floating point touches money):
//   QTY 1e-8, PRICE 1e-8, MONEY 1e-16 (quote asset), RATE 1e-8.
// Decimal strings are parsed exactly (a value with more decimals than its unit holds is refused)
// and printed in canonical form (no exponent, no trailing zeros, "0" for zero).
//
// Roundings: fees up; funding half away from zero on the magnitude; initial margin =
// ceil(notional / leverage); proportional releases (margin, cost basis, fee split) toward zero.
//
// What it implements (the seed profile's behaviour): hedge and one-way modes with switching,
// isolated margin per leg with leverage and margin adjustment, market and limit orders, matching
// resting limits against market trades, maker/taker fees, per-leg funding, several accounts.
// What it does not implement, and says so: cross margin, liquidation, conditional orders,
// trailing stops, expiry. A request that needs one of those gets a protocol error starting with
// "unsupported:"; mark prices are recorded but never liquidate anything.
"use strict";

const PROTOCOL = "hedgespec-engine/1";
const NAME = "hedge-engine-js";
const CAPABILITIES = [
  "hedge-mode", "one-way-mode", "mode-switching", "isolated-margin", "margin-adjustment",
  "limit-orders", "market-trades", "fees", "funding", "multi-account",
];
// Not implemented (left out of CAPABILITIES on purpose): cross-margin, liquidation,
// conditional-orders, trailing-stops, expiry, insurance-fund, leg-settings.

// The seed profile's choices this engine runs (the only profile it implements).
const SEED = {
  defaultPositionMode: "ONE_WAY",
  defaultMarginType: "ISOLATED",
  defaultLeverage: 20n,
};

const DECIMALS = { qty: 8, price: 8, money: 16, rate: 8, int: 0 };
const RATE_ONE = 10n ** 8n;
const LONG = "LONG", SHORT = "SHORT", BOTH = "BOTH", BUY = "BUY", SELL = "SELL";
const HEDGE = "HEDGE", ONE_WAY = "ONE_WAY", ISOLATED = "ISOLATED", CROSS = "CROSS";
const MARKET = "MARKET", LIMIT = "LIMIT";
const CONDITIONAL = ["STOP_MARKET", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"];
const ORDER_TYPES = [MARKET, LIMIT, ...CONDITIONAL];

class InputError extends Error {}
class Unsupported extends Error {}
class Rejection extends Error {
  constructor(reason, message) {
    super(message);
    this.reason = reason;
  }
}

function reject(reason, message) {
  throw new Rejection(reason, message);
}

// ---- integer arithmetic -------------------------------------------------------------------

const abs = (x) => (x < 0n ? -x : x);
const min = (a, b) => (a < b ? a : b);
const max = (a, b) => (a > b ? a : b);
const sign = (x) => (x > 0n ? 1 : x < 0n ? -1 : 0);

function ceilDiv(n, d) { // d > 0
  return n >= 0n ? (n + d - 1n) / d : n / d;
}

function truncDiv(n, d) { // d > 0; BigInt division already truncates toward zero
  return n / d;
}

function roundHalfAway(n, d) { // d > 0
  const q = (2n * abs(n) + d) / (2n * d);
  return n >= 0n ? q : -q;
}

function roundHalfEven(n, d) { // d > 0
  const negative = (n < 0n) !== (d < 0n);
  const an = abs(n), ad = abs(d);
  let q = an / ad;
  const r = an % ad;
  if (2n * r > ad || (2n * r === ad && q % 2n === 1n)) q += 1n;
  return negative ? -q : q;
}

// ---- decimal strings ----------------------------------------------------------------------

// hedgespec's decimal grammar: an optional minus, 1 to 20 ASCII digits, optionally a point and 1 to 20 digits
const DECIMAL_RE = /^(-?)([0-9]{1,20})(?:\.([0-9]{1,20}))?$/;

function parseUnits(text, unit, field) {
  if (typeof text !== "string") {
    throw new InputError(`${field}: expected a decimal string, got ${JSON.stringify(text)}`);
  }
  const m = DECIMAL_RE.exec(text);
  if (!m) throw new InputError(`${field}: not a decimal string: ${JSON.stringify(text.slice(0, 40))}`);
  const frac = (m[3] || "").replace(/0+$/, "");
  if (frac.length > DECIMALS[unit]) {
    throw new InputError(`${field}: ${JSON.stringify(text)} has more decimals than ${DECIMALS[unit]} (${unit} unit)`);
  }
  const digits = BigInt(m[2] + frac.padEnd(DECIMALS[unit], "0"));
  return m[1] === "-" ? -digits : digits;
}

function formatScaled(atoms, decimals) {
  if (atoms === 0n) return "0";
  const s = atoms < 0n ? "-" : "";
  if (decimals === 0) return s + abs(atoms).toString();
  const digits = abs(atoms).toString().padStart(decimals + 1, "0");
  const whole = digits.slice(0, -decimals), frac = digits.slice(-decimals).replace(/0+$/, "");
  return frac ? `${s}${whole}.${frac}` : `${s}${whole}`;
}

const fmt = (atoms, unit) => formatScaled(atoms, DECIMALS[unit]);

// A derived ratio num/den in PRICE atoms, rounded half-even to 8 extra decimals (entry and
// liquidation prices), as the format reference states.
function fmtRatioPrice(num, den) {
  return formatScaled(roundHalfEven(num * 10n ** 8n, den), DECIMALS.price + 8);
}

// ---- run parameters -----------------------------------------------------------------------

const PARAMS_FIELDS = ["instruments", "accounts", "profile", "insurance_fund", "mark_prices", "last_prices"];

function need(obj, name, where) {
  if (!(name in obj)) throw new InputError(`${where}: ${name}: missing`);
  return obj[name];
}

const isObject = (x) => x !== null && typeof x === "object" && !Array.isArray(x);

function parseInstrument(raw, where) {
  if (!isObject(raw)) throw new InputError(`${where}: an instrument is a JSON object`);
  const symbol = need(raw, "symbol", where);
  if (typeof symbol !== "string" || !symbol) throw new InputError(`${where}: symbol: a non-empty string is required`);
  const kind = raw.kind === undefined ? "PERPETUAL" : raw.kind;
  if (kind !== "PERPETUAL" && kind !== "DATED") throw new InputError(`${where}: kind: PERPETUAL or DATED`);
  const rawBrackets = need(raw, "brackets", where);
  if (!Array.isArray(rawBrackets) || !rawBrackets.length) throw new InputError(`${where}: brackets: a non-empty list is required`);
  const brackets = rawBrackets.map((b, i) => {
    const at = `${where}: brackets[${i}]`;
    if (!isObject(b)) throw new InputError(`${at}: a bracket is a JSON object`);
    return {
      floor: parseUnits(need(b, "notional_floor", at), "money", `${at}: notional_floor`),
      cap: parseUnits(b.notional_cap === undefined ? "0" : b.notional_cap, "money", `${at}: notional_cap`),
      mmr: parseUnits(need(b, "maintenance_rate", at), "rate", `${at}: maintenance_rate`),
      mma: parseUnits(b.maintenance_amount === undefined ? "0" : b.maintenance_amount, "money", `${at}: maintenance_amount`),
      maxLeverage: parseUnits(need(b, "max_leverage", at), "int", `${at}: max_leverage`),
    };
  });
  brackets.forEach((b, i) => {
    if (b.maxLeverage < 1n || (i && b.floor !== brackets[i - 1].cap)) {
      throw new InputError(`${where}: brackets[${i}]: brackets must be contiguous with max_leverage >= 1`);
    }
  });
  const settle = need(raw, "settle_asset", where);
  if (typeof settle !== "string" || !settle) throw new InputError(`${where}: settle_asset: a non-empty string is required`);
  const inst = {
    symbol, settle, kind, brackets,
    tick: parseUnits(need(raw, "tick_size", where), "price", `${where}: tick_size`),
    lot: parseUnits(need(raw, "lot_size", where), "qty", `${where}: lot_size`),
    maker: parseUnits(need(raw, "maker_rate", where), "rate", `${where}: maker_rate`),
    taker: parseUnits(need(raw, "taker_rate", where), "rate", `${where}: taker_rate`),
  };
  if (inst.tick <= 0n || inst.lot <= 0n || inst.maker < 0n || inst.taker < 0n) {
    throw new InputError(`${where}: tick_size and lot_size must be positive, rates not negative`);
  }
  inst.maxLeverage = brackets[0].maxLeverage;
  return inst;
}

function newEngine(params) {
  const where = "params";
  if (!isObject(params)) throw new InputError(`${where}: parameters are a JSON object`);
  for (const key of Object.keys(params)) {
    if (!PARAMS_FIELDS.includes(key)) throw new InputError(`${where}: ${key}: unknown field`);
  }
  const profile = params.profile === undefined ? "seed" : params.profile;
  if (profile !== "seed") {
    throw new Unsupported(`profile ${JSON.stringify(profile)}: this engine implements the seed profile only`);
  }
  if (!Array.isArray(params.instruments) || !params.instruments.length) {
    throw new InputError(`${where}: instruments: a non-empty list is required`);
  }
  const instruments = {};
  params.instruments.forEach((raw, i) => {
    const inst = parseInstrument(raw, `${where}: instruments[${i}]`);
    if (inst.symbol in instruments) throw new InputError(`${where}: instruments[${i}]: duplicate symbol ${inst.symbol}`);
    instruments[inst.symbol] = inst;
  });
  let rawAccounts = params.accounts;
  if (Array.isArray(rawAccounts)) rawAccounts = Object.fromEntries(rawAccounts.map((n) => [n, {}]));
  if (!isObject(rawAccounts) || !Object.keys(rawAccounts).length) {
    throw new InputError(`${where}: accounts: a non-empty object or list is required`);
  }
  const accounts = {};
  for (const name of Object.keys(rawAccounts).sort()) {
    const raw = rawAccounts[name], at = `${where}: accounts.${name}`;
    if (!isObject(raw)) throw new InputError(`${at}: an account is a JSON object`);
    const wallet = parseUnits(raw.wallet === undefined ? "0" : raw.wallet, "money", `${at}: wallet`);
    const modes = raw.position_mode === undefined ? {} : raw.position_mode;
    if (!isObject(modes) || Object.values(modes).some((m) => m !== HEDGE && m !== ONE_WAY)) {
      throw new InputError(`${at}: position_mode: an object of scope -> HEDGE/ONE_WAY is required`);
    }
    if (wallet < 0n) throw new InputError(`${at}: wallet: must not be negative`);
    accounts[name] = { wallet, modes: { ...modes }, legs: {}, settings: {}, orders: {} };
  }
  const prices = {};
  for (const key of ["mark_prices", "last_prices"]) {
    const raw = params[key] === undefined ? {} : params[key];
    if (!isObject(raw)) throw new InputError(`${where}: ${key}: an object of instrument -> price is required`);
    prices[key] = {};
    for (const [symbol, p] of Object.entries(raw)) {
      if (!(symbol in instruments)) throw new InputError(`${where}: ${key}.${symbol}: unknown instrument`);
      prices[key][symbol] = parseUnits(p, "price", `${where}: ${key}.${symbol}`);
    }
  }
  const insurance = parseUnits(params.insurance_fund === undefined ? "0" : params.insurance_fund, "money",
    `${where}: insurance_fund`);
  return {
    instruments,
    state: { accounts, mark: prices.mark_prices, last: prices.last_prices, insurance, seq: 0, time: 0 },
  };
}

// ---- actions ------------------------------------------------------------------------------

// kind -> [field, unit or type, required]
const ACTIONS = {
  deposit: [["account", "str", 1], ["amount", "money", 1]],
  withdraw: [["account", "str", 1], ["amount", "money", 1]],
  set_position_mode: [["account", "str", 1], ["mode", "str", 1], ["scope", "str", 0]],
  set_margin_type: [["account", "str", 1], ["instrument", "str", 1], ["position_side", "str", 0],
    ["margin_type", "str", 1]],
  set_leverage: [["account", "str", 1], ["instrument", "str", 1], ["position_side", "str", 0], ["leverage", "int", 1]],
  adjust_margin: [["account", "str", 1], ["instrument", "str", 1], ["position_side", "str", 0], ["amount", "money", 1]],
  place_order: [["account", "str", 1], ["order_id", "str", 1], ["instrument", "str", 1], ["side", "str", 1],
    ["position_side", "str", 0], ["order_type", "str", 1], ["quantity", "qty", 1], ["price", "price", 0],
    ["stop_price", "price", 0], ["activation_price", "price", 0], ["callback_rate", "rate", 0],
    ["reduce_only", "bool", 0], ["close_position", "bool", 0]],
  cancel_order: [["account", "str", 1], ["order_id", "str", 1]],
  market_trade: [["instrument", "str", 1], ["price", "price", 1], ["quantity", "qty", 1]],
  mark_price: [["instrument", "str", 1], ["price", "price", 1]],
  funding: [["instrument", "str", 1], ["rate", "rate", 1]],
  expire: [["instrument", "str", 1], ["settlement_price", "price", 1]],
};
const DEFAULTS = { str: "", bool: false, money: 0n, qty: 0n, price: 0n, rate: 0n, int: 0n };

function parseAction(obj) {
  if (!isObject(obj)) throw new InputError("action: an action is a JSON object");
  const kind = obj.kind;
  const fields = typeof kind === "string" && Object.prototype.hasOwnProperty.call(ACTIONS, kind) ? ACTIONS[kind] : null;
  if (!fields) throw new InputError(`action: kind: unknown action kind ${JSON.stringify(kind)}`);
  const names = new Set(["t", ...fields.map((f) => f[0])]);
  for (const key of Object.keys(obj)) {
    if (key !== "kind" && !names.has(key)) throw new InputError(`action: ${key}: not a field of ${kind}`);
  }
  if (!("t" in obj)) throw new InputError(`action: t: missing (required by ${kind})`);
  if (typeof obj.t !== "number" || !Number.isSafeInteger(obj.t) || obj.t < 0) {
    throw new InputError(`action: t: a non-negative integer logical time is required`);
  }
  const action = { kind, t: obj.t };
  for (const [name, unit, required] of fields) {
    if (!(name in obj)) {
      if (required) throw new InputError(`action: ${name}: missing (required by ${kind})`);
      action[name] = name === "scope" ? "*" : DEFAULTS[unit];
      continue;
    }
    const raw = obj[name];
    if (unit === "str") {
      if (typeof raw !== "string") throw new InputError(`action: ${name}: expected a string`);
      action[name] = raw;
    } else if (unit === "bool") {
      if (typeof raw !== "boolean") throw new InputError(`action: ${name}: expected true or false`);
      action[name] = raw;
    } else {
      action[name] = parseUnits(raw, unit, `action: ${name}`);
    }
  }
  return action;
}

// ---- the engine ---------------------------------------------------------------------------

const FLAT = () => ({ quantity: 0n, cost: 0n, margin: 0n, realized: 0n, fees: 0n, funding: 0n });

class Step {
  // One action's work on a private copy of the state; discarded when the action is rejected.
  constructor(instruments, state, t) {
    this.instruments = instruments;
    this.s = structuredClone(state);
    this.t = t;
    this.events = [];
  }

  // -- lookups ------------------------------------------------------------------------------
  mode(accountId) { // mode_scope "account": one mode per account under the scope "*"
    return this.s.accounts[accountId].modes["*"] || SEED.defaultPositionMode;
  }

  leg(accountId, symbol, side) {
    const legs = this.s.accounts[accountId].legs;
    return (legs[symbol] && legs[symbol][side]) || FLAT();
  }

  setLeg(accountId, symbol, side, leg) {
    const legs = this.s.accounts[accountId].legs;
    (legs[symbol] = legs[symbol] || {})[side] = leg;
  }

  settings(accountId, symbol, side) {
    const found = this.s.accounts[accountId].settings[`${symbol}|${side}`];
    return found || { marginType: SEED.defaultMarginType, leverage: SEED.defaultLeverage };
  }

  orderMargin(accountId) {
    let total = 0n;
    for (const o of Object.values(this.s.accounts[accountId].orders)) total += o.marginReserved + o.feeReserved;
    return total;
  }

  available(accountId) { // no cross legs exist in this engine: wallet less order reservations
    return this.s.accounts[accountId].wallet - this.orderMargin(accountId);
  }

  // -- ledger -------------------------------------------------------------------------------
  ledger(accountId, symbol, side, kind, bucket, amount) {
    if (amount === 0n) return;
    this.events.push({ type: "ledger", account: accountId || null, instrument: symbol || null,
      position_side: side || null, kind, bucket, amount: fmt(amount, "money") });
    if (bucket === "wallet") {
      this.s.accounts[accountId].wallet += amount;
    } else if (bucket === "isolated_margin") {
      const leg = this.leg(accountId, symbol, side);
      leg.margin += amount;
      this.setLeg(accountId, symbol, side, leg);
    } else {
      this.s.insurance += amount;
    }
  }

  transfer(accountId, symbol, side, kind, source, destination, amount) {
    this.ledger(accountId, symbol, side, kind, source, -amount);
    this.ledger(accountId, symbol, side, kind, destination, amount);
  }

  orderEvent(accountId, orderId, status, cause, quantity) {
    this.events.push({ type: "order", account: accountId, order_id: orderId, status, cause,
      quantity: fmt(quantity, "qty") });
  }

  cancel(accountId, orderId, cause) {
    const order = this.s.accounts[accountId].orders[orderId];
    delete this.s.accounts[accountId].orders[orderId];
    this.orderEvent(accountId, orderId, "CANCELLED", cause, order.quantity);
  }

  // -- fills --------------------------------------------------------------------------------
  applyFill(accountId, orderId, symbol, side, positionSide, quantity, price, liquidity, cause, margin) {
    const inst = this.instruments[symbol];
    const rate = liquidity === "MAKER" ? inst.maker : inst.taker;
    const signed = side === BUY ? quantity : -quantity;
    let leg = this.leg(accountId, symbol, positionSide);
    const isolated = this.settings(accountId, symbol, positionSide).marginType === ISOLATED;
    const fee = feeOf(quantity, price, rate);
    let realizedTotal = 0n, reducePart, openPart;
    if (isOpening(leg.quantity, signed, positionSide)) {
      reducePart = 0n; openPart = signed;
    } else if (positionSide === BOTH && abs(signed) > abs(leg.quantity)) {
      reducePart = -leg.quantity; openPart = signed + leg.quantity;
    } else {
      reducePart = signed; openPart = 0n;
    }
    const feeReduce = reducePart ? releasedShare(fee, abs(reducePart), quantity) : 0n;
    if (reducePart) {
      const closed = -reducePart;
      const costReleased = releasedShare(leg.cost, closed, leg.quantity);
      const marginReleased = releasedShare(leg.margin, closed, leg.quantity);
      const realized = closed * price - costReleased;
      leg = { ...leg, quantity: leg.quantity - closed, cost: leg.cost - costReleased,
        realized: leg.realized + realized, fees: leg.fees + feeReduce };
      this.setLeg(accountId, symbol, positionSide, leg);
      realizedTotal += realized;
      this.settleReduction(accountId, symbol, positionSide, realized, marginReleased, isolated);
      leg = this.leg(accountId, symbol, positionSide);
    }
    if (openPart) {
      leg = { ...leg, quantity: leg.quantity + openPart, cost: leg.cost + openPart * price,
        fees: leg.fees + fee - feeReduce };
      this.setLeg(accountId, symbol, positionSide, leg);
      if (isolated && margin) {
        this.transfer(accountId, symbol, positionSide, "MARGIN_ALLOCATE", "wallet", "isolated_margin", margin);
      }
    }
    if (fee) this.ledger(accountId, symbol, positionSide, "FEE", "wallet", -fee);
    this.events.push({ type: "fill", account: accountId, order_id: orderId, instrument: symbol, side,
      position_side: positionSide, quantity: fmt(quantity, "qty"), price: fmt(price, "price"), liquidity,
      fee: fmt(fee, "money"), realized_pnl: fmt(realizedTotal, "money"), cause });
    if (reducePart) this.tidyClosingOrders(accountId, symbol, positionSide, orderId);
  }

  settleReduction(accountId, symbol, side, realized, released, isolated) {
    // Isolated: the PnL is booked on the leg's margin, a loss beyond the released margin is
    // covered by the insurance fund; what remains of the released margin goes to the wallet.
    if (!isolated) {
      this.ledger(accountId, symbol, side, "REALIZED_PNL", "wallet", realized);
      return;
    }
    this.ledger(accountId, symbol, side, "REALIZED_PNL", "isolated_margin", realized);
    let proceeds = released + realized;
    if (proceeds < 0n) {
      this.transfer(accountId, symbol, side, "INSURANCE_COVER", "insurance_fund", "isolated_margin", -proceeds);
      proceeds = 0n;
    }
    if (proceeds) this.transfer(accountId, symbol, side, "MARGIN_RELEASE", "isolated_margin", "wallet", proceeds);
  }

  closingOrders(accountId, symbol, side) {
    return Object.values(this.s.accounts[accountId].orders)
      .filter((o) => o.instrument === symbol && o.positionSide === side && !o.opening);
  }

  tidyClosingOrders(accountId, symbol, side, skip) {
    // A closed leg's closing orders are cancelled; closing limits larger in total than the leg
    // are trimmed, least favourable price first.
    const legSize = abs(this.leg(accountId, symbol, side).quantity);
    const closing = this.closingOrders(accountId, symbol, side).filter((o) => o.orderId !== skip);
    if (legSize === 0n) {
      closing.sort((a, b) => a.seq - b.seq).forEach((o) => this.cancel(accountId, o.orderId, "leg_closed"));
      return;
    }
    this.trimClosingLimits(accountId, closing.filter((o) => o.orderType === LIMIT), legSize);
  }

  trimClosingLimits(accountId, closing, legSize) {
    let excess = closing.reduce((acc, o) => acc + o.quantity, 0n) - legSize;
    const key = (o) => (o.side !== BUY ? o.price : -o.price);
    closing.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : b.seq - a.seq));
    for (const order of closing) {
      if (excess <= 0n) break;
      if (order.quantity <= excess) {
        excess -= order.quantity;
        this.cancel(accountId, order.orderId, "trimmed");
      } else {
        const keep = order.quantity - excess;
        const feeLeft = releasedShare(order.feeReserved, keep, order.quantity);
        this.s.accounts[accountId].orders[order.orderId] = { ...order, quantity: keep, feeReserved: feeLeft };
        this.orderEvent(accountId, order.orderId, "TRIMMED", "trimmed", keep);
        excess = 0n;
      }
    }
  }

  execute(accountId, order, quantity, price, liquidity, cause) {
    // Fill quantity of order at price; the rest keeps the reservation of what is left.
    delete this.s.accounts[accountId].orders[order.orderId];
    let margin = order.opening ? releasedShare(order.marginReserved, quantity, order.quantity) : 0n;
    if (order.opening && order.positionSide === BOTH) {
      const leg = this.leg(accountId, order.instrument, BOTH);
      const signed = order.side === BUY ? quantity : -quantity;
      if (leg.quantity && sign(leg.quantity) !== sign(signed)) {
        const openingQty = max(0n, quantity - abs(leg.quantity));
        margin = openingQty ? releasedShare(margin, openingQty, quantity) : 0n;
      }
    }
    const remaining = order.quantity - quantity;
    this.applyFill(accountId, order.orderId, order.instrument, order.side, order.positionSide, quantity, price,
      liquidity, cause, margin);
    if (remaining > 0n) {
      this.s.accounts[accountId].orders[order.orderId] = {
        ...order, quantity: remaining,
        marginReserved: order.marginReserved - releasedShare(order.marginReserved, quantity, order.quantity),
        feeReserved: order.feeReserved - releasedShare(order.feeReserved, quantity, order.quantity),
      };
      this.orderEvent(accountId, order.orderId, "PARTIALLY_FILLED", cause, remaining);
    } else {
      this.orderEvent(accountId, order.orderId, "FILLED", cause, 0n);
    }
  }

  matchResting(symbol, price, quantity) {
    // A market trade fills resting limits it trades through at their own price as maker, best
    // price first then time; each side is filled up to the trade's quantity.
    for (const side of [BUY, SELL]) {
      const candidates = [];
      for (const accountId of Object.keys(this.s.accounts).sort()) {
        for (const o of Object.values(this.s.accounts[accountId].orders)) {
          if (o.instrument === symbol && o.orderType === LIMIT && o.side === side && crosses(side, o.price, price)) {
            candidates.push([side === BUY ? -o.price : o.price, o.seq, accountId, o.orderId]);
          }
        }
      }
      candidates.sort((a, b) => cmpTuple(a, b));
      let budget = quantity;
      for (const [, , accountId, orderId] of candidates) {
        if (budget <= 0n) break;
        const order = this.s.accounts[accountId].orders[orderId];
        if (!order) continue;
        let fillQty = min(budget, order.quantity);
        if (!order.opening) {
          fillQty = min(fillQty, abs(this.leg(accountId, symbol, order.positionSide).quantity));
          if (fillQty === 0n) {
            this.cancel(accountId, orderId, "leg_closed");
            continue;
          }
        }
        budget -= fillQty;
        this.execute(accountId, order, fillQty, order.price, "MAKER", "order");
      }
    }
  }
}

function cmpTuple(a, b) {
  for (let i = 0; i < a.length; i++) {
    if (a[i] < b[i]) return -1;
    if (a[i] > b[i]) return 1;
  }
  return 0;
}

function feeOf(quantity, price, rate) { // fees round up
  return ceilDiv(abs(quantity * price) * rate, RATE_ONE);
}

function releasedShare(amount, closed, quantity) { // toward zero
  if (closed === quantity) return amount;
  return quantity > 0n ? truncDiv(amount * closed, quantity) : truncDiv(amount * -closed, -quantity);
}

function isOpening(legQuantity, signed, positionSide) {
  if (positionSide === LONG) return signed > 0n;
  if (positionSide === SHORT) return signed < 0n;
  return legQuantity === 0n || (legQuantity > 0n) === (signed > 0n);
}

const crosses = (side, limit, trade) => (side === BUY ? limit >= trade : limit <= trade);
const closingSide = (positionSide) => (positionSide === LONG ? SELL : BUY);
const sidesFor = (mode) => (mode === ONE_WAY ? [BOTH] : [LONG, SHORT]);

function bracketFor(absNotional, brackets) {
  for (const b of brackets) if (b.cap === 0n || absNotional < b.cap) return b;
  return brackets[brackets.length - 1];
}

function maintenanceMargin(leg, price, brackets) {
  const n = abs(leg.quantity * price);
  const b = bracketFor(n, brackets);
  return max(0n, ceilDiv(n * b.mmr, RATE_ONE) - b.mma);
}

const initialMargin = (absNotional, leverage) => ceilDiv(absNotional, leverage);

function isolatedLiquidationPrice(leg, brackets) {
  // Price (PRICE atoms, num/den) where margin + q*P - cost = |q|*P*mmr - cum, in the bracket
  // that holds |q|*P; null when no positive price solves it.
  if (leg.quantity === 0n) return null;
  for (const b of brackets) {
    let num = (leg.cost - leg.margin - b.mma) * RATE_ONE;
    let den = leg.quantity * RATE_ONE - abs(leg.quantity) * b.mmr;
    if (den === 0n) continue;
    if (den < 0n) { num = -num; den = -den; }
    if (num <= 0n) continue;
    const notionalNum = abs(leg.quantity) * num; // notional = notionalNum / den
    if (notionalNum < b.floor * den || (b.cap && notionalNum >= b.cap * den)) continue;
    return [num, den];
  }
  return null;
}

// ---- handlers -----------------------------------------------------------------------------

function settingSide(w, action) {
  const mode = w.mode(action.account);
  const side = action.position_side || (mode === ONE_WAY ? BOTH : "");
  if (!sidesFor(mode).includes(side)) {
    reject("POSITION_SIDE_MISMATCH", `position_side: ${action.position_side || "missing"} does not match ${mode} mode`);
  }
  return side;
}

const HANDLERS = {
  deposit(w, a) {
    if (a.amount <= 0n) reject("INVALID_ARGUMENT", "amount: must be positive");
    w.ledger(a.account, "", "", "DEPOSIT", "wallet", a.amount);
  },

  withdraw(w, a) {
    if (a.amount <= 0n) reject("INVALID_ARGUMENT", "amount: must be positive");
    const available = w.available(a.account);
    if (a.amount > available) reject("INSUFFICIENT_BALANCE", `amount exceeds the available balance ${available}`);
    w.ledger(a.account, "", "", "WITHDRAW", "wallet", -a.amount);
  },

  set_position_mode(w, a) {
    if (a.mode !== HEDGE && a.mode !== ONE_WAY) reject("INVALID_ARGUMENT", "mode: must be HEDGE or ONE_WAY");
    if (a.scope !== "*") reject("INVALID_ARGUMENT", `scope: ${JSON.stringify(a.scope)} is not a mode scope (one mode per account: "*")`);
    if (w.mode(a.account) === a.mode) return { kind: "unchanged", message: `${a.mode} is already in force` };
    const account = w.s.accounts[a.account];
    const hasPositions = Object.values(account.legs).some((sides) => Object.values(sides).some((l) => l.quantity));
    const hasOrders = Object.keys(account.orders).length > 0;
    if (hasPositions) reject("MODE_SWITCH_WITH_POSITIONS", "close every position and cancel every order first");
    if (hasOrders) reject("MODE_SWITCH_WITH_OPEN_ORDERS", "close every position and cancel every order first");
    account.modes["*"] = a.mode;
    w.events.push({ type: "mode", account: a.account, scope: "*", mode: a.mode });
    return null;
  },

  set_margin_type(w, a) {
    if (a.margin_type !== ISOLATED && a.margin_type !== CROSS) {
      reject("INVALID_ARGUMENT", "margin_type: must be ISOLATED or CROSS");
    }
    const side = settingSide(w, a);
    const current = w.settings(a.account, a.instrument, side);
    if (current.marginType === a.margin_type) return { kind: "unchanged", message: `${a.margin_type} is already set` };
    if (w.leg(a.account, a.instrument, side).quantity) reject("MARGIN_TYPE_WITH_POSITION", "the leg holds a position");
    if (Object.values(w.s.accounts[a.account].orders).some((o) => o.instrument === a.instrument && o.positionSide === side)) {
      reject("MARGIN_TYPE_WITH_OPEN_ORDERS", "the leg has open orders");
    }
    if (a.margin_type === CROSS) throw new Unsupported("cross-margin: this engine has isolated margin only");
    w.s.accounts[a.account].settings[`${a.instrument}|${side}`] = { ...current, marginType: a.margin_type };
    return null;
  },

  set_leverage(w, a) {
    const inst = w.instruments[a.instrument];
    if (a.leverage < 1n || a.leverage > inst.maxLeverage) reject("INVALID_ARGUMENT", `leverage: must be 1..${inst.maxLeverage}`);
    const side = settingSide(w, a);
    const current = w.settings(a.account, a.instrument, side);
    if (current.leverage === a.leverage) return { kind: "unchanged", message: `leverage ${a.leverage} is already set` };
    const leg = w.leg(a.account, a.instrument, side);
    if (leg.quantity && bracketFor(abs(leg.cost), inst.brackets).maxLeverage < a.leverage) {
      reject("LEVERAGE_EXCEEDS_BRACKET", "the position's bracket allows less leverage");
    }
    w.s.accounts[a.account].settings[`${a.instrument}|${side}`] = { ...current, leverage: a.leverage };
    for (const o of Object.values(w.s.accounts[a.account].orders)) { // opening orders reserve at the new leverage
      if (o.opening && o.instrument === a.instrument && o.positionSide === side) {
        o.marginReserved = initialMargin(abs(o.quantity * o.price), a.leverage);
      }
    }
    if (w.available(a.account) < 0n) reject("INSUFFICIENT_MARGIN", "the account would need more margin than is available");
    return null;
  },

  adjust_margin(w, a) {
    const mode = w.mode(a.account);
    const side = a.position_side || (mode === ONE_WAY ? BOTH : "");
    if (!sidesFor(mode).includes(side)) reject("POSITION_SIDE_MISMATCH", `position_side: ${a.position_side || "missing"} in ${mode} mode`);
    if (a.amount === 0n) reject("INVALID_ARGUMENT", "amount: must not be zero");
    const leg = w.leg(a.account, a.instrument, side);
    const settings = w.settings(a.account, a.instrument, side);
    if (settings.marginType !== ISOLATED || leg.quantity === 0n) {
      reject("INVALID_ARGUMENT", "margin can be adjusted on an open isolated leg only");
    }
    if (a.amount > 0n) {
      if (a.amount > w.available(a.account)) reject("INSUFFICIENT_BALANCE", "amount exceeds the available balance");
    } else {
      const mark = w.s.mark[a.instrument];
      const price = mark !== undefined ? mark : leg.cost / leg.quantity;
      const remaining = leg.margin + a.amount;
      const needed = initialMargin(abs(leg.quantity * price), settings.leverage);
      const balance = remaining + leg.quantity * price - leg.cost;
      if (remaining < 0n || balance < needed) reject("INSUFFICIENT_MARGIN", "the leg would keep less than its initial margin");
    }
    w.transfer(a.account, a.instrument, side, "MARGIN_TRANSFER", "wallet", "isolated_margin", a.amount);
    return null;
  },

  place_order(w, a) {
    const inst = w.instruments[a.instrument];
    const account = w.s.accounts[a.account];
    if (!a.order_id) reject("INVALID_ARGUMENT", "order_id: '' is empty");
    if (Object.prototype.hasOwnProperty.call(account.orders, a.order_id)) {
      reject("DUPLICATE_ORDER_ID", `order_id: ${JSON.stringify(a.order_id)} is in use`);
    }
    if (a.side !== BUY && a.side !== SELL) reject("INVALID_ARGUMENT", "side: must be BUY or SELL");
    if (!ORDER_TYPES.includes(a.order_type)) reject("INVALID_ARGUMENT", `order_type: unknown type ${JSON.stringify(a.order_type)}`);
    if (![ "", BOTH, LONG, SHORT].includes(a.position_side)) reject("INVALID_ARGUMENT", "position_side: unknown side");
    if (CONDITIONAL.includes(a.order_type)) {
      throw new Unsupported(`${a.order_type === "TRAILING_STOP_MARKET" ? "trailing-stops" : "conditional-orders"}: `
        + `this engine has market and limit orders only`);
    }
    if (a.close_position) reject("INVALID_ARGUMENT", "close_position: only stop and take-profit orders may carry it");
    if (a.quantity <= 0n || a.quantity % inst.lot) reject("INVALID_ARGUMENT", "quantity: must be a positive multiple of the lot size");
    if (a.price <= 0n) reject("INVALID_ARGUMENT", "price: must be positive");
    if (a.price % inst.tick) reject("INVALID_ARGUMENT", "price: not a multiple of the tick size");
    if (a.activation_price || a.callback_rate) reject("INVALID_ARGUMENT", "activation_price/callback_rate: trailing stops only");

    const mode = w.mode(a.account);
    let positionSide = a.position_side;
    if (mode === ONE_WAY) {
      if (positionSide === LONG || positionSide === SHORT) reject("POSITION_SIDE_MISMATCH", `position_side ${positionSide} in one-way mode`);
      positionSide = BOTH;
    } else if (positionSide !== LONG && positionSide !== SHORT) {
      reject("POSITION_SIDE_MISMATCH", "hedge mode needs position_side LONG or SHORT");
    }
    const leg = w.leg(a.account, a.instrument, positionSide);
    const signed = a.side === BUY ? a.quantity : -a.quantity;
    let opening;
    if (positionSide === BOTH) {
      opening = !a.reduce_only;
      const reducingDirection = leg.quantity !== 0n && sign(leg.quantity) !== sign(signed);
      if (!opening && !reducingDirection) reject("REDUCE_EXCEEDS_LEG", "a reduce-only order needs an opposite position to reduce");
    } else {
      opening = a.side !== closingSide(positionSide);
      if (opening && a.reduce_only) reject("REDUCE_EXCEEDS_LEG", "a reduce-only order would increase the leg");
    }
    const settings = w.settings(a.account, a.instrument, positionSide);
    let quantity = a.quantity;
    if (!opening) {
      const legSize = abs(leg.quantity);
      if (legSize === 0n) reject("REDUCE_EXCEEDS_LEG", "there is nothing to reduce on this leg");
      let resting = 0n;
      for (const o of Object.values(account.orders)) {
        if (o.instrument === a.instrument && o.positionSide === positionSide && !o.opening && o.orderType === LIMIT) {
          resting += o.quantity;
        }
      }
      const limit = a.order_type === MARKET ? legSize : legSize - resting;
      if (quantity > limit) reject("REDUCE_EXCEEDS_LEG", `quantity exceeds what the leg has left to close (${limit})`);
      if (a.order_type === MARKET) quantity = min(quantity, legSize);
    }
    const price = a.price;
    let margin = 0n;
    if (opening) {
      margin = initialMargin(abs(quantity * price), settings.leverage);
      const newSize = abs(leg.quantity * price) + abs(quantity * price);
      if (bracketFor(newSize, inst.brackets).maxLeverage < settings.leverage) {
        reject("LEVERAGE_EXCEEDS_BRACKET", "the resulting position's bracket allows less leverage");
      }
    }
    const feeReserve = feeOf(quantity, price, max(inst.maker, inst.taker));
    const available = w.available(a.account);
    if (margin + feeReserve > available) reject("INSUFFICIENT_MARGIN", `needs ${margin + feeReserve}, available ${available}`);

    w.s.seq += 1;
    const order = { orderId: a.order_id, instrument: a.instrument, side: a.side, positionSide, orderType: a.order_type,
      quantity, price, reduceOnly: a.reduce_only, seq: w.s.seq, marginReserved: margin, feeReserved: feeReserve, opening };
    if (a.order_type === MARKET) {
      w.execute(a.account, order, quantity, price, "TAKER", "order");
      return null;
    }
    account.orders[order.orderId] = order;
    w.orderEvent(a.account, order.orderId, "NEW", "request", quantity);
    const last = w.s.last[a.instrument];
    if (last !== undefined && crosses(a.side, price, last)) {
      const resting = account.orders[order.orderId];
      w.execute(a.account, resting, resting.quantity, price, "TAKER", "order");
    }
    return null;
  },

  cancel_order(w, a) {
    if (!Object.prototype.hasOwnProperty.call(w.s.accounts[a.account].orders, a.order_id)) {
      reject("UNKNOWN_ORDER", `order_id: no open order ${JSON.stringify(a.order_id)}`);
    }
    w.cancel(a.account, a.order_id, "request");
    return null;
  },

  market_trade(w, a) {
    if (a.price <= 0n) reject("INVALID_ARGUMENT", "price: must be positive");
    if (a.quantity <= 0n || a.quantity % w.instruments[a.instrument].lot) {
      reject("INVALID_ARGUMENT", "quantity: must be a positive multiple of the lot size");
    }
    w.s.last[a.instrument] = a.price;
    w.matchResting(a.instrument, a.price, a.quantity);
    return null;
  },

  mark_price(w, a) {
    // Recorded only: this engine has no liquidation and no conditional orders to trigger.
    if (a.price <= 0n) reject("INVALID_ARGUMENT", "price: must be positive");
    w.s.mark[a.instrument] = a.price;
    return null;
  },

  funding(w, a) {
    // Each open leg pays or receives its own amount -q*mark*rate; an isolated leg's payment is
    // taken from (or credited to) its own margin, one ledger entry per leg.
    const mark = w.s.mark[a.instrument];
    if (mark === undefined) reject("NO_MARK_PRICE", `${a.instrument} has no mark price yet`);
    for (const accountId of Object.keys(w.s.accounts).sort()) {
      const sides = w.s.accounts[accountId].legs[a.instrument] || {};
      for (const side of Object.keys(sides).sort()) {
        const leg = sides[side];
        if (leg.quantity === 0n) continue;
        const amount = -roundHalfAway(leg.quantity * mark * a.rate, RATE_ONE);
        w.events.push({ type: "funding", account: accountId, instrument: a.instrument, position_side: side,
          quantity: fmt(leg.quantity, "qty"), mark_price: fmt(mark, "price"), rate: fmt(a.rate, "rate"),
          amount: fmt(amount, "money") });
        leg.funding += amount;
        const isolated = w.settings(accountId, a.instrument, side).marginType === ISOLATED;
        w.ledger(accountId, a.instrument, side, "FUNDING", isolated ? "isolated_margin" : "wallet", amount);
      }
    }
    return null;
  },

  expire(w, a) {
    if (w.instruments[a.instrument].kind !== "DATED") {
      reject("INVALID_ARGUMENT", `instrument: ${a.instrument} is perpetual and does not expire`);
    }
    throw new Unsupported("expiry: this engine does not settle dated contracts");
  },
};

class Engine {
  constructor(params) {
    const { instruments, state } = newEngine(params);
    this.instruments = instruments;
    this.state = state;
  }

  apply(raw) {
    let action;
    try {
      action = parseAction(raw);
    } catch (exc) {
      if (exc instanceof InputError) return outcome("rejected", "INVALID_ARGUMENT", exc.message, []);
      throw exc;
    }
    if (action.t < this.state.time) {
      return outcome("rejected", "INVALID_ARGUMENT", `t: logical time ${action.t} is before ${this.state.time}`, []);
    }
    if (action.account !== undefined && !Object.prototype.hasOwnProperty.call(this.state.accounts, action.account)) {
      return outcome("rejected", "INVALID_ARGUMENT", `account: unknown account ${JSON.stringify(action.account)}`, []);
    }
    if (action.instrument !== undefined && !Object.prototype.hasOwnProperty.call(this.instruments, action.instrument)) {
      return outcome("rejected", "INVALID_ARGUMENT", `instrument: unknown instrument ${JSON.stringify(action.instrument)}`, []);
    }
    const w = new Step(this.instruments, this.state, action.t);
    let result;
    try {
      result = HANDLERS[action.kind](w, action);
    } catch (exc) {
      if (exc instanceof Rejection) return outcome("rejected", exc.reason, exc.message, []);
      throw exc;
    }
    if (result && result.kind === "unchanged") {
      this.state.time = action.t;
      return outcome("unchanged", null, result.message, []);
    }
    w.s.time = action.t;
    this.state = w.s;
    return outcome("accepted", null, "", w.events);
  }

  snapshot() {
    const s = this.state;
    const accounts = {};
    for (const id of Object.keys(s.accounts).sort()) {
      const account = s.accounts[id];
      const mode = account.modes["*"] || SEED.defaultPositionMode;
      const view = new Step(this.instruments, s, s.time); // read-only helpers
      const positions = {};
      for (const symbol of Object.keys(this.instruments).sort()) {
        const inst = this.instruments[symbol], mark = s.mark[symbol];
        positions[symbol] = {};
        for (const side of sidesFor(mode)) {
          const leg = view.leg(id, symbol, side);
          const settings = view.settings(id, symbol, side);
          const liquidation = leg.quantity ? isolatedLiquidationPrice(leg, inst.brackets) : null;
          positions[symbol][side] = {
            quantity: fmt(leg.quantity, "qty"),
            cost_basis: fmt(leg.cost, "money"),
            entry_price: leg.quantity ? fmtRatioPrice(leg.cost, leg.quantity) : null,
            margin_type: settings.marginType,
            leverage: settings.leverage.toString(),
            isolated_margin: fmt(leg.margin, "money"),
            realized_pnl: fmt(leg.realized, "money"),
            fees_paid: fmt(leg.fees, "money"),
            funding: fmt(leg.funding, "money"),
            unrealized_pnl: mark !== undefined ? fmt(leg.quantity * mark - leg.cost, "money") : null,
            maintenance_margin: mark !== undefined ? fmt(maintenanceMargin(leg, mark, inst.brackets), "money") : null,
            liquidation_price: liquidation ? fmtRatioPrice(liquidation[0], liquidation[1]) : null,
          };
        }
      }
      const openOrders = {};
      for (const oid of Object.keys(account.orders).sort()) {
        const o = account.orders[oid];
        openOrders[oid] = {
          instrument: o.instrument, side: o.side, position_side: o.positionSide, order_type: o.orderType,
          quantity: fmt(o.quantity, "qty"), price: fmt(o.price, "price"), stop_price: "0", activation_price: "0",
          callback_rate: "0", reduce_only: o.reduceOnly, close_position: false, trailing_extreme: null,
          arrival: String(o.seq),
        };
      }
      accounts[id] = {
        wallet: fmt(account.wallet, "money"),
        available_balance: fmt(view.available(id), "money"),
        order_margin: fmt(view.orderMargin(id), "money"),
        position_mode: { "*": mode },
        positions,
        open_orders: openOrders,
      };
    }
    const prices = (m) => Object.fromEntries(Object.keys(m).sort().map((k) => [k, fmt(m[k], "price")]));
    return {
      snapshot_version: "1", time: s.time, accounts, mark_prices: prices(s.mark), last_prices: prices(s.last),
      insurance_fund: fmt(s.insurance, "money"), expired: [],
    };
  }
}

function outcome(kind, reason, message, events) {
  return { kind, reason, message, events };
}

// ---- the protocol -------------------------------------------------------------------------

let engine = null;

function handle(request) {
  switch (request.op) {
    case "hello":
      if (request.protocol !== PROTOCOL) {
        throw new Error(`protocol ${JSON.stringify(request.protocol)} not spoken (this engine speaks ${PROTOCOL})`);
      }
      return { protocol: PROTOCOL, name: NAME, capabilities: CAPABILITIES };
    case "reset":
      engine = null;
      engine = new Engine(request.params);
      return null;
    case "apply":
      if (!engine) throw new Error("apply before reset");
      return engine.apply(request.action);
    case "snapshot":
      if (!engine) throw new Error("snapshot before reset");
      return engine.snapshot();
    case "close":
      engine = null;
      return null;
    default:
      throw new Error(`unknown op ${JSON.stringify(request.op)}`);
  }
}

function reply(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function onLine(line) {
  if (!line.trim()) return;
  let request;
  try {
    request = JSON.parse(line);
  } catch (exc) {
    reply({ id: null, ok: false, error: { message: `not JSON: ${exc.message}` } });
    return;
  }
  const id = isObject(request) && "id" in request ? request.id : null;
  try {
    if (!isObject(request)) throw new Error("a request is a JSON object");
    const result = handle(request);
    reply({ id, ok: true, result });
    if (request.op === "close") process.exit(0);
  } catch (exc) {
    const prefix = exc instanceof Unsupported ? "unsupported: " : exc instanceof InputError ? "invalid: " : "";
    if (!(exc instanceof Unsupported || exc instanceof InputError)) process.stderr.write(`${exc.stack}\n`);
    reply({ id, ok: false, error: { message: prefix + exc.message } });
  }
}

if (require.main === module) {
  const readline = require("readline");
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  rl.on("line", onLine);
  rl.on("close", () => process.exit(0));
  process.stderr.write(`${NAME}: ready (${PROTOCOL})\n`);
}

module.exports = { Engine, parseUnits, fmt };
