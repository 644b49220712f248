"""Orders through the services: signed placement with escrow, matching and settlement on the ledger, refunds,
idempotent retries, and the database mirror reconciling exactly with the ledger."""

import pytest
from django.db.models import F

from ledger import selectors
from ledger.config import platform_authority
from ledger.crypto import parse_address
from ledger.errors import Conflict, Forbidden, Rejected, SignatureVerificationFailed
from ledger.token_program import mint_address, mint_to_ix
from ledger import services as ledger_services
from registry.defaults import zones_seed
from registry.wallets import unseal
from trading import program, services
from trading.models import EscrowRecord, MatcherState, Order, Trade
from trading.order_message import OrderMessage
from trading.tariffs import KWH, THB

from tests.energy import participant

NOW = services.now_ms()  # the ledger checks expiry against its own block clock


def fund(p, gxt=0, thb=0):
    authority = platform_authority()
    wallet = parse_address(p.wallet)
    from ledger.token_program import associated_token_address

    ixs = []
    if gxt:
        ixs.append(mint_to_ix(mint=mint_address("GXT"), destination=associated_token_address(wallet, mint_address("GXT")),
                              authority=authority.pubkey, amount=gxt))
    if thb:
        ixs.append(mint_to_ix(mint=mint_address("THB"), destination=associated_token_address(wallet, mint_address("THB")),
                              authority=authority.pubkey, amount=thb))
    ledger_services.instructions_submit(instructions=ixs, signers=[authority])


def balances(p):
    return selectors.wallet_balances(parse_address(p.wallet))


def signed(p, nonce, side, quantity, price, zone="BKK-C", **extra):
    key = unseal(p.wallet_secret)
    fields = dict(owner=key.pubkey, nonce=nonce, side=side, kind="limit", tif="gtc", cross_zone=False, zone=zone,
                  quantity=quantity, price=price, expires_at=NOW + 3_600_000) | extra
    message = OrderMessage(**fields)
    return message.to_json(message.sign(key))


@pytest.fixture
def traders(ledger):
    zones_seed()
    seller, buyer = participant("seller"), participant("buyer", role="consumer")
    fund(seller, gxt=10 * KWH)
    fund(buyer, thb=100 * THB)
    return seller, buyer


def test_a_sell_and_a_crossing_buy_settle_and_the_mirror_matches_the_ledger(traders):
    seller, buyer = traders
    sell, created = services.order_place(participant=seller, body=signed(seller, 1, "sell", 4 * KWH, 4 * THB), now=NOW)
    assert created and sell.status == "open" and balances(seller)["GXT"] == 6 * KWH
    buy, _ = services.order_place(participant=buyer, body=signed(buyer, 1, "buy", 3 * KWH, 5 * THB), now=NOW)
    report = services.run_matcher(now=NOW)
    assert report.trades == 1 and not report.errors
    trade = Trade.objects.get()
    assert (trade.quantity, trade.price) == (3 * KWH, 4 * THB)
    assert trade.effective == 3 * KWH * 99 // 100 and trade.fee == trade.value * 25 // 10_000
    assert balances(buyer)["GXT"] == trade.effective
    assert balances(seller)["THB"] == trade.value - trade.fee
    buy.refresh_from_db()
    sell.refresh_from_db()
    assert (buy.status, buy.remaining, buy.closed) == ("filled", 0, True)
    assert (sell.status, sell.remaining) == ("open", KWH)
    # The buyer's price improvement came back: paid exactly value + wheeling.
    assert balances(buyer)["THB"] == 100 * THB - trade.value - trade.wheeling
    # Filled by its only trade, the buy was closed in the settlement's own transaction.
    assert EscrowRecord.objects.get(order=buy, kind="refund").ledger_signature == trade.ledger_signature
    # The trade rows are counted with them, as the market account counts settlements (reconcile compares the two).
    assert MatcherState.trades_recorded() == 1 == program.Market.unpack(
        selectors.raw_accounts([program.market_address()])[program.market_address()][1]).trades
    # Escrow records reconcile with the ledger's escrow accounts.
    for order in (buy, sell):
        locked = sum(r.amount for r in EscrowRecord.objects.filter(order=order, kind="lock"))
        out = sum(r.amount for r in EscrowRecord.objects.filter(order=order).exclude(kind="lock"))
        chain = selectors.raw_accounts([program.order_address(order.pk)])[program.order_address(order.pk)][1]
        assert locked - out == program.Order.unpack(chain).escrowed
    cancelled = services.order_cancel(order=sell, by=seller)
    assert cancelled.status == "cancelled" and balances(seller)["GXT"] == 7 * KWH


def test_placement_is_verified_idempotent_and_refused_without_funds(traders):
    seller, buyer = traders
    body = signed(seller, 5, "sell", KWH, 4 * THB)
    first, created = services.order_place(participant=seller, body=body, now=NOW)
    again, created_again = services.order_place(participant=seller, body=body, now=NOW)
    assert created and not created_again and first.pk == again.pk
    assert balances(seller)["GXT"] == 9 * KWH
    with pytest.raises(Conflict):
        services.order_place(participant=seller, body=signed(seller, 5, "sell", 2 * KWH, 4 * THB), now=NOW)
    forged = dict(body, quantity=2 * KWH)
    with pytest.raises(SignatureVerificationFailed):
        services.order_place(participant=seller, body=forged, now=NOW)
    with pytest.raises(Forbidden):
        services.order_place(participant=buyer, body=signed(seller, 6, "sell", KWH, 4 * THB), now=NOW)
    with pytest.raises(Rejected) as poor:
        services.order_place(participant=buyer, body=signed(buyer, 1, "buy", 100 * KWH, 5 * THB), now=NOW)
    assert poor.value.code == "insufficient_funds"
    with pytest.raises(Rejected) as market_sell:
        services.order_place(participant=seller, body=signed(seller, 7, "sell", KWH, 4 * THB, kind="market", tif="ioc"),
                             now=NOW)
    assert market_sell.value.code == "market_sell_refused"
    assert Order.objects.count() == 1


def test_ioc_remainders_and_expired_orders_are_refunded(traders):
    seller, buyer = traders
    services.order_place(participant=seller, body=signed(seller, 1, "sell", KWH, 4 * THB), now=NOW)
    ioc, _ = services.order_place(participant=buyer, body=signed(buyer, 1, "buy", 3 * KWH, 5 * THB, tif="ioc"), now=NOW)
    services.run_matcher(now=NOW)
    ioc.refresh_from_db()
    assert (ioc.status, ioc.reason) == ("cancelled", "ioc_remainder")
    trade = Trade.objects.get()
    assert balances(buyer)["THB"] == 100 * THB - trade.value - trade.wheeling

    late, _ = services.order_place(participant=seller, body=signed(seller, 2, "sell", KWH, 4 * THB,
                                                                   expires_at=NOW + 60_000), now=NOW)
    report = services.run_matcher(now=NOW + 61_000)
    late.refresh_from_db()
    assert report.expired == 1 and late.status == "expired" and balances(seller)["GXT"] == 9 * KWH


def test_a_settlement_whose_rows_were_lost_is_recovered_from_the_ledger(traders, monkeypatch):
    seller, buyer = traders
    services.order_place(participant=seller, body=signed(seller, 1, "sell", 2 * KWH, 4 * THB), now=NOW)
    services.order_place(participant=buyer, body=signed(buyer, 1, "buy", 2 * KWH, 5 * THB), now=NOW)
    real = services._record_trades
    monkeypatch.setattr(services, "_record_trades", lambda *a, **k: (_ for _ in ()).throw(SystemExit("crash")))
    with pytest.raises(SystemExit):
        services.run_matcher(now=NOW)
    monkeypatch.setattr(services, "_record_trades", real)
    assert Trade.objects.count() == 0 and balances(buyer)["GXT"] > 0  # on the ledger, not in the tables
    report = services.run_matcher(now=NOW)
    assert report.recovered == 1 and report.trades == 0
    trade = Trade.objects.get()
    assert balances(buyer)["GXT"] == trade.effective
    assert set(Order.objects.values_list("status", flat=True)) == {"filled"}
    for order in Order.objects.all():  # the buy's refund, closed in the lost transaction, was recovered too
        locked = sum(r.amount for r in EscrowRecord.objects.filter(order=order, kind="lock"))
        out = sum(r.amount for r in EscrowRecord.objects.filter(order=order).exclude(kind="lock"))
        chain = selectors.raw_accounts([program.order_address(order.pk)])[program.order_address(order.pk)][1]
        assert locked - out == program.Order.unpack(chain).escrowed


def test_a_rebuild_whose_trade_rows_match_the_ledgers_count_reads_no_order_account(traders, monkeypatch):
    """The market account counts committed settlements, and MatcherState the trade rows recorded: when the two
    agree, reconciling does not compare every open order with its ledger account; one row fewer and it does, and
    finds the lost trade."""
    seller, buyer = traders
    services.order_place(participant=seller, body=signed(seller, 1, "sell", 2 * KWH, 4 * THB), now=NOW)
    services.order_place(participant=buyer, body=signed(buyer, 1, "buy", KWH, 5 * THB), now=NOW)
    assert services.run_matcher(now=NOW).trades == 1
    services.order_place(participant=buyer, body=signed(buyer, 2, "buy", KWH // 2, 3 * THB), now=NOW)  # rests
    market = program.Market.unpack(selectors.raw_accounts([program.market_address()])[program.market_address()][1])
    assert market.trades == Trade.objects.count() == MatcherState.trades_recorded() == 1
    read = []
    real = selectors.raw_accounts
    monkeypatch.setattr(selectors, "raw_accounts", lambda addresses: (read.extend(addresses), real(addresses))[1])
    order_accounts = {program.order_address(pk) for pk in Order.objects.values_list("pk", flat=True)}
    services._kept = None
    report = services.run_matcher(now=NOW)
    assert report.recovered == 0 and not order_accounts & set(read)
    # Lose the trade's rows (and their count, kept with them): the counts differ, every open order is compared,
    # and the trade is recovered.
    trade = Trade.objects.get()
    EscrowRecord.objects.filter(trade=trade).delete()
    EscrowRecord.objects.filter(kind="refund").delete()
    trade.delete()
    MatcherState.objects.update(trades=F("trades") - 1)
    Order.objects.update(remaining=F("quantity"), status="open", refunded=0, closed=False)
    services._kept = None
    report = services.run_matcher(now=NOW)
    assert report.recovered == 1 and order_accounts & set(read)
    assert Trade.objects.count() == 1


def test_lost_settlements_of_one_buy_are_recovered_oldest_first_with_the_refund_of_the_one_that_closed_it(traders):
    """Two fills of one buy, the second completing it (and closing it in its own settlement), both of whose rows
    are lost: the recovery records them in ledger order, so the second is seen to close the buy and its refund is
    recorded."""
    seller, buyer = traders
    buy, _ = services.order_place(participant=buyer, body=signed(buyer, 1, "buy", 2 * KWH, 5 * THB), now=NOW)
    services.order_place(participant=seller, body=signed(seller, 1, "sell", KWH, 4 * THB), now=NOW)
    assert services.run_matcher(now=NOW).trades == 1
    services.order_place(participant=seller, body=signed(seller, 2, "sell", KWH, 4 * THB), now=NOW)
    assert services.run_matcher(now=NOW).trades == 1
    buy.refresh_from_db()
    assert buy.closed and buy.refunded > 0
    # Lose every row the two settlements wrote, as a crash between the ledger and the tables would.
    EscrowRecord.objects.exclude(kind="lock").delete()
    Trade.objects.all().delete()
    MatcherState.objects.update(trades=0)  # the count of trade rows is kept with them
    Order.objects.update(remaining=F("quantity"), status="open", refunded=0, closed=False)
    services._kept = None
    report = services.run_matcher(now=NOW)
    assert report.recovered == 2 and report.trades == 0
    buy.refresh_from_db()
    assert buy.closed and buy.status == "filled"
    for order in Order.objects.all():
        locked = sum(r.amount for r in EscrowRecord.objects.filter(order=order, kind="lock"))
        out = sum(r.amount for r in EscrowRecord.objects.filter(order=order).exclude(kind="lock"))
        chain = selectors.raw_accounts([program.order_address(order.pk)])[program.order_address(order.pk)][1]
        assert locked - out == program.Order.unpack(chain).escrowed, order.side
