"""One zone's order book: the state a zone's partition owns. Nothing in it refers to another zone.

Each side keeps its price levels in a dict by key and the keys in a sorted list with the best level last, so the
best level is `levels[keys[-1]]` and an exhausted best level leaves with `keys.pop()`. Bids are keyed by price,
asks by -price. A level is a FIFO of orders (time priority) with its live quantity and count.

Cancels are lazy: a cancelled order is zeroed where it stands and skipped when it reaches the front of its
level, unless it sits at either end of the FIFO, where it is dropped at once. A level that loses its last live
order leaves the book with everything still queued in it, and a level whose FIFO is mostly dead is compacted,
so dead entries never outnumber live ones by much.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from typing import NamedTuple

from trading.orders import BUY, SELL, Order


class Level:
    __slots__ = ("price", "orders", "quantity", "count")

    def __init__(self, price: int):
        self.price = price
        self.orders: deque[Order] = deque()
        self.quantity = 0
        self.count = 0


NO_ASK = 1 << 62  # the best ask of an empty side: above any price
NO_BID = -1  # the best bid of an empty side: below any price


class BookSide:
    """`best_price` is the best level's price, or NO_BID / NO_ASK when the side is empty, so that the engine
    tests whether an order crosses with one comparison."""

    __slots__ = ("side", "levels", "keys", "sign", "best_price", "empty_price")

    def __init__(self, side: str):
        self.side = side
        self.levels: dict[int, Level] = {}
        self.keys: list[int] = []
        self.sign = 1 if side == BUY else -1
        self.best_price = self.empty_price = NO_BID if side == BUY else NO_ASK

    def open_level(self, key: int, price: int) -> Level:
        level = self.levels[key] = Level(price)
        keys = self.keys
        if not keys or key > keys[-1]:
            keys.append(key)
            self.best_price = price
        else:
            insort(keys, key)
        return level

    def drop(self, level: Level) -> None:
        """Remove an empty level."""
        key = level.price * self.sign
        del self.levels[key]
        keys = self.keys
        if keys[-1] == key:
            keys.pop()
            self.best_price = self.levels[keys[-1]].price if keys else self.empty_price
        else:
            del keys[bisect_left(keys, key)]

    def clear(self) -> None:
        self.levels.clear()
        self.keys.clear()
        self.best_price = self.empty_price

    def unlink(self, order: Order, level: Level) -> None:
        """Take a live order out of `level`, lazily; the caller has zeroed `order.remaining`."""
        level.count -= 1
        if not level.count:
            self.drop(level)
            return
        orders = level.orders
        if orders[-1] is order:
            orders.pop()
        elif orders[0] is order:
            orders.popleft()
        elif len(orders) > 2 * level.count + 16:
            level.orders = deque(o for o in orders if o.remaining)

    def best(self) -> Level | None:
        return self.levels[self.keys[-1]] if self.keys else None

    def depth(self, limit: int | None = None) -> list[tuple[int, int]]:
        """(price, quantity) per level, best first."""
        keys = self.keys[::-1] if limit is None else self.keys[: -limit - 1 : -1]
        levels = self.levels
        return [(levels[k].price, levels[k].quantity) for k in keys]

    def live_orders(self):
        """Every live order on this side, best price first, then time."""
        for key in reversed(self.keys):
            for order in self.levels[key].orders:
                if order.remaining:
                    yield order


class Snapshot(NamedTuple):
    zone: int
    seq: int  # the sequence number of the last BookDelta this snapshot includes
    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]


class ZoneBook:
    """Both sides of one zone's book and its BookDelta sequence."""

    __slots__ = ("zone", "bids", "asks", "seq")

    def __init__(self, zone: int):
        self.zone = zone
        self.bids = BookSide(BUY)
        self.asks = BookSide(SELL)
        self.seq = 0

    def snapshot(self, depth: int | None = None) -> Snapshot:
        return Snapshot(self.zone, self.seq, self.bids.depth(depth), self.asks.depth(depth))
