"""The uniform-price auction's clearing rule on worked examples. Same-zone tariff: 0.50 THB/kWh and 1 % loss, so a
bid's ceiling (the highest ask price it pays for) is (limit - 0.50) x 0.99."""

import pytest

from trading.auction import AUCTION, clear_auction
from trading.events import named
from trading.orders import BUY, FOK, IOC, MARKET, SELL, Order, OrderRejected
from trading.params import MarketParams
from trading.tariffs import TariffSchedule, landed_cost

from tests.trading.builders import NOW, kwh, thb

PARAMS = MarketParams()


def orders(*specs, zone=0):
    """(side, owner, kWh, THB/kWh[, extra]) -> Orders numbered from 1."""
    return [Order(id=n, owner=owner, side=side, zone=zone, quantity=kwh(q), price=thb(p), **(extra[0] if extra else {}))
            for n, (side, owner, q, p, *extra) in enumerate(specs, 1)]


def clear(book, **kw):
    return clear_auction(book, zone=0, zones=5, now=NOW, params=PARAMS, **kw)


def test_the_clearing_price_is_the_midpoint_of_the_marginal_bid_and_ask():
    book = orders(
        (BUY, "b1", 3, 5.60),  # ceiling (5.60 - 0.50) x 0.99 = 5.049
        (BUY, "b2", 2, 5.30),  # ceiling 4.752
        (BUY, "b3", 4, 5.00),  # ceiling 4.455
        (SELL, "s1", 2, 4.40),
        (SELL, "s2", 2, 4.60),
        (SELL, "s3", 3, 4.90))
    result = clear(book)
    # b1 takes s1's 2 and 1 of s2; b2 takes s2's last 1; b2 (4.752) then meets s3 (4.90) and the walk stops.
    # The marginal pair is b2 and s2: (4.752 + 4.60) / 2 = 4.676.
    assert result.price == thb(4.676)
    assert result.volume == kwh(4)
    assert [(t.buy_order_id, t.sell_order_id, t.quantity) for t in result.trades] == [
        (1, 4, kwh(2)), (1, 5, kwh(1)), (2, 5, kwh(1))]
    assert {t.price for t in result.trades} == {thb(4.676)}  # pay-as-clear: one price for everyone
    assert result.filled == {1: kwh(3), 2: kwh(1), 3: 0, 4: kwh(2), 5: kwh(2), 6: 0}
    landed = landed_cost(thb(4.676), TariffSchedule().same_zone)
    assert landed == 5_223_233 and all(t.landed == landed <= thb(5.30) for t in result.trades)
    assert result.trades[0].taker == AUCTION and result.trades[0].trade_id == 1


def test_the_midpoint_rounds_down_to_the_base_unit():
    result = clear(orders((BUY, "b", 1, 5.000001), (SELL, "s", 1, 4.40)))
    ceiling = (5_000_001 - 500_000) * 9900 // 10_000  # 4_455_000
    assert result.price == (ceiling + thb(4.40)) // 2 == 4_427_500


def test_a_single_crossing_pair_clears_between_its_two_prices():
    result = clear(orders((BUY, "b", 2, 5.20), (SELL, "s", 3, 4.50)))
    assert result.price == (thb(4.653) + thb(4.50)) // 2
    assert result.volume == kwh(2) and result.filled == {1: kwh(2), 2: kwh(2)}


def test_nothing_clears_when_no_bid_pays_an_ask_s_landed_cost():
    result = clear(orders((BUY, "b", 1, 5.04), (SELL, "s", 1, 4.50)))  # 4.50 lands at 5.045455
    assert (result.price, result.volume, result.trades) == (None, 0, [])
    assert result.filled == {1: 0, 2: 0}


def test_equal_bids_fill_in_time_order_and_the_marginal_one_is_rationed():
    result = clear(orders((BUY, "b1", 2, 5.20), (BUY, "b2", 2, 5.20), (SELL, "s", 3, 4.00)))
    assert [(t.buy_order_id, t.quantity) for t in result.trades] == [(1, kwh(2)), (2, kwh(1))]
    assert result.price == (thb(4.653) + thb(4.00)) // 2


def test_a_market_buy_bids_at_its_cap():
    result = clear(orders((BUY, "b", 1, 5.20, dict(kind=MARKET, tif=IOC)), (SELL, "s", 1, 4.60)))
    assert result.price == (thb(4.653) + thb(4.60)) // 2


def test_the_later_order_of_a_self_trade_leaves_the_auction():
    result = clear(orders((SELL, "alice", 1, 4.40), (BUY, "bob", 1, 5.10), (BUY, "alice", 1, 5.60),
                          (SELL, "carol", 1, 4.50)))
    assert [(named(c).order_id, named(c).reason) for c in result.cancelled] == [(3, "self_trade")]
    assert [(t.buy_order_id, t.sell_order_id) for t in result.trades] == [(2, 1)]
    assert result.price == (thb(4.554) + thb(4.40)) // 2


def test_a_remainder_below_the_minimum_trade_leaves_the_auction():
    result = clear(orders((BUY, "b", 1.0005, 5.20), (SELL, "s", 1, 4.50), (SELL, "t", 1, 4.50)))
    assert result.volume == kwh(1)
    assert [(named(c).order_id, named(c).remaining, named(c).reason) for c in result.cancelled] == [
        (1, kwh(0.0005), "below_min_trade")]


def test_expired_orders_are_left_out_and_the_orders_are_not_changed():
    book = orders((BUY, "b", 1, 5.20, dict(expires_at=NOW)), (SELL, "s", 1, 4.50, dict(expires_at=None)))
    result = clear(book)
    assert result.volume == 0 and [named(c).event for c in result.cancelled] == ["expired"]
    assert book[1].expires_at is None and book[1].remaining == kwh(1)


@pytest.mark.parametrize("extra, zone, code", [
    (dict(tif=FOK), 0, "fok_in_auction"),
    ({}, 1, "wrong_zone"),
])
def test_the_auction_refuses_orders_it_cannot_clear(extra, zone, code):
    with pytest.raises(OrderRejected) as refused:
        clear(orders((BUY, "b", 1, 5.20, extra), zone=zone))
    assert refused.value.code == code
