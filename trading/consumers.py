"""The live market's websockets (protocol: docs/API.md, "Websockets"; what is published: `trading.streams`).

- `/ws/book/<zone>/`: a snapshot of the zone's book, then its deltas in sequence.
- `/ws/trades/`: every trade.
- `/ws/me/`: the authenticated user's own order and fill events.
"""

from __future__ import annotations

import asyncio
import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from registry.models import Participant
from trading import presence, streams

UNAUTHENTICATED = 4401  # close codes: 4000 + the HTTP status they stand for
FORBIDDEN = 4403
NOT_FOUND = 4404


class MarketConsumer(AsyncJsonWebsocketConsumer):
    """Joins one group on connect and leaves it on disconnect; clients send only `{"action": ...}` messages."""

    group: str | None = None
    handled: frozenset[str] = frozenset()  # the message types of its group

    async def join(self, group: str) -> None:
        streams.serve_on(asyncio.get_running_loop())
        await self.channel_layer.group_add(group, self.channel_name)
        self.group = group
        await presence.opened()

    async def disconnect(self, code):
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await presence.closed()

    @classmethod
    async def decode_json(cls, text_data):
        try:
            return json.loads(text_data)
        except ValueError:
            return None

    async def receive_json(self, content, **kwargs):
        await self.send_json({"type": "error", "message": "this stream takes no messages"})

    async def market_batch(self, message):
        """Several messages of this consumer's group, sent as one (trading.streams._send_all): each in turn."""
        for inner in message["messages"]:
            if inner.get("type") in self.handled:
                await getattr(self, inner["type"].replace(".", "_"))(inner)


class BookConsumer(MarketConsumer):
    """A zone's order book. The snapshot is read after joining the zone's group, so no delta can fall between
    the two: deltas the snapshot already includes (seq at most its seq) are dropped, and the rest follow in
    order. A delta that is not the next number (the layer dropped some, say) makes the consumer tell the client
    `resync` and send a fresh snapshot; a client that sees a gap itself can ask for one with
    `{"action": "resync"}`."""

    handled = frozenset({"book.delta"})

    seq: int | None = None

    async def connect(self):
        self.zone = self.scope["url_route"]["kwargs"]["zone"]
        await self.accept()
        await self.join(streams.book_group(self.zone))
        if not await self.send_snapshot():
            await self.close(code=NOT_FOUND)

    async def send_snapshot(self) -> bool:
        snapshot = await database_sync_to_async(streams.book_snapshot)(self.zone)
        if snapshot is None:
            return False
        self.seq = snapshot["seq"]
        await self.send_json(snapshot)
        return True

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("action") == "resync":
            await self.send_snapshot()
        else:
            await self.send_json({"type": "error", "message": 'the book stream takes only {"action": "resync"}'})

    async def book_delta(self, message):
        seq = message["seq"]
        if self.seq is None or seq <= self.seq:
            return
        if seq != self.seq + 1:
            await self.send_json({"type": "resync", "zone": self.zone})
            await self.send_snapshot()
            return
        self.seq = seq
        await self.send_json({"type": "delta", "zone": message["zone"], "seq": seq, "side": message["side"],
                              "price": message["price"], "quantity": message["quantity"]})


class TradesConsumer(MarketConsumer):
    """Every trade, as it settles: zones, quantities and prices, never the parties or their orders."""

    handled = frozenset({"trade.public"})

    async def connect(self):
        await self.accept()
        await self.join(streams.TRADES_GROUP)

    async def trade_public(self, message):
        await self.send_json(message["trade"])


class MeConsumer(MarketConsumer):
    """The connected user's own order and fill events; refused with 4401 without a login, 4403 for a login
    that is not a participant. Each user's events go to a group of that user's alone."""

    handled = frozenset({"user.event"})

    participant_id: int | None = None

    async def connect(self):
        await self.accept()  # before closing, so that the client receives the close code
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=UNAUTHENTICATED)
            return
        self.participant_id = await _participant_id(user.pk)
        if self.participant_id is None:
            await self.close(code=FORBIDDEN)
            return
        await self.join(streams.user_group(self.participant_id))

    async def user_event(self, message):
        if message.get("participant") == self.participant_id:
            await self.send_json(message["event"])


@database_sync_to_async
def _participant_id(user_id: int) -> int | None:
    return Participant.objects.filter(user_id=user_id).values_list("pk", flat=True).first()
