"""Hand-made books for the engine's tests: a market that numbers orders and keeps the clock, and readers for the
events it returns."""

from __future__ import annotations

from decimal import Decimal

from trading.engine import Engine
from trading.events import BOOK, CANCELLED, EXPIRED, RESTED, TRADE, named
from trading.orders import BUY, SELL, Order
from trading.params import MarketParams
from trading.tariffs import KWH, THB

NOW = 1_767_225_600_000


def kwh(amount) -> int:
    return int(Decimal(str(amount)) * KWH)


def thb(amount) -> int:
    return int(Decimal(str(amount)) * THB)


class Market:
    """An engine plus an order-id counter and a clock: `sell("alice", 2, 4.50)` places 2 kWh at 4.50 THB/kWh."""

    def __init__(self, zones: int = 5, params: MarketParams | None = None, now: int = NOW):
        self.engine = Engine(zones, params)
        self.now = now
        self.next_id = 1
        self.log: list = []

    def order(self, side: str, owner, quantity, price, *, zone: int = 0, **extra) -> Order:
        order = Order(id=self.next_id, owner=owner, side=side, zone=zone, quantity=kwh(quantity), price=thb(price),
                      **extra)
        self.next_id += 1
        return order

    def place(self, order: Order) -> list:
        events = self.engine.submit(order, self.now)
        self.log.extend(events)
        return events

    def sell(self, owner, quantity, price, **extra) -> list:
        return self.place(self.order(SELL, owner, quantity, price, **extra))

    def buy(self, owner, quantity, price, **extra) -> list:
        return self.place(self.order(BUY, owner, quantity, price, **extra))

    def cancel(self, order_id: int) -> list:
        events = self.engine.cancel(order_id, self.now)
        self.log.extend(events)
        return events


def trades(events) -> list:
    return [named(e) for e in events if e[0] is TRADE]


def fills(events) -> list[tuple[int, int, int]]:
    """(buy order id, sell order id, quantity) per trade."""
    return [(t.buy_order_id, t.sell_order_id, t.quantity) for t in trades(events)]


def cancels(events) -> list[tuple[int, int, str]]:
    """(order id, quantity, reason) per cancel, with reason "expired" for an expiry."""
    return [(e[1], e[4], e[5] if e[0] is CANCELLED else "expired") for e in events if e[0] in (CANCELLED, EXPIRED)]


def rested(events) -> list[tuple[int, int]]:
    return [(e[1], e[5]) for e in events if e[0] is RESTED]


def deltas(events) -> list:
    return [named(e) for e in events if e[0] is BOOK]
