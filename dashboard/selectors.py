"""What the prosumer dashboard reads: one participant's balances, escrow, energy, earnings, meters and trades.

Every function takes the participant whose data it returns and reads nothing of anyone else's; the views pass
the logged-in user's participant and never an id from the request. Balances, escrow and minted totals are read
from the ledger's accounts (the truth); energy and trades from the mirror tables.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from ledger import selectors as ledger_selectors
from ledger.crypto import parse_address
from oracle import program as oracle_program
from oracle.models import Reading
from registry.models import Meter, Participant
from trading import program as trading_program
from trading.models import Order, Trade
from trading import services as trading_services
from trading import streams
from trading.orders import BUY
from trading.tariffs import landed_cost

RANGES = {"day": (timedelta(days=1), timedelta(hours=1)), "week": (timedelta(days=7), timedelta(hours=6))}


def trades_of(participant: Participant) -> QuerySet[Trade]:
    """The participant's trades, as buyer or seller, newest first."""
    return (Trade.objects.filter(Q(buy_order__owner=participant) | Q(sell_order__owner=participant))
            .select_related("buyer_zone", "seller_zone", "buy_order", "sell_order"))


def with_roles(participant: Participant, trades) -> list[Trade]:
    """Each trade with `role` ("buyer" or "seller") and what it meant for the participant: `net_thb` received (a
    sale's value less the fee) or paid (a purchase's value plus wheeling, negative), and `net_gxt` likewise."""
    out = []
    for t in trades:
        t.role = "buyer" if t.buy_order.owner_id == participant.pk else "seller"
        if t.role == "seller":
            t.net_thb, t.net_gxt = t.value - t.fee, -t.quantity
        else:
            t.net_thb, t.net_gxt = -(t.value + t.wheeling), t.effective
        out.append(t)
    return out


def escrow_locked(participant: Participant) -> dict[str, int]:
    """What the participant's orders hold in escrow on the ledger now: THB for buys, GXT for sells. Read from the
    order accounts, so a filled buy whose price improvement is not refunded yet still counts."""
    orders = dict(Order.objects.filter(owner=participant, closed=False).exclude(ledger_signature="")
                  .values_list("pk", "side"))
    addresses = {trading_program.order_address(pk): side for pk, side in orders.items()}
    out = {"GXT": 0, "THB": 0}
    for address, (_, data) in ledger_selectors.raw_accounts(list(addresses)).items():
        out["THB" if addresses[address] == BUY else "GXT"] += trading_program.Order.unpack(data).escrowed
    return out


def meter_states(meters) -> dict[int, oracle_program.MeterState]:
    """Each meter's oracle totals on the ledger (readings settled, Wh, GXT minted and burned), by meter id;
    a meter with nothing settled yet has no state account and is left out."""
    addresses = {oracle_program.meter_state_address(parse_address(m.address)): m.pk for m in meters}
    return {addresses[a]: oracle_program.MeterState.unpack(data)
            for a, (_, data) in ledger_selectors.raw_accounts(list(addresses)).items()}


def local_midnight(now: datetime | None = None) -> datetime:
    return timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)


def wallet_summary(participant: Participant) -> dict:
    """Balances, escrow and the number of open orders: the cards the home and market pages share."""
    return {"balances": ledger_selectors.wallet_balances(parse_address(participant.wallet)),
            "escrow": escrow_locked(participant),
            "open_orders": Order.objects.filter(owner=participant, status=Order.Status.OPEN).count()}


def overview(participant: Participant, *, now: datetime | None = None) -> dict:
    """The home page: balances, escrow, today's energy, GXT minted and burned, earnings and recent trades."""
    meters = list(Meter.objects.filter(owner=participant))
    states = meter_states(meters).values()
    since = int(local_midnight(now).timestamp())
    today = Reading.objects.filter(meter__owner=participant, interval_start__gte=since).aggregate(
        generated=Sum("generated_wh"), consumed=Sum("consumed_wh"))
    sold = Trade.objects.filter(sell_order__owner=participant).aggregate(value=Sum("value"), fee=Sum("fee"),
                                                                          quantity=Sum("quantity"))
    bought = Trade.objects.filter(buy_order__owner=participant).aggregate(value=Sum("value"),
                                                                           wheeling=Sum("wheeling"),
                                                                           effective=Sum("effective"))
    return {
        **wallet_summary(participant),
        "meters": len(meters),
        "generated_wh": today["generated"] or 0,
        "consumed_wh": today["consumed"] or 0,
        "minted": sum(s.minted for s in states),
        "burned": sum(s.burned for s in states),
        "grid_import": sum(s.grid_import for s in states),
        "earnings": (sold["value"] or 0) - (sold["fee"] or 0),
        "sold": sold["quantity"] or 0,
        "spent": (bought["value"] or 0) + (bought["wheeling"] or 0),
        "bought": bought["effective"] or 0,
        "recent_trades": with_roles(participant, trades_of(participant)[:10]),
    }


def meters_of(participant: Participant, *, rejections: int = 20) -> list[Meter]:
    """The participant's meters, each with its ledger totals (`state`), its readings by status (`counts`), its
    latest accepted reading (`last`) and its latest rejected readings with their reasons (`rejected`)."""
    meters = list(Meter.objects.filter(owner=participant).select_related("zone"))
    states = meter_states(meters)
    counts: dict[int, dict[str, int]] = {}
    for meter_id, status, n in (Reading.objects.filter(meter__owner=participant).values_list("meter_id", "status")
                                .annotate(n=Count("id")).order_by()):
        counts.setdefault(meter_id, {})[status] = n
    for m in meters:
        m.state = states.get(m.pk)
        m.counts = counts.get(m.pk, {})
        m.last = m.readings.order_by("-interval_start").first()
        m.rejected = list(m.rejections.all()[:rejections])
        m.rejected_total = m.rejections.count()
    return meters


def meter_of(participant: Participant, serial: str) -> Meter | None:
    return Meter.objects.filter(owner=participant, serial=serial).first()


def meter_series(meter: Meter, *, span: str, now: datetime | None = None) -> dict:
    """Generation and consumption of `meter` over the last day (hourly) or week (6-hourly), in Wh per bucket,
    from the accepted readings whose intervals start in each bucket; buckets end at the current one."""
    length, step = RANGES[span]
    step_s = int(step.total_seconds())
    now_s = int((now or timezone.now()).timestamp())
    first = (now_s - int(length.total_seconds())) // step_s * step_s + step_s
    starts = list(range(first, now_s // step_s * step_s + 1, step_s))
    generated, consumed = [0] * len(starts), [0] * len(starts)
    for start, gen, con in (Reading.objects.filter(meter=meter, interval_start__gte=first, interval_start__lt=now_s)
                            .values_list("interval_start", "generated_wh", "consumed_wh")):
        i = (start - first) // step_s
        if 0 <= i < len(starts):
            generated[i] += gen
            consumed[i] += con
    fmt = "%H:%M" if span == "day" else "%a %H:%M"
    labels = [timezone.localtime(datetime.fromtimestamp(s, tz=UTC)).strftime(fmt) for s in starts]
    return {"meter": meter.serial, "span": span, "unit": "Wh", "starts": starts, "labels": labels,
            "generated_wh": generated, "consumed_wh": consumed}


def market_tape(zone: str | None = None, *, limit: int = 20) -> list[dict]:
    """The latest trades into or out of `zone` (of every zone without one) as `/ws/trades/` sends them (no
    parties), oldest first: the tape a page starts with before the socket's trades follow."""
    zones = trading_services.zone_indexes()
    tariffs = trading_services.params().tariffs
    out = []
    trades = Trade.objects.select_related("buyer_zone", "seller_zone")
    if zone is not None:
        trades = trades.filter(Q(buyer_zone__code=zone) | Q(seller_zone__code=zone))
    for trade in trades[:limit]:
        distance = abs(zones[trade.buyer_zone.code] - zones[trade.seller_zone.code])
        out.append(streams.trade_as_dict(trade, landed_cost(trade.price, tariffs.between(distance))))
    return out[::-1]


def open_orders(participant: Participant) -> QuerySet[Order]:
    return (Order.objects.filter(owner=participant, status=Order.Status.OPEN).exclude(ledger_signature="")
            .select_related("zone").order_by("-pk"))
