"""Random order flows through the engine: it agrees with the plainly written model in reference.py, leaves no
zone's book crossed, conserves every order's quantity, keeps every trade within both limits, numbers its book
deltas without gaps so that they rebuild the book, and returns the same events when the flow is replayed."""

import random
from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trading.engine import Engine
from trading.events import BOOK, CANCELLED, EXPIRED, TRADE, named
from trading.flow import CANCEL, SUBMIT, synthetic_flow
from trading.orders import BUY, FOK, GTC, IOC, LIMIT, MARKET, SELL, Order, OrderRejected
from trading.params import MarketParams
from trading.tariffs import KWH, landed_cost

from tests.trading.builders import NOW
from tests.trading.reference import Reference

ZONES = 3
PARAMS = MarketParams()
MIN = PARAMS.min_trade
TICK = 50_000  # 0.05 THB

quantities = st.one_of(st.integers(1, 6).map(lambda k: k * 1_000_000),  # whole Wh: fills that empty orders
                       st.integers(1_000_000, 6_000_000))  # any amount: remainders below the minimum trade
new_order = st.fixed_dictionaries({
    "op": st.just("order"),
    "owner": st.sampled_from("abcd"),
    "side": st.sampled_from([BUY, SELL]),
    "zone": st.integers(0, ZONES - 1),
    "quantity": quantities,
    "ticks": st.integers(0, 20),
    "shape": st.sampled_from([(LIMIT, GTC)] * 6 + [(LIMIT, IOC), (LIMIT, FOK), (MARKET, IOC), (MARKET, FOK)]),
    "cross_zone": st.booleans(),
    "life": st.one_of(st.none(), st.integers(1, 600_000)),
})
step = st.one_of(
    new_order, new_order, new_order, new_order,
    st.fixed_dictionaries({"op": st.just("cancel"), "target": st.integers(1, 60)}),
    st.fixed_dictionaries({"op": st.just("expire")}),
    st.fixed_dictionaries({"op": st.just("wait"), "ms": st.integers(1, 60_000)}),
)


def build(spec: dict, order_id: int, now: int) -> Order:
    kind, tif = spec["shape"]
    side = spec["side"]
    # Sells ask 3.50 to 4.50; buys bid 4.75 to 5.75 by landed cost, enough to reach two zones away.
    price = (70 if side == SELL else 95) * TICK + spec["ticks"] * TICK
    return Order(id=order_id, owner=spec["owner"], side=side, zone=spec["zone"], quantity=spec["quantity"],
                 price=price, kind=kind, tif=tif, cross_zone=spec["cross_zone"] and side == BUY,
                 expires_at=None if spec["life"] is None else now + spec["life"])


def replay(steps, engine, reference=None):
    """Run `steps`; returns the events per call and the orders the engine accepted."""
    now, next_id = NOW, 1
    log, accepted = [], {}
    for s in steps:
        if s["op"] == "order":
            order = build(s, next_id, now)
            try:
                events = engine.submit(order, now)
            except OrderRejected as refused:
                assert order.kind is MARKET and order.side is SELL, refused.code
                continue
            expected = reference.submit(order, now) if reference else None
            accepted[order.id] = order
            next_id += 1
        elif s["op"] == "cancel":
            events = engine.cancel(s["target"], now)
            expected = reference.cancel(s["target"], now) if reference else None
        elif s["op"] == "expire":
            events = engine.expire(now)
            expected = None
            if reference:  # the order of a sweep across orders is the engine's own; which orders is the rule's
                assert sorted((e for e in events if e[0] is not BOOK), key=lambda e: e[1]) == \
                    sorted(reference.expire(now), key=lambda e: e[1])
        else:
            now += s["ms"]
            continue
        log.append(events)
        if expected is not None:
            assert [e for e in events if e[0] in (TRADE, CANCELLED, EXPIRED)] == expected
        if reference:
            assert_not_crossed(engine)
    return log, accepted


def assert_not_crossed(engine: Engine) -> None:
    for z, book in enumerate(engine.books):
        bid, ask = book.bids.best(), book.asks.best()
        if bid and ask:
            assert bid.price < landed_cost(ask.price, engine.tariffs[z][z]), f"zone {z} is crossed"


def check(steps: list[dict]) -> None:
    engine = Engine(ZONES, PARAMS)
    reference = Reference(ZONES, PARAMS)
    log, orders = replay(steps, engine, reference)
    events = [e for call in log for e in call]

    # The books hold what the model holds.
    assert {o.id: o.remaining for o in orders.values() if engine.order(o.id)} == \
        {r.id: r.remaining for r in reference.resting.values()}

    # Quantities are conserved: filled + resting + cancelled or expired = ordered, for every order.
    filled, ended = defaultdict(int), defaultdict(int)
    for e in events:
        if e[0] is TRADE:
            t = named(e)
            filled[t.buy_order_id] += t.quantity
            filled[t.sell_order_id] += t.quantity
        elif e[0] in (CANCELLED, EXPIRED):
            ended[e[1]] += e[4]
    for o in orders.values():
        assert filled[o.id] == o.filled
        assert o.filled + o.remaining + ended[o.id] == o.quantity
        assert (o.remaining > 0) == (engine.order(o.id) is not None)

    # Every trade is within the buyer's limit by landed cost and at or above the seller's price.
    for t in (named(e) for e in events if e[0] is TRADE):
        buyer, seller = orders[t.buy_order_id], orders[t.sell_order_id]
        tariff = engine.tariffs[t.seller_zone][t.buyer_zone]
        assert t.landed == landed_cost(t.price, tariff) <= buyer.price
        assert t.price >= seller.price
        assert t.quantity >= MIN and t.effective + t.loss == t.quantity
        assert t.value + t.wheeling <= t.quantity * buyer.price // KWH
        assert t.buyer_zone == buyer.zone and t.seller_zone == seller.zone
        assert buyer.owner != seller.owner

    # The deltas are gap-free per zone and rebuild each book exactly.
    books = defaultdict(dict)
    seqs = defaultdict(int)
    for d in (named(e) for e in events if e[0] is BOOK):
        seqs[d.zone] += 1
        assert d.seq == seqs[d.zone]
        if d.quantity:
            books[d.zone][d.side, d.price] = d.quantity
        else:
            books[d.zone].pop((d.side, d.price), None)
    for z in range(ZONES):
        snapshot = engine.snapshot(z)
        assert snapshot.seq == seqs[z]
        assert books[z] == {(BUY, p): q for p, q in snapshot.bids} | {(SELL, p): q for p, q in snapshot.asks}

    # The same flow on a fresh engine returns the same events.
    again, _ = replay(steps, Engine(ZONES, PARAMS))
    assert again == log


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=10, max_size=80))
def test_random_flows_match_the_reference_model_and_keep_every_invariant(steps):
    check(steps)


def seeded_steps(seed: int, n: int = 150) -> list[dict]:
    """Flows drawn evenly from the same space, longer than hypothesis's own examples tend to be."""
    rng = random.Random(seed)
    shapes = [(LIMIT, GTC)] * 6 + [(LIMIT, IOC), (LIMIT, FOK), (MARKET, IOC), (MARKET, FOK)]
    steps = []
    for _ in range(n):
        r = rng.random()
        if r < 0.70:
            odd = rng.randint(0, 999_999) if rng.random() < 0.2 else 0
            steps.append({"op": "order", "owner": rng.choice("abcd"), "side": rng.choice([BUY, SELL]),
                          "zone": rng.randrange(ZONES), "quantity": rng.randint(1, 6) * 1_000_000 + odd,
                          "ticks": rng.randint(0, 20), "shape": rng.choice(shapes),
                          "cross_zone": rng.random() < 0.5, "life": rng.choice([None, rng.randint(1, 600_000)])})
        elif r < 0.85:
            steps.append({"op": "cancel", "target": rng.randint(1, len(steps) + 1)})
        elif r < 0.90:
            steps.append({"op": "expire"})
        else:
            steps.append({"op": "wait", "ms": rng.randint(1, 60_000)})
    return steps


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32))
def test_long_seeded_flows_match_the_reference_model_and_keep_every_invariant(seed):
    check(seeded_steps(seed))


def test_the_synthetic_flow_replays_to_the_same_events():
    def run():
        engine = Engine(10)
        out = []
        for op, arg, now in synthetic_flow(orders=5_000, seed=7):
            if op is SUBMIT:
                out.append(engine.submit(arg, now))
            elif op is CANCEL:
                out.append(engine.cancel(arg, now))
            else:
                out.append(engine.expire(now))
        return out, engine

    first, engine = run()
    second, _ = run()
    assert first == second
    assert engine.trades > 500
    cross = [e for call in first for e in call if e[0] is TRADE and e[7] != e[8]]
    assert cross, "the flow has cross-zone trades"
    assert_not_crossed(engine)
