"""A slow, plainly written model of the matching rules, to check the engine against on random order flows.

Every step scans every resting order for the best counterparty by the rule as stated in trading/engine.py:
for a buy, (landed cost, zone distance, zone index, time) over the zones it may buy from; for a sell, (bid
limit descending, time) in its zone. A FOK order runs on a copy of the model and is kept only if it filled.
It returns the trades, cancels and expiries the engine must return (not the book deltas or accepted/rested).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from trading.events import CANCELLED, EXPIRED, TRADE, Cancelled, Expired, Trade
from trading.orders import BUY, FOK, GTC, Order
from trading.params import MarketParams
from trading.tariffs import ask_ceiling, landed_cost, trade_amounts


@dataclass
class Resting:
    id: int
    owner: object
    side: str
    zone: int
    price: int
    remaining: int
    expires_at: int
    cross_zone: bool = False


class Reference:
    def __init__(self, zones: int, params: MarketParams):
        self.zones = zones
        self.params = params
        self.matrix = params.tariffs.matrix(zones)
        self.resting: dict[int, Resting] = {}
        self.trades = 0

    def submit(self, order: Order, now: int) -> list:
        o = order
        taker = Resting(o.id, o.owner, o.side, o.zone, o.price, o.quantity,
                        o.expires_at if o.expires_at is not None else now + self.params.default_life_ms, o.cross_zone)
        if o.tif is FOK:
            trial = copy.deepcopy(self)
            events = trial._match(taker, now)
            if taker.remaining:
                return [Cancelled(CANCELLED, o.id, o.zone, o.side, o.quantity, "fok_unfillable")]
            self.__dict__ = trial.__dict__
            return events
        events = self._match(taker, now)
        if taker.remaining:
            if taker.remaining < self.params.min_trade:
                events.append(Cancelled(CANCELLED, o.id, o.zone, o.side, taker.remaining, "below_min_trade"))
            elif o.tif is GTC:
                self.resting[o.id] = taker
            else:
                events.append(Cancelled(CANCELLED, o.id, o.zone, o.side, taker.remaining, "ioc_remainder"))
        return events

    def cancel(self, order_id: int, now: int) -> list:
        r = self.resting.pop(order_id, None)
        if r is None:
            return []
        if r.expires_at <= now:
            return [Expired(EXPIRED, r.id, r.zone, r.side, r.remaining)]
        return [Cancelled(CANCELLED, r.id, r.zone, r.side, r.remaining, "requested")]

    def expire(self, now: int) -> list:
        due = [r for r in self.resting.values() if r.expires_at <= now]
        for r in due:
            del self.resting[r.id]
        return [Expired(EXPIRED, r.id, r.zone, r.side, r.remaining) for r in due]

    def _best(self, taker: Resting):
        best = None
        for r in self.resting.values():
            if r.side == taker.side:
                continue
            if taker.side == BUY:
                if r.zone != taker.zone and not taker.cross_zone:
                    continue
                tariff = self.matrix[r.zone][taker.zone]
                landed = landed_cost(r.price, tariff)
                if landed > taker.price:
                    continue
                key, price = (landed, abs(r.zone - taker.zone), r.zone, r.id), r.price
            else:
                if r.zone != taker.zone:
                    continue
                tariff = self.matrix[r.zone][r.zone]
                if r.price < landed_cost(taker.price, tariff):
                    continue
                key, price = (-r.price, r.id), ask_ceiling(r.price, tariff)
            if best is None or key < best[0]:
                best = key, r, price, tariff
        return best

    def _match(self, taker: Resting, now: int) -> list:
        events = []
        min_trade = self.params.min_trade
        while taker.remaining >= min_trade:
            best = self._best(taker)
            if best is None:
                break
            _, r, price, tariff = best
            if r.expires_at <= now:
                del self.resting[r.id]
                events.append(Expired(EXPIRED, r.id, r.zone, r.side, r.remaining))
                continue
            if r.owner == taker.owner:
                del self.resting[r.id]
                events.append(Cancelled(CANCELLED, r.id, r.zone, r.side, r.remaining, "self_trade"))
                continue
            f = min(taker.remaining, r.remaining)
            taker.remaining -= f
            r.remaining -= f
            buy, sell = (taker, r) if taker.side == BUY else (r, taker)
            a = trade_amounts(f, price, tariff)
            self.trades += 1
            events.append(Trade(TRADE, self.trades, taker.side, buy.id, sell.id, buy.owner, sell.owner, buy.zone,
                                sell.zone, f, a.effective, a.loss, price, a.value, a.wheeling, a.loss_value,
                                landed_cost(price, tariff), buy.remaining, sell.remaining))
            if r.remaining < min_trade:
                del self.resting[r.id]
                if r.remaining:
                    events.append(Cancelled(CANCELLED, r.id, r.zone, r.side, r.remaining, "below_min_trade"))
        return events

