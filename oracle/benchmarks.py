"""`manage.py bench ingest`: signed meter readings accepted per second end to end over HTTP, by real Daphne
processes serving the bench's own database, then the same readings settled on the ledger (minted and burned).

Setup, not measured: a zone, `meters` meters (`Keypair.from_label("bench meter <i>")`, serial BENCH-<i>) with one
owner per 10 meters, registered through registry.services or reused from an earlier run on the same database;
then every reading is signed in advance, since signing is the meters' work, not the server's.

Measured: `threads` aggregators post the readings to `servers` Daphne processes (by default two on PostgreSQL,
one on SQLite; two aggregators a server), through the batch endpoint (`batch` readings a request) or one reading
a request (`batch=0`). Each aggregator owns its own meters and
sends one request at a time, so a meter's intervals arrive in order, as from a real aggregator. Then
`oracle.services.settle` runs in this process. Any reading not accepted, or not settled, fails the benchmark:
a rate of rejections would measure nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
from django.conf import settings
from django.db import connection, connections

from ledger.benchmarks import database, machine, percentile
from ledger.crypto import Keypair
from ledger.errors import Conflict, GridTokenXError
from oracle import services
from oracle.models import Reading
from oracle.reading import Reading as SignedReading
from registry import services as registry_services
from registry.models import Meter, Participant, Zone

ZONE = "BENCH-1"
METERS_PER_OWNER = 10
CAPACITY_W = 5000
MAX_IMPORT_W = 15000
# Readings start no earlier than a year ago, and after every interval an earlier run used.
HISTORY_S = 365 * 86400
BATCH_PATH = "/api/v1/oracle/readings/batch"
SINGLE_PATH = "/api/v1/oracle/readings"
# Behind a TLS proxy in production; the header keeps a server with DEBUG off from redirecting plain HTTP.
HEADERS = {"content-type": "application/json", "x-forwarded-proto": "https"}
STARTUP_S = 60.0


@dataclass(frozen=True)
class BenchMeter:
    index: int
    key: Keypair
    last_end: int


class BenchFailed(GridTokenXError):
    code = "bench_failed"


# -- setup ------------------------------------------------------------------------------------------------------

def _parallel(fn, items: list, workers: int = 16) -> list:
    """fn over items on `workers` threads (concurrent registrations share ledger blocks), in order."""
    out = [None] * len(items)

    def run(part: int) -> None:
        try:
            for i in range(part, len(items), workers):
                out[i] = fn(items[i])
        finally:
            connections.close_all()  # this thread's own connections; they would outlive it otherwise

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, range(workers)))
    return out


def bench_meters(meters: int, log) -> list[BenchMeter]:
    """The bench's meters, registering whichever an earlier run on this database did not."""
    if not Zone.objects.filter(code=ZONE).exists():
        try:
            registry_services.zone_register(code=ZONE, name="Benchmark zone", center=(13.76, 100.69),
                                            bbox=(13.5, 100.3, 14.0, 101.0))
        except Conflict:
            pass
    owners_needed = -(-meters // METERS_PER_OWNER)
    usernames = [f"bench-owner-{j:05d}" for j in range(owners_needed)]
    owners = {p.user.username: p for p in Participant.objects.select_related("user")
              .filter(user__username__in=usernames)}
    missing = [u for u in usernames if u not in owners]
    if missing:
        log(f"registering {len(missing)} participants")
        for p in _parallel(lambda u: registry_services.user_register(
                username=u, password=f"{u} bench password", role=Participant.Role.PROSUMER), missing):
            owners[p.user.username] = p

    keys = [Keypair.from_label(f"bench meter {i}") for i in range(meters)]
    serials = [f"BENCH-{i:06d}" for i in range(meters)]
    rows = {m.serial: m for m in Meter.objects.filter(serial__in=serials)}
    missing_meters = [i for i in range(meters) if serials[i] not in rows]
    if missing_meters:
        log(f"registering {len(missing_meters)} meters")

        def register(i: int) -> Meter:
            return registry_services.meter_register(
                owner=owners[usernames[i // METERS_PER_OWNER]], serial=serials[i], type=Meter.Type.SOLAR,
                zone_code=ZONE, latitude=13.76, longitude=100.69, capacity_w=CAPACITY_W, max_import_w=MAX_IMPORT_W,
                public_key=keys[i].address)

        for m in _parallel(register, missing_meters):
            rows[m.serial] = m
    for i, serial in enumerate(serials):
        if rows[serial].public_key != keys[i].address:
            raise BenchFailed(f"meter {serial} exists with another key; benchmark on a fresh database")
    return [BenchMeter(i, keys[i], rows[serials[i]].last_end) for i in range(meters)]


def first_interval(fleet: list[BenchMeter], intervals: int, now: int) -> int:
    """The first interval start: aligned, after every meter's last accepted interval, with `intervals` in the past."""
    step = settings.ORACLE_INTERVAL_SECONDS
    start = max((now - HISTORY_S) // step * step, max(m.last_end for m in fleet))
    if start + intervals * step > now:
        raise BenchFailed(f"the bench meters' readings already reach {start}: too few past intervals remain for "
                          f"{intervals} more; benchmark on a fresh database")
    return start


def sign_readings(fleet: list[BenchMeter], count: int, start: int, seed: int = 2026) -> list[tuple[int, dict]]:
    """`count` signed readings as (meter index, JSON body): every meter's first interval, then every meter's second..."""
    rng = random.Random(seed)
    step = settings.ORACLE_INTERVAL_SECONDS
    out = []
    for n in range(count):
        meter = fleet[n % len(fleet)]
        slot = n // len(fleet)
        reading = SignedReading(
            meter=meter.key.pubkey, interval_start=start + slot * step, interval_seconds=step,
            generated_wh=rng.randint(0, CAPACITY_W * step // 3600), consumed_wh=rng.randint(50, 900),
            sequence=(start + slot * step) // step, voltage_mv=rng.randint(225_000, 235_000),
            power_factor_ppm=rng.randint(950_000, 1_000_000), frequency_mhz=rng.randint(49_900, 50_100))
        out.append((meter.index, reading.to_json(reading.sign(meter.key))))
    return out


def plan_requests(readings: list[tuple[int, dict]], workers: int, batch: int) -> list[list[tuple[bytes, int]]]:
    """Each worker's request bodies, in order, with the number of readings in each. A meter belongs to one worker."""
    plans: list[list[tuple[bytes, int]]] = []
    for w in range(workers):
        own = [body for meter, body in readings if meter % workers == w]
        if batch == 0:
            plans.append([(json.dumps(body).encode(), 1) for body in own])
        else:
            plans.append([(json.dumps({"readings": own[i:i + batch]}).encode(), len(own[i:i + batch]))
                          for i in range(0, len(own), batch)])
    return plans


# -- the servers ------------------------------------------------------------------------------------------------

def server_env() -> dict[str, str]:
    """The environment of a server process: this one's, pointed at the database this process uses (a test
    database included), with the embedded scheduler off so nothing settles during the timed phase."""
    env = {**os.environ, "GRIDTOKENX_SCHEDULER": "off"}
    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite":
        env["GRIDTOKENX_SQLITE_PATH"] = name
    else:
        url = urlsplit(os.environ["DATABASE_URL"])
        env["DATABASE_URL"] = urlunsplit(url._replace(path="/" + quote(name)))
    return env


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    output: IO[bytes]  # its stdout and stderr

    def log_tail(self, chars: int = 3000) -> str:
        self.output.seek(0)
        return self.output.read().decode(errors="replace")[-chars:]


@contextmanager
def servers_running(count: int, log):
    """Start `count` Daphne processes on sockets of their own; yield them once they answer; stop them on the way
    out."""
    started: list[Server] = []
    env = server_env()
    try:
        for _ in range(count):
            # Bound here and handed over, so no other process can take the port between choosing and listening.
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                sock.listen(1024)
                output = tempfile.TemporaryFile()
                proc = subprocess.Popen(
                    [sys.executable, "-m", "daphne", "--fd", str(sock.fileno()), "--access-log", os.devnull,
                     "gridtokenx.asgi:application"],
                    cwd=settings.BASE_DIR, env=env, pass_fds=(sock.fileno(),), stdout=output,
                    stderr=subprocess.STDOUT)
                started.append(Server(f"http://127.0.0.1:{sock.getsockname()[1]}", proc, output))
        deadline = time.monotonic() + STARTUP_S
        with httpx.Client(headers=HEADERS, timeout=5.0) as client:
            for server in started:
                url = server.url
                while True:
                    if server.proc.poll() is not None:
                        raise BenchFailed(f"server {url} exited with status {server.proc.returncode}:\n"
                                          f"{server.log_tail()}")
                    try:
                        # Loads the URLconf and the oracle's code and opens a database connection before timing.
                        response = client.get(f"{url}/api/v1/oracle/status")
                        if response.status_code == 200:
                            break
                        raise BenchFailed(f"server {url} answered {response.status_code}: {response.text[:500]}")
                    except httpx.TransportError:
                        if time.monotonic() > deadline:
                            raise BenchFailed(f"server {url} did not answer within {STARTUP_S:.0f} s:\n"
                                              f"{server.log_tail()}") from None
                        time.sleep(0.1)
        log(f"{count} Daphne server(s) up: {', '.join(s.url for s in started)}")
        yield started
    finally:
        for server in started:
            if server.proc.poll() is None:
                server.proc.terminate()
        for server in started:
            try:
                server.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.wait()
            server.output.close()


# -- the timed phase --------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    elapsed: float
    latencies: list[float]
    statuses: Counter
    problems: list[str]


def _tally(response: httpx.Response, n: int, single: bool, statuses: Counter, problems: list[str]) -> None:
    if single:
        if response.status_code in (200, 201):
            statuses[response.json()["status"]] += 1
            return
        statuses["rejected"] += 1
    elif response.status_code != 200:
        statuses["failed"] += n
    else:
        for result in response.json()["results"]:
            statuses[result["status"]] += 1
            if result["status"] != "accepted" and len(problems) < 10:
                problems.append(f"{result['status']} {result.get('code', '')}: {result.get('message', '')}")
        return
    if len(problems) < 10:
        problems.append(f"HTTP {response.status_code}: {response.text[:200]}")


async def _send(urls: list[str], plans: list[list[tuple[bytes, int]]], single: bool) -> Outcome:
    per_server = -(-len(plans) // len(urls))
    limits = httpx.Limits(max_connections=per_server, max_keepalive_connections=per_server)
    clients = [httpx.AsyncClient(base_url=url, headers=HEADERS, limits=limits, timeout=300.0) for url in urls]
    path = SINGLE_PATH if single else BATCH_PATH
    latencies: list[float] = []
    statuses: Counter = Counter()
    problems: list[str] = []

    async def aggregator(w: int, requests: list[tuple[bytes, int]]) -> None:
        client = clients[w % len(clients)]
        for body, n in requests:
            t0 = time.perf_counter()
            response = await client.post(path, content=body)
            latencies.append(time.perf_counter() - t0)
            _tally(response, n, single, statuses, problems)

    try:
        start = time.perf_counter()
        await asyncio.gather(*(aggregator(w, requests) for w, requests in enumerate(plans)))
        elapsed = time.perf_counter() - start
    finally:
        for client in clients:
            await client.aclose()
    return Outcome(elapsed, sorted(latencies), statuses, problems)


def _settle_all(meter_keys: list[bytes], start: int, end: int) -> tuple[float, services.SettleReport]:
    """Settle until none of the bench's readings is pending; (seconds, combined report)."""
    ours = Reading.objects.filter(meter__public_key_bytes__in=meter_keys, interval_start__gte=start,
                                  interval_start__lt=end)
    total = services.SettleReport()
    t0 = time.perf_counter()
    busy_until = time.monotonic() + 30
    while ours.filter(status=Reading.Status.PENDING).exists():
        report = services.settle(limit=max(settings.ORACLE_SETTLE_BATCH, services.pending_count()))
        if report.busy:
            if time.monotonic() > busy_until:
                raise BenchFailed("another settler held the settle lock for 30 s")
            time.sleep(0.05)
            continue
        for name in ("submitted", "committed", "failed", "expired", "readings", "minted", "burned", "grid_import"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        total.errors += report.errors
        if report.failed:
            raise BenchFailed(f"{report.failed} settlement(s) failed, e.g. {report.errors[:3]}")
        if not report.submitted and not report.recovered:
            raise BenchFailed("readings are pending but settle submitted nothing")
    elapsed = time.perf_counter() - t0
    settled = ours.filter(status=Reading.Status.SETTLED).count()
    if settled != ours.count():
        raise BenchFailed(f"only {settled} of {ours.count()} readings were settled")
    return elapsed, total


def bench_ingest(*, log, count: int = 30000, threads: int | None = None, meters: int = 2000, batch: int = 200,
                 servers: int | None = None) -> dict:
    # SQLite takes one writer at a time: a second server process only queues on its lock (p99 in seconds), and
    # the embedded platform runs one process anyway. Two requests in flight per server keep each one busy.
    servers = servers or (1 if connection.vendor == "sqlite" else 2)
    threads = threads or 2 * servers
    if not 0 <= batch <= 1000:
        raise BenchFailed("batch must be 0 (one reading a request) or 1 to 1,000")
    if min(count, threads, meters, servers) < 1:
        raise BenchFailed("count, threads, meters and servers must be at least 1")
    meters = min(meters, count)
    t0 = time.perf_counter()
    fleet = bench_meters(meters, log)
    log(f"{meters} meters ready in {time.perf_counter() - t0:.1f} s")
    intervals = -(-count // meters)
    start = first_interval(fleet, intervals, int(time.time()))
    readings = sign_readings(fleet, count, start)
    plans = plan_requests(readings, min(threads, meters), batch)
    requests = sum(len(p) for p in plans)
    log(f"signed {count} readings ({intervals} interval(s) from {start}) into {requests} requests")

    httpx_log = logging.getLogger("httpx")
    level = httpx_log.level
    httpx_log.setLevel(logging.WARNING)  # a log line per request would cost the client time in the timed phase
    try:
        with servers_running(servers, log) as running:
            outcome = asyncio.run(_send([s.url for s in running], plans, single=batch == 0))
            accepted = outcome.statuses["accepted"]
            if accepted != count:
                logs = "\n".join(f"-- {s.url}:\n{s.log_tail()}" for s in running)
                raise BenchFailed(f"{accepted} of {count} readings accepted ({dict(outcome.statuses)}), "
                                  f"e.g. {outcome.problems[:3]}\nserver logs:\n{logs}")
    finally:
        httpx_log.setLevel(level)
    log(f"{count} readings accepted in {outcome.elapsed:.2f} s")

    settle_s, settled = _settle_all([m.key.pubkey for m in fleet], start,
                                    start + intervals * settings.ORACLE_INTERVAL_SECONDS)
    log(f"{settled.readings} readings settled in {settle_s:.2f} s by {settled.committed} transactions")
    return {
        "benchmark": "ingest",
        "readings_per_s": round(count / outcome.elapsed, 1),
        "p50_ms": round(percentile(outcome.latencies, 0.50) * 1000, 2),
        "p99_ms": round(percentile(outcome.latencies, 0.99) * 1000, 2),
        "readings": count,
        "accepted": accepted,
        "batch": batch,
        "requests": requests,
        "servers": servers,
        "concurrency": len(plans),
        "meters": meters,
        "elapsed_s": round(outcome.elapsed, 3),
        "settle_readings_per_s": round(settled.readings / settle_s, 1) if settle_s else 0.0,
        "settled": settled.readings,
        "settle_transactions": settled.committed,
        "database": database(),
        "machine": machine(),
    }


BENCHMARKS = {"ingest": bench_ingest}
