"""What the operator portal reads beyond the admin's tables: the zone-pair tariff matrix, revenue analytics over
the trades, and the system's health. Read-only; definitions in docs/OPERATOR.md."""

from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import BooleanField, Case, Count, F, Sum, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from ledger import selectors as ledger_selectors
from ledger.models import Block, PendingTransaction
from ledger.node import node
from oracle import services as oracle_services
from oracle.models import Reading, RejectedReading, Settlement
from trading import presence, program
from trading import services as trading_services
from trading.engine import Engine
from trading.events import CANCELLED, EXPIRED, TRADE
from trading.models import Order, Trade
from trading.orders import Order as EngineOrder, OrderRejected
from trading.tariffs import KWH, TariffSchedule

ANALYTICS_DAYS = 90
RATE_WINDOWS_S = (60, 300)
RATE_MAX_BLOCKS = 100_000  # the most blocks a rate window reads: more than 300 blocks a second for 5 minutes
REJECTION_WINDOWS_S = ((3_600, "hour"), (86_400, "day"))


def now_ms() -> int:
    return int(time.time() * 1000)


# -- the market's parameters ----------------------------------------------------------------------------------

def market() -> program.Market | None:
    """The trading program's market account, or None before the market is initialised."""
    address = program.market_address()
    raw = ledger_selectors.raw_accounts([address]).get(address)
    return program.Market.unpack(raw[1]) if raw else None


def tariff_matrix() -> dict:
    """The zone-pair tariffs: rows are the selling zone, columns the buying zone, in the market's zone order.

    Read from the market account on the ledger (what settlements charge); before the market exists, from the
    default parameters it will be created with."""
    state = market()
    schedule: TariffSchedule = state.tariffs if state else trading_services.params().tariffs
    codes = list(trading_services.zone_indexes())
    rows = schedule.matrix(len(codes))
    return {
        "source": "the market account on the ledger" if state else "the default market parameters (no market yet)",
        "zones": codes,
        "rows": [{"zone": codes[s], "cells": [{"wheeling": t.wheeling, "loss_bps": t.loss_bps} for t in row]}
                 for s, row in enumerate(rows)],
        "outside": schedule.unknown,
    }


# -- revenue analytics ----------------------------------------------------------------------------------------

AMOUNTS = ("quantity", "effective", "loss", "value", "fee", "wheeling", "loss_value")


def _totals(qs, *group_by: str) -> list[dict]:
    """Trade counts and sums of every amount, grouped by `group_by` (one row without), with the volume-weighted
    average price (THB base units per kWh sent, truncated); absent sums are 0."""
    sums = {"trades": Count("id"), **{name: Sum(name) for name in AMOUNTS}}
    rows = qs.values(*group_by).annotate(**sums).order_by(*group_by) if group_by else [qs.aggregate(**sums)]
    out = []
    for row in rows:
        row = {k: (v or 0) if k in sums else v for k, v in row.items()}
        row["average_price"] = row["value"] * KWH // row["quantity"] if row["quantity"] else None
        out.append(row)
    return out


def revenue(*, days: int = ANALYTICS_DAYS) -> dict:
    """Platform fees, wheeling charges and losses over all trades: in total, by the zone the energy was delivered
    to, by day (the last `days` days, in the platform's time zone), and intra- against inter-zone."""
    trades = Trade.objects.all()
    since = timezone.now() - timedelta(days=days)
    flows = trades.annotate(inter=Case(When(buyer_zone=F("seller_zone"), then=Value(False)), default=Value(True),
                                       output_field=BooleanField()))
    by_flow = {row["inter"]: row for row in _totals(flows, "inter")}
    empty = _totals(Trade.objects.none())[0]
    return {
        "total": _totals(trades)[0],
        "zones": _totals(trades, "buyer_zone__code"),
        "days": _totals(trades.filter(created_at__gte=since).annotate(day=TruncDate("created_at")), "day"),
        "intra": by_flow.get(False, empty),
        "inter": by_flow.get(True, empty),
        "pairs": _totals(trades, "seller_zone__code", "buyer_zone__code"),
        "since_days": days,
    }


# -- monitoring -----------------------------------------------------------------------------------------------

def ledger_health(now: int) -> dict:
    """The tip's height and age, and committed transactions per second over the last minute and five minutes
    (hundredths, from the block timestamps)."""
    tip = ledger_selectors.tip_header()
    rates = []
    for window in RATE_WINDOWS_S:
        # Block times rise with height, and the height range keeps this a scan of the primary key's newest end.
        recent = Block.objects.filter(height__gt=tip.height - RATE_MAX_BLOCKS, timestamp_ms__gt=now - window * 1000)
        count = recent.aggregate(n=Sum("tx_count"))["n"] or 0
        rates.append({"window_s": window, "transactions": count, "per_s_hundredths": count * 100 // window})
    return {"height": tip.height, "timestamp_ms": tip.timestamp_ms, "age_ms": max(0, now - tip.timestamp_ms),
            "rates": rates, "queued": PendingTransaction.objects.filter(error__isnull=True).count()}


def matcher_backlog(now: int) -> dict:
    """Work the matcher has not done yet, found by replaying the open orders through the engine as the next run
    would: orders that would trade (the later arrival of each pair: the earlier one was resting), be cancelled
    (IOC and FOK remainders) or expire. `lag_ms` is how long the oldest of them has waited: since it was placed,
    or since it expired; 0 when the matcher is up to date."""
    zones = trading_services.zone_indexes()
    engine = Engine(max(1, len(zones)), trading_services.params())
    orders = {o.pk: o for o in Order.objects.filter(status=Order.Status.OPEN).exclude(ledger_signature="")
              .select_related("zone").order_by("pk")}
    waiting: dict[int, int] = {}  # order id -> since when (ms)
    events: list[tuple] = []
    for order in orders.values():
        since = int(order.created_at.timestamp() * 1000)
        try:
            events += engine.submit(EngineOrder(
                id=order.pk, owner=order.owner_id, side=order.side, zone=zones.get(order.zone.code, 0),
                quantity=order.remaining, price=order.price, kind=order.kind, tif=order.tif,
                expires_at=order.expires_at, cross_zone=order.cross_zone), now)
        except OrderRejected:
            waiting[order.pk] = min(since, order.expires_at)
    events += engine.expire(now)
    for event in events:
        if event[0] == TRADE:
            taker = max(event[3], event[4])
            waiting.setdefault(taker, int(orders[taker].created_at.timestamp() * 1000))
        elif event[0] in (CANCELLED, EXPIRED):
            order = orders[event[1]]
            since = order.expires_at if event[0] == EXPIRED else int(order.created_at.timestamp() * 1000)
            waiting.setdefault(order.pk, since)
    oldest = min(waiting.values(), default=None)
    return {"open_orders": len(orders), "waiting": len(waiting),
            "lag_ms": max(0, now - oldest) if oldest is not None else 0}


def oracle_health() -> dict:
    """Readings waiting to be minted or burned, settlements submitted but not yet committed, and the share of
    readings rejected (per mille) over the last hour and day."""
    rejection = []
    for window, label in REJECTION_WINDOWS_S:
        since = timezone.now() - timedelta(seconds=window)
        rejected = RejectedReading.objects.filter(received_at__gte=since).count()
        accepted = Reading.objects.filter(received_at__gte=since).count()
        seen = rejected + accepted
        rejection.append({"window_s": window, "window": label, "rejected": rejected, "received": seen,
                          "per_mille": rejected * 1000 // seen if seen else None})
    last = Settlement.objects.filter(status=Settlement.Status.COMMITTED).order_by("-id").values_list(
        "settled_at", flat=True).first()
    return {"pending_readings": oracle_services.pending_count(),
            "submitted_settlements": Settlement.objects.filter(status=Settlement.Status.SUBMITTED).count(),
            "last_settled_at": last, "rejection": rejection}


def _host(url: str) -> str:
    """A service URL without its credentials."""
    parts = urlsplit(url)
    return f"{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"


def services_in_use() -> list[dict]:
    """The services this process runs on, from its settings: embedded parts or PostgreSQL and Redis."""
    db = settings.DATABASES["default"]
    redis = _host(settings.REDIS_URL) if settings.REDIS_URL else ""
    return [
        {"part": "Database", "embedded": settings.EMBEDDED_DATABASE,
         "detail": f"SQLite file {db['NAME']}" if settings.EMBEDDED_DATABASE
         else f"PostgreSQL {_host(settings.DATABASE_URL)}"},
        {"part": "Channel layer (websockets)", "embedded": settings.EMBEDDED_REDIS,
         "detail": "in memory, this process only" if settings.EMBEDDED_REDIS else f"Redis {redis}"},
        {"part": "Background tasks", "embedded": settings.EMBEDDED_REDIS,
         "detail": "run in the calling process" if settings.CELERY_TASK_ALWAYS_EAGER else f"Celery over Redis {redis}"},
        {"part": "Schedule (settlement, matcher)", "embedded": settings.EMBEDDED_REDIS,
         "detail": "a thread of the web server" if settings.EMBEDDED_SCHEDULER
         else "Celery beat" if not settings.EMBEDDED_REDIS else "none (GRIDTOKENX_SCHEDULER=off)"},
        {"part": "Matcher", "embedded": settings.TRADING_MATCHER != "celery",
         "detail": {"thread": "a thread of the placing process", "celery": "Celery task after each placement",
                    "inline": "inside the placing request"}[settings.TRADING_MATCHER]},
        {"part": "Ledger sequencer", "embedded": settings.EMBEDDED_DATABASE,
         "detail": "this process" if node().sequencer is not None else "another process (or none running)"},
    ]


def monitoring() -> dict:
    now = now_ms()
    state = market()
    return {"now_ms": now, "ledger": ledger_health(now), "matcher": matcher_backlog(now), "oracle": oracle_health(),
            "websockets": presence.count(), "websockets_shared": bool(settings.REDIS_URL), "market_paused": bool(state and state.paused),
            "market_exists": state is not None, "services": services_in_use()}
