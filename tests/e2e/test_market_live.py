"""End to end: a real Daphne server and a real websocket client. Orders placed, matched and cancelled over the
REST API; the zone's book rebuilt from the stream's snapshot and deltas equals the book the REST API reports,
with a gap-free sequence, and the trade stream carries the trades."""

import asyncio
import json
import time

import httpx
import websockets
from rest_framework.authtoken.models import Token

from oracle.benchmarks import HEADERS, servers_running
from registry.defaults import zones_seed
from trading.models import Trade
from trading.tariffs import KWH, THB

from tests.energy import participant
from tests.trading.test_api import order
from tests.trading.test_services import fund

QUIET_S = 1.5  # no message for this long: the stream has caught up


class Book:
    """A client's copy of one zone's book: a snapshot, then deltas applied in sequence."""

    def __init__(self, snapshot: dict):
        assert snapshot["type"] == "snapshot"
        self.seq = snapshot["seq"]
        self.sides = {"buy": {p: q for p, q in snapshot["bids"]}, "sell": {p: q for p, q in snapshot["asks"]}}
        self.gaps = 0

    def apply(self, delta: dict) -> None:
        assert delta["type"] == "delta", delta
        if delta["seq"] != self.seq + 1:
            self.gaps += 1
        self.seq = delta["seq"]
        levels = self.sides[delta["side"]]
        if delta["quantity"]:
            levels[delta["price"]] = delta["quantity"]
        else:
            levels.pop(delta["price"], None)

    def as_rest(self) -> dict:
        return {"bids": sorted(([p, q] for p, q in self.sides["buy"].items()), reverse=True),
                "asks": sorted([p, q] for p, q in self.sides["sell"].items())}


async def _drain(ws, book: Book | None, into: list) -> None:
    """Read until the stream is quiet, applying book deltas (or collecting messages when `book` is None)."""
    while True:
        try:
            raw = await asyncio.wait_for(ws.recv(), QUIET_S)
        except TimeoutError:
            return
        message = json.loads(raw)
        into.append(message)
        if book is not None:
            book.apply(message)


def test_the_book_stream_reproduces_the_rest_book_through_a_live_server(ledger, monkeypatch):
    zones_seed()
    seller, other, buyer = participant("seller"), participant("seller2"), participant("buyer", role="consumer")
    fund(seller, gxt=10 * KWH)
    fund(other, gxt=10 * KWH)
    fund(buyer, thb=200 * THB)
    tokens = {p.pk: Token.objects.get_or_create(user=p.user)[0].key for p in (seller, other, buyer)}
    monkeypatch.setenv("TRADING_MATCHER", "thread")  # the server matches after each order, as on the embedded default

    with servers_running(1, log=lambda message: None) as [server]:
        ws_url = server.url.replace("http://", "ws://")

        async def scenario():
            async with (websockets.connect(f"{ws_url}/ws/book/BKK-C/") as book_ws,
                        websockets.connect(f"{ws_url}/ws/trades/") as trades_ws,
                        httpx.AsyncClient(base_url=server.url, headers=HEADERS, timeout=60) as http):
                book = Book(json.loads(await book_ws.recv()))

                async def place(p, nonce, side, quantity, price):
                    response = await http.post("/api/v1/trading/orders", json=order(p, nonce, side, quantity, price),
                                               headers={"authorization": f"Token {tokens[p.pk]}"})
                    assert response.status_code == 201, response.text
                    return response.json()

                await place(seller, 1, "sell", 2 * KWH, 4 * THB)
                await place(other, 1, "sell", 1 * KWH, 4 * THB)
                await place(other, 2, "sell", 3 * KWH, 5 * THB)
                resting = await place(buyer, 1, "buy", KWH, 3 * THB)
                await place(buyer, 2, "buy", 2 * KWH + KWH // 2, 5 * THB)  # takes 2.5 kWh at 4 THB
                cancelled = await http.post(f"/api/v1/trading/orders/{resting['id']}/cancel",
                                            headers={"authorization": f"Token {tokens[buyer.pk]}"})
                assert cancelled.status_code == 200, cancelled.text
                deadline = time.monotonic() + 30
                while await asyncio.to_thread(Trade.objects.count) < 2 and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                messages, trades = [], []
                await asyncio.gather(_drain(book_ws, book, messages), _drain(trades_ws, None, trades))
                rest = (await http.get("/api/v1/trading/book/BKK-C")).json()
                return book, messages, trades, rest

        book, messages, trades, rest = asyncio.run(scenario())

    assert messages, "the book stream sent no deltas"
    assert book.gaps == 0
    assert [m["seq"] for m in messages] == list(range(messages[0]["seq"], messages[0]["seq"] + len(messages)))
    assert book.as_rest() == {"bids": rest["bids"], "asks": rest["asks"]}
    # What is left: 0.5 kWh at 4 THB of the second seller's 1 kWh (time priority), the 5 THB offer, no bids.
    assert rest["asks"] == [[4 * THB, KWH // 2], [5 * THB, 3 * KWH]] and rest["bids"] == []
    assert sorted(t["quantity"] for t in trades) == sorted(Trade.objects.values_list("quantity", flat=True))
    assert sum(t["quantity"] for t in trades) == 2 * KWH + KWH // 2
    assert all("buy_order" not in t and "seller" not in t for t in trades)
