"""`manage.py bench settlement`: matched trades settled atomically on the ledger per second.

Setup, not measured: sellers and buyers (custodial wallets funded by the platform authority), the default zones,
and `count` resting sell orders with `count` crossing buy orders, all placed through `trading.services`, which
verifies each order's signature and locks its escrow on the ledger. Buy i meets sell i exactly.
Measured: one matcher run (`trading.services.run_matcher`) that matches the book and settles every trade in its
own ledger transaction (the buyer's THB to the seller, the fee and the wheeling charge to their collectors, the
seller's GXT to the buyer and the loss account), commits them durably, and records the trades, the orders'
progress and the escrow movements in the tables; then it refunds each buy's price improvement. Every trade must
settle; a refusal fails the benchmark.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from django.db import connection

from ledger import services as ledger_services
from ledger.benchmarks import database, machine
from ledger.config import platform_authority
from ledger.crypto import parse_address
from ledger.errors import GridTokenXError
from ledger.token_program import associated_token_address, mint_address, mint_to_ix
from registry.defaults import zones_seed
from registry.models import Participant
from registry.services import user_register
from trading import services
from trading.models import Order, Trade
from trading.order_message import OrderMessage
from trading.tariffs import KWH, THB

TRADERS = 8  # sellers, and as many buyers


class BenchFailed(GridTokenXError):
    code = "bench_failed"


def bench_traders(run: str, count: int = TRADERS) -> tuple[list[Participant], list[Participant]]:
    def one(name: str) -> Participant:
        try:
            return Participant.objects.get(user__username=name)
        except Participant.DoesNotExist:
            return user_register(username=name, password="bench settlement password", role="prosumer")
        finally:
            connection.close()

    names = [f"bench-{side}-{run}-{i}" for side in ("seller", "buyer") for i in range(count)]
    with ThreadPoolExecutor(8) as pool:
        people = list(pool.map(one, names))
    return people[:count], people[count:]


def fund(people: list[Participant], symbol: str, amount: int) -> None:
    authority = platform_authority()
    mint = mint_address(symbol)
    ixs = [mint_to_ix(mint=mint, destination=associated_token_address(parse_address(p.wallet), mint),
                      authority=authority.pubkey, amount=amount) for p in people]
    for i in range(0, len(ixs), 16):  # 16 mints keep a transaction well under its size limit
        ledger_services.instructions_submit(instructions=ixs[i:i + 16], signers=[authority])


def _place_all(people: list[Participant], count: int, side: str, price: int, expires: int) -> None:
    """`count` orders of `side`, order i by person i mod len(people), placed in batches as the order desk does."""
    placements = []
    for i in range(count):
        p = people[i % len(people)]
        key = services.custodial_key(p)
        message = OrderMessage(key.pubkey, i, side, "limit", "gtc", False, "BKK-C", KWH // 10, price, expires)
        placements.append(services.Placement(p, message.to_json(message.sign(key))))
    for start in range(0, count, 500):
        for placement in services.orders_place(placements[start:start + 500]):
            if placement.error is not None:
                raise BenchFailed(f"setup: an order was refused: {placement.error.message}")


def bench_settlement(*, log, count: int = 2000) -> dict:
    zones_seed()
    services.market_initialize()
    run = str(int(time.time()))
    sellers, buyers = bench_traders(run)
    per = -(-count // TRADERS)
    fund(sellers, "GXT", per * KWH // 10)
    fund(buyers, "THB", per * 6 * THB // 10 + THB)
    expires = services.now_ms() + 3_600_000
    log(f"placing {count} sells and {count} buys (setup)")
    _place_all(sellers, count, "sell", 4 * THB, expires)
    _place_all(buyers, count, "buy", 5 * THB, expires)
    before = Trade.objects.count()
    log(f"matching and settling {count} trades")
    t0 = time.perf_counter()
    report = services.run_matcher()
    elapsed = time.perf_counter() - t0
    settled = Trade.objects.count() - before
    if report.errors or settled != count:
        raise BenchFailed(f"{settled} of {count} trades settled; errors: {report.errors[:5]}")
    open_left = Order.objects.filter(owner__in=[*sellers, *buyers], status=Order.Status.OPEN).count()
    if open_left:
        raise BenchFailed(f"{open_left} orders were left open")
    return {
        "benchmark": "settlement",
        "trades_per_s": round(settled / elapsed, 1),
        "trades": settled,
        "elapsed_s": round(elapsed, 3),
        "database": database(),
        "machine": machine(),
    }
