"""The trading program on the ledger: escrow on placement, refunds on close, atomic settlement of a trade with
its fee, wheeling charge and transmission loss, and the checks that keep a trade within both orders' limits."""

import pytest

from ledger import selectors, services
from ledger.config import platform_authority
from ledger.errors import TransactionFailed
from trading import program
from trading.program import Side
from trading.tariffs import KWH, THB, TariffSchedule, landed_cost, trade_amounts

from tests.factories import GXT, THB as THB_MINT, wallet

FEE_BPS = 25


def submit(instructions, signers):
    return services.instructions_submit(instructions=instructions, signers=signers)


def balance(kp_or_key, mint) -> int:
    key = kp_or_key if isinstance(kp_or_key, bytes) else kp_or_key.pubkey
    return selectors.wallet_balances(key)["GXT" if mint == GXT else "THB"]


def supplies():
    return selectors.mint_get("GXT")[1].supply, selectors.mint_get("THB")[1].supply


@pytest.fixture
def market(ledger):
    authority = platform_authority()
    fee, grid, loss = wallet("fee collector"), wallet("grid operator"), wallet("loss account")
    submit([program.initialize_ix(authority=authority.pubkey, fee_bps=FEE_BPS, fee_owner=fee.pubkey,
                                  grid_owner=grid.pubkey, loss_owner=loss.pubkey, min_price=THB // 2,
                                  max_price=20 * THB, min_trade=KWH // 1000, tariffs=TariffSchedule())],
           [authority])
    return authority, fee, grid, loss


def place(authority, owner, order_id, side, zone, price, quantity, expires_ms=2**62):
    escrow = program.buy_escrow(quantity, price) if side == Side.BUY else quantity
    submit([program.place_ix(owner=owner.pubkey, authority=authority.pubkey, order_id=order_id, side=side, zone=zone,
                             price=price, quantity=quantity, escrow=escrow, expires_ms=expires_ms,
                             digest=bytes(32))], [authority, owner])
    return escrow


def order(order_id):
    address = program.order_address(order_id)
    return program.Order.unpack(selectors.raw_accounts([address])[address][1])


def settle(market, buyer, buy_id, seller, sell_id, quantity, price, close_buy=False):
    authority, fee, grid, loss = market
    return submit([program.settle_ix(authority=authority.pubkey, buy_id=buy_id, buyer=buyer.pubkey, sell_id=sell_id,
                                     seller=seller.pubkey, quantity=quantity, price=price, fee_owner=fee.pubkey,
                                     grid_owner=grid.pubkey, loss_owner=loss.pubkey, close_buy=close_buy)],
                  [authority])


def two_orders(market, *, buy_zone=0):
    """A seller's order 1 (5 kWh at 4.00, zone 0) and a buyer's order 2 (5 kWh up to 6.00, `buy_zone`), from
    wallets holding 10 kWh and 100 THB; returns (seller, buyer, the THB the buy locked)."""
    authority, *_ = market
    seller = wallet("seller", gxt=10 * KWH)
    buyer = wallet("buyer", thb=100 * THB)
    place(authority, seller, 1, Side.SELL, zone=0, price=4 * THB, quantity=5 * KWH)
    locked = place(authority, buyer, 2, Side.BUY, zone=buy_zone, price=6 * THB, quantity=5 * KWH)
    return seller, buyer, locked


def test_a_cross_zone_trade_settles_every_leg_atomically_and_conserves_both_tokens(market):
    authority, fee, grid, loss = market
    seller, buyer, locked = two_orders(market, buy_zone=1)
    before = supplies()
    assert balance(seller, GXT) == 5 * KWH and balance(buyer, THB_MINT) == 100 * THB - locked

    tariff = TariffSchedule().between(1)
    assert landed_cost(4 * THB, tariff) <= 6 * THB
    settle(market, buyer, 2, seller, 1, 3 * KWH, 4 * THB)
    a = trade_amounts(3 * KWH, 4 * THB, tariff)
    fee_amount = a.value * FEE_BPS // 10_000
    assert balance(buyer, GXT) == a.effective and a.effective == 3 * KWH * 97 // 100
    assert balance(loss, GXT) == a.loss
    assert balance(seller, THB_MINT) == a.value - fee_amount
    assert balance(fee, THB_MINT) == fee_amount and balance(grid, THB_MINT) == a.wheeling
    assert order(2).remaining == 2 * KWH and order(1).remaining == 2 * KWH
    assert supplies() == before

    # The rest fills; the buyer's escrow keeps its price improvement until the order is closed.
    settle(market, buyer, 2, seller, 1, 2 * KWH, 4 * THB)
    assert order(2).status == program.OrderStatus.FILLED and order(1).status == program.OrderStatus.FILLED
    left = order(2).escrowed
    assert left > 0
    thb_before = balance(buyer, THB_MINT)
    submit([program.close_ix(signer=buyer.pubkey, order_id=2, owner=buyer.pubkey, side=Side.BUY)], [buyer])
    assert balance(buyer, THB_MINT) == thb_before + left
    assert order(2).status == program.OrderStatus.CLOSED
    assert supplies() == before


def test_a_settlement_with_the_close_flag_refunds_the_price_improvement_when_its_fill_completes_the_buy(market):
    authority, fee, grid, loss = market
    seller, buyer, locked = two_orders(market)
    before = supplies()
    settle(market, buyer, 2, seller, 1, 3 * KWH, 4 * THB, close_buy=True)  # not complete: the flag does nothing
    assert order(2).status == program.OrderStatus.OPEN and order(2).remaining == 2 * KWH
    thb_before = balance(buyer, THB_MINT)
    settle(market, buyer, 2, seller, 1, 2 * KWH, 4 * THB, close_buy=True)
    tariff = TariffSchedule().between(0)
    paid = sum(trade_amounts(q, 4 * THB, tariff).value + trade_amounts(q, 4 * THB, tariff).wheeling
               for q in (3 * KWH, 2 * KWH))
    assert order(2).status == program.OrderStatus.CLOSED and order(2).escrowed == 0
    assert balance(buyer, THB_MINT) == thb_before + locked - paid  # everything the fills did not use, at once
    with pytest.raises(TransactionFailed) as failed:
        submit([program.close_ix(signer=buyer.pubkey, order_id=2, owner=buyer.pubkey, side=Side.BUY)], [buyer])
    assert failed.value.reason_code == "order_closed"
    assert supplies() == before


def test_cancel_refunds_exactly_the_remainder_once(market):
    authority, *_ = market
    seller = wallet("seller", gxt=10 * KWH)
    place(authority, seller, 7, Side.SELL, zone=0, price=4 * THB, quantity=4 * KWH)
    submit([program.close_ix(signer=seller.pubkey, order_id=7, owner=seller.pubkey, side=Side.SELL)], [seller])
    assert balance(seller, GXT) == 10 * KWH
    with pytest.raises(TransactionFailed) as again:
        submit([program.close_ix(signer=seller.pubkey, order_id=7, owner=seller.pubkey, side=Side.SELL)], [seller])
    assert again.value.reason_code == "order_closed"
    assert balance(seller, GXT) == 10 * KWH


@pytest.mark.parametrize("slot, other", [(7, 9), (7, 11), (8, 11), (9, 7)])  # seller, fee, grid; 11 = buyer THB
def test_a_settlement_cannot_pay_one_party_s_leg_to_another_s_account(market, slot, other):
    """Every account is checked in its own place: passing one party's account in two places is refused."""
    from ledger.encoding import AccountMeta, Instruction

    authority, fee, grid, loss = market
    seller, buyer, _ = two_orders(market)
    ix = program.settle_ix(authority=authority.pubkey, buy_id=2, buyer=buyer.pubkey, sell_id=1, seller=seller.pubkey,
                           quantity=5 * KWH, price=4 * THB, fee_owner=fee.pubkey, grid_owner=grid.pubkey,
                           loss_owner=loss.pubkey, close_buy=True)
    metas = list(ix.accounts)
    metas[slot] = AccountMeta(metas[other].pubkey, False, True)
    thb_before = {who: balance(who, THB_MINT) for who in (seller, buyer, fee, grid)}
    with pytest.raises(TransactionFailed) as refused:
        submit([Instruction(ix.program_id, tuple(metas), ix.data)], [authority])
    assert refused.value.reason_code == "invalid_account_address"
    assert {who: balance(who, THB_MINT) for who in (seller, buyer, fee, grid)} == thb_before
    assert order(1).remaining == 5 * KWH and order(2).remaining == 5 * KWH


@pytest.mark.parametrize("quantity, price, reason", [
    (3 * KWH, 3 * THB, "price_below_ask"),        # below the seller's 4.00
    (3 * KWH, 5_900_000, "price_above_bid"),       # landed cost above the buyer's 6.00 once charges are added
    (6 * KWH, 4 * THB, "quantity_exceeds_remaining"),
])
def test_a_trade_outside_either_order_s_limits_fails_and_moves_nothing(market, quantity, price, reason):
    seller, buyer, _ = two_orders(market, buy_zone=2)
    snapshot = (balance(buyer, GXT), balance(buyer, THB_MINT), balance(seller, THB_MINT), order(1), order(2))
    with pytest.raises(TransactionFailed) as failed:
        settle(market, buyer, 2, seller, 1, quantity, price)
    assert failed.value.reason_code == reason
    assert (balance(buyer, GXT), balance(buyer, THB_MINT), balance(seller, THB_MINT), order(1), order(2)) == snapshot


def test_self_trade_insufficient_funds_and_a_paused_market_are_refused(market):
    authority, *_ = market
    both = wallet("both", gxt=10 * KWH, thb=100 * THB)
    place(authority, both, 1, Side.SELL, zone=0, price=4 * THB, quantity=KWH)
    place(authority, both, 2, Side.BUY, zone=0, price=5 * THB, quantity=KWH)
    with pytest.raises(TransactionFailed) as failed:
        settle(market, both, 2, both, 1, KWH, 4 * THB)
    assert failed.value.reason_code == "self_trade"

    poor = wallet("poor", thb=THB)
    with pytest.raises(TransactionFailed) as failed:
        place(authority, poor, 3, Side.BUY, zone=0, price=5 * THB, quantity=KWH)
    assert failed.value.reason_code == "insufficient_funds"
    assert balance(poor, THB_MINT) == THB
    assert not selectors.raw_accounts([program.order_address(3)])

    submit([program.set_paused_ix(authority=authority.pubkey, paused=True)], [authority])
    with pytest.raises(TransactionFailed) as failed:
        place(authority, both, 4, Side.SELL, zone=0, price=4 * THB, quantity=KWH)
    assert failed.value.reason_code == "market_paused"


def test_orders_need_their_owner_and_the_market_authority_and_the_exact_escrow(market):
    authority, *_ = market
    seller = wallet("seller", gxt=10 * KWH)
    with pytest.raises(TransactionFailed) as failed:
        submit([program.place_ix(owner=seller.pubkey, authority=authority.pubkey, order_id=9, side=Side.SELL, zone=0,
                                 price=4 * THB, quantity=KWH, escrow=KWH - 1, expires_ms=2**62, digest=bytes(32))],
               [authority, seller])
    assert failed.value.reason_code == "wrong_escrow"
    intruder = wallet("intruder")
    with pytest.raises(TransactionFailed) as failed:
        submit([program.place_ix(owner=seller.pubkey, authority=intruder.pubkey, order_id=9, side=Side.SELL, zone=0,
                                 price=4 * THB, quantity=KWH, escrow=KWH, expires_ms=2**62, digest=bytes(32))],
               [intruder, seller])
    assert failed.value.reason_code == "unauthorized"
    assert balance(seller, GXT) == 10 * KWH
