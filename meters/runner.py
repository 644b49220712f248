"""The simulator's pipeline: a source of readings (the physics fleet or a CSV replay), paced by the schedule,
signed, and streamed to the server by one sender per meter (or per aggregator in batch mode).

Each sender posts its readings in interval order and starts on the next only when the last one has an answer,
as a meter with a buffer would, because the oracle refuses an interval older than the meter's last accepted one.
Senders run concurrently; the Api bounds the requests in flight. The fleet is stepped and the readings signed in
a worker thread, so the event loop keeps sending meanwhile. Each sender's queue holds a few intervals: a sender
that falls behind holds up the source instead of letting memory grow.

`run_simulation` is the whole pipeline as one call, for a test against a live server.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from meters.client import DEFAULT_RETRY, MAX_BATCH, Api, ReadingSender, RetryPolicy
from meters.pacing import Schedule, align_down, default_clock_start
from meters.physics import BANGKOK, DEFAULT_MIX, Fleet, MeterKind, Site, meter_spec
from meters.physics.site import interval_seconds
from meters.progress import Progress, Stats
from meters.registration import Registration, fleet_register
from meters.replay import CsvExport, read_csv
from meters.sim import IntervalReadings, SignedReading, SimulatedMeter, Signer, fleet_intervals

QUEUE_DEPTH = 4
TICK_S = 1.0


@dataclass(frozen=True)
class SimulationConfig:
    """Everything a run needs. `start` None: the default clock start for the speed (`default_clock_start`);
    `intervals` None: until stopped (or until the replay file ends)."""

    url: str = "http://127.0.0.1:8000"
    meters: int = 20
    seed: int = 1
    start: datetime | None = None
    intervals: int | None = None
    speed: float = 900.0
    batch: int = 0
    mix: Mapping[MeterKind | str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    site: Site = BANGKOK
    interval_seconds: int = 900
    concurrency: int = 64
    zone: str | None = None
    replay: Path | None = None
    export: Path | None = None
    hold_future: bool = True
    retry: RetryPolicy = DEFAULT_RETRY

    def __post_init__(self):
        interval_seconds(timedelta(seconds=self.interval_seconds))
        checks = [
            (self.meters >= 1, f"the fleet needs at least one meter, got {self.meters}"),
            (self.seed >= 0, f"the seed must be a non-negative integer, got {self.seed}"),
            (self.intervals is None or self.intervals >= 1, f"run at least one interval, got {self.intervals}"),
            (self.speed >= 0, f"speed must be 0 (as fast as possible) or positive, got {self.speed}"),
            (0 <= self.batch <= MAX_BATCH, f"--batch must be 0 (one request per reading) to {MAX_BATCH}"),
            (self.concurrency >= 1, f"concurrency must be at least 1, got {self.concurrency}"),
            (self.start is None or self.start.tzinfo is not None, "the start time must be timezone-aware"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


@dataclass(frozen=True)
class Plan:
    """The meters to run and the readings they produce, and where the simulated clock starts."""

    meters: list[SimulatedMeter]
    intervals: Iterator[IntervalReadings]
    clock_start: datetime


def make_plan(config: SimulationConfig, *, now: datetime) -> Plan:
    if config.replay is not None:
        recorded = read_csv(config.replay, seed=config.seed, interval_seconds=config.interval_seconds)
        if config.start is not None:
            recorded = [interval for interval in recorded if interval.start >= config.start.timestamp()]
        if not recorded:
            raise ValueError(f"{config.replay} has no readings to replay" + (" from --start" if config.start else ""))
        indices = sorted({reading.meter_index for interval in recorded for reading in interval.readings})
        meters = [SimulatedMeter(config.seed, meter_spec(seed=config.seed, index=i, mix=config.mix)) for i in indices]
        clock = config.start or datetime.fromtimestamp(recorded[0].start, tz=UTC)
        return Plan(meters=meters, intervals=iter(recorded), clock_start=clock)
    clock = config.start or default_clock_start(config.site, now, config.speed)
    fleet = Fleet.build(
        seed=config.seed,
        start=align_down(config.site, clock, config.interval_seconds),
        count=config.meters,
        mix=config.mix,
        site=config.site,
        interval=timedelta(seconds=config.interval_seconds),
    )
    meters = [SimulatedMeter(config.seed, spec) for spec in fleet.meters]
    return Plan(meters=meters, intervals=fleet_intervals(fleet), clock_start=clock)


@dataclass
class Summary:
    meters: int
    site: Site
    seconds: int
    stats: Stats
    registration: Registration | None = None
    intervals: int = 0
    first_start: int | None = None
    last_end: int | None = None
    elapsed_s: float = 0.0
    registration_s: float = 0.0
    stopped: bool = False

    def text(self) -> str:
        s, tz = self.stats, self.site.tz

        def when(unix: int) -> str:
            return datetime.fromtimestamp(unix, tz=tz).strftime("%Y-%m-%d %H:%M")

        span = "no interval" if self.first_start is None else f"{when(self.first_start)} to {when(self.last_end)}"
        lines = [f"simulated {span} ({self.site.timezone}): {self.intervals:,} intervals of {self.seconds} s, "
                 f"{self.meters:,} meters"]
        if self.registration is not None:
            r = self.registration
            lines.append(f"registration: {r.users_created:,} new users and {r.users_existing:,} existing, "
                         f"{r.meters_created:,} new meters and {r.meters_existing:,} already registered")
        lines.append(f"readings: {s.sent:,} sent, {s.accepted:,} accepted, {s.duplicates:,} duplicates, "
                     f"{s.rejected:,} rejected, {s.failed:,} failed after retries; {s.retries:,} retries")
        if s.rejections:
            lines.append("rejected: " + ", ".join(f"{code} {n:,}" for code, n in s.rejections.most_common()))
        if self.stopped and s.pending:
            lines.append(f"stopped with {s.pending:,} readings unanswered; a rerun resends them")
        streaming = self.elapsed_s - self.registration_s
        rate = s.settled / streaming if streaming > 0 else 0.0
        lines.append(f"took {self.elapsed_s:,.1f} s, {self.registration_s:,.1f} s of it registering; "
                     f"{rate:,.1f} readings/s")
        return "\n".join(lines)


def _groups(meters: Sequence[SimulatedMeter], batch: int) -> dict[int, int]:
    """Meter index -> sender: one sender per meter, or per run of `batch` consecutive meters (an aggregator)."""
    size = batch or 1
    return {meter.index: position // size for position, meter in enumerate(meters)}


def _next_signed(
    intervals: Iterator[IntervalReadings], signer: Signer
) -> tuple[IntervalReadings, list[SignedReading]] | None:
    interval = next(intervals, None)
    return None if interval is None else (interval, signer.sign_interval(interval))


async def _send_stream(queue: asyncio.Queue, sender: ReadingSender, *, batch: bool) -> None:
    while (readings := await queue.get()) is not None:
        await sender.send(readings, batch=batch)


async def _produce(config: SimulationConfig, plan: Plan, summary: Summary,
                   queues: dict[int, asyncio.Queue], group_of: dict[int, int]) -> None:
    stats = summary.stats
    signer = Signer(config.seed)
    schedule = Schedule(clock_start=plan.clock_start.timestamp(), launch=time.time(), speed=config.speed,
                        hold_future=config.hold_future)
    export = CsvExport(config.export, seed=config.seed) if config.export else None
    try:
        while config.intervals is None or summary.intervals < config.intervals:
            produced = await asyncio.to_thread(_next_signed, plan.intervals, signer)
            if produced is None:
                break
            interval, signed = produced
            send_at = schedule.send_at(interval.end)
            if send_at > time.time():
                stats.next_send = send_at
                await asyncio.sleep(send_at - time.time())
                stats.next_send = None
            if export:
                export.write(interval)
            by_group: dict[int, list[SignedReading]] = defaultdict(list)
            for reading in signed:
                by_group[group_of[reading.meter_index]].append(reading)
            stats.generated += len(signed)
            stats.sim_time = interval.end
            summary.intervals += 1
            if summary.first_start is None:
                summary.first_start = interval.start
            summary.last_end = interval.end
            for group, readings in by_group.items():
                await queues[group].put(readings)
    finally:
        if export:
            export.close()
    for queue in queues.values():
        await queue.put(None)


async def _tick(progress: Progress) -> None:
    while True:
        await asyncio.sleep(TICK_S)
        progress.tick()


async def _pipeline(config: SimulationConfig, plan: Plan, api: Api, progress: Progress, summary: Summary) -> None:
    began = time.monotonic()
    summary.registration = await fleet_register(api, plan.meters, site=config.site, zone=config.zone)
    summary.registration_s = time.monotonic() - began
    sender = ReadingSender(api, progress)
    group_of = _groups(plan.meters, config.batch)
    queues = {group: asyncio.Queue(maxsize=QUEUE_DEPTH) for group in set(group_of.values())}
    ticker = asyncio.create_task(_tick(progress))
    try:
        async with asyncio.TaskGroup() as tasks:
            for queue in queues.values():
                tasks.create_task(_send_stream(queue, sender, batch=config.batch > 0))
            tasks.create_task(_produce(config, plan, summary, queues, group_of))
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    finally:
        ticker.cancel()


async def simulate(
    config: SimulationConfig,
    *,
    out: TextIO,
    live: bool = True,
    stop: asyncio.Event | None = None,
    now: datetime | None = None,
) -> Summary:
    """Run the simulation until it has sent `config.intervals` intervals, the replay ends, or `stop` is set.

    A fleet that cannot be registered raises RegistrationError, a bad replay file ReplayError; once readings
    flow, whatever the server answers is counted in the summary."""
    began = time.monotonic()
    plan = make_plan(config, now=now or datetime.now(UTC))
    stats = Stats()
    progress = Progress(stats, out=out, live=live, meters=len(plan.meters), tz=config.site.tz)
    summary = Summary(meters=len(plan.meters), site=config.site, seconds=config.interval_seconds, stats=stats)
    async with Api(config.url, concurrency=config.concurrency, stats=stats, retry=config.retry) as api:
        work = asyncio.create_task(_pipeline(config, plan, api, progress, summary))
        waiters = {work}
        if stop is not None:
            waiters.add(asyncio.create_task(stop.wait()))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waiters - {work}:
                task.cancel()
            if not work.done():
                summary.stopped = True
                work.cancel()
                await asyncio.gather(work, return_exceptions=True)
            progress.clear()
            summary.elapsed_s = time.monotonic() - began
        if not summary.stopped:
            work.result()
    return summary


def run_simulation(
    url: str,
    meters: int,
    seed: int,
    start: datetime | None,
    intervals: int | None,
    speed: float = 0,
    batch: int = 0,
    *,
    out: TextIO | None = None,
    **options,
) -> Summary:
    """The whole pipeline against the server at `url`, blocking until done: registration, then `intervals`
    intervals of `meters` meters from `start`. Further options are SimulationConfig's fields (mix, site,
    interval_seconds, concurrency, zone, replay, export, hold_future, retry). Progress notes go to `out`."""
    config = SimulationConfig(url=url, meters=meters, seed=seed, start=start, intervals=intervals, speed=speed,
                              batch=batch, **options)
    return asyncio.run(simulate(config, out=out if out is not None else io.StringIO(), live=False))
