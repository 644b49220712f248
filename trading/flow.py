"""A reproducible synthetic order flow for the matching benchmark and the engine's tests: a pure function of its
arguments (a seeded `random.Random`).

Ten zones by default, each with its own price level around the reference 4.50 THB/kWh (sunnier zones sell cheaper,
from 3.90 to 5.10), drifting by 0.01 THB ticks. Per message: 25 % cancels of a recent good-till-cancelled order
(some of which will have filled or expired already: cancels are idempotent), otherwise a new order, half sells
and half buys. Sells are limit orders around the zone's level (GTC, 8 % IOC, 4 % FOK). Buys bid by landed cost,
so a same-zone buy bids about 0.55 THB above the level; 30 % of buys reach into other zones with higher limits,
15 % of those as market buys with a price cap; 8 % IOC and 4 % FOK. A tenth of quantities carry a fraction of a
Wh, so remainders below the minimum trade happen. Owners trade in their own zone, 200 owners a zone, so some
orders meet their owner's own resting orders. Time advances 1 ms a message and orders live 60 to 900 s, so orders
expire during the flow; an `expire` sweep runs every 1,000 messages.
"""

from __future__ import annotations

import random

from trading.orders import BUY, FOK, GTC, IOC, LIMIT, MARKET, SELL, Order

SUBMIT, CANCEL, EXPIRE = "submit", "cancel", "expire"
TICK = 10_000  # 0.01 THB per kWh
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
ZONE_BIAS = (-60, 40, -20, 60, 0, -40, 50, -10, 30, -50)  # ticks around 4.50


def synthetic_flow(*, orders: int, zones: int = 10, seed: int = 2026, cancel_share: float = 0.25,
                   cross_share: float = 0.30, owners_per_zone: int = 200, sweep_every: int = 1000) -> list[tuple]:
    """`orders` new orders with cancels interleaved: a list of (SUBMIT, Order, now), (CANCEL, order id, now) and
    (EXPIRE, None, now) in arrival order. Order ids count up from 1."""
    rng = random.Random(seed)
    rand, randint = rng.random, rng.randint
    mid = [450 + ZONE_BIAS[z % len(ZONE_BIAS)] for z in range(zones)]  # in ticks
    resting: list[int] = []  # recent GTC order ids, the candidates for a cancel
    ops: list[tuple] = []
    now = START_MS
    next_id = 1
    messages = 0
    while next_id <= orders:
        now += 1
        messages += 1
        if messages % sweep_every == 0:
            ops.append((EXPIRE, None, now))
        if resting and rand() < cancel_share:
            ops.append((CANCEL, resting.pop(randint(max(0, len(resting) - 2000), len(resting) - 1)), now))
            continue
        zone = randint(0, zones - 1)
        if rand() < 0.02:
            mid[zone] = min(max(mid[zone] + (1 if rand() < 0.5 else -1), 380), 520)
        owner = zone * 1000 + randint(0, owners_per_zone - 1)
        quantity = randint(1, 100) * 100_000_000  # 0.1 to 10 kWh
        if rand() < 0.1:
            quantity += randint(1, 999_999)
        kind, tif, cross = LIMIT, GTC, False
        r = rand()
        if r < 0.08:
            tif = IOC
        elif r < 0.12:
            tif = FOK
        if rand() < 0.5:
            side = SELL
            price = mid[zone] + randint(-6, 30)
        else:
            side = BUY
            if rand() < cross_share:
                cross = True
                price = mid[zone] + 55 + randint(-10, 60)
                if rand() < 0.15:
                    kind, tif, price = MARKET, IOC if tif is GTC else tif, mid[zone] + 150
            else:
                price = mid[zone] + 55 + randint(-30, 6)
        order = Order(id=next_id, owner=owner, side=side, zone=zone, quantity=quantity, price=price * TICK,
                      kind=kind, tif=tif, expires_at=now + randint(60, 900) * 1000, cross_zone=cross)
        ops.append((SUBMIT, order, now))
        if tif is GTC:
            resting.append(next_id)
            if len(resting) > 50_000:
                del resting[:10_000]
        next_id += 1
    return ops
