"""The matching engine's rules on hand-made books. Same-zone tariff by default: 0.50 THB/kWh wheeling and 1 %
loss, so an ask at 4.50 lands at 0.50 + 4.50 / 0.99 = 5.045455 THB per kWh delivered."""

import pytest

from trading.engine import Engine
from trading.events import ACCEPTED, BOOK, CANCELLED, RESTED, TRADE
from trading.orders import BUY, FOK, IOC, MARKET, SELL, Order, OrderRejected
from trading.params import MarketParams
from trading.tariffs import Tariff, TariffSchedule, ask_ceiling, landed_cost

from tests.trading.builders import NOW, Market, cancels, deltas, fills, kwh, rested, thb, trades

SAME = TariffSchedule().same_zone


@pytest.fixture
def market():
    return Market()


def test_a_buy_takes_the_cheapest_ask_first_and_equal_prices_in_arrival_order(market):
    market.sell("alice", 1, 4.60)
    market.sell("bob", 1, 4.50)
    market.sell("carol", 1, 4.50)
    events = market.buy("dave", 2.5, 5.20)
    assert fills(events) == [(4, 2, kwh(1)), (4, 3, kwh(1)), (4, 1, kwh(0.5))]
    assert [t.price for t in trades(events)] == [thb(4.50), thb(4.50), thb(4.60)]
    assert [t.taker for t in trades(events)] == [BUY] * 3


def test_a_sell_takes_the_highest_bid_first_at_the_price_that_bid_pays(market):
    market.buy("alice", 1, 5.10)
    market.buy("bob", 1, 5.30)
    market.buy("carol", 1, 5.30)
    events = market.sell("dave", 2.5, 4.40)
    assert fills(events) == [(2, 4, kwh(1)), (3, 4, kwh(1)), (1, 4, kwh(0.5))]
    # The resting bid sets the price: the highest ask whose landed cost fits its limit, (5.30 - 0.50) x 0.99.
    assert [t.price for t in trades(events)] == [thb(4.752), thb(4.752), thb(4.554)]
    assert all(t.landed <= limit for t, limit in zip(trades(events), [thb(5.30), thb(5.30), thb(5.10)]))


def test_a_bid_and_an_ask_at_the_same_price_do_not_cross_when_the_network_charges_do_not_fit(market):
    market.sell("alice", 1, 4.50)
    assert fills(market.buy("bob", 1, 5.045454)) == []
    assert fills(market.buy("carol", 1, 5.045455)) == [(3, 1, kwh(1))]


def test_every_component_of_a_trade(market):
    market.sell("alice", 2, 4.50)
    [t] = trades(market.buy("bob", 2, 5.20))
    assert (t.buyer, t.seller, t.buyer_zone, t.seller_zone) == ("bob", "alice", 0, 0)
    assert t.quantity == kwh(2)
    assert t.effective == kwh(1.98) and t.loss == kwh(0.02)  # 1 % lost on the way
    assert t.value == thb(9.00)  # 2 kWh sent x 4.50
    assert t.wheeling == thb(0.99)  # 1.98 kWh delivered x 0.50
    assert t.loss_value == thb(0.09)  # the 0.02 kWh lost, at 4.50
    assert t.landed == landed_cost(thb(4.50), SAME) == 5_045_455
    assert (t.buy_remaining, t.sell_remaining) == (0, 0)


def test_partial_fills_leave_the_remainder_resting_in_time_priority(market):
    market.sell("alice", 5, 4.50)
    events = market.buy("bob", 2, 5.20)
    assert fills(events) == [(2, 1, kwh(2))]
    assert trades(events)[0].sell_remaining == kwh(3)
    assert [(d.side, d.price, d.quantity) for d in deltas(events)] == [(SELL, thb(4.50), kwh(3))]
    events = market.buy("carol", 4, 5.20)
    assert fills(events) == [(3, 1, kwh(3))]
    assert rested(events) == [(3, kwh(1))]
    assert market.engine.snapshot(0).bids == [(thb(5.20), kwh(1))]
    assert market.engine.snapshot(0).asks == []
    assert market.engine.order(3).filled == kwh(3) and market.engine.order(1) is None


def test_an_order_below_the_minimum_trade_is_refused(market):
    with pytest.raises(OrderRejected) as refused:
        market.sell("alice", 0.0009, 4.50)
    assert refused.value.code == "below_min_trade"


def test_a_resting_remainder_below_the_minimum_trade_is_cancelled(market):
    market.sell("alice", 1.0005, 4.50)
    events = market.buy("bob", 1, 5.20)
    assert fills(events) == [(2, 1, kwh(1))]
    assert cancels(events) == [(1, kwh(0.0005), "below_min_trade")]
    assert market.engine.snapshot(0).asks == []


def test_an_arriving_remainder_below_the_minimum_trade_is_cancelled_not_rested(market):
    market.sell("alice", 1, 4.50)
    events = market.buy("bob", 1.0005, 5.20)
    assert fills(events) == [(2, 1, kwh(1))]
    assert cancels(events) == [(2, kwh(0.0005), "below_min_trade")]
    assert rested(events) == [] and market.engine.snapshot(0).bids == []


def test_an_arriving_order_cancels_its_owner_s_resting_order_and_keeps_matching(market):
    market.sell("alice", 1, 4.50)
    market.sell("bob", 1, 4.60)
    events = market.buy("alice", 1, 5.20)
    assert cancels(events) == [(1, kwh(1), "self_trade")]
    assert fills(events) == [(3, 2, kwh(1))]
    assert market.engine.order(1) is None


def test_a_fok_that_cannot_fill_changes_nothing(market):
    market.sell("alice", 1, 4.50)
    market.sell("bob", 1, 4.60, expires_at=NOW + 1000)
    market.sell("carol", 1, 4.70)
    market.now = NOW + 1000  # bob's ask has expired, unnoticed so far
    engine = market.engine
    before = engine.snapshot(0), engine.order(1).remaining, engine.resting
    events = market.buy("carol", 3, 5.30, tif=FOK)  # alice's 1 kWh is all it could get
    assert [e[0] for e in events] == [ACCEPTED, CANCELLED]
    assert cancels(events) == [(4, kwh(3), "fok_unfillable")]
    assert (engine.snapshot(0), engine.order(1).remaining, engine.resting) == before
    assert engine.order(2) is not None and engine.order(3) is not None  # neither expired nor self-trade-cancelled


def test_a_fok_fills_completely_across_levels(market):
    market.sell("alice", 1, 4.50)
    market.sell("bob", 2, 4.60)
    events = market.buy("carol", 2.5, 5.20, tif=FOK)
    assert fills(events) == [(3, 1, kwh(1)), (3, 2, kwh(1.5))]
    assert cancels(events) == []


def test_a_fok_that_would_leave_a_remainder_below_the_minimum_trade_is_killed(market):
    market.sell("alice", 1, 4.50)
    market.sell("bob", 0.5, 4.50)
    assert cancels(market.buy("carol", 1.0005, 5.20, tif=FOK)) == [(3, kwh(1.0005), "fok_unfillable")]
    assert market.engine.resting == 2


def test_a_fok_sell_checks_the_bids(market):
    market.buy("alice", 1, 5.20)
    assert cancels(market.sell("bob", 2, 4.50, tif=FOK)) == [(2, kwh(2), "fok_unfillable")]
    assert fills(market.sell("bob", 1, 4.50, tif=FOK)) == [(1, 3, kwh(1))]


def test_an_ioc_remainder_is_cancelled(market):
    market.sell("alice", 1, 4.50)
    events = market.buy("bob", 3, 5.20, tif=IOC)
    assert fills(events) == [(2, 1, kwh(1))]
    assert cancels(events) == [(2, kwh(2), "ioc_remainder")]
    assert market.engine.resting == 0


def test_a_market_buy_takes_asks_up_to_its_cap_and_never_rests(market):
    market.sell("alice", 1, 4.50)
    market.sell("bob", 1, 5.00)
    events = market.buy("carol", 3, 5.20, kind=MARKET, tif=IOC)  # 5.00 lands at 5.55: above the cap
    assert fills(events) == [(3, 1, kwh(1))]
    assert cancels(events) == [(3, kwh(2), "ioc_remainder")]
    with pytest.raises(OrderRejected) as refused:
        market.buy("carol", 1, 5.20, kind=MARKET)
    assert refused.value.code == "market_order_cannot_rest"


def test_a_market_sell_is_refused(market):
    with pytest.raises(OrderRejected) as refused:
        market.sell("alice", 1, 4.50, kind=MARKET, tif=IOC)
    assert refused.value.code == "market_sell_refused" and refused.value.status == 400
    assert market.engine.resting == 0


def test_a_cross_zone_buy_ranks_sellers_by_landed_cost_not_by_price():
    market = Market(zones=5)
    market.sell("north", 1, 3.40, zone=0)  # two zones away: 1.70 + 3.40 / 0.95 = 5.278948
    market.sell("west", 1, 3.90, zone=1)  # adjacent: 1.00 + 3.90 / 0.97 = 5.020619
    market.sell("home", 1, 4.50, zone=2)  # same zone: 0.50 + 4.50 / 0.99 = 5.045455
    market.sell("east", 1, 3.30, zone=4)  # two zones away: 1.70 + 3.30 / 0.95 = 5.173685
    events = market.buy("buyer", 4, 5.25, zone=2, cross_zone=True)
    assert [(t.sell_order_id, t.seller_zone, t.landed) for t in trades(events)] == [
        (2, 1, 5_020_619), (3, 2, 5_045_455), (4, 4, 5_173_685)]
    assert rested(events) == [(5, kwh(1))]  # the cheapest ask, 3.40 from zone 0, lands above the limit
    assert [t.effective for t in trades(events)] == [kwh(0.97), kwh(0.99), kwh(0.95)]
    assert market.engine.snapshot(2).bids == [(thb(5.25), kwh(1))]


def test_a_buy_without_cross_zone_stays_in_its_zone():
    market = Market(zones=3)
    market.sell("west", 1, 3.00, zone=0)
    assert fills(market.buy("buyer", 1, 6.00, zone=1)) == []


def test_equal_landed_costs_go_to_the_nearer_zone_then_the_lower_index():
    market = Market(zones=5)
    market.sell("far", 1, 3.88, zone=3)  # adjacent to 2: 1.00 + 3.88 / 0.97 = 5.000000
    market.sell("near", 1, 3.88, zone=1)  # adjacent to 2 too, lower index
    market.sell("home", 1, 4.455, zone=2)  # 0.50 + 4.455 / 0.99 = 5.000000
    events = market.buy("buyer", 3, 5.00, zone=2, cross_zone=True)
    assert [(t.sell_order_id, t.landed) for t in trades(events)] == [(3, thb(5)), (2, thb(5)), (1, thb(5))]


def test_a_resting_cross_zone_remainder_trades_only_with_its_own_zone():
    market = Market(zones=3)
    market.buy("buyer", 1, 6.00, zone=1, cross_zone=True)
    assert fills(market.sell("west", 1, 3.00, zone=0)) == []
    assert fills(market.sell("home", 1, 4.00, zone=1)) == [(1, 3, kwh(1))]


def test_a_resting_order_found_expired_is_removed_and_skipped(market):
    market.sell("alice", 1, 4.50, expires_at=NOW + 60_000)
    market.sell("bob", 1, 4.60)
    market.now = NOW + 60_000  # expires_at is the first moment the order is no longer live
    events = market.buy("carol", 1, 5.20)
    assert cancels(events) == [(1, kwh(1), "expired")]
    assert fills(events) == [(3, 2, kwh(1))]


def test_expire_removes_every_expired_order(market):
    market.sell("alice", 1, 4.50, expires_at=NOW + 60_000)
    market.buy("bob", 1, 4.00, expires_at=NOW + 61_500)
    market.sell("carol", 1, 4.70, expires_at=NOW + 61_999)
    market.sell("dave", 2, 4.50, expires_at=NOW + 120_000)
    engine = market.engine
    assert engine.expire(NOW + 59_999) == []
    events = engine.expire(NOW + 61_500)
    assert cancels(events) == [(1, kwh(1), "expired"), (2, kwh(1), "expired")]
    assert [(d.side, d.price, d.quantity) for d in deltas(events)] == [(SELL, thb(4.50), kwh(2)), (BUY, thb(4.00), 0)]
    assert engine.resting == 2
    assert cancels(engine.expire(NOW + 62_000)) == [(3, kwh(1), "expired")]
    assert engine.snapshot(0).asks == [(thb(4.50), kwh(2))] and engine.snapshot(0).bids == []
    assert cancels(engine.expire(NOW + 120_000)) == [(4, kwh(2), "expired")]
    assert engine.resting == 0 and engine.snapshot(0).asks == []


def test_an_order_gets_the_default_life_and_no_more_than_the_maximum(market):
    market.sell("alice", 1, 4.50)
    assert market.engine.order(1).expires_at == NOW + 900_000
    with pytest.raises(OrderRejected) as refused:
        market.sell("alice", 1, 4.50, expires_at=NOW + 7 * 86_400_000 + 1)
    assert refused.value.code == "life_too_long"
    with pytest.raises(OrderRejected) as refused:
        market.sell("alice", 1, 4.50, expires_at=NOW)
    assert refused.value.code == "already_expired"


def test_cancel_returns_the_remainder_once(market):
    market.sell("alice", 3, 4.50)
    market.buy("bob", 1, 5.20)
    events = market.cancel(1)
    assert cancels(events) == [(1, kwh(2), "requested")]
    assert [(d.side, d.price, d.quantity) for d in deltas(events)] == [(SELL, thb(4.50), 0)]
    assert market.cancel(1) == [] and market.cancel(99) == []
    assert market.cancel(2) == []  # filled


def test_cancelling_an_order_in_the_middle_of_its_level_keeps_the_others_in_time_priority(market):
    for owner in ("a", "b", "c", "d"):
        market.sell(owner, 1, 4.50)
    market.cancel(2)
    market.cancel(3)
    assert fills(market.buy("e", 2, 5.20)) == [(5, 1, kwh(1)), (5, 4, kwh(1))]


def test_cancelling_an_expired_order_reports_the_expiry(market):
    market.sell("alice", 1, 4.50, expires_at=NOW + 1000)
    market.now = NOW + 1000
    assert cancels(market.cancel(1)) == [(1, kwh(1), "expired")]


def test_book_deltas_carry_the_level_total_and_a_gap_free_sequence_per_zone():
    market = Market(zones=2)
    market.sell("alice", 1, 4.50)
    market.sell("bob", 2, 4.50)
    market.sell("carol", 1, 4.50, zone=1)
    market.buy("dave", 1.5, 5.20)
    market.cancel(2)
    zone0 = [(d.seq, d.side, d.price, d.quantity) for d in deltas(market.log) if d.zone == 0]
    assert zone0 == [(1, SELL, thb(4.50), kwh(1)), (2, SELL, thb(4.50), kwh(3)), (3, SELL, thb(4.50), kwh(1.5)),
                     (4, SELL, thb(4.50), 0)]
    assert [d.seq for d in deltas(market.log) if d.zone == 1] == [1]
    assert market.engine.snapshot(0).seq == 4


def test_the_events_of_one_order_come_in_order(market):
    market.sell("alice", 1, 4.50)
    events = market.buy("bob", 2, 5.20)
    assert [e[0] for e in events] == [ACCEPTED, TRADE, BOOK, RESTED, BOOK]


@pytest.mark.parametrize("change, code", [
    (dict(price=thb(0.49)), "price_out_of_range"),
    (dict(price=thb(20.01)), "price_out_of_range"),
    (dict(zone=5), "unknown_zone"),
    (dict(cross_zone=True), "cross_zone_sell"),
    (dict(id=1), "order_id_not_increasing"),
])
def test_an_order_breaking_a_rule_is_refused_without_a_trace(market, change, code):
    market.sell("alice", 1, 4.50)
    fields = dict(id=2, owner="bob", side=SELL, zone=0, quantity=kwh(1), price=thb(4.60)) | change
    with pytest.raises(OrderRejected) as refused:
        market.engine.submit(Order(**fields), NOW)
    assert refused.value.code == code
    assert market.engine.resting == 1 and market.engine.snapshot(0).seq == 1
    assert market.engine.submit(Order(id=2, owner="bob", side=SELL, zone=0, quantity=kwh(1), price=thb(4.60)), NOW)


@pytest.mark.parametrize("change, code", [
    (dict(side="bid"), "invalid_side"),
    (dict(kind="stop"), "invalid_kind"),
    (dict(tif="day"), "invalid_time_in_force"),
    (dict(quantity=1.5), "invalid_quantity"),
    (dict(price="4.5"), "invalid_price"),
])
def test_an_order_with_a_malformed_field_cannot_be_built(change, code):
    with pytest.raises(OrderRejected) as refused:
        Order(**(dict(id=1, owner="a", side=SELL, zone=0, quantity=kwh(1), price=thb(4.5)) | change))
    assert refused.value.code == code


def test_preview_shows_the_fills_without_changing_the_book():
    market = Market(zones=3)
    market.sell("alice", 1, 4.50, zone=1)
    market.sell("bob", 1, 3.80, zone=0)
    engine = market.engine
    before = engine.snapshot(0), engine.snapshot(1)
    order = market.order(BUY, "carol", 3, 5.30, zone=1, cross_zone=True)
    preview = engine.preview(order, market.now)
    assert [(t.sell_order_id, t.quantity, t.landed) for t in preview] == [
        (2, kwh(1), 1_000_000 + -(-3_800_000 * 10_000 // 9_700)), (1, kwh(1), 5_045_455)]
    assert (engine.snapshot(0), engine.snapshot(1)) == before
    assert [t[4:] for t in trades(market.place(order))] == [t[4:] for t in preview]


def test_new_tariffs_that_cross_a_book_rebuild_it_in_time_order():
    market = Market(zones=2)
    market.sell("alice", 1, 4.50)
    market.buy("bob", 2, 5.00)  # 5.00 < 5.045455: rests
    market.sell("carol", 1, 4.60, zone=1)
    cheaper = TariffSchedule(same_zone=Tariff(400_000, 100))  # 4.50 now lands at 4.945455
    events = market.engine.set_params(MarketParams(tariffs=cheaper), market.now)
    [t] = trades(events)
    assert (t.buy_order_id, t.sell_order_id, t.price, t.landed) == (2, 1, thb(4.50), 4_945_455)
    assert [(d.zone, d.seq, d.side, d.price, d.quantity) for d in deltas(events)] == [
        (0, 3, BUY, thb(5.00), kwh(1)), (0, 4, SELL, thb(4.50), 0)]
    assert market.engine.snapshot(0).bids == [(thb(5.00), kwh(1))]
    assert market.engine.snapshot(1).asks == [(thb(4.60), kwh(1))]
    assert fills(market.sell("dave", 1, 4.55)) == [(2, 4, kwh(1))]  # later matches use the new tariff too


def test_an_engine_needs_a_zone():
    with pytest.raises(ValueError):
        Engine(0)


def test_the_bid_price_of_a_trade_never_exceeds_the_limit_by_rounding():
    limit = 5_045_455
    assert ask_ceiling(limit, SAME) == 4_500_000 and landed_cost(4_500_000, SAME) == limit
    assert ask_ceiling(limit - 1, SAME) == 4_499_999 and landed_cost(4_499_999, SAME) <= limit - 1


def test_an_enumeration_set_after_construction_is_still_read_by_value(market):
    market.sell("alice", 1, 4.50)
    order = market.order(BUY, "bob", 1, 5.20)
    order.side = "".join(["b", "uy"])  # equal to "buy", but not the same object
    assert fills(market.place(order)) == [(2, 1, kwh(1))]
