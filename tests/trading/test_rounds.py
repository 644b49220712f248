"""Zones traded by periodic uniform-price auction (trading.rounds): nothing trades before a round closes; the
first matcher run after the close clears it at one price for every pair, settles on the ledger, ends IOC
remainders and keeps GTC ones; a round clears once; continuous zones keep trading as before."""

import pytest

from ledger.errors import Rejected
from registry.defaults import zones_seed
from trading import rounds, services
from trading.models import AuctionRound, EscrowRecord, Order, Trade
from trading.tariffs import KWH, THB

from tests.energy import participant
from tests.trading.test_services import NOW, balances, fund, signed

LIFE = NOW + 3 * 3_600_000  # orders outlive the round


@pytest.fixture
def auction(ledger, settings):
    settings.TRADING_AUCTION_ZONES = ["BKK-N"]
    settings.TRADING_AUCTION_INTERVAL_S = 3600
    zones_seed()
    people = [participant(f"s{i}") for i in range(2)] + [participant(f"b{i}", role="consumer") for i in range(2)]
    for p in people[:2]:
        fund(p, gxt=10 * KWH)
    for p in people[2:]:
        fund(p, thb=100 * THB)
    return people


def _place(p, nonce, side, quantity, price, zone="BKK-N", **extra):
    return services.order_place(participant=p, body=signed(p, nonce, side, quantity, price, zone=zone,
                                                           expires_at=LIFE, **extra))[0]


def _ms(order):
    return int(order.created_at.timestamp() * 1000)


def test_a_round_clears_once_at_one_price_after_it_closes(auction):
    s0, s1, b0, b1 = auction
    asks = [_place(s0, 1, "sell", 2 * KWH, 4 * THB), _place(s1, 1, "sell", 2 * KWH, 4 * THB + THB // 5)]
    bids = [_place(b0, 1, "buy", 2 * KWH, 6 * THB), _place(b1, 1, "buy", 3 * KWH, 5 * THB + THB // 2, tif="ioc")]
    placed = [*asks, *bids]
    before_close = max(_ms(o) for o in placed)
    report = services.run_matcher(now=before_close)  # the round these orders joined has not closed
    assert report.trades == 0 and not AuctionRound.objects.exists()
    assert set(Order.objects.values_list("status", flat=True)) == {"open"}  # the IOC waits for its round too

    after_close = rounds.next_close(before_close) + 1
    report = services.run_matcher(now=after_close)
    assert not report.errors, report.errors
    trades = list(Trade.objects.order_by("pk"))
    assert len(trades) >= 2 and len({t.price for t in trades}) == 1  # pay-as-clear: one price for every pair
    price = trades[0].price
    assert 4 * THB + THB // 5 <= price  # at or above every paired ask
    assert sum(t.quantity for t in trades) == 4 * KWH  # both asks sold out: the bids wanted 5 kWh
    rnd = AuctionRound.objects.get()
    assert (rnd.price, rnd.volume, rnd.orders, rnd.closes_at) == (price, 4 * KWH, 4, rounds.round_close(after_close))
    ioc = Order.objects.get(pk=bids[1].pk)
    gtc = Order.objects.get(pk=bids[0].pk)
    filled = {o.pk: o.quantity - o.remaining for o in (ioc, gtc)}
    assert sum(filled.values()) == 4 * KWH
    if ioc.remaining:  # the IOC's remainder ended with the round, refunded
        assert ioc.status == "cancelled" and ioc.reason == "auction_round_ended"
    assert gtc.status in ("filled", "open")

    again = services.run_matcher(now=after_close + 1000)  # the same round: nothing clears twice
    assert again.trades == 0 and AuctionRound.objects.count() == 1
    # The mirror reconciles with the ledger: what each buyer holds is what its trades delivered.
    for buyer in (b0, b1):
        got = sum(t.effective for t in Trade.objects.filter(buy_order__owner=buyer))
        assert balances(buyer)["GXT"] == got
    for order in Order.objects.exclude(status="open"):
        locked = sum(r.amount for r in EscrowRecord.objects.filter(order=order, kind="lock"))
        out = sum(r.amount for r in EscrowRecord.objects.filter(order=order).exclude(kind="lock"))
        assert locked == out  # ended orders hold nothing in escrow


def test_fok_is_refused_in_an_auction_zone_and_continuous_zones_trade_at_once(auction):
    s0, _, b0, _ = auction
    with pytest.raises(Rejected) as refused:
        _place(b0, 9, "buy", KWH, 5 * THB, tif="fok")
    assert refused.value.code == "fok_in_auction"
    _place(s0, 5, "sell", KWH, 4 * THB, zone="BKK-C")
    bid = _place(b0, 5, "buy", KWH, 5 * THB, zone="BKK-C")
    assert services.run_matcher(now=_ms(bid)).trades == 1
    book = services.book("BKK-N")
    assert book["mechanism"] == "auction" and book["next_clearing"] > _ms(bid)
    assert services.book("BKK-C")["mechanism"] == "continuous"


def test_a_quote_in_an_auction_zone_is_the_round_as_it_would_clear_now_and_the_round_then_gives_it(auction):
    s0, s1, b0, _ = auction
    _place(s0, 1, "sell", 2 * KWH, 4 * THB)
    _place(s1, 1, "sell", 2 * KWH, 4 * THB + THB // 5)
    empty = services.quote(participant=None, side="buy", zone="BKK-N", quantity=KWH, price=3 * THB, now=NOW)
    assert (empty["mechanism"], empty["fills"], empty["clearing_price"]) == ("auction", [], None)
    assert empty["next_clearing"] == rounds.next_close(NOW)

    quoted = services.quote(participant=b0, side="buy", zone="BKK-N", quantity=3 * KWH, price=6 * THB, now=NOW)
    price = quoted["clearing_price"]
    assert quoted["mechanism"] == "auction" and 4 * THB + THB // 5 <= price <= 6 * THB
    assert {f["price"] for f in quoted["fills"]} == {price} and quoted["total"]["quantity"] == 3 * KWH
    assert {(f["seller_zone"], f["buyer_zone"]) for f in quoted["fills"]} == {("BKK-N", "BKK-N")}
    continuous = services.quote(participant=b0, side="buy", zone="BKK-C", quantity=KWH, price=6 * THB, now=NOW)
    assert continuous["mechanism"] == "continuous" and continuous["fills"] == []  # auction asks are not its book

    buy = _place(b0, 1, "buy", 3 * KWH, 6 * THB)
    assert not services.run_matcher(now=rounds.next_close(_ms(buy)) + 1).errors
    trades = list(Trade.objects.filter(buy_order=buy))
    assert {t.price for t in trades} == {price}
    assert sum(t.value for t in trades) == quoted["total"]["value"]
    assert sum(t.wheeling for t in trades) + sum(t.value for t in trades) == quoted["total"]["buyer_pays"]
    assert sum(t.effective for t in trades) == quoted["total"]["effective"]
