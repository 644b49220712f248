"""Placing and cancelling orders, and the matcher that settles trades on the ledger.

Placement verifies the owner's signature over the order (trading.order_message) before anything else, applies
the market's rules, and locks the escrow in a ledger transaction of the trading program (which checks the rules
again). The matcher then runs the pure engine (trading.engine) and settles every trade in its own atomic ledger
transaction; cancelled, expired and filled orders get what is left in their escrow back.

Placement comes one order at a time (`order_place`) or in batches (`orders_place`, which the API's order desk
uses: trading.desk); a batch shares its queries, its ledger wait and its database transactions.

One matcher at a time (a named lock), whichever process triggers it: a placement (event-driven) or the schedule.
The engine takes orders in id (arrival) order; resting orders never cross, so only new arrivals trade. A matcher
process keeps its engine between runs and takes in only the orders placed since, unless anything else changed
the open orders (a cancel, another process's run: `MatcherState`), and at least every REBUILD_S it starts again
from the open orders. Before it does, the run reconciles the tables with the ledger. When the market account's
count of settlements equals the count of trade rows recorded (MatcherState, kept with the rows), nothing is
missing. Otherwise every open order is compared with its ledger account, and a settlement that committed on the
ledger but whose rows were lost (a crash between the two) is recovered from the ledger transaction itself, so a
trade can be neither lost nor settled twice (the ledger refuses to fill more than an order's remaining
quantity). A run that any settlement or refund failed in keeps nothing, so the next one reconciles and
rebuilds.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from gridtokenx.locks import try_lock
from gridtokenx.rows import db_now, insert_objects, insert_rows, update_rows
from ledger import selectors as ledger_selectors
from ledger import services as ledger_services
from ledger.config import platform_authority
from ledger.crypto import Keypair, b58, parse_address, sha256
from ledger.errors import (
    Conflict,
    Forbidden,
    GridTokenXError,
    NotFound,
    Rejected,
    SignatureVerificationFailed,
    TransactionFailed,
)
from ledger.encoding import Message, Transaction
from ledger.token_program import create_account_ix, mint_address
from registry.models import Participant, Zone
from registry.wallets import unseal
from trading import program, rounds, streams
from trading.engine import Engine
from trading.events import CANCELLED, EXPIRED, TRADE
from trading.order_message import from_json
from trading.orders import BUY, FOK, Order as EngineOrder, OrderRejected, order_check
from trading.params import MarketParams
from trading.models import EscrowRecord, MatcherState, Order, Trade
from trading.program import Side
from trading.tariffs import trade_amounts

FEE_BPS = 25  # the original market's platform fee: 0.25 % of a trade's value


def params() -> MarketParams:
    return MarketParams()


def collectors() -> tuple[bytes, bytes, bytes]:
    """The fee collector (the platform authority), the grid operator's and the loss account's keys; the latter
    two derived from the authority's secret seed, so only the platform holds them."""
    authority = platform_authority()
    grid = Keypair.from_seed(sha256(authority.seed, b"gridtokenx grid operator"))
    loss = Keypair.from_seed(sha256(authority.seed, b"gridtokenx transmission losses"))
    return authority.pubkey, grid.pubkey, loss.pubkey


def market_initialize() -> None:
    """Create the market account and the collectors' token accounts on a new chain; idempotent."""
    if ledger_selectors.raw_accounts([program.market_address()]):
        return
    authority = platform_authority()
    fee, grid, loss = collectors()
    p = params()
    ixs = [create_account_ix(payer=authority.pubkey, owner=owner, mint=mint_address(symbol))
           for owner in (fee, grid, loss) for symbol in ("GXT", "THB")]
    ixs.append(program.initialize_ix(authority=authority.pubkey, fee_bps=FEE_BPS, fee_owner=fee, grid_owner=grid,
                                     loss_owner=loss, min_price=p.min_price, max_price=p.max_price,
                                     min_trade=p.min_trade, tariffs=p.tariffs))
    try:
        ledger_services.instructions_submit(instructions=ixs, signers=[authority])
    except TransactionFailed:
        if not ledger_selectors.raw_accounts([program.market_address()]):
            raise


def zone_indexes() -> dict[str, int]:
    """Zones in the market's order (by code): the index is the zone's position, and distance is |i - j|."""
    return {code: i for i, code in enumerate(Zone.objects.order_by("code").values_list("code", flat=True))}


def now_ms() -> int:
    return int(time.time() * 1000)


# -- placing and cancelling ---------------------------------------------------------------------------------

def order_place(*, participant: Participant, body, now: int | None = None) -> tuple[Order, bool]:
    """Place a signed order; returns (order, created). Retrying the same signed order returns the same order."""
    (placement,) = orders_place([Placement(participant, body)], now=now)
    if placement.error is not None:
        raise placement.error
    return placement.order, placement.created


@dataclass
class Placement:
    """One order of a batch given to `orders_place`, and what became of it: `order` and `created`, or `error`."""

    participant: Participant
    body: dict
    order: Order | None = None
    created: bool = False
    error: GridTokenXError | None = None
    message: object = None
    signature: bytes = b""
    digest: bytes = b""
    zone_index: int = 0


def orders_place(placements: list[Placement], *, now: int | None = None) -> list[Placement]:
    """Place many signed orders at once, each with the guarantees of `order_place`; a refused order does not
    affect the others. The batch shares its queries, one database transaction for the new rows, one ledger wait
    for every escrow lock (each still its own ledger transaction) and one transaction for the escrow records.

    Order per placement: the owner's signature, the owner, a retry of a nonce already used, the user's status, the
    pause, the zone, the market's rules; then the escrow lock on the ledger, which checks the balance and the
    rules again. Returns `placements`, each with its outcome filled in."""
    now = now_ms() if now is None else now
    first: dict[tuple[int, int], Placement] = {}
    twins: list[tuple[Placement, Placement]] = []
    for p in placements:
        try:
            if p.message is None:  # the order desk's door may have parsed it already
                p.message, p.signature = from_json(p.body)
        except GridTokenXError as exc:
            p.error = exc
    parsed = [p for p in placements if p.error is None]
    for p, valid in zip(parsed, _verify_signatures(parsed), strict=True):
        try:
            if not valid:
                raise SignatureVerificationFailed("the order's signature does not verify with its owner key")
            if b58(p.message.owner) != p.participant.wallet:
                raise Forbidden("an order must be signed with your own wallet key")
        except GridTokenXError as exc:
            p.error = exc
            continue
        p.digest = p.message.digest()
        name = (p.participant.pk, p.message.nonce)
        if name in first:
            twins.append((p, first[name]))  # the same nonce twice in one batch: the later is a retry
        else:
            first[name] = p
    if first:
        # The batch's owners and nonces cross: keys first (most batches retry nothing), then the retried orders.
        candidates = Order.objects.filter(owner_id__in={pk for pk, _ in first}, nonce__in={n for _, n in first})
        retried = [pk for owner, nonce, pk in candidates.values_list("owner_id", "nonce", "pk")
                   if (owner, nonce) in first]
        for order in Order.objects.filter(pk__in=retried).select_related("zone", "owner__user") if retried else ():
            _answer_retry(first.pop((order.owner_id, order.nonce)), order)
    fresh = list(first.values())
    if fresh:
        _check_new(fresh, now)
        fresh = [p for p in fresh if p.error is None]
    if fresh:
        _lock_escrows(fresh, now)
    for p, earlier in twins:
        if earlier.order is not None:
            _answer_retry(p, earlier.order)
        else:
            p.error = earlier.error
    return placements


VERIFY_SPLIT_MIN = 32  # a batch of at least this many orders has its signatures checked on every core
_verifiers: ThreadPoolExecutor | None = None
_verifiers_lock = threading.Lock()


def _verify_signatures(placements: list[Placement]) -> list[bool]:
    """Whether each order's signature verifies. libsodium releases the interpreter while it checks one, so a
    large batch is split among threads, one per core."""
    def check(part: list[Placement]) -> list[bool]:
        return [p.message.verify(p.signature) for p in part]

    cores = os.cpu_count() or 1
    if cores == 1 or len(placements) < VERIFY_SPLIT_MIN:
        return check(placements)
    global _verifiers
    with _verifiers_lock:
        if _verifiers is None:
            _verifiers = ThreadPoolExecutor(cores, thread_name_prefix="order-verify")
    size = -(-len(placements) // cores)
    parts = _verifiers.map(check, [placements[i:i + size] for i in range(0, len(placements), size)])
    return [valid for part in parts for valid in part]


def _answer_retry(p: Placement, order: Order) -> None:
    if bytes(order.digest) != p.digest:
        p.error = Conflict(f"nonce {p.message.nonce} already names a different order of yours")
    else:
        p.order, p.created = order, False


def _check_new(fresh: list[Placement], now: int) -> None:
    """The user's status, the pause, the zone and the market's rules, for orders not placed before."""
    address = program.market_address()
    raw = ledger_selectors.raw_accounts([address]).get(address)
    if raw is None:
        market_initialize()
        raw = ledger_selectors.raw_accounts([address])[address]
    paused = program.Market.unpack(raw[1]).paused
    zone_rows = list(Zone.objects.order_by("code"))
    zones = {zone.code: i for i, zone in enumerate(zone_rows)}
    rules, auction = params(), rounds.auction_zones()
    for p in fresh:
        message = p.message
        try:
            if p.participant.status != Participant.Status.ACTIVE:
                raise Rejected("user_suspended", "a suspended user cannot trade")
            if paused:
                raise Rejected("market_paused", "the market is paused by its operator: no new orders")
            if message.zone not in zones:
                raise NotFound(f"no zone {message.zone!r}", field="zone")
            probe = EngineOrder(id=0, owner=p.participant.pk, side=message.side, zone=zones[message.zone],
                                quantity=message.quantity, price=message.price, kind=message.kind, tif=message.tif,
                                expires_at=message.expires_at or None, cross_zone=message.cross_zone)
            try:
                order_check(probe, now=now, params=rules, zones=len(zones))
            except OrderRejected as exc:
                raise Rejected(exc.code, exc.message) from None
            if message.tif == FOK and message.zone in auction:
                raise Rejected("fok_in_auction", f"zone {message.zone} trades by periodic auction, which takes GTC "
                                                 "and IOC orders, not FOK")
        except GridTokenXError as exc:
            p.error = exc
            continue
        side = Side.BUY if message.side == BUY else Side.SELL
        p.order = Order(
            owner=p.participant, nonce=message.nonce, side=message.side, kind=message.kind, tif=message.tif,
            cross_zone=message.cross_zone, zone=zone_rows[zones[message.zone]], quantity=message.quantity,
            price=message.price, remaining=message.quantity, expires_at=probe.expires_at,
            escrowed=program.buy_escrow(message.quantity, message.price) if side == Side.BUY else message.quantity,
            digest=p.digest, signature=b58(p.signature), ledger_signature="",
        )
        p.zone_index = zones[message.zone]


def _insert(fresh: list[Placement]) -> list[Placement]:
    """Insert the new orders' rows (their ids name their ledger accounts); a nonce another process placed
    meanwhile is answered as a retry. Returns the placements whose rows this call inserted."""
    try:
        with transaction.atomic():
            insert_objects([p.order for p in fresh])
        return fresh
    except IntegrityError:
        pass
    inserted = []
    for p in fresh:  # one at a time, to tell which nonce was taken
        try:
            with transaction.atomic():
                p.order.save(force_insert=True)
            inserted.append(p)
        except IntegrityError:
            taken = Order.objects.select_related("zone", "owner__user").filter(
                owner=p.participant, nonce=p.message.nonce).first()
            p.order = None
            if taken is None:
                p.error = Conflict(f"nonce {p.message.nonce} could not be placed; retry")
            else:
                _answer_retry(p, taken)
    return inserted


def _lock_escrows(fresh: list[Placement], now: int) -> None:
    """Insert the orders, lock their escrows on the ledger (one transaction each, submitted together) and record
    the locks; an order the ledger refuses is deleted again and answered with the ledger's reason."""
    fresh = _insert(fresh)
    if not fresh:
        return
    authority = platform_authority()
    blockhash = ledger_selectors.latest_blockhash()
    txs = []
    for p in fresh:
        order, message = p.order, p.message
        txs.append(Transaction.build(Message(authority.pubkey, blockhash, (program.place_ix(
            owner=message.owner, authority=authority.pubkey, order_id=order.pk,
            side=Side.BUY if order.side == BUY else Side.SELL, zone=p.zone_index, price=order.price,
            quantity=order.quantity, escrow=order.escrowed, expires_ms=order.expires_at, digest=p.digest),)),
            [authority, custodial_key(p.participant)]))
    placed, refused = [], []
    for p, outcome in zip(fresh, ledger_services.transactions_submit_many(txs), strict=True):
        if isinstance(outcome, TransactionFailed):  # refused for good: nothing was locked
            refused.append(p.order.pk)
            p.order, p.error = None, Rejected(outcome.reason_code, f"the order was not placed: {outcome.reason}")
        elif isinstance(outcome, GridTokenXError):  # the ledger did not answer in time: the row stays for a retry
            p.order, p.error = None, outcome
        else:
            p.order.ledger_signature = outcome.signature
            p.created = True
            placed.append(p.order)
    with transaction.atomic():
        if refused:
            Order.objects.filter(pk__in=refused).delete()
        _update_orders(placed, ["ledger_signature"])
        _insert_escrow([(order.pk, EscrowRecord.Kind.LOCK, "THB" if order.side == BUY else "GXT", order.escrowed,
                         None, order.ledger_signature) for order in placed])
    streams.publish_after_place(placed)


def owner_wallets(participants: set[int]) -> dict[int, bytes]:
    """{participant id: wallet address} for `participants`, in one query (each address decoded once per process)."""
    return {pk: wallet_address(wallet) for pk, wallet in
            Participant.objects.filter(pk__in=participants).values_list("pk", "wallet")}


@lru_cache(maxsize=4096)
def wallet_address(wallet: str) -> bytes:
    """A participant's stored wallet address as bytes (decoded once per process: settlements name it often)."""
    return parse_address(wallet)


def custodial_key(participant: Participant) -> Keypair:
    """The participant's wallet key, unsealed once per process (the 512 most recently used are kept)."""
    return _unsealed(bytes(participant.wallet_secret))


@lru_cache(maxsize=512)
def _unsealed(sealed: bytes) -> Keypair:
    return unseal(sealed)


CANCEL_WAIT_S = 15.0


def order_cancel(*, order: Order, by: Participant | None) -> Order:
    """Cancel an open order and refund its escrow; `by` None means an operator."""
    if by is not None and order.owner_id != by.pk:
        raise NotFound("no such order of yours")
    # A matcher run holds the lock for a moment (it runs after every order): wait for it rather than refuse.
    with try_lock("trading-matcher", wait_s=CANCEL_WAIT_S) as got:
        if not got:
            raise Rejected("matcher_busy", "the matcher is running; try again in a moment")
        order.refresh_from_db()
        if order.status != Order.Status.OPEN:
            raise Rejected("order_not_open", f"order {order.pk} is {order.status}")
        _close(order, Order.Status.CANCELLED, "requested")
        MatcherState.advance()  # a matcher that kept its engine rebuilds it without this order
        streams.publish_after_cancel(order, now=now_ms())
    order.refresh_from_db()
    return order


# -- the matcher ------------------------------------------------------------------------------------------

@dataclass
class MatchReport:
    busy: bool = False
    trades: int = 0
    cancelled: int = 0
    expired: int = 0
    recovered: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _close(order: Order, status: str, reason: str) -> None:
    """Refund what is left in `order`'s escrow (if anything) and record the order's end."""
    errors = _close_many([(order, status, reason)])
    if errors:
        raise errors[0]


def _close_many(ends: list[tuple[Order, str, str]]) -> list[GridTokenXError]:
    """Close many orders at once: one refund transaction each, submitted together; then their rows."""
    addresses = [program.order_address(order.pk) for order, _, _ in ends]
    chain = {a: program.Order.unpack(d) for a, (_, d) in ledger_selectors.raw_accounts(addresses).items()}
    authority = platform_authority()
    blockhash = ledger_selectors.latest_blockhash()
    pending = []
    for (order, status, reason), address in zip(ends, addresses, strict=True):
        state = chain.get(address)
        needs_tx = state is not None and state.status in (program.OrderStatus.OPEN, program.OrderStatus.FILLED)
        tx = Transaction.build(Message(authority.pubkey, blockhash, (program.close_ix(
            signer=authority.pubkey, order_id=order.pk, owner=wallet_address(order.owner.wallet),
            side=Side.BUY if order.side == BUY else Side.SELL),)), [authority]) if needs_tx else None
        pending.append((order, status, reason, state.escrowed if state else 0, tx))
    outcomes = iter(ledger_services.transactions_submit_many([tx for *_, tx in pending if tx is not None]))
    errors = []
    with transaction.atomic():
        for order, status, reason, refund, tx in pending:
            signature = ""
            if tx is not None:
                outcome = next(outcomes)
                if isinstance(outcome, GridTokenXError):
                    errors.append(outcome)
                    continue
                signature = outcome.signature
            fields = {"refunded": order.refunded + refund, "closed": True}
            if order.status == Order.Status.OPEN:
                fields.update(status=status, reason=reason if status == Order.Status.CANCELLED else "")
            Order.objects.filter(pk=order.pk).update(**fields)
            if refund:
                EscrowRecord.objects.create(order=order, kind=EscrowRecord.Kind.REFUND, amount=refund,
                                            token="THB" if order.side == BUY else "GXT", ledger_signature=signature)
    return errors


def _record_trade(buy: Order, sell: Order, quantity: int, price: int, signature: str, height: int,
                  zones: dict[str, int] | None = None, *, closes_buy: bool = False) -> Trade:
    """Mirror one committed settlement: the trade row, both orders' progress and the escrow releases."""
    return _record_trades([(buy, sell, quantity, price, signature, height)], zones,
                          closing={buy.pk} if closes_buy else frozenset())[0]


_ESCROW_FIELDS = ["order", "kind", "token", "amount", "trade", "ledger_signature", "created_at"]


def _record_trades(settled: list[tuple[Order, Order, int, int, str, int]], zones: dict[str, int] | None = None,
                   closing: set[int] | frozenset = frozenset()) -> list[Trade]:
    """Mirror committed settlements in one database transaction: the trade rows, the escrow releases, the orders'
    progress, and for the buys in `closing` (closed in their trade's own ledger transaction) the refund of what
    their escrow had left: the lock, less every release (earlier ones too) and earlier refund, as the trading
    program computes it. A buy closes with its only trade of a run, so one with nothing filled before this trade
    has no earlier release, and only buys filled before are looked up."""
    if not settled:
        return []
    zones = zones or zone_indexes()
    tariffs = params().tariffs
    trades, releases, touched = [], [], {}
    earlier = [buy.pk for buy, *_ in settled if buy.pk in closing and buy.remaining != buy.quantity]
    released = dict(EscrowRecord.objects.filter(order__in=earlier, kind=EscrowRecord.Kind.RELEASE)
                    .values("order").annotate(total=Sum("amount")).values_list("order", "total")) if earlier else {}
    for buy, sell, quantity, price, signature, height in settled:
        amounts = trade_amounts(quantity, price, tariffs.between(abs(zones[buy.zone.code] - zones[sell.zone.code])))
        trade = Trade(buy_order=buy, sell_order=sell, buyer_zone=buy.zone, seller_zone=sell.zone,
                      quantity=quantity, effective=amounts.effective, loss=amounts.loss, price=price,
                      value=amounts.value, fee=program.fee_of(amounts.value, FEE_BPS), wheeling=amounts.wheeling,
                      loss_value=amounts.loss_value, ledger_signature=signature, block_height=height)
        trades.append(trade)
        paid = amounts.value + amounts.wheeling
        for order, token, amount in ((buy, "THB", paid), (sell, "GXT", quantity)):
            order.remaining -= quantity
            order.status = Order.Status.FILLED if order.remaining == 0 else Order.Status.OPEN
            touched[order.pk] = order
            releases.append((order.pk, EscrowRecord.Kind.RELEASE, token, amount, trade, signature))
        if buy.pk in closing:
            refund = buy.escrowed - buy.refunded - released.get(buy.pk, 0) - paid
            buy.refunded += refund
            buy.closed = True
            if refund:
                releases.append((buy.pk, EscrowRecord.Kind.REFUND, "THB", refund, None, signature))
    with transaction.atomic():
        insert_objects(trades)
        MatcherState.count_trades(len(trades))
        _insert_escrow([(*r[:4], None if r[4] is None else r[4].pk, r[5]) for r in releases])
        # One statement for every order the chunk changed: the matcher's lock keeps other writers away from open
        # orders, so what this process holds of the fields it does not change here is what is stored.
        _update_orders(list(touched.values()), ["remaining", "status", "refunded", "closed"])
    return trades


def _update_orders(orders: list[Order], fields: list[str]) -> None:
    """Write `fields` of many orders in one statement (gridtokenx.rows)."""
    update_rows(Order, fields, list({o.pk: (o.pk, *(getattr(o, n) for n in fields)) for o in orders}.values()))


def _insert_escrow(records: list[tuple]) -> None:
    """Insert escrow records, each (order id, kind, token, amount, trade id or None, ledger signature), in one
    statement (gridtokenx.rows); their ids are not needed back."""
    created = db_now(EscrowRecord)
    insert_rows(EscrowRecord, _ESCROW_FIELDS, [(*r, created) for r in records])


def reconcile(report: MatchReport) -> None:
    """Record settlements the ledger committed but the tables missed (see the module docstring).

    The market account counts every settlement the ledger committed, and every one of them is a trade row (a
    settlement's rows are written in one database transaction, never twice: a trade's ledger signature is
    unique), counted in MatcherState in that same transaction. When the two counts agree, no settlement is
    missing and the open orders need not be read."""
    if program.Market.unpack(_account_at(program.market_address())).trades == MatcherState.trades_recorded():
        return
    remaining = dict(Order.objects.filter(status=Order.Status.OPEN).exclude(ledger_signature="")
                     .values_list("pk", "remaining"))
    addresses = {program.order_address(pk): pk for pk in remaining}
    behind = sorted(pk for address, (_, data) in ledger_selectors.raw_accounts(list(addresses)).items()
                    if program.Order.unpack(data).remaining != remaining[(pk := addresses[address])])
    for order in Order.objects.filter(pk__in=behind).select_related("zone").order_by("pk"):
        # Oldest first: each settlement is recorded against the order as the ones before it left it.
        for raw_signature, _, _ in reversed(ledger_selectors.signatures_for_address(program.order_address(order.pk),
                                                                                     limit=1000)):
            signature = b58(bytes(raw_signature))
            if Trade.objects.filter(ledger_signature=signature).exists():
                continue
            _, tx, block = ledger_selectors.transaction_get(bytes(raw_signature))
            for ix in tx.message.instructions:
                if ix.program_id != program.TRADING_PROGRAM_ID or ix.data[:1] != bytes((program.IX_SETTLE,)):
                    continue
                quantity, price = program._U64x2.unpack_from(ix.data, 1)
                buy_id = program.Order.unpack(_account_at(ix.accounts[2].pubkey)).order_id
                sell_id = program.Order.unpack(_account_at(ix.accounts[3].pubkey)).order_id
                buy = Order.objects.select_related("zone").get(pk=buy_id)
                sell = Order.objects.select_related("zone").get(pk=sell_id)
                # The buy may have been closed in the same transaction: by the settle itself (its close flag, when
                # this fill completed the buy) or by a close instruction after it.
                closes_buy = (program.settle_closes_buy(ix.data) and quantity == buy.remaining) or any(
                    other.program_id == program.TRADING_PROGRAM_ID and other.data[:1] == bytes((program.IX_CLOSE,))
                    and other.accounts[2].pubkey == ix.accounts[2].pubkey for other in tx.message.instructions)
                _record_trade(buy, sell, quantity, price, signature, block.height, closes_buy=closes_buy)
                report.recovered += 1


def _account_at(address: bytes) -> bytes:
    return ledger_selectors.raw_accounts([address])[address][1]


@dataclass
class _Kept:
    """The matcher's engine as this process's last run left it, with the open orders it took in (auction zones'
    orders too, which their rounds clear) and the highest order id taken."""

    engine: Engine
    zones: dict[str, int]
    rules: MarketParams
    auction: frozenset
    orders: dict[int, Order]
    last_id: int
    mark: str
    built: float
    waiting: dict[int, Order] = field(default_factory=dict)  # the orders of auction zones, also in `orders`

    def drop(self, pk: int) -> None:
        self.orders.pop(pk, None)
        self.waiting.pop(pk, None)


_kept: _Kept | None = None
SETTLE_CHUNK = 250  # settlements recorded in the tables per database transaction, while the ledger orders the rest
REBUILD_S = 60.0  # a kept engine is rebuilt (and the tables reconciled with the ledger) at least this often
UNSIGNED_WAIT_MS = 60_000  # how long a placement's ledger lock may hold back the orders placed after it


def _arrivals(last_id: int) -> list[Order]:
    """Open orders above `last_id` whose escrow is locked, in id order, up to the first one still being placed:
    ids are given before the ledger lock, and the engine takes orders in id order (arrival at the exchange). A
    placement unsigned for UNSIGNED_WAIT_MS is taken as lost and holds nothing back (a rebuild takes it in if it
    turns up)."""
    recent = timezone.now() - timedelta(milliseconds=UNSIGNED_WAIT_MS)
    arrived = []
    # The zones prefetched (a handful of rows) rather than joined: a Zone instance per order doubles the cost.
    for order in (Order.objects.filter(pk__gt=last_id, status=Order.Status.OPEN).prefetch_related("zone")
                  .order_by("pk")):
        if order.ledger_signature:
            arrived.append(order)
        elif order.created_at >= recent:
            break  # still being placed: it and every later order wait for the next run
    return arrived


def run_matcher(*, now: int | None = None) -> MatchReport:
    """Match open orders and settle every trade on the ledger. Safe to call at any time from anywhere.

    A run keeps its engine for the next run in this process and then only takes in the orders placed since, as
    long as nothing else changed the open orders meanwhile (MatcherState); otherwise, and every REBUILD_S, it
    reconciles with the ledger and rebuilds the engine from the open orders in id order."""
    global _kept
    report = MatchReport()
    with try_lock("trading-matcher") as got:
        if not got:
            report.busy = True
            return report
        market_initialize()
        kept, _kept = _kept, None  # whatever happens below, a run that does not finish leaves nothing kept
        zones, rules, auction = zone_indexes(), params(), rounds.auction_zones()
        rebuilt = (kept is None or kept.mark != MatcherState.current() or kept.zones != zones or kept.rules != rules
                   or kept.auction != auction or time.monotonic() - kept.built > REBUILD_S)
        if rebuilt:
            reconcile(report)
            kept = _Kept(Engine(max(1, len(zones)), rules), zones, rules, auction, {}, 0, "", time.monotonic())
        now = now_ms() if now is None else now
        engine, orders = kept.engine, kept.orders
        events: list[tuple] = []
        arrivals = _arrivals(kept.last_id)
        for order in arrivals:
            orders[order.pk] = order
            kept.last_id = order.pk
            if order.zone.code in auction:  # cleared by its zone's round, never by the continuous engine
                kept.waiting[order.pk] = order
                continue
            try:
                events += engine.submit(order.engine_order(zones[order.zone.code]), now)
            except OrderRejected as exc:
                events.append((EXPIRED, order.pk, 0, order.side, order.remaining) if exc.code == "already_expired"
                              else (CANCELLED, order.pk, 0, order.side, order.remaining, exc.code))
        events += engine.expire(now)
        if kept.waiting:
            events += rounds.clear_rounds(kept.waiting, zones, now, rules)
        fee, grid, loss = collectors()
        authority = platform_authority()
        # Trades first, all submitted at once: the engine never gives an order more fills than it has left, and
        # every fill's charges fit its escrow, so the settlements succeed in whatever order the ledger runs them.
        trades = [e for e in events if e[0] == TRADE]
        # A buy filled completely by its only trade of this run is closed by its settlement (the settle's close
        # flag), which refunds its price improvement: one instruction for the trade and the refund.
        fills_per_buy = Counter(e[3] for e in trades)
        closing = {e[3] for e in trades if fills_per_buy[e[3]] == 1 and e[9] == orders[e[3]].remaining}
        blockhash = ledger_selectors.latest_blockhash()
        wallets = owner_wallets({orders[pk].owner_id for e in trades for pk in e[3:5]})
        txs = [Transaction.build(Message(authority.pubkey, blockhash, (program.settle_ix(
            authority=authority.pubkey, buy_id=e[3], buyer=wallets[orders[e[3]].owner_id], sell_id=e[4],
            seller=wallets[orders[e[4]].owner_id], quantity=e[9], price=e[12], fee_owner=fee,
            grid_owner=grid, loss_owner=loss, close_buy=e[3] in closing),)), [authority]) for e in trades]
        # Recorded and published a chunk at a time: the tables take one chunk's trades while the ledger orders the
        # next, and the chunk's trades and fills go out as soon as they are stored. Chunks the ledger has already
        # committed when the tables are ready for them are recorded together (fewer statements and commits).
        settled, start = [], 0
        for outcomes in ledger_services.transactions_submit_stream(txs, chunk=SETTLE_CHUNK, merge_ready=True):
            part, start = trades[start:start + len(outcomes)], start + len(outcomes)
            done = []
            for e, outcome in zip(part, outcomes, strict=True):
                if isinstance(outcome, GridTokenXError):  # refused: the next run starts from the reconciled state
                    report.errors.append(f"trade {e[3]}x{e[4]}: {outcome.message}")
                    continue
                done.append((orders[e[3]], orders[e[4]], e[9], e[12], outcome.signature, outcome.block_height))
            recorded = _record_trades(done, zones, closing)
            streams.publish_trades(recorded, [o for fill in done for o in fill[:2]], zones)
            settled += done
        report.trades += len(settled)
        # Then the ends of orders: cancelled (IOC and FOK remainders, self-trade, dust) and expired ones, and
        # filled buys, which keep their price improvement in escrow until closed.
        ending = {}
        for event in events:
            if event[0] in (CANCELLED, EXPIRED):
                ending.setdefault(event[1], event)
        ends = []
        if ending:
            stored = Order.objects.select_related("zone", "owner").in_bulk(list(ending))
            for pk, event in ending.items():
                order = stored[pk]
                if order.status == Order.Status.OPEN:
                    ends.append((order, Order.Status.EXPIRED if event[0] == EXPIRED else Order.Status.CANCELLED,
                                 "" if event[0] == EXPIRED else event[5]))
        ends += [(order, Order.Status.FILLED, "") for order in Order.objects.filter(
            status=Order.Status.FILLED, side=BUY, closed=False).select_related("owner", "zone")]
        for error in _close_many(ends):
            report.errors.append(f"close: {error.message}")
        report.expired += sum(1 for _, status, _ in ends if status == Order.Status.EXPIRED)
        report.cancelled += sum(1 for _, status, _ in ends if status == Order.Status.CANCELLED)
        filled = [o for fill in settled for o in fill[:2]]
        # The books that may have changed: every zone after a rebuild, else the zones of the orders this run took
        # in, traded or ended (a kept engine's other books are as the last run published them).
        touched = set(zones) if rebuilt else {o.zone.code for o in [*arrivals, *filled, *(end[0] for end in ends)]}
        stored = streams.publish_after_match(engine, zones, [end[0] for end in ends], books=touched)
        changed = bool(arrivals or events or rebuilt)  # else the open orders are as this process's last run left them
        if report.errors or not stored:
            # A refused settlement or refund (the engine moved on without it), or books that were not stored: this
            # process's next run rebuilds and stores every book; another process's kept engine rebuilds too.
            if changed:
                MatcherState.advance()
        else:
            for pk in ending.keys() | {o.pk for o in filled if o.status != Order.Status.OPEN}:
                kept.drop(pk)
            if changed:
                kept.mark = MatcherState.advance()
            _kept = kept
    return report


# -- reads and operator actions ---------------------------------------------------------------------------

def _engine_of_open_orders(now: int, zones: dict[str, int]) -> Engine:
    """An engine holding the continuous market's resting book as the last matcher run left it (resting orders never
    cross)."""
    engine = Engine(max(1, len(zones)), params())
    auction = rounds.auction_zones()
    for order in (Order.objects.filter(status=Order.Status.OPEN, tif="gtc").exclude(ledger_signature="")
                  .select_related("zone").order_by("pk")):
        if order.expires_at > now and order.zone.code not in auction:
            engine.submit(EngineOrder(id=order.pk, owner=order.owner_id, side=order.side, zone=zones[order.zone.code],
                                      quantity=order.remaining, price=order.price, expires_at=order.expires_at), now)
    return engine


def _round_if_closed_now(probe: EngineOrder, zone: str, zones: dict[str, int], now: int):
    """The auction round of `zone` as it would clear now over the orders waiting for it and `probe`."""
    waiting = [o.engine_order(zones[zone], cross_zone=False)
               for o in Order.objects.filter(zone__code=zone, status=Order.Status.OPEN).exclude(ledger_signature="")
               .order_by("pk")]
    return rounds.clear_auction(waiting + [probe], zone=zones[zone], zones=len(zones), now=now, params=params())


def quote(*, participant: Participant | None, side: str, zone: str, quantity: int, price: int,
          cross_zone: bool = False, now: int | None = None) -> dict:
    """What an order would get now, with every cost component, changing nothing: the landed-cost breakdown.

    In the continuous market, the fills it would take from the resting book now. In an auction zone, its fills if
    the zone's round closed now over the orders waiting for it and this one (all at the one clearing price): an
    indication, since the round clears over the orders waiting at its close."""
    now = now_ms() if now is None else now
    zones = zone_indexes()
    if zone not in zones:
        raise NotFound(f"no zone {zone!r}", field="zone")
    owner = participant.pk if participant is not None else -1
    auction = zone in rounds.auction_zones()
    probe = EngineOrder(id=2**62, owner=owner, side=side, zone=zones[zone], quantity=quantity, price=price,
                        cross_zone=cross_zone and not auction)
    try:
        order_check(probe, now=now, params=params(), zones=len(zones))
    except OrderRejected as exc:
        raise Rejected(exc.code, exc.message) from None
    if auction:
        cleared = _round_if_closed_now(probe, zone, zones, now)
        trades = [t for t in cleared.trades if probe.id in (t.buy_order_id, t.sell_order_id)]
        market = {"mechanism": "auction", "clearing_price": cleared.price if trades else None,
                  "next_clearing": rounds.next_close(now)}
    else:
        trades = _engine_of_open_orders(now, zones).preview(probe, now)
        market = {"mechanism": "continuous"}
    codes = {i: code for code, i in zones.items()}
    fills = []
    for t in trades:
        fee = program.fee_of(t.value, FEE_BPS)
        fills.append({"seller_zone": codes[t.seller_zone], "buyer_zone": codes[t.buyer_zone], "quantity": t.quantity,
                      "effective": t.effective, "loss": t.loss, "price": t.price, "landed": t.landed,
                      "value": t.value, "wheeling": t.wheeling, "loss_value": t.loss_value, "fee": fee})
    total = {k: sum(f[k] for f in fills) for k in ("quantity", "effective", "loss", "value", "wheeling", "loss_value", "fee")}
    if side == BUY:
        total["buyer_pays"] = total["value"] + total["wheeling"]
    else:
        total["seller_receives"] = total["value"] - total["fee"]
    return {"fills": fills, "total": total, "fee_bps": FEE_BPS,
            "escrow": program.buy_escrow(quantity, price) if side == BUY else quantity, **market}


def book(zone: str) -> dict:
    """The resting book of a zone, aggregated by price level (from the tables)."""

    zone_row = Zone.objects.filter(code=zone).first()
    if zone_row is None:
        raise NotFound(f"no zone {zone!r}")
    rows = (Order.objects.filter(zone=zone_row, status=Order.Status.OPEN, tif="gtc").exclude(ledger_signature="")
            .values("side", "price").annotate(quantity=Sum("remaining")))
    bids = sorted(([r["price"], r["quantity"]] for r in rows if r["side"] == BUY), reverse=True)
    asks = sorted([r["price"], r["quantity"]] for r in rows if r["side"] != BUY)
    if zone in rounds.auction_zones():  # the orders waiting for the next round; they may cross until it clears
        return {"zone": zone, "mechanism": "auction", "next_clearing": rounds.next_close(now_ms()), "bids": bids,
                "asks": asks}
    return {"zone": zone, "mechanism": "continuous", "bids": bids, "asks": asks}


def market_set_paused(*, paused: bool) -> bool:
    """The operator's emergency switch: a paused market refuses new orders (on the ledger too)."""
    market_initialize()
    authority = platform_authority()
    ledger_services.instructions_submit(instructions=[program.set_paused_ix(authority=authority.pubkey, paused=paused)],
                                        signers=[authority])
    return paused


def market_paused() -> bool:
    raw = ledger_selectors.raw_accounts([program.market_address()]).get(program.market_address())
    return bool(raw) and program.Market.unpack(raw[1]).paused
