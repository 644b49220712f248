"""The periodic uniform-price auction (pay-as-clear) of one zone over one interval: a pure function of the orders
collected for it. No I/O; integers only.

Clearing rule
1. Both sides are put in one price space, the seller's price per kWh sent: a bid (a limit on landed cost) counts
   at its ask ceiling under the zone's own tariff, the highest ask price whose landed cost fits its limit
   (`trading.tariffs.ask_ceiling`).
2. Bids are ranked by ceiling, highest first, then by limit, highest first, then by time (order id); asks by
   price, lowest first, then by time.
3. Walking both rankings from the top, the best remaining bid and ask are paired for min(their remainders) while
   the bid's ceiling is at least the ask's price. A pair of orders of the same owner is not formed: the later of
   the two leaves the auction (`self_trade`). An order whose remainder falls below the minimum trade leaves it
   (`below_min_trade`, when not zero).
4. The last pair formed is the marginal bid and ask. The clearing price is their midpoint,
   (marginal bid ceiling + marginal ask price) // 2, rounded down to the base unit. Every paired bid's ceiling is
   at least the marginal bid's and every paired ask's price at most the marginal ask's, so every pair trades at
   that one price without exceeding either side's limit; and since the walk stops only where the next bid is
   below the next ask, the paired volume is the most that can trade at any single price.
5. Every pair settles at the clearing price, with the trade amounts of `trading.tariffs.trade_amounts`.

Time in force does not apply: the auction takes GTC and IOC orders alike and returns what each filled; the caller
cancels or keeps the remainders. FOK is refused, since all-or-nothing orders can make the volume non-monotone in
price. A market buy counts as a bid at its price cap. Orders expired at `now` are left out. `cross_zone` has no
effect: the auction clears one zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from trading.events import CANCELLED, EXPIRED, TRADE, Cancelled, Expired, Trade
from trading.orders import BUY, FOK, Order, OrderRejected, order_check
from trading.params import MarketParams
from trading.tariffs import ask_ceiling, landed_cost, trade_amounts

AUCTION = "auction"  # the Trade.taker of an auction trade: neither side arrived last


class AuctionResult(NamedTuple):
    zone: int
    price: int | None  # the clearing price per kWh sent, None when no bid meets an ask
    volume: int  # GXT base units traded
    trades: list[Trade]
    cancelled: list[Cancelled | Expired]  # orders that left the auction without filling completely for a rule
    filled: dict[int, int]  # order id -> quantity filled, for every order that took part


def clear_auction(orders: Iterable[Order], *, zone: int, zones: int, now: int, params: MarketParams,
                  first_trade_id: int = 1) -> AuctionResult:
    """Clear the uniform-price auction of `zone` over `orders` at `now`. The orders are not changed. Raises
    OrderRejected for an order of another zone, a FOK order, or one that breaks the market rules."""
    tariff = params.tariffs.between(0)
    min_trade = params.min_trade
    bids: list[tuple[int, int, int, Order]] = []
    asks: list[tuple[int, int, Order]] = []
    left: list = []
    seen: set[int] = set()
    for o in orders:
        if o.id in seen:
            raise OrderRejected("duplicate_order_id", f"order {o.id} appears twice")
        seen.add(o.id)
        if o.zone != zone:
            raise OrderRejected("wrong_zone", f"order {o.id} is for zone {o.zone}, not the auction's zone {zone}")
        if o.expires_at is not None and o.expires_at <= now:
            left.append(Expired(EXPIRED, o.id, o.zone, o.side, o.quantity))
            continue
        expires_at = o.expires_at
        order_check(o, now=now, params=params, zones=zones)
        o.expires_at = expires_at  # the check fills in a default; the auction leaves its orders as they came
        if o.tif is FOK:
            raise OrderRejected("fok_in_auction", "the auction takes GTC and IOC orders, not FOK")
        if o.side is BUY:
            bids.append((-ask_ceiling(o.price, tariff), -o.price, o.id, o))
        else:
            asks.append((o.price, o.id, o))
    bids.sort()
    asks.sort()

    remaining = {o.id: o.quantity for *_, o in bids} | {o.id: o.quantity for *_, o in asks}
    pairs: list[tuple[Order, Order, int]] = []
    marginal: tuple[int, int] | None = None
    i = j = 0
    while i < len(bids) and j < len(asks):
        ceiling, buy = -bids[i][0], bids[i][3]
        sell = asks[j][2]
        if ceiling < sell.price:
            break
        if buy.owner == sell.owner:
            later = buy if buy.id > sell.id else sell
            left.append(Cancelled(CANCELLED, later.id, zone, later.side, remaining[later.id], "self_trade"))
            if later is buy:
                i += 1
            else:
                j += 1
            continue
        f = min(remaining[buy.id], remaining[sell.id])
        remaining[buy.id] -= f
        remaining[sell.id] -= f
        pairs.append((buy, sell, f))
        marginal = (ceiling, sell.price)
        for o in (buy, sell):
            if remaining[o.id] < min_trade:
                if remaining[o.id]:
                    left.append(Cancelled(CANCELLED, o.id, zone, o.side, remaining[o.id], "below_min_trade"))
                if o is buy:
                    i += 1
                else:
                    j += 1

    if marginal is None:
        return AuctionResult(zone, None, 0, [], left, {oid: 0 for oid in remaining})
    price = (marginal[0] + marginal[1]) // 2
    landed = landed_cost(price, tariff)
    trades = []
    buy_rem = {o.id: o.quantity for *_, o in bids}
    sell_rem = {o.id: o.quantity for *_, o in asks}
    for n, (buy, sell, f) in enumerate(pairs):
        buy_rem[buy.id] -= f
        sell_rem[sell.id] -= f
        a = trade_amounts(f, price, tariff)
        trades.append(Trade(TRADE, first_trade_id + n, AUCTION, buy.id, sell.id, buy.owner, sell.owner, zone, zone,
                            f, a.effective, a.loss, price, a.value, a.wheeling, a.loss_value, landed,
                            buy_rem[buy.id], sell_rem[sell.id]))
    filled = {oid: 0 for oid in remaining}
    for buy, sell, f in pairs:
        filled[buy.id] += f
        filled[sell.id] += f
    return AuctionResult(zone, price, sum(f for *_, f in pairs), trades, left, filled)
