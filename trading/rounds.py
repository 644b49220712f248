"""Zones traded by periodic uniform-price auction instead of the continuous market (docs/MATCHING.md, "The
auction"). `TRADING_AUCTION_ZONES` names them; every `TRADING_AUCTION_INTERVAL_S` seconds (aligned to the clock)
a round closes, and the first matcher run after the close clears it with `trading.auction.clear_auction` over the
zone's open orders placed before the close. The trades settle exactly as continuous trades do, at the one
clearing price; IOC orders end with the round (their remainders are refunded), GTC orders wait for the next
round. The round is recorded (`AuctionRound`, one row per zone and close, under the matcher's lock) before its
trades are submitted, so no round clears twice; a round whose trades fail leaves its orders open for the next.

Orders in an auction zone never meet the continuous engine, and cross-zone buys of other zones do not reach
their asks: the auction clears one zone.
"""

from __future__ import annotations

from django.conf import settings

from trading.auction import clear_auction
from trading.events import CANCELLED, EXPIRED
from trading.models import AuctionRound, Order
from trading.orders import IOC
from trading.params import MarketParams


def auction_zones() -> frozenset[str]:
    return frozenset(settings.TRADING_AUCTION_ZONES)


def interval_ms() -> int:
    return int(settings.TRADING_AUCTION_INTERVAL_S * 1000)


def round_close(now: int) -> int:
    """The close of the latest round that has ended at `now` (Unix ms)."""
    return now // interval_ms() * interval_ms()


def next_close(now: int) -> int:
    return round_close(now) + interval_ms()


def clear_rounds(orders: dict[int, Order], zones: dict[str, int], now: int, params: MarketParams) -> list[tuple]:
    """Events (trades, cancels, expiries, in the engine's layouts) of every auction zone's round that has closed
    and not been cleared; expired orders of auction zones end at any run. Call holding the matcher's lock."""
    events: list[tuple] = []
    close = round_close(now)
    for code in sorted(auction_zones() & zones.keys()):
        zone = zones[code]
        mine = [o for o in orders.values() if o.zone.code == code]
        live = []
        for o in mine:
            if o.expires_at <= now:
                events.append((EXPIRED, o.pk, zone, o.side, o.remaining))
            else:
                live.append(o)
        entered = [o for o in live if o.created_at.timestamp() * 1000 < close]
        if not entered or AuctionRound.objects.filter(zone=entered[0].zone, closes_at=close).exists():
            continue
        result = clear_auction(
            [o.engine_order(zone, cross_zone=False) for o in entered],
            zone=zone, zones=len(zones), now=now, params=params)
        AuctionRound.objects.create(zone=entered[0].zone, closes_at=close, price=result.price, volume=result.volume,
                                    orders=len(entered), trades=len(result.trades))
        events += result.trades
        ended = {event[1] for event in result.cancelled}
        events += result.cancelled
        for o in entered:
            if o.tif == IOC and o.pk not in ended and result.filled.get(o.pk, 0) < o.remaining:
                events.append((CANCELLED, o.pk, zone, o.side, o.remaining - result.filled.get(o.pk, 0),
                               "auction_round_ended"))
    return events
