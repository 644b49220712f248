"""The live market: what the trading services publish on the Channels layer for the websocket consumers
(`trading.consumers`; the protocol is in docs/API.md, "Websockets").

Three kinds of group:

- `book.<ZONE>`: one zone's order book as price-level deltas, numbered without gaps. The last book published and
  its sequence number are stored per zone (`BookState`); each publish compares the new book with that row while
  holding its lock, stores the new book and sends one delta per level that changed. So the numbering goes on
  across process restarts and across the matcher's engine, which is rebuilt on every run, and a consumer's
  snapshot (read from the same row) lines up exactly with the deltas that follow it.
- `trades`: every trade, without the parties.
- `user.<participant id>`: one user's own orders (each change of status or remaining) and fills. Nothing else is
  ever sent to it.

Where the book comes from:

- after a matcher run, the engine's books as the run left them (`publish_after_match`); its trades, fills and
  the orders they changed go out a chunk at a time as the run records them (`publish_trades`). A placement is
  published to its owner only (`publish_after_place`): the matcher, kicked after every placement, takes the new
  orders in and publishes the books they rest on or trade against, with the trades, in one sequence;
- after a cancel, which holds the matcher's lock, the books of an engine rebuilt from the open orders, when that
  rebuild trades nothing; otherwise the next matcher run publishes them (`publish_after_cancel`).

Messages are sent after the state they describe is committed. On the channel layer, the messages of one
publish for one group travel as one (`market.batch`, unpacked in order by the consumers), and the groups are sent
concurrently: a matcher run costs one layer call per group it touches, not one per event. Publishing never raises into the caller: matching
and settlement must not depend on the websockets. A failure is logged; since deltas are computed against the
stored book, the next publish carries every level that changed since, and a client that missed a delta sees the
gap in the sequence and resyncs.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import operator
import queue
import re
import threading

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

from registry.models import Zone
from trading.engine import Engine
from trading.events import ACCEPTED, BOOK, RESTED
from trading.models import BookState, Order, Trade
from trading.orders import BUY, SELL, Order as EngineOrder, OrderRejected
from trading.tariffs import landed_cost

log = logging.getLogger(__name__)

TRADES_GROUP = "trades"
BATCH = "market.batch"  # several messages for one group, in order (see _send_all)
SEND_TIMEOUT_S = 10.0
_GROUP_SAFE = re.compile(r"[A-Za-z0-9\-_.]{1,90}")

Levels = list[list[int]]  # [[price, quantity], ...], best first


def book_group(zone: str) -> str:
    """`book.<zone>`, or for a zone code a group name cannot hold, `book-` and a digest of the code."""
    if _GROUP_SAFE.fullmatch(zone):
        return f"book.{zone}"
    return "book-" + hashlib.sha256(zone.encode()).hexdigest()[:40]


def user_group(participant_id: int) -> str:
    return f"user.{participant_id}"


# -- what the consumers read ------------------------------------------------------------------------------

def book_snapshot(zone: str) -> dict | None:
    """The zone's last published book with the sequence number of the last delta it includes; None for a zone
    that does not exist."""
    zone_id = Zone.objects.filter(code=zone).values_list("pk", flat=True).first()
    if zone_id is None:
        return None
    state = BookState.objects.filter(zone_id=zone_id).first() or BookState(zone_id=zone_id)
    return {"type": "snapshot", "zone": zone, "seq": state.seq, "bids": state.bids, "asks": state.asks}


# -- the messages -----------------------------------------------------------------------------------------

ORDER_EVENT_FIELDS = ("id", "nonce", "side", "kind", "tif", "cross_zone", "quantity", "price", "remaining", "status",
                      "reason", "expires_at", "escrowed", "refunded", "closed")


_order_values = operator.attrgetter(*ORDER_EVENT_FIELDS)


def _order_event(values, zone: str, created_at) -> dict:
    return {"type": "order", **dict(zip(ORDER_EVENT_FIELDS, values)), "zone": zone,
            "created_at": created_at.isoformat()}


def order_as_dict(order: Order) -> dict:
    """An order as its owner sees it on `/ws/me/`."""
    return _order_event(_order_values(order), order.zone.code, order.created_at)


def trade_as_dict(trade: Trade, landed: int) -> dict:
    """A trade as everyone sees it on `/ws/trades/`: no orders, no parties."""
    return {
        "type": "trade", "id": trade.pk, "buyer_zone": trade.buyer_zone.code, "seller_zone": trade.seller_zone.code,
        "quantity": trade.quantity, "effective": trade.effective, "loss": trade.loss, "price": trade.price,
        "landed": landed, "value": trade.value, "wheeling": trade.wheeling, "block_height": trade.block_height,
        "created_at": trade.created_at.isoformat(),
    }


def fill_as_dict(trade: Trade, order: Order, public: dict) -> dict:
    """One side of a trade as the owner of `order` sees it on `/ws/me/`: the trade's public event (`trade_as_dict`)
    with the order and the parties' amounts."""
    return {
        "type": "fill", "trade_id": trade.pk, "order_id": order.pk, "side": order.side, "zone": order.zone.code,
        "buyer_zone": public["buyer_zone"], "seller_zone": public["seller_zone"], "quantity": trade.quantity,
        "effective": trade.effective, "loss": trade.loss, "price": trade.price, "landed": public["landed"],
        "value": trade.value, "fee": trade.fee, "wheeling": trade.wheeling, "loss_value": trade.loss_value,
        "block_height": trade.block_height, "ledger_signature": trade.ledger_signature,
        "created_at": public["created_at"],
    }


def _private(participant_id: int, event: dict) -> tuple[str, dict]:
    # The participant travels with the event so that the consumer can check it is delivering to its own user.
    return user_group(participant_id), {"type": "user.event", "participant": participant_id, "event": event}


def _order_messages(orders: list[Order]) -> list[tuple[str, dict]]:
    if not orders:
        return []
    # As stored now (read back as values: several times cheaper than model instances for a matcher run's orders).
    fresh = (Order.objects.filter(pk__in=[o.pk for o in orders]).order_by("pk")
             .values_list("owner_id", "zone__code", "created_at", *ORDER_EVENT_FIELDS))
    return [_private(owner, _order_event(values, zone, created)) for owner, zone, created, *values in fresh]


def _trade_messages(trades: list[Trade], zones: dict[str, int]) -> list[tuple[str, dict]]:
    if not trades:
        return []
    from trading.services import params

    tariffs = params().tariffs
    messages = []
    # The trades as the matcher recorded them, with their orders and zones attached (no query per trade).
    for trade in trades:
        buyer, seller = zones.get(trade.buyer_zone.code), zones.get(trade.seller_zone.code)
        distance = None if buyer is None or seller is None else abs(buyer - seller)
        landed = landed_cost(trade.price, tariffs.between(distance))
        public = trade_as_dict(trade, landed)
        messages.append((TRADES_GROUP, {"type": "trade.public", "trade": public}))
        for order in (trade.buy_order, trade.sell_order):
            messages.append(_private(order.owner_id, fill_as_dict(trade, order, public)))
    return messages


# -- the book ---------------------------------------------------------------------------------------------

def level_deltas(old_bids: Levels, old_asks: Levels, new_bids: Levels, new_asks: Levels) -> list[tuple[str, int, int]]:
    """(side, price, quantity) for every level whose quantity differs between two books (0: the level is gone),
    bids then asks, each by price."""
    deltas = []
    for side, old, new in ((BUY, old_bids, new_bids), (SELL, old_asks, new_asks)):
        before = {price: quantity for price, quantity in old}
        after = {price: quantity for price, quantity in new if quantity}
        for price in sorted(before.keys() | after.keys()):
            quantity = after.get(price, 0)
            if before.get(price, 0) != quantity:
                deltas.append((side, price, quantity))
    return deltas


def _locked_states(codes) -> dict[str, BookState]:
    """The BookState rows of these zones, created if missing and locked in ascending zone order (so that two
    publishers cannot deadlock); call inside a transaction."""
    codes = set(codes)
    for _ in range(2):
        states = {state.zone.code: state for state in BookState.objects.select_for_update(of=("self",))
                  .select_related("zone").filter(zone__code__in=codes).order_by("zone_id")}
        if states.keys() >= codes:
            return states
        for zone_id in Zone.objects.filter(code__in=codes - states.keys()).values_list("pk", flat=True):
            BookState.objects.get_or_create(zone_id=zone_id)
    return states


def _delta(zone: str, seq: int, side: str, price: int, quantity: int) -> tuple[str, dict]:
    return book_group(zone), {"type": "book.delta", "zone": zone, "seq": seq, "side": side, "price": price,
                              "quantity": quantity}


def _store_books(books: dict[str, tuple[Levels, Levels]]) -> list[tuple[str, dict]]:
    """Store each zone's new book and return its deltas against the stored one, numbered on from its seq."""
    messages = []
    if not books:
        return messages
    with transaction.atomic():
        states = _locked_states(books)
        for code in sorted(states):
            state = states[code]
            bids, asks = books[code]
            deltas = level_deltas(state.bids, state.asks, bids, asks)
            if not deltas:
                continue
            for side, price, quantity in deltas:
                state.seq += 1
                messages.append(_delta(code, state.seq, side, price, quantity))
            state.bids = [[price, quantity] for price, quantity in bids if quantity]
            state.asks = [[price, quantity] for price, quantity in asks if quantity]
            state.save(update_fields=["seq", "bids", "asks", "updated_at"])
    return messages


def _engine_books(engine: Engine, zones: dict[str, int]) -> dict[str, tuple[Levels, Levels]]:
    books = {}
    for code, index in zones.items():
        if index < engine.zones:
            snapshot = engine.snapshot(index)
            books[code] = ([list(level) for level in snapshot.bids], [list(level) for level in snapshot.asks])
    return books


def _waiting_books(codes: list[str]) -> dict[str, tuple[Levels, Levels]]:
    """The books of auction zones: the orders waiting for the next round, by price level (they may cross)."""
    from trading.services import book

    return {code: (levels["bids"], levels["asks"]) for code in codes for levels in (book(code),)}


def _rebuilt(now: int) -> tuple[Engine, dict[str, int]] | None:
    """An engine holding every open order, entered in arrival order as the matcher does; None if entering them
    trades or cancels anything (orders are waiting for the matcher, whose run will publish the book)."""
    from trading.services import params, zone_indexes

    zones = zone_indexes()
    engine = Engine(max(1, len(zones)), params())
    rows = (Order.objects.filter(status=Order.Status.OPEN, expires_at__gt=now).exclude(ledger_signature="")
            .order_by("pk").values_list("pk", "owner_id", "side", "zone__code", "remaining", "price", "kind", "tif",
                                        "expires_at", "cross_zone"))
    for pk, owner, side, zone, remaining, price, kind, tif, expires_at, cross_zone in rows.iterator():
        try:
            events = engine.submit(EngineOrder(id=pk, owner=owner, side=side, zone=zones[zone], quantity=remaining,
                                               price=price, kind=kind, tif=tif, expires_at=expires_at,
                                               cross_zone=cross_zone), now)
        except OrderRejected:
            return None
        if any(event[0] not in (ACCEPTED, RESTED, BOOK) for event in events):
            return None
    return engine, zones


# -- publishing -------------------------------------------------------------------------------------------

def publish_after_match(engine: Engine, zones: dict[str, int], orders: list[Order],
                        books: set[str] | None = None) -> bool:
    """Publish the end of a matcher run (its trades went out as it recorded them: `publish_trades`): the books of
    the zones in `books` (every zone if None) from `engine` as the run left them (`zones` maps zone codes to the
    engine's indexes) and the `orders` it ended (to their owners). Never raises; returns whether the books were
    stored (if not, the caller must publish every book next time)."""
    messages: list[tuple[str, dict]] = []
    stored = True
    try:
        messages += _order_messages(orders)
    except Exception:
        log.exception("could not prepare the order events of a matcher run")
    try:
        from trading.rounds import auction_zones

        auction = auction_zones()
        shown = zones.keys() if books is None else zones.keys() & books
        messages += _store_books(_engine_books(engine, {code: zones[code] for code in shown if code not in auction})
                                 | _waiting_books(sorted(auction & shown)))
    except Exception:
        log.exception("could not publish the order books after a matcher run")
        stored = False
    _deliver(messages)
    return stored


def publish_trades(trades: list[Trade], orders: list[Order], zones: dict[str, int]) -> None:
    """Publish trades a matcher run has recorded (public, and a fill to each party) and the `orders` they changed
    (to their owners), before the run ends: a run that settles many trades publishes them a chunk at a time, as
    each is recorded, and its books at the end (`publish_after_match`). The orders are sent as the run has just
    written them (the matcher's lock keeps any other writer away from open orders meanwhile), not read back.
    Never raises."""
    messages: list[tuple[str, dict]] = []
    try:
        latest = {order.pk: order for order in orders}
        messages = _trade_messages(trades, zones) + [_private(order.owner_id, order_as_dict(order))
                                                     for _, order in sorted(latest.items())]
    except Exception:
        log.exception("could not prepare the events of %s trades", len(trades))
    _deliver(messages)


def publish_after_place(orders: list[Order]) -> None:
    """Publish new orders, each to its owner, as stored now (the matcher may have traded one since): their books
    are the matcher's to publish. Never raises."""
    messages: list[tuple[str, dict]] = []
    try:
        messages = _order_messages(orders)
    except Exception:
        log.exception("could not publish the placement of orders %s", [order.pk for order in orders][:20])
    _deliver(messages)


def publish_after_cancel(order: Order, *, now: int) -> None:
    """Publish a cancelled order to its owner and the books without it. Call holding the matcher's lock (no run
    may change the open orders meanwhile). Never raises."""
    messages: list[tuple[str, dict]] = []
    try:
        messages += _order_messages([order])
        rebuilt = _rebuilt(now)
        if rebuilt is not None:
            messages += _store_books(_engine_books(*rebuilt))
    except Exception:
        log.exception("could not publish the cancel of order %s", order.pk)
    _deliver(messages)


# -- delivery ---------------------------------------------------------------------------------------------

_serving_loop: asyncio.AbstractEventLoop | None = None


def serve_on(loop: asyncio.AbstractEventLoop) -> None:
    """Record the event loop the consumers run on (each consumer calls it as it connects)."""
    global _serving_loop
    _serving_loop = loop


def _on(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _deliver(messages: list[tuple[str, dict]]) -> None:
    """Hand each (group, message) to the channel layer, in order; log, never raise, if the layer fails.

    The in-memory layer's queues belong to the consumers' event loop: from a thread of our own (the embedded
    scheduler's, say), messages are sent on that loop. Any other layer (Redis) gets them from this process's
    sender thread, which sends one after another on an event loop of its own: the caller does not wait for the
    network, and the messages of one process keep their order."""
    if not messages:
        return
    try:
        layer = get_channel_layer()
        if layer is None:
            return
        loop = _serving_loop
        if isinstance(layer, InMemoryChannelLayer):
            if loop is not None and loop.is_running() and not _on(loop):
                asyncio.run_coroutine_threadsafe(_send_all(layer, messages), loop).result(timeout=SEND_TIMEOUT_S)
            else:
                async_to_sync(_send_all)(layer, messages)
            return
        _sender().put((layer, messages))
    except Exception:
        log.exception("could not send %d market event(s) on the channel layer", len(messages))


async def _send_all(layer, messages: list[tuple[str, dict]]) -> None:
    """Send `messages` with one message per group: a group's several messages travel together, in order, as one
    `market.batch` that the consumers unpack (trading.consumers), and the groups are sent concurrently."""
    grouped: dict[str, list[dict]] = {}
    for group, message in messages:
        grouped.setdefault(group, []).append(message)
    groups = list(grouped)
    results = await asyncio.gather(*(
        layer.group_send(group, batch[0] if len(batch) == 1 else {"type": BATCH, "messages": batch})
        for group, batch in grouped.items()), return_exceptions=True)
    for group, result in zip(groups, results, strict=True):
        if isinstance(result, BaseException):
            log.error("could not send %d market event(s) to %s", len(grouped[group]), group, exc_info=result)


_outbox: queue.SimpleQueue | None = None
_outbox_lock = threading.Lock()


def _sender() -> queue.SimpleQueue:
    global _outbox
    if _outbox is None:
        with _outbox_lock:
            if _outbox is None:
                outbox: queue.SimpleQueue = queue.SimpleQueue()
                threading.Thread(target=_send_loop, args=(outbox,), name="market-events", daemon=True).start()
                _outbox = outbox
    return _outbox


def _send_loop(outbox: queue.SimpleQueue) -> None:
    loop = asyncio.new_event_loop()
    carried = None
    while True:
        layer, batch = carried or outbox.get()
        batch, carried = list(batch), None
        while len(batch) < 1000:  # what queued meanwhile for the same layer goes in the same pass, in order
            try:
                more_layer, more = outbox.get_nowait()
            except queue.Empty:
                break
            if more_layer is not layer:
                carried = (more_layer, more)
                break
            batch += more
        try:
            loop.run_until_complete(asyncio.wait_for(_send_all(layer, batch), SEND_TIMEOUT_S))
        except Exception:
            log.exception("could not send %d market event(s) on the channel layer", len(batch))


def flush(timeout: float = SEND_TIMEOUT_S) -> None:
    """Wait until the sender thread has sent what was handed to it before this call (tests, shutdown)."""
    if _outbox is None:
        return
    done = threading.Event()

    class _Marker:
        async def group_send(self, group, message):
            done.set()

    _outbox.put((_Marker(), [("", {})]))
    done.wait(timeout)
