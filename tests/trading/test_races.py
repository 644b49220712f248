"""Two buyers racing for one offer never oversell it: not through the services from concurrent threads (each with
its own database connection, on PostgreSQL in CI), and not on the ledger when two settlements of the same sell
arrive together."""

from concurrent.futures import ThreadPoolExecutor

from django.db import connection

from ledger import selectors
from ledger import services as ledger_services
from ledger.config import platform_authority
from ledger.crypto import parse_address
from ledger.errors import TransactionFailed
from ledger.token_program import mint_address
from registry.defaults import zones_seed
from trading import program, services
from trading.models import EscrowRecord, Order, Trade
from trading.tariffs import KWH, THB

from tests.energy import participant
from tests.trading.test_services import NOW, balances, fund, signed


def _market():
    zones_seed()
    seller = participant("seller")
    buyers = [participant(f"buyer{i}", role="consumer") for i in range(2)]
    fund(seller, gxt=KWH)
    for b in buyers:
        fund(b, thb=50 * THB)
    return seller, buyers


def _in_thread(fn):
    def run(*args):
        try:
            return fn(*args)
        finally:
            connection.close()
    return run


def test_two_buyers_racing_for_one_offer_through_the_services_never_oversell(ledger):
    seller, buyers = _market()
    services.order_place(participant=seller, body=signed(seller, 1, "sell", KWH, 4 * THB), now=NOW)

    @_in_thread
    def buy(b):
        services.order_place(participant=b, body=signed(b, 1, "buy", KWH, 5 * THB), now=NOW)
        return services.run_matcher(now=NOW)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(buy, buyers))
    services.run_matcher(now=NOW)  # whichever run found the lock taken left its order for this one

    assert Trade.objects.count() == 1 and Trade.objects.get().quantity == KWH
    assert balances(seller)["GXT"] == 0
    received = sorted(balances(b)["GXT"] for b in buyers)
    assert received[0] == 0 and received[1] == Trade.objects.get().effective
    assert selectors.mint_get("GXT")[1].supply == KWH  # nothing made or lost: the loss account holds the rest
    assert Order.objects.filter(side="buy", status="open").count() == 1


def test_two_settlements_of_one_sell_arriving_together_settle_once(ledger):
    seller, buyers = _market()
    sell, _ = services.order_place(participant=seller, body=signed(seller, 1, "sell", KWH, 4 * THB), now=NOW)
    buys = [services.order_place(participant=b, body=signed(b, 1, "buy", KWH, 5 * THB), now=NOW)[0]
            for b in buyers]
    services.market_initialize()
    fee, grid, loss = services.collectors()
    authority = platform_authority()

    @_in_thread
    def settle(buy):
        try:
            ledger_services.instructions_submit(instructions=[program.settle_ix(
                authority=authority.pubkey, buy_id=buy.pk, buyer=parse_address(buy.owner.wallet), sell_id=sell.pk,
                seller=parse_address(seller.wallet), quantity=KWH, price=4 * THB, fee_owner=fee, grid_owner=grid,
                loss_owner=loss)], signers=[authority])
            return "settled"
        except TransactionFailed as exc:
            return exc.reason_code

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(settle, buys))
    assert outcomes.count("settled") == 1, outcomes
    assert balances(seller)["GXT"] == 0
    assert sum(balances(b)["GXT"] for b in buyers) < KWH  # one buyer's effective energy, after the loss
    gxt_escrow = selectors.token_account_get(program.escrow_address(sell.pk, program.Side.SELL))
    assert gxt_escrow.amount == 0
    assert selectors.mint_get(mint_address("GXT"))[1].supply == KWH
    assert EscrowRecord.objects.filter(kind="lock").count() == 3
