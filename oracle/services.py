"""Ingestion of signed meter readings, and their settlement on the ledger (minting and burning GXT).

Ingestion (`readings_ingest`) verifies signatures in parallel, then decides every reading of a batch in one
database transaction with the meters' rows locked, so two requests for one meter cannot both accept an interval.

Settlement (`settle`) runs under a process-wide lock, so one settler works at a time, whichever process or
machine triggers it (the schedule or an operator). It is exactly-once across crashes:
1. pending readings are grouped into settle transactions; each transaction is signed, and its id, its bytes and
   the meters' oracle state before it are stored with the readings' claim in one database transaction;
2. the transactions are submitted; when the ledger commits one, its row and readings are marked settled;
3. a settler that starts with claimed-but-unfinished settlements first resubmits their stored bytes: a committed
   transaction is recognised as such (a duplicate is not applied twice), an expired one (its block hash too old
   to ever commit) releases its readings for a new settlement. The oracle program itself refuses to settle an
   interval twice for a meter, so even a duplicated settlement cannot mint twice.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from gridtokenx.locks import try_lock
from ledger import selectors as ledger_selectors
from ledger import services as ledger_services
from ledger.config import platform_authority
from ledger.crypto import b58, parse_address
from ledger.encoding import Message, Transaction
from ledger.errors import BlockhashNotFound, GridTokenXError, TransactionFailed
from ledger.token_program import mint_address
from oracle import program, rules
from oracle.models import Reading, RejectedReading, Settlement
from oracle.reading import InvalidReading
from oracle.reading import Reading as SignedReading
from oracle.reading import from_json
from registry import program as registry_program
from registry.models import Meter, Participant
from registry.services import programs_initialize

MAX_TX_BYTES = 4096
TX_OVERHEAD = 1 + 64 + 5 + 32 + 32 + 1  # one signature, magic + version, fee payer, blockhash, instruction count
MAX_READINGS_PER_METER = 40
_pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="oracle")


def params() -> rules.Params:
    return rules.Params(interval_seconds=settings.ORACLE_INTERVAL_SECONDS, future_skew_s=settings.ORACLE_FUTURE_SKEW_S,
                        max_generation_ratio=settings.ORACLE_MAX_GENERATION_RATIO)


# -- ingestion ----------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Result:
    index: int
    status: str  # accepted, duplicate, rejected
    code: str | None = None
    message: str | None = None
    id: str | None = None  # the reading's digest, base58

    def as_dict(self) -> dict:
        out = {"index": self.index, "status": self.status}
        if self.id:
            out["id"] = self.id
        if self.code:
            out["code"] = self.code
            out["message"] = self.message
        return out


@dataclass
class IngestReport:
    results: list[Result]

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)


def _verify_all(items: list[tuple[SignedReading, bytes]]) -> list[bool]:
    if len(items) < 64:
        return [reading.verify(sig) for reading, sig in items]
    chunk = -(-len(items) // (_pool._max_workers * 2))
    parts = [items[i:i + chunk] for i in range(0, len(items), chunk)]
    out: list[bool] = []
    for part in _pool.map(lambda p: [reading.verify(sig) for reading, sig in p], parts):
        out.extend(part)
    return out


def _payload(body) -> dict:
    return body if isinstance(body, dict) and len(str(body)) <= 4000 else {"unparsed": str(body)[:1000]}


def readings_ingest(bodies: list, *, now: int | None = None) -> IngestReport:
    """Decide every reading in `bodies` (JSON objects): accepted, duplicate or rejected with a reason.

    Accepted readings are stored pending settlement; rejected ones are kept with their reason. Atomic: a failure
    stores nothing. Resubmitting the same batch stores nothing new and answers "duplicate" for each reading.
    """
    now = int(time.time()) if now is None else now
    rule_params = params()
    results: list[Result | None] = [None] * len(bodies)
    rejections: list[RejectedReading] = []
    parsed: list[tuple[int, SignedReading, bytes]] = []
    for index, body in enumerate(bodies):
        try:
            reading, signature = from_json(body)
        except InvalidReading as exc:
            results[index] = Result(index, "rejected", exc.code, exc.message)
            meter_key = body.get("meter") if isinstance(body, dict) else None
            rejections.append(RejectedReading(meter_key=str(meter_key or "")[:100], code=exc.code,
                                              message=exc.message, payload=_payload(body)))
            continue
        parsed.append((index, reading, signature))
    verified = _verify_all([(r, s) for _, r, s in parsed])
    items = sorted(((i, r, s, ok) for (i, r, s), ok in zip(parsed, verified, strict=True)),
                   key=lambda item: (item[1].meter, item[1].interval_start))

    accepted: list[Reading] = []
    with transaction.atomic():
        keys = {reading.meter for _, reading, _, _ in items}
        meters = {bytes(m.public_key_bytes): m for m in Meter.objects.select_for_update(of=("self",))
                  .select_related("owner").filter(public_key_bytes__in=keys).order_by("id")}
        stored = {}
        if meters:
            starts = {reading.interval_start for _, reading, _, _ in items}
            stored = {(meter_id, start): bytes(digest) for meter_id, start, digest in Reading.objects
                      .filter(meter_id__in=[m.id for m in meters.values()], interval_start__in=starts)
                      .values_list("meter_id", "interval_start", "digest")}
        snapshots: dict[int, rules.MeterSnapshot] = {}
        for index, reading, signature, ok in items:
            meter = meters.get(reading.meter)
            digest = reading.digest()
            if meter is None:
                verdict = rules.Verdict("unknown_meter", f"no meter is registered with key {b58(reading.meter)}")
            else:
                previous = stored.get((meter.id, reading.interval_start))
                if previous == digest and ok:
                    results[index] = Result(index, "duplicate", id=b58(digest))
                    continue
                if previous is not None and ok:
                    verdict = rules.Verdict("conflict", "a different reading for this interval was already accepted")
                else:
                    snap = snapshots.get(meter.id) or rules.MeterSnapshot(
                        meter.id, meter.status == Meter.Status.ACTIVE,
                        meter.owner.status == Participant.Status.ACTIVE, meter.capacity_w, meter.max_import_w,
                        meter.last_end)
                    verdict = rules.check(reading, ok, snap, now, rule_params)
                    if verdict is None:
                        snapshots[meter.id] = rules.MeterSnapshot(snap.id, snap.active, snap.owner_active, snap.capacity_w,
                                                                  snap.max_import_w,
                                                                  reading.interval_start + reading.interval_seconds)
                        stored[(meter.id, reading.interval_start)] = digest
                        accepted.append(Reading(
                            meter=meter, interval_start=reading.interval_start,
                            interval_seconds=reading.interval_seconds, generated_wh=reading.generated_wh,
                            consumed_wh=reading.consumed_wh, sequence=reading.sequence, voltage_mv=reading.voltage_mv,
                            power_factor_ppm=reading.power_factor_ppm, frequency_mhz=reading.frequency_mhz,
                            digest=digest, signature=signature,
                        ))
                        results[index] = Result(index, "accepted", id=b58(digest))
                        continue
            results[index] = Result(index, "rejected", verdict.code, verdict.message, id=b58(digest))
            rejections.append(RejectedReading(meter=meter, meter_key=b58(reading.meter),
                                              interval_start=reading.interval_start, code=verdict.code,
                                              message=verdict.message, payload=_payload(bodies[index])))
        Reading.objects.bulk_create(accepted, batch_size=1000)
        RejectedReading.objects.bulk_create(rejections, batch_size=1000)
        # One statement per new last_end, not one per meter: a batch spans hundreds of meters, mostly at one interval.
        by_end: dict[int, list[int]] = defaultdict(list)
        for meter_id, snap in snapshots.items():
            by_end[snap.last_end].append(meter_id)
        for last_end, meter_ids in by_end.items():
            Meter.objects.filter(pk__in=meter_ids).update(last_end=last_end)
    return IngestReport(results)  # type: ignore[arg-type]


# -- settlement ---------------------------------------------------------------------------------------------

@dataclass
class SettleReport:
    busy: bool = False
    recovered: int = 0
    submitted: int = 0
    committed: int = 0
    failed: int = 0
    expired: int = 0
    readings: int = 0
    minted: int = 0
    burned: int = 0
    grid_import: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def _meter_states(addresses: list[bytes]) -> dict[bytes, program.MeterState]:
    raw = ledger_selectors.raw_accounts(addresses)
    return {a: program.MeterState.unpack(d) for a, (owner, d) in raw.items() if owner == program.ORACLE_PROGRAM_ID}


def _totals(pre: dict) -> tuple[int, int, int]:
    now = _meter_states([parse_address(a) for a in pre])
    minted = burned = grid = 0
    for address, (m, b, g) in pre.items():
        state = now.get(parse_address(address))
        if state is not None:
            minted += state.minted - m
            burned += state.burned - b
            grid += state.grid_import - g
    return minted, burned, grid


def _finish(settlement: Settlement, outcome: str, report: SettleReport, *, height: int | None = None,
            error: GridTokenXError | None = None) -> None:
    with transaction.atomic():
        readings = Reading.objects.filter(settlement=settlement)
        if outcome == "committed":
            minted, burned, grid = _totals(settlement.pre_state)
            Settlement.objects.filter(pk=settlement.pk).update(
                status=Settlement.Status.COMMITTED, block_height=height, minted=minted, burned=burned,
                grid_import=grid, settled_at=timezone.now(), error=None)
            report.committed += 1
            report.readings += settlement.readings_count
            report.minted += minted
            report.burned += burned
            report.grid_import += grid
            readings.update(status=Reading.Status.SETTLED)
        elif outcome == "expired":
            Settlement.objects.filter(pk=settlement.pk).update(status=Settlement.Status.EXPIRED)
            readings.update(status=Reading.Status.PENDING, settlement=None)
            report.expired += 1
        else:
            Settlement.objects.filter(pk=settlement.pk).update(status=Settlement.Status.FAILED, error=error.as_dict())
            readings.update(status=Reading.Status.FAILED)
            report.failed += 1
            report.errors.append(f"{settlement.signature}: {error.message}")


def _submit(settlement: Settlement, report: SettleReport) -> None:
    _finish_submitted(settlement, ledger_services.transaction_submit_one(bytes(settlement.wire)), report)


def _finish_submitted(settlement: Settlement, outcome, report: SettleReport) -> None:
    """Record what the ledger answered: committed, expired (its blockhash aged out) or failed; anything else
    (the ledger unavailable) is raised, and the settlement stays pending for the next run."""
    if isinstance(outcome, BlockhashNotFound):
        _finish(settlement, "expired", report)
    elif isinstance(outcome, TransactionFailed):
        _finish(settlement, "failed", report, error=outcome)
    elif isinstance(outcome, GridTokenXError):
        raise outcome
    else:
        _finish(settlement, "committed", report, height=outcome.block_height)


def _submit_all(settlements: list[Settlement], report: SettleReport) -> None:
    outcomes = ledger_services.transactions_submit_many([bytes(s.wire) for s in settlements])
    for settlement, outcome in zip(settlements, outcomes, strict=True):
        _finish_submitted(settlement, outcome, report)


def _plan(pending: list[Reading]) -> list[list[program.SettleGroup]]:
    """Group readings by meter and pack the groups into transactions under the size limit."""
    by_meter: dict[int, list[Reading]] = defaultdict(list)
    for r in pending:
        if len(by_meter[r.meter_id]) < MAX_READINGS_PER_METER:
            by_meter[r.meter_id].append(r)
    txs: list[list[program.SettleGroup]] = []
    current: list[program.SettleGroup] = []
    count = 0
    for readings in by_meter.values():
        meter = readings[0].meter
        group = program.SettleGroup(
            registry_program.meter_address(bytes(meter.public_key_bytes)), parse_address(meter.owner.wallet),
            tuple(program.SettleEntry(r.interval_start, r.interval_seconds, r.generated_wh, r.consumed_wh,
                                      bytes(r.digest)) for r in readings))
        if current and (TX_OVERHEAD + program.settle_size(len(current) + 1, count + len(readings)) > MAX_TX_BYTES
                        or len(current) >= program.MAX_SETTLE_METERS):
            txs.append(current)
            current, count = [], 0
        current.append(group)
        count += len(readings)
    if current:
        txs.append(current)
    return txs


def settle(*, limit: int | None = None) -> SettleReport:
    """Settle pending readings on the ledger (see the module docstring). Safe to call from anywhere, any time."""
    report = SettleReport()
    with try_lock("oracle-settle") as got:
        if not got:
            report.busy = True
            return report
        programs_initialize()
        unfinished = list(Settlement.objects.filter(status=Settlement.Status.SUBMITTED).order_by("id"))
        report.recovered = len(unfinished)
        for s in unfinished:
            _submit(s, report)
        limit = limit or settings.ORACLE_SETTLE_BATCH
        pending = list(Reading.objects.filter(status=Reading.Status.PENDING).select_related("meter__owner")
                       .order_by("meter_id", "interval_start")[:limit])
        authority = platform_authority()
        gxt = mint_address("GXT")
        blockhash = ledger_selectors.latest_blockhash()
        created: list[Settlement] = []
        for groups in _plan(pending):
            ix = program.settle_ix(authority=authority.pubkey, gxt_mint=gxt, groups=groups)
            tx = Transaction.build(Message(authority.pubkey, blockhash, (ix,)), [authority])
            states = _meter_states([program.meter_state_address(g.meter_record) for g in groups])
            pre = {b58(program.meter_state_address(g.meter_record)): _state_totals(states, g.meter_record)
                   for g in groups}
            digests = [e.digest for g in groups for e in g.entries]
            with transaction.atomic():
                s = Settlement.objects.create(signature=tx.txid, wire=tx.wire, readings_count=len(digests),
                                              meters_count=len(groups), pre_state=pre)
                claimed = Reading.objects.filter(digest__in=digests, status=Reading.Status.PENDING).update(
                    status=Reading.Status.SUBMITTED, settlement=s)
                if claimed != len(digests):
                    raise GridTokenXError("readings changed while they were being claimed; nothing was submitted")
            created.append(s)
        report.submitted = len(created)
        _submit_all(created, report)
    return report


def _state_totals(states: dict[bytes, program.MeterState], record: bytes) -> tuple[int, int, int]:
    state = states.get(program.meter_state_address(record))
    return (state.minted, state.burned, state.grid_import) if state else (0, 0, 0)


def pending_count() -> int:
    return Reading.objects.filter(status=Reading.Status.PENDING).count()

