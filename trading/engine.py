"""The continuous double auction: pure and deterministic. No I/O, no clock, no database; integers only.

The caller (the trading services) assigns order ids in arrival order, passes `now` (milliseconds) with every
call, and persists and streams the events each call returns (`trading.events`). The same calls on a fresh engine
return the same events, so the event log can be replayed.

Rules
- Price-time priority per zone. A buy's `price` is the most it pays per kWh delivered, by landed cost; a sell's
  is the least it takes per kWh sent. A buy and an ask in zone s cross when landed_cost(ask, s -> buy's zone) is
  at most the buy's limit (`trading.tariffs`: wheeling plus the cost of transmission losses; the same-zone
  tariff applies inside a zone too). A fill is priced at the resting order's price: a resting ask's own price,
  or for a resting bid the highest ask price whose landed cost fits its limit (`ask_ceiling`).
- Cross-zone: a buy with `cross_zone` set, when it arrives, takes asks from every zone, cheapest landed cost
  first; equal landed costs go to the nearer zone, then the lower zone index; within a zone, time priority.
  Its remainder rests in its own zone only, and a resting bid trades only with sells of its own zone, so every
  resting order belongs to exactly one zone's book (see docs/MATCHING.md, Partitioning).
- Minimum trade: every fill is at least `min_trade`. An order's remainder that falls below it can never trade
  and is cancelled at once (`below_min_trade`).
- Self-trade prevention, cancel-resting: an arriving order that reaches a resting order of the same owner
  cancels that resting order (`self_trade`) and keeps matching.
- Time in force: GTC rests its remainder; IOC cancels it (`ioc_remainder`); FOK first walks the book without
  touching it and, unless it can fill completely, is cancelled (`fok_unfillable`) with nothing else changed.
  A market order is a buy with a price cap; it never rests. Market sells are refused.
- Expiry: an order expires when `now >= expires_at`. A resting order found expired while matching is removed
  (`Expired`), and `expire(now)` removes every expired order.
- Cancel by id is idempotent: an order that is not resting (unknown, filled, cancelled, expired) is left alone.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush, heapreplace, merge

from trading.book import BookSide, Level, Snapshot, ZoneBook
from trading.events import ACCEPTED, BOOK, CANCELLED, EXPIRED, RESTED, TRADE, Trade
from trading.orders import BUY, FOK, GTC, IOC, LIMIT, SELL, Order, OrderRejected, order_check
from trading.params import MarketParams
from trading.tariffs import BPS, KWH, Tariff


class Engine:
    def __init__(self, zones: int, params: MarketParams | None = None):
        if zones < 1:
            raise ValueError("a market has at least one zone")
        self.zones = zones
        self.books = [ZoneBook(z) for z in range(zones)]
        self.trades = 0  # the last trade id
        self._open: dict[int, Order] = {}
        self._last_id = -(1 << 63)
        # Resting orders by the second by which they expire (expires_at rounded up to a whole second), and a heap
        # of those seconds. An entry stays when its order fills or is cancelled (remaining 0), to be skipped.
        self._expiries: dict[int, list[Order]] = {}
        self._expiry_seconds: list[int] = []
        self._configure(params or MarketParams())

    def _configure(self, params: MarketParams) -> None:
        self.params = params
        self._min_trade = params.min_trade
        self._min_price, self._max_price, self._max_life = params.min_price, params.max_price, params.max_life_ms
        matrix = params.tariffs.matrix(self.zones)
        self.tariffs = matrix  # [seller zone][buyer zone]
        # Per buyer zone, the zones it may buy from in tie-break order (nearest, then lowest index), each with the
        # tariff's two numbers unpacked for the hot path.
        self._sources = [
            tuple((self.books[s], matrix[s][z], matrix[s][z].wheeling, BPS - matrix[s][z].loss_bps)
                  for s in sorted(range(self.zones), key=lambda s, z=z: (abs(s - z), s)))
            for z in range(self.zones)]
        self._local = [sources[0] for sources in self._sources]
        self._scans = [tuple((book.asks, wheeling, keep, rank)
                             for rank, (book, _, wheeling, keep) in enumerate(sources))
                       for sources in self._sources]

    # -- public interface ---------------------------------------------------------------------------------------

    def submit(self, order: Order, now: int) -> list:
        """Match `order` and rest, cancel or finish it. Raises OrderRejected, with nothing changed, for an
        order that breaks a rule (see `trading.orders.order_check`) or whose id is not above the last one."""
        o = order
        if o.id <= self._last_id:
            raise OrderRejected("order_id_not_increasing", f"order ids increase with arrival; {o.id} is not above "
                                                           f"{self._last_id}")
        # The common shape passes these checks inline; anything else gets order_check's verdict.
        expires_at = o.expires_at
        if (o.kind is not LIMIT or (o.side is not BUY and o.side is not SELL)
                or (o.tif is not GTC and o.tif is not IOC and o.tif is not FOK)
                or expires_at is None or not now < expires_at <= now + self._max_life
                or not self._min_price <= o.price <= self._max_price or o.quantity < self._min_trade
                or not 0 <= o.zone < self.zones or (o.cross_zone and o.side is SELL)):
            order_check(o, now=now, params=self.params, zones=self.zones)
        self._last_id = o.id
        o.remaining = o.quantity
        o.filled = 0
        events = [(ACCEPTED, o.id, o.owner, o.zone, o.side, o.kind, o.tif, o.price, o.quantity, o.expires_at,
                   o.cross_zone)]
        if o.tif is FOK and not self._fillable(o, now):
            o.remaining = 0
            events.append((CANCELLED, o.id, o.zone, o.side, o.quantity, "fok_unfillable"))
            return events
        book, _, wheeling, keep = self._local[o.zone]
        # Whether the order crosses is checked here, so an order that only rests costs no further call.
        if o.side is BUY:
            if o.cross_zone:
                self._buy_cross(o, now, events)
            elif book.asks.best_price <= (o.price - wheeling) * keep // BPS:
                self._buy_local(o, now, events)
        elif book.bids.best_price >= wheeling - (-o.price * BPS // keep):
            self._sell_local(o, now, events)
        rem = o.remaining
        if rem:
            if rem < self._min_trade:
                self._finish(o, events, "below_min_trade")
            elif o.tif is GTC:
                self._rest(o, events)
            else:
                assert o.tif is not FOK, "a fillable FOK order did not fill"
                self._finish(o, events, "ioc_remainder")
        return events

    def cancel(self, order_id: int, now: int) -> list:
        """Cancel a resting order: `Cancelled` with the remainder to refund (or `Expired` if it already had)."""
        o = self._open.get(order_id)
        if o is None:
            return []
        events: list = []
        self._remove(o, events, None if o.expires_at <= now else "requested")
        return events

    def expire(self, now: int) -> list:
        """Remove every resting order that has expired by `now`, in order of the second it expired by, then of
        its arrival in the book."""
        events: list = []
        seconds, wheel = self._expiry_seconds, self._expiries
        while seconds and seconds[0] * 1000 <= now:
            for o in wheel.pop(heappop(seconds)):
                if o.remaining:
                    self._remove(o, events, None)
        if seconds and seconds[0] * 1000 - 1000 < now:  # some of the next second's orders may be due already
            due = [o for o in wheel[seconds[0]] if o.expires_at <= now]
            if due:
                wheel[seconds[0]] = [o for o in wheel[seconds[0]] if o.expires_at > now]
                for o in due:
                    if o.remaining:
                        self._remove(o, events, None)
        return events

    def preview(self, order: Order, now: int) -> list[Trade]:
        """The fills `order` would get now, without changing anything (trade_id 0). The quote a user sees; the
        same walk decides whether a FOK order can fill. Expired resting orders and the owner's own are skipped,
        as matching would remove them."""
        fills = []
        o = order
        need, min_trade = o.quantity, self._min_trade
        for book, tariff, level, price, landed in self._walk(o):
            for m in level.orders:
                mrem = m.remaining
                if not mrem or m.expires_at <= now or m.owner == o.owner:
                    continue
                f = need if need < mrem else mrem
                need -= f
                fills.append(self._trade(0, o, m, book.zone, tariff, f, price, landed, need, mrem - f))
                if need < min_trade:
                    return fills
        return fills

    def order(self, order_id: int) -> Order | None:
        """A resting order by id."""
        return self._open.get(order_id)

    @property
    def resting(self) -> int:
        """How many orders rest in the books."""
        return len(self._open)

    def snapshot(self, zone: int, depth: int | None = None) -> Snapshot:
        return self.books[zone].snapshot(depth)

    def set_params(self, params: MarketParams, now: int) -> list:
        """Apply new market parameters to every later match. A zone whose book the new tariffs leave crossed is
        rebuilt by re-entering its resting orders in time order; the events are its trades, cancels and expiries
        and the BookDeltas from the old book to the new one."""
        self._configure(params)
        events: list = []
        for book in self.books:
            bid, ask = book.bids.best(), book.asks.best()
            if bid is not None and ask is not None:
                _, tariff, wheeling, keep = self._local[book.zone]
                if bid.price >= wheeling - (-ask.price * BPS // keep):
                    self._rebuild(book, now, events)
        return events

    # -- matching -----------------------------------------------------------------------------------------------

    def _buy_local(self, o: Order, now: int, events: list) -> None:
        book, tariff, wheeling, keep = self._local[o.zone]
        asks = book.asks
        keys, levels = asks.keys, asks.levels
        ceiling = (o.price - wheeling) * keep // BPS
        min_trade = self._min_trade
        while keys and o.remaining >= min_trade:
            level = levels[keys[-1]]
            price = level.price
            if price > ceiling:
                return
            self._take(o, level, asks, book, tariff, price, wheeling - (-price * BPS // keep), now, events)

    def _buy_cross(self, o: Order, now: int, events: list) -> None:
        # Other zones' books do not change while this order matches, so each zone's best ask is priced once, and
        # again only after the order has taken from that zone.
        limit = o.price
        candidates = []
        for asks, wheeling, keep, rank in self._scans[o.zone]:
            landed = wheeling - (-asks.best_price * BPS // keep)
            if landed <= limit:
                candidates.append((landed, rank))
        if not candidates:
            return
        heapify(candidates)
        sources = self._sources[o.zone]
        min_trade = self._min_trade
        while o.remaining >= min_trade:
            landed, rank = candidates[0]
            book, tariff, wheeling, keep = sources[rank]
            asks = book.asks
            level = asks.levels[asks.keys[-1]]
            self._take(o, level, asks, book, tariff, level.price, landed, now, events)
            landed = wheeling - (-asks.best_price * BPS // keep)
            if landed <= limit:
                heapreplace(candidates, (landed, rank))
                continue
            heappop(candidates)
            if not candidates:
                return

    def _sell_local(self, o: Order, now: int, events: list) -> None:
        book, tariff, wheeling, keep = self._local[o.zone]
        bids = book.bids
        keys, levels = bids.keys, bids.levels
        floor = wheeling - (-o.price * BPS // keep)  # the lowest bid that pays this ask's landed cost
        min_trade = self._min_trade
        while keys and o.remaining >= min_trade:
            level = levels[keys[-1]]
            if level.price < floor:
                return
            price = (level.price - wheeling) * keep // BPS
            self._take(o, level, bids, book, tariff, price, wheeling - (-price * BPS // keep), now, events)

    def _take(self, taker: Order, level: Level, side: BookSide, book: ZoneBook, tariff: Tariff, price: int,
              landed: int, now: int, events: list) -> None:
        """Fill `taker` from `level` at `price` until one of them is exhausted."""
        orders = level.orders
        rem = start = taker.remaining
        before = level.quantity
        owner = taker.owner
        min_trade = self._min_trade
        wheeling, keep = tariff.wheeling, BPS - tariff.loss_bps
        trade_id = self.trades
        append = events.append
        taker_buys = taker.side is BUY
        while rem >= min_trade and level.count:
            m = orders[0]
            mrem = m.remaining
            if not mrem:
                orders.popleft()
                continue
            if m.expires_at <= now or m.owner == owner:
                orders.popleft()
                level.count -= 1
                level.quantity -= mrem
                m.remaining = 0
                del self._open[m.id]
                if m.expires_at > now:
                    append((CANCELLED, m.id, m.zone, m.side, mrem, "self_trade"))
                else:
                    append((EXPIRED, m.id, m.zone, m.side, mrem))
                continue
            f = rem if rem < mrem else mrem
            rem -= f
            mrem -= f
            m.filled += f
            level.quantity -= f
            effective = f * keep // BPS
            value = f * price // KWH
            trade_id += 1
            if taker_buys:
                append((TRADE, trade_id, BUY, taker.id, m.id, owner, m.owner, taker.zone, book.zone, f, effective,
                        f - effective, price, value, effective * wheeling // KWH, value - effective * price // KWH,
                        landed, rem, mrem))
            else:
                append((TRADE, trade_id, SELL, m.id, taker.id, m.owner, owner, book.zone, taker.zone, f, effective,
                        f - effective, price, value, effective * wheeling // KWH, value - effective * price // KWH,
                        landed, mrem, rem))
            if mrem >= min_trade:
                m.remaining = mrem
                continue
            orders.popleft()
            level.count -= 1
            del self._open[m.id]
            m.remaining = 0
            if mrem:
                level.quantity -= mrem
                append((CANCELLED, m.id, m.zone, m.side, mrem, "below_min_trade"))
        self.trades = trade_id
        taker.remaining = rem
        taker.filled += start - rem
        if not level.count:
            side.drop(level)
        if level.quantity != before:
            book.seq += 1
            append((BOOK, book.zone, book.seq, side.side, level.price, level.quantity))

    def _trade(self, trade_id: int, taker: Order, maker: Order, maker_zone: int, tariff: Tariff, f: int, price: int,
               landed: int, taker_rem: int, maker_rem: int) -> Trade:
        effective = f * (BPS - tariff.loss_bps) // BPS
        value = f * price // KWH
        amounts = (f, effective, f - effective, price, value, effective * tariff.wheeling // KWH,
                   value - effective * price // KWH, landed)
        if taker.side is BUY:
            return Trade(TRADE, trade_id, BUY, taker.id, maker.id, taker.owner, maker.owner, taker.zone, maker_zone,
                         *amounts, taker_rem, maker_rem)
        return Trade(TRADE, trade_id, SELL, maker.id, taker.id, maker.owner, taker.owner, maker_zone, taker.zone,
                     *amounts, maker_rem, taker_rem)

    def _walk(self, o: Order):
        """(book, tariff, level, price, landed) in the order matching visits them, without changing anything."""
        if o.side == SELL:
            book, tariff, wheeling, keep = self._local[o.zone]
            floor = wheeling - (-o.price * BPS // keep)
            levels = book.bids.levels
            for key in reversed(book.bids.keys):
                level = levels[key]
                if level.price < floor:
                    return
                price = (level.price - wheeling) * keep // BPS
                yield book, tariff, level, price, wheeling - (-price * BPS // keep)
            return
        if not o.cross_zone:
            for landed, _, book, tariff, level in _ask_levels(o.price, 0, *self._local[o.zone]):
                yield book, tariff, level, level.price, landed
            return
        # (landed, rank) is unique: landed cost rises strictly with price within a zone.
        for landed, _, book, tariff, level in merge(*(_ask_levels(o.price, rank, *source)
                                                      for rank, source in enumerate(self._sources[o.zone]))):
            yield book, tariff, level, level.price, landed

    def _fillable(self, o: Order, now: int) -> bool:
        need, min_trade = o.quantity, self._min_trade
        for _, _, level, _, _ in self._walk(o):
            for m in level.orders:
                mrem = m.remaining
                if not mrem or m.expires_at <= now or m.owner == o.owner:
                    continue
                need -= need if need < mrem else mrem
                if need < min_trade:
                    return not need
        return False

    # -- resting orders -----------------------------------------------------------------------------------------

    def _rest(self, o: Order, events: list) -> None:
        book = self.books[o.zone]
        if o.side is BUY:
            side, key = book.bids, o.price
        else:
            side, key = book.asks, -o.price
        level = side.levels.get(key)
        if level is None:
            level = side.open_level(key, o.price)
        level.orders.append(o)
        level.quantity += o.remaining
        level.count += 1
        self._open[o.id] = o
        second = -(-o.expires_at // 1000)
        bucket = self._expiries.get(second)
        if bucket is None:
            self._expiries[second] = [o]
            heappush(self._expiry_seconds, second)
        else:
            bucket.append(o)
        events.append((RESTED, o.id, o.zone, o.side, o.price, o.remaining))
        book.seq += 1
        events.append((BOOK, o.zone, book.seq, o.side, o.price, level.quantity))

    def _finish(self, o: Order, events: list, reason: str) -> None:
        """Cancel the remainder of an order that is not resting."""
        events.append((CANCELLED, o.id, o.zone, o.side, o.remaining, reason))
        o.remaining = 0

    def _remove(self, o: Order, events: list, reason: str | None) -> None:
        """Take a resting order out of the book: Cancelled for `reason`, or Expired when reason is None."""
        book = self.books[o.zone]
        side = book.bids if o.side is BUY else book.asks
        level = side.levels[o.price * side.sign]
        rem = o.remaining
        o.remaining = 0
        del self._open[o.id]
        level.quantity -= rem
        side.unlink(o, level)
        if reason is None:
            events.append((EXPIRED, o.id, o.zone, o.side, rem))
        else:
            events.append((CANCELLED, o.id, o.zone, o.side, rem, reason))
        book.seq += 1
        events.append((BOOK, o.zone, book.seq, o.side, o.price, level.quantity))

    def _rebuild(self, book: ZoneBook, now: int, events: list) -> None:
        before = {(side.side, price): qty for side in (book.bids, book.asks) for price, qty in side.depth()}
        orders = sorted((*book.bids.live_orders(), *book.asks.live_orders()), key=lambda o: o.id)
        for o in orders:
            del self._open[o.id]
        book.bids.clear()
        book.asks.clear()
        seq = book.seq
        scratch: list = []
        for o in orders:
            if o.expires_at <= now:
                scratch.append((EXPIRED, o.id, o.zone, o.side, o.remaining))
                o.remaining = 0
                continue
            (self._buy_local if o.side is BUY else self._sell_local)(o, now, scratch)
            if o.remaining >= self._min_trade:
                self._rest(o, scratch)
            elif o.remaining:
                self._finish(o, scratch, "below_min_trade")
        events.extend(e for e in scratch if e[0] is not BOOK and e[0] is not RESTED)
        book.seq = seq
        after = {(side.side, price): qty for side in (book.bids, book.asks) for price, qty in side.depth()}
        for side, price in sorted(before.keys() | after.keys()):
            quantity = after.get((side, price), 0)
            if before.get((side, price), 0) != quantity:
                book.seq += 1
                events.append((BOOK, book.zone, book.seq, side, price, quantity))


def _ask_levels(limit: int, rank: int, book: ZoneBook, tariff: Tariff, wheeling: int, keep: int):
    """(landed, rank, book, tariff, level) for the asks of `book` a buyer with `limit` can take, cheapest first."""
    ceiling = (limit - wheeling) * keep // BPS
    levels = book.asks.levels
    for key in reversed(book.asks.keys):
        level = levels[key]
        if level.price > ceiling:
            return
        yield wheeling - (-level.price * BPS // keep), rank, book, tariff, level
