"""What the matching engine emits, in order, for the caller to persist and stream.

Every call returns a list of events. Replaying the same calls on a fresh engine returns the same lists (the
engine is deterministic), so the list is both the audit log and the feed for the live market:

- `accepted` opens every order's story; then `trade`s; then how it ended: `rested` (its remainder waits in the
  book), or `cancelled` (IOC remainder, FOK that could not fill, dust below the minimum trade), or nothing when
  it filled completely. A resting order later ends in a `trade` that leaves it 0, a `cancelled` (request, self-
  trade prevention, dust) or an `expired`.
- `book` is the public book of one zone: the new total quantity at one price level (0: the level is gone),
  numbered by a per-zone sequence without gaps, so a client that sees a gap knows to resync from a snapshot.

An event is a plain tuple whose first item is its name, laid out exactly as the NamedTuple of that name below:
building a tuple subclass costs about 100 ns more than a tuple, several times per order on the engine's hot path.
`named(event)` gives the attribute view (`named(e).quantity`), and `event_as_dict(event)` the JSON shape. A
NamedTuple below compares equal to the plain tuple with the same items.
"""

from __future__ import annotations

from typing import NamedTuple

ACCEPTED = "accepted"
RESTED = "rested"
TRADE = "trade"
CANCELLED = "cancelled"
EXPIRED = "expired"
BOOK = "book"


class Accepted(NamedTuple):
    event: str  # accepted
    order_id: int
    owner: int | str
    zone: int
    side: str
    kind: str
    tif: str
    price: int
    quantity: int
    expires_at: int
    cross_zone: bool


class Rested(NamedTuple):
    event: str  # rested
    order_id: int
    zone: int
    side: str
    price: int
    remaining: int


class Trade(NamedTuple):
    """One fill. `price` is the seller's price per kWh sent; `landed` the buyer's cost per kWh delivered
    (`trading.tariffs.landed_cost`); the amounts follow `trading.tariffs.trade_amounts`. `taker` is the side of
    the order that arrived; the price is the resting order's."""

    event: str  # trade
    trade_id: int
    taker: str
    buy_order_id: int
    sell_order_id: int
    buyer: int | str
    seller: int | str
    buyer_zone: int
    seller_zone: int
    quantity: int
    effective: int
    loss: int
    price: int
    value: int
    wheeling: int
    loss_value: int
    landed: int
    buy_remaining: int
    sell_remaining: int


class Cancelled(NamedTuple):
    event: str  # cancelled
    order_id: int
    zone: int
    side: str
    remaining: int  # the quantity cancelled, to refund
    reason: str  # requested, ioc_remainder, fok_unfillable, self_trade, below_min_trade


class Expired(NamedTuple):
    event: str  # expired
    order_id: int
    zone: int
    side: str
    remaining: int  # the quantity that expired, to refund


class BookDelta(NamedTuple):
    event: str  # book
    zone: int
    seq: int
    side: str
    price: int
    quantity: int


KINDS = {ACCEPTED: Accepted, RESTED: Rested, TRADE: Trade, CANCELLED: Cancelled, EXPIRED: Expired, BOOK: BookDelta}


def named(event: tuple):
    """The NamedTuple view of an event."""
    return KINDS[event[0]]._make(event)


def event_as_dict(event: tuple) -> dict:
    """{"event": "trade", "trade_id": ..., ...}: the shape the caller stores and streams."""
    return named(event)._asdict()
