"""`manage.py bench matching`: the pure matching engine on a reproducible synthetic order flow, on one core.

Setup, not measured: `trading.flow.synthetic_flow` builds every order (as the API would decode them before the
engine sees them), every cancel and every expiry sweep, from `seed`; then the flow is moved out of the cyclic
garbage collector's reach (`gc.freeze`), since it is input and not the engine's state. The collector stays on
for the engine.

Measured: two passes over the same flow, each on a fresh ten-zone engine.
- Throughput: the first pass runs the flow with nothing around the engine's calls. `orders_per_s` counts every
  message the engine handled, new orders and cancels, over the wall time of the whole pass, expiry sweeps (one a
  simulated second) included.
- Latency: the second pass times each `submit` and `cancel` with `time.perf_counter_ns` for `p50_us`, `p99_us`
  and `p999_us`, which therefore include the timer's own cost; `timed_orders_per_s` is that pass's throughput.
The engine is deterministic, so both passes make the same trades; the benchmark checks that they do.
`cpu_s` next to `elapsed_s` (the first pass) shows how much of the wall time this process had the CPU, and
`cpu_orders_per_s` the throughput per second of that CPU time: on a shared machine other processes take the rest
of the wall time, and `orders_per_s` falls with the machine's load while `cpu_orders_per_s` mostly does not.
"""

from __future__ import annotations

import gc
import platform
import time

from ledger.benchmarks import machine, percentile
from ledger.errors import GridTokenXError
from trading.bench_orders import bench_orders
from trading.bench_settlement import bench_settlement
from trading.engine import Engine
from trading.events import EXPIRED
from trading.flow import CANCEL, EXPIRE, SUBMIT, synthetic_flow

ZONES = 10


def run_untimed(flow: list[tuple]) -> tuple[Engine, dict]:
    engine = Engine(ZONES)
    submit, cancel, expire = engine.submit, engine.cancel, engine.expire
    cancelled = expired = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for op, arg, now in flow:
        if op is SUBMIT:
            submit(arg, now)
        elif op is CANCEL:
            if cancel(arg, now):
                cancelled += 1
        else:
            for event in expire(now):
                if event[0] is EXPIRED:
                    expired += 1
    elapsed, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return engine, {"elapsed": elapsed, "cpu": cpu, "cancelled": cancelled, "expired": expired}


def run_timed(flow: list[tuple]) -> tuple[Engine, list[int], float]:
    engine = Engine(ZONES)
    submit, cancel, expire = engine.submit, engine.cancel, engine.expire
    latencies: list[int] = []
    record = latencies.append
    clock = time.perf_counter_ns
    wall0 = clock()
    for op, arg, now in flow:
        if op is SUBMIT:
            t0 = clock()
            submit(arg, now)
            record(clock() - t0)
        elif op is CANCEL:
            t0 = clock()
            cancel(arg, now)
            record(clock() - t0)
        else:
            expire(now)
    return engine, latencies, (clock() - wall0) / 1e9


def bench_matching(*, log, orders: int | None = None, seed: int = 2026, count: int | None = None,
                   threads: int | None = None) -> dict:
    """`orders` new orders (default 1,000,000; `--count` means the same), with about a third as many cancels on
    top; `seed` picks the flow (the bench command's --orders and --seed)."""
    if threads not in (None, 1):
        raise GridTokenXError("the matching engine runs on one core; --threads does not apply")
    orders = orders or count or 1_000_000
    started = time.perf_counter()
    flow = synthetic_flow(orders=orders, zones=ZONES, seed=seed)
    messages = sum(1 for op, _, _ in flow if op is not EXPIRE)
    log(f"generated {messages:,} messages from seed {seed} in {time.perf_counter() - started:.1f} s")

    gc.collect()
    gc.freeze()
    try:
        engine, first = run_untimed(flow)
        trades, resting = engine.trades, engine.resting
        del engine
        gc.collect()
        log(f"throughput: {messages / first['elapsed']:,.0f} messages/s "
            f"({first['elapsed']:.2f} s, {first['cpu']:.2f} s on the CPU)")
        engine, latencies, timed_elapsed = run_timed(flow)
        if (engine.trades, engine.resting) != (trades, resting):
            raise GridTokenXError("the two passes over the same flow differ; the engine is not deterministic")
        del engine
    finally:
        gc.unfreeze()
    latencies.sort()
    log(f"latency: p50 {percentile(latencies, 0.5) / 1000:.2f} us, p99 {percentile(latencies, 0.99) / 1000:.2f} us")
    return {
        "benchmark": "matching",
        "orders_per_s": round(messages / first["elapsed"], 1),
        "p50_us": round(percentile(latencies, 0.50) / 1000, 2),
        "p99_us": round(percentile(latencies, 0.99) / 1000, 2),
        "p999_us": round(percentile(latencies, 0.999) / 1000, 2),
        "timed_orders_per_s": round(messages / timed_elapsed, 1),
        "cpu_orders_per_s": round(messages / first["cpu"], 1),
        "orders": orders,
        "cancels": messages - orders,
        "cancelled": first["cancelled"],
        "trades": trades,
        "expired": first["expired"],
        "resting": resting,
        "zones": ZONES,
        "seed": seed,
        "elapsed_s": round(first["elapsed"], 3),
        "cpu_s": round(first["cpu"], 3),
        "python": platform.python_version(),
        "machine": machine(),
    }


BENCHMARKS = {"matching": bench_matching, "orders": bench_orders, "settlement": bench_settlement}
