"""`manage.py bench orders`: signed orders placed over HTTP per second, each verified and escrow-locked on the
ledger, with the matcher running as it does in service.

Setup, not measured: `traders` sellers and as many buyers (custodial wallets funded by the platform authority,
API tokens), the default zones, and every order signed in advance with its owner's key (signing is the client's
work, not the server's). Sells ask 4.00 to 4.60 THB/kWh and buys bid 4.30 to 5.00 (a same-zone landed cost adds 0.50 THB and 1 %), so about one order in six
crosses; a tenth of the buys may buy across zones.

Measured: one client per trader (aiohttp, one keep-alive connection each) posts its orders one after another
(`POST /api/v1/trading/orders`; with `--batch N`, N at a time to `POST /api/v1/trading/orders/batch`, and each
order's latency is that of its request) to `servers` Daphne processes (one by default: on a 2-core machine a second server
only adds a process competing for the cores, and hands its ledger transactions to the first through the pending
table). Each placement verifies the signature, checks the market's rules, locks the escrow in a ledger
transaction committed durably, and kicks the matcher: a thread of the server on the embedded default, a Celery
worker (started by the bench) with Redis. The server's order desk places whatever orders are waiting together
(trading.desk). Any order refused fails the benchmark. Then, untimed, the bench waits until no crossing orders
remain and reports the trades the matcher settled.
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager

import aiohttp
from django.conf import settings
from rest_framework.authtoken.models import Token

from ledger import node as ledger_node
from ledger.benchmarks import database, machine, percentile
from oracle.benchmarks import HEADERS, BenchFailed, server_env, servers_running
from registry.defaults import zones_seed
from registry.wallets import unseal
from trading import services
from trading.bench_settlement import bench_traders, fund
from trading.desk import MAX_BATCH_ORDERS
from trading.models import Order, Trade
from trading.order_message import OrderMessage
from trading.tariffs import KWH, THB, ask_ceiling

PATH = "/api/v1/trading/orders"
BATCH_PATH = "/api/v1/trading/orders/batch"
QUANTITY = KWH // 10
ZONES = ("BKK-C", "BKK-N", "BKK-E", "BKK-S", "BKK-W")


def sign_orders(people: list, count: int, seed: int, expires: int) -> list[list[dict]]:
    """Each trader's orders, in the order its client posts them: sells for the first half of `people`."""
    rng = random.Random(seed)
    half = len(people) // 2
    plans: list[list[dict]] = [[] for _ in people]
    keys = [unseal(p.wallet_secret) for p in people]
    for n in range(count):
        i = n % len(people)
        sell = i < half
        zone = ZONES[i % len(ZONES)]
        price = rng.randint(400, 460) if sell else rng.randint(430, 500)
        message = OrderMessage(keys[i].pubkey, len(plans[i]) + 1, "sell" if sell else "buy", "limit", "gtc",
                               not sell and rng.random() < 0.1, zone, QUANTITY, price * THB // 100, expires)
        plans[i].append(message.to_json(message.sign(keys[i])))
    return plans


@contextmanager
def celery_worker(log):
    """A Celery worker on this bench's database, as production runs one; stopped on the way out."""
    output = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "gridtokenx", "worker", "--pool", "solo",
                             "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
                            cwd=settings.BASE_DIR, env=server_env(), stdout=output, stderr=subprocess.STDOUT)
    log("Celery worker started")
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.returncode not in (0, -15):
            output.seek(0)
            log(output.read().decode(errors="replace")[-2000:])
        output.close()


async def _send(urls: list[str], tokens: list[str], plans: list[list[dict]], batch: int = 1):
    # aiohttp rather than httpx: the client shares the machine with the servers, and costs several times less.
    connector = aiohttp.TCPConnector(limit=len(plans))
    timeout = aiohttp.ClientTimeout(total=120.0)
    latencies: list[float] = []
    statuses: Counter = Counter()
    problems: list[str] = []

    async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=HEADERS) as session:
        async def trader(i: int) -> None:
            url = urls[i % len(urls)] + (PATH if batch == 1 else BATCH_PATH)
            headers = {"authorization": f"Token {tokens[i]}", "content-type": "application/json"}
            plan = plans[i]
            for start in range(0, len(plan), batch):
                group = plan[start:start + batch]
                data = json.dumps(group[0] if batch == 1 else {"orders": group}).encode()
                t0 = time.perf_counter()
                async with session.post(url, data=data, headers=headers) as response:
                    text = await response.read()
                elapsed = time.perf_counter() - t0
                # Each order's latency is its request's: from sending it to reading the answer about it.
                latencies.extend([elapsed] * len(group))
                if batch == 1 or response.status != 200:
                    codes = [response.status] * len(group)
                else:
                    codes = [result["status"] for result in json.loads(text)["results"]]
                for code in codes:
                    statuses[code] += 1
                if any(code != 201 for code in codes) and len(problems) < 10:
                    problems.append(f"HTTP {response.status}: {text[:300].decode(errors='replace')}")

        start = time.perf_counter()
        await asyncio.gather(*(trader(i) for i in range(len(plans))))
        elapsed = time.perf_counter() - start
    return elapsed, sorted(latencies), statuses, problems


def _crossing_left(owners: list) -> bool:
    """Whether any of the bench's open orders could still trade in its own zone (the matcher has not caught up)."""
    same_zone = services.params().tariffs.between(0)
    for zone in ZONES:
        mine = Order.objects.filter(owner__in=owners, status=Order.Status.OPEN, zone__code=zone)
        best_bid = mine.filter(side="buy").order_by("-price").values_list("price", flat=True).first()
        best_ask = mine.filter(side="sell").order_by("price").values_list("price", flat=True).first()
        if best_bid is not None and best_ask is not None and best_ask <= ask_ceiling(best_bid, same_zone):
            return True
    return False


def bench_orders(*, log, count: int = 10000, traders: int = 16, servers: int | None = None, seed: int = 2026,
                 batch: int = 1) -> dict:
    servers = servers or 1
    if min(count, traders, servers) < 1:
        raise BenchFailed("count, traders and servers must be at least 1")
    if not 1 <= batch <= MAX_BATCH_ORDERS:
        raise BenchFailed(f"batch must be 1 to {MAX_BATCH_ORDERS} orders per request")
    zones_seed()
    services.market_initialize()
    run = str(int(time.time()))
    sellers, buyers = bench_traders(run, traders)
    people = sellers + buyers
    per = -(-count // len(people))
    fund(sellers, "GXT", per * QUANTITY)
    fund(buyers, "THB", per * THB)  # 0.1 kWh at up to 5.00 THB, with wheeling and fee, stays under 1 THB
    tokens = [Token.objects.get_or_create(user=p.user)[0].key for p in people]
    plans = sign_orders(people, count, seed, services.now_ms() + 3_600_000)
    log(f"{len(people)} traders funded, {count} orders signed")
    # The servers order the ledger's transactions, as in service: this process steps down as its sequencer.
    ledger_node.shutdown()
    before = Trade.objects.count()

    worker = celery_worker(log) if settings.TRADING_MATCHER == "celery" else None
    with (worker or _nothing()), servers_running(servers, log) as running:
        elapsed, latencies, statuses, problems = asyncio.run(_send([s.url for s in running], tokens, plans, batch))
        if statuses[201] != count:
            logs = "\n".join(f"-- {s.url}:\n{s.log_tail()}" for s in running)
            raise BenchFailed(f"{statuses[201]} of {count} orders placed ({dict(statuses)}), e.g. {problems[:3]}"
                              f"\nserver logs:\n{logs}")
        log(f"{count} orders placed in {elapsed:.2f} s; waiting for the matcher to catch up")
        t0 = time.perf_counter()
        deadline = time.monotonic() + 300
        while _crossing_left(people):
            if time.monotonic() > deadline:
                raise BenchFailed("crossing orders were still open 300 s after the last placement")
            time.sleep(0.2)
        catch_up = time.perf_counter() - t0
    trades = Trade.objects.count() - before
    return {
        "benchmark": "orders",
        "orders_per_s": round(count / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "orders": count,
        "trades": trades,
        "matcher": settings.TRADING_MATCHER,
        "matcher_catch_up_s": round(catch_up, 2),
        "servers": servers,
        "concurrency": len(people),
        "orders_per_request": batch,
        "elapsed_s": round(elapsed, 3),
        "database": database(),
        "machine": machine(),
    }


@contextmanager
def _nothing():
    yield None
