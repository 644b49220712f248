"""The live market's websockets through the ASGI application as a server runs it (origin check, session and token
login, routing): a zone's book as a snapshot and gap-free deltas that reproduce the book, the public trade stream
without parties, and each user's own order and fill events, to that user alone."""

import json
import uuid
from unittest import mock

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token

from gridtokenx import scheduler
from trading import services, streams
from trading.models import BookState, Order
from trading.tariffs import KWH, THB

from tests.trading.test_services import NOW, signed, traders  # noqa: F401 (a fixture)

with mock.patch.object(scheduler, "start", return_value=False):  # no background settlement during the tests
    from gridtokenx.asgi import application

ORIGIN = (b"origin", b"http://localhost")
TIMEOUT = 5


@pytest.fixture(autouse=True)
def own_channel_layer(settings):
    """On Redis, a prefix of this test's own, so that no other process publishing on the same server reaches it."""
    if django_settings.REDIS_URL:
        settings.CHANNEL_LAYERS = {"default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [django_settings.REDIS_URL], "prefix": f"test-{uuid.uuid4().hex[:12]}"}}}


def run(scenario):
    """Run an async scenario; the sync calls it makes through `db` run on this thread, as the consumers' do."""
    async_to_sync(scenario)()


def db(function, *args, **kwargs):
    return sync_to_async(function)(*args, **kwargs)


def place(p, nonce, side, quantity, price, match=True, **extra):
    """Place an order as the API does: the matcher runs after it (and publishes its book), unless `match` is
    False."""

    def placed():
        result = services.order_place(participant=p, body=signed(p, nonce, side, quantity, price, **extra), now=NOW)
        if match:
            services.run_matcher(now=NOW)
        return result

    return db(placed)


async def socket(path, *headers, origin=True):
    ws = WebsocketCommunicator(application, path, headers=[ORIGIN, *headers] if origin else list(headers))
    connected, _ = await ws.connect(timeout=TIMEOUT)
    assert connected, path
    return ws


async def receive(ws):
    return await ws.receive_json_from(timeout=TIMEOUT)


async def drain(ws) -> list[dict]:
    """Every message until the socket has been quiet for a moment."""
    messages = []
    while not await ws.receive_nothing(timeout=0.5):
        messages.append(await receive(ws))
    return messages


async def closed_with(ws) -> int:
    message = await ws.receive_output(timeout=TIMEOUT)
    assert message["type"] == "websocket.close", message
    return message["code"]


def delta(seq, side, price, quantity, zone="BKK-C"):
    return {"type": "delta", "zone": zone, "seq": seq, "side": side, "price": price, "quantity": quantity}


async def book_after_one_sell(seller, quantity):
    """A socket on BKK-C's book that has seen its snapshot and the delta of one sell resting at 4 THB."""
    ws = await socket("/ws/book/BKK-C/")
    assert (await receive(ws))["seq"] == 0
    await place(seller, 1, "sell", quantity, 4 * THB)
    assert await drain(ws) == [delta(1, "sell", 4 * THB, quantity)]
    return ws


def apply(book: dict, message: dict) -> dict:
    """A client's book after one delta."""
    side = "bids" if message["side"] == "buy" else "asks"
    levels = {price: quantity for price, quantity in book[side]}
    levels[message["price"]] = message["quantity"]
    ordered = sorted((p for p, q in levels.items() if q), reverse=side == "bids")
    return dict(book, seq=message["seq"], **{side: [[p, levels[p]] for p in ordered]})


def session_cookie(user) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={client.cookies[django_settings.SESSION_COOKIE_NAME].value}".encode()


def token_header(user) -> tuple[bytes, bytes]:
    return b"authorization", f"Token {Token.objects.get_or_create(user=user)[0].key}".encode()


# -- the pure part ----------------------------------------------------------------------------------------

def test_level_deltas_name_every_changed_level_with_zero_for_a_gone_one():
    old_bids, old_asks = [[500, 3], [480, 1]], [[520, 2], [530, 7]]
    new_bids, new_asks = [[500, 3], [490, 4]], [[520, 5], [530, 0], [540, 1]]
    assert streams.level_deltas(old_bids, old_asks, new_bids, new_asks) == [
        ("buy", 480, 0), ("buy", 490, 4), ("sell", 520, 5), ("sell", 530, 0), ("sell", 540, 1)]
    assert streams.level_deltas(old_bids, old_asks, old_bids, old_asks) == []
    assert streams.level_deltas([], [], [], [[600, 0]]) == []


def test_group_names_are_valid_for_any_zone_code():
    assert streams.book_group("BKK-C") == "book.BKK-C"
    odd = streams.book_group("ZONE WITH/SPACE")
    assert odd.startswith("book-") and len(odd) == 45 and odd != streams.book_group("ZONE WITH/SPACES")


# -- the book ---------------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_a_snapshot_then_consecutive_deltas_reproduce_the_book_through_place_cancel_and_a_match(traders):
    seller, buyer = traders

    async def scenario():
        ws = await socket("/ws/book/BKK-C/")
        book = await receive(ws)
        assert book == {"type": "snapshot", "zone": "BKK-C", "seq": 0, "bids": [], "asks": []}
        seen = []

        async def expect(*deltas):
            nonlocal book
            got = await drain(ws)
            assert got == list(deltas)
            for message in got:
                book = apply(book, message)
            seen.extend(got)

        await place(seller, 1, "sell", 4 * KWH, 4 * THB)
        await expect(delta(1, "sell", 4 * THB, 4 * KWH))
        dearer, _ = await place(seller, 2, "sell", 2 * KWH, 5 * THB)
        await place(seller, 3, "sell", KWH, 4 * THB)  # joins the 4 THB level
        await expect(delta(2, "sell", 5 * THB, 2 * KWH), delta(3, "sell", 4 * THB, 5 * KWH))
        await place(buyer, 1, "buy", KWH, 3 * THB)
        await expect(delta(4, "buy", 3 * THB, KWH))

        await db(services.order_cancel, order=dearer, by=seller)
        await expect(delta(5, "sell", 5 * THB, 0))

        report = await db(services.run_matcher, now=NOW)  # nothing crosses: the rebuilt book is the same book
        assert report.trades == 0
        await expect()

        await place(buyer, 2, "buy", 3 * KWH, 5 * THB, match=False)  # crosses: the matcher publishes it with its trade
        await expect()
        report = await db(services.run_matcher, now=NOW)
        assert report.trades == 1 and not report.errors
        await expect(delta(6, "sell", 4 * THB, 2 * KWH))

        assert [m["seq"] for m in seen] == [1, 2, 3, 4, 5, 6]
        rest = await db(services.book, "BKK-C")
        assert (book["bids"], book["asks"]) == (rest["bids"], rest["asks"]) == ([[3 * THB, KWH]], [[4 * THB, 2 * KWH]])
        state = await db(BookState.objects.get, zone__code="BKK-C")
        assert (state.seq, state.bids, state.asks) == (6, book["bids"], book["asks"])

        late = await socket("/ws/book/BKK-C/")  # a client joining now starts from where the others are
        assert await receive(late) == dict(book, type="snapshot")
        await ws.disconnect()
        await late.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_the_sequence_goes_on_from_the_stored_book_for_new_clients_and_across_engine_rebuilds(traders):
    seller, buyer = traders

    async def scenario():
        first = await socket("/ws/book/BKK-C/")
        assert (await receive(first))["seq"] == 0
        resting, _ = await place(seller, 1, "sell", 2 * KWH, 4 * THB)
        await place(seller, 2, "sell", KWH, 6 * THB)
        assert [m["seq"] for m in await drain(first)] == [1, 2]
        await first.disconnect()

        # Each matcher run and each cancel builds a new engine from the open orders; the numbers come from the
        # stored book, not from the engine.
        for _ in range(2):
            assert (await db(services.run_matcher, now=NOW)).trades == 0
        second = await socket("/ws/book/BKK-C/")
        snapshot = await receive(second)
        assert (snapshot["seq"], snapshot["asks"]) == (2, [[4 * THB, 2 * KWH], [6 * THB, KWH]])
        await db(services.order_cancel, order=resting, by=seller)
        assert await drain(second) == [delta(3, "sell", 4 * THB, 0)]
        await place(buyer, 1, "buy", KWH, 3 * THB)
        assert await drain(second) == [delta(4, "buy", 3 * THB, KWH)]
        await second.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_gap_in_the_sequence_makes_the_client_resync_from_a_fresh_snapshot(traders):
    seller, _ = traders

    async def scenario():
        ws = await book_after_one_sell(seller, 2 * KWH)
        layer = get_channel_layer()
        stale = {"type": "book.delta", "zone": "BKK-C", "seq": 1, "side": "sell", "price": 9 * THB, "quantity": KWH}
        await layer.group_send(streams.book_group("BKK-C"), stale)
        assert await drain(ws) == []  # already seen: dropped
        await layer.group_send(streams.book_group("BKK-C"), dict(stale, seq=3))  # seq 2 never arrived
        assert await drain(ws) == [
            {"type": "resync", "zone": "BKK-C"},
            {"type": "snapshot", "zone": "BKK-C", "seq": 1, "bids": [], "asks": [[4 * THB, 2 * KWH]]}]
        # After the snapshot the consumer follows the stored sequence again.
        await place(seller, 2, "sell", KWH, 5 * THB)
        assert await drain(ws) == [delta(2, "sell", 5 * THB, KWH)]
        await ws.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_client_can_ask_for_a_resync_and_nothing_else(traders):
    seller, _ = traders

    async def scenario():
        ws = await book_after_one_sell(seller, KWH)
        await ws.send_json_to({"action": "resync"})
        assert await receive(ws) == {"type": "snapshot", "zone": "BKK-C", "seq": 1, "bids": [],
                                     "asks": [[4 * THB, KWH]]}
        await ws.send_json_to({"action": "subscribe"})
        assert (await receive(ws))["type"] == "error"
        await ws.send_to(text_data="not json")
        assert (await receive(ws))["type"] == "error"
        await ws.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_an_unknown_zone_closes_with_4404(traders):
    async def scenario():
        ws = WebsocketCommunicator(application, "/ws/book/NOWHERE/", headers=[ORIGIN])
        await ws.connect(timeout=TIMEOUT)
        assert await closed_with(ws) == 4404

    run(scenario)


# -- trades -----------------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_the_trade_stream_carries_each_trade_without_its_parties(traders):
    seller, buyer = traders

    async def scenario():
        ws = await socket("/ws/trades/")
        sell, _ = await place(seller, 1, "sell", 4 * KWH, 4 * THB)
        buy, _ = await place(buyer, 1, "buy", 3 * KWH, 5 * THB, match=False)
        assert await drain(ws) == []  # placing trades nothing; the matcher does
        assert (await db(services.run_matcher, now=NOW)).trades == 1
        [message] = await drain(ws)
        trade = await db(lambda: Order.objects.get(pk=buy.pk).buys.get())
        assert message["type"] == "trade" and message["id"] == trade.pk
        assert set(message) == {"type", "id", "buyer_zone", "seller_zone", "quantity", "effective", "loss", "price",
                                "landed", "value", "wheeling", "block_height", "created_at"}
        assert (message["buyer_zone"], message["seller_zone"]) == ("BKK-C", "BKK-C")
        assert (message["quantity"], message["price"], message["effective"]) == (3 * KWH, 4 * THB, trade.effective)
        assert message["value"] == trade.value and message["wheeling"] == trade.wheeling
        text = json.dumps(message)
        for private in (seller.wallet, buyer.wallet, trade.ledger_signature, '"seller"', '"buyer"'):
            assert private not in text  # not the parties' wallets, usernames or the settlement transaction
        await ws.disconnect()

    run(scenario)


# -- a user's own events ----------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_each_user_receives_only_their_own_order_and_fill_events(traders):
    seller, buyer = traders
    by_session, by_token = session_cookie(seller.user), token_header(buyer.user)

    async def scenario():
        mine = await socket("/ws/me/", by_session)
        theirs = await socket("/ws/me/", by_token)
        sell, _ = await place(seller, 1, "sell", 4 * KWH, 4 * THB)
        [placed] = await drain(mine)
        assert (placed["type"], placed["id"], placed["status"], placed["remaining"]) == ("order", sell.pk, "open", 4 * KWH)
        assert await drain(theirs) == []

        buy, _ = await place(buyer, 1, "buy", 3 * KWH, 5 * THB, match=False)
        assert [(m["type"], m["id"]) for m in await drain(theirs)] == [("order", buy.pk)]
        assert (await db(services.run_matcher, now=NOW)).trades == 1
        seller_events, buyer_events = await drain(mine), await drain(theirs)

        assert [(m["type"], m.get("order_id", m.get("id"))) for m in seller_events] == [
            ("fill", sell.pk), ("order", sell.pk)]
        assert [(m["type"], m.get("order_id", m.get("id"))) for m in buyer_events] == [
            ("fill", buy.pk), ("order", buy.pk)]
        seller_fill, seller_order = seller_events
        assert (seller_fill["side"], seller_fill["quantity"], seller_fill["price"]) == ("sell", 3 * KWH, 4 * THB)
        assert (seller_order["status"], seller_order["remaining"]) == ("open", KWH)
        buyer_fill, buyer_order = buyer_events
        assert buyer_fill["trade_id"] == seller_fill["trade_id"] and buyer_fill["side"] == "buy"
        assert (buyer_order["status"], buyer_order["closed"]) == ("filled", True)

        # An event addressed to someone else never reaches this socket, even on this user's group.
        await get_channel_layer().group_send(streams.user_group(seller.pk), {
            "type": "user.event", "participant": buyer.pk, "event": {"type": "order", "id": buy.pk}})
        assert await drain(mine) == []
        await mine.disconnect()
        await theirs.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_several_messages_for_one_group_travel_as_one_batch_and_arrive_as_separate_frames_in_order(traders):
    seller, buyer = traders
    by_session, by_token = session_cookie(seller.user), token_header(buyer.user)

    async def joined(ws, participant):
        """Once the consumer has joined its group (it joins after accepting): a probe event comes through."""
        for _ in range(50):
            await get_channel_layer().group_send(*streams._private(participant.pk, {"type": "probe"}))
            if await drain(ws):
                return ws
        raise AssertionError("the consumer never joined its group")

    async def scenario():
        mine = await joined(await socket("/ws/me/", by_session), seller)
        theirs = await joined(await socket("/ws/me/", by_token), buyer)
        sent = []

        class Recording:
            async def group_send(self, group, message):
                sent.append((group, message))
                await get_channel_layer().group_send(group, message)

        events = [streams._private(seller.pk, {"type": "order", "id": n}) for n in (1, 2, 3)]
        await streams._send_all(Recording(), [events[0], streams._private(buyer.pk, {"type": "order", "id": 9}),
                                              *events[1:]])
        assert [m["type"] for _, m in sent] == ["market.batch", "user.event"]  # one message per group
        assert [m["id"] for m in await drain(mine)] == [1, 2, 3]
        assert [m["id"] for m in await drain(theirs)] == [9]
        # A batch is unpacked with the consumer's own checks: another user's event, or a type its stream does not
        # carry, is dropped.
        await get_channel_layer().group_send(streams.user_group(seller.pk), {"type": "market.batch", "messages": [
            {"type": "user.event", "participant": buyer.pk, "event": {"type": "order", "id": 7}},
            {"type": "book.delta", "zone": "BKK-C", "seq": 1, "side": "buy", "price": 1, "quantity": 1},
            {"type": "user.event", "participant": seller.pk, "event": {"type": "order", "id": 4}}]})
        assert [m["id"] for m in await drain(mine)] == [4]
        await mine.disconnect()
        await theirs.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_the_private_stream_refuses_anonymous_and_bad_tokens_with_4401_and_non_participants_with_4403(traders):
    staff = get_user_model().objects.create_user("operator-without-wallet", password="correct horse battery")
    cookie = session_cookie(staff)

    async def scenario():
        for headers in ((), ((b"authorization", b"Token " + b"0" * 40),), ((b"authorization", b"Bearer x"),)):
            ws = WebsocketCommunicator(application, "/ws/me/", headers=[ORIGIN, *headers])
            await ws.connect(timeout=TIMEOUT)
            assert await closed_with(ws) == 4401, headers
        ws = WebsocketCommunicator(application, "/ws/me/", headers=[ORIGIN, cookie])
        await ws.connect(timeout=TIMEOUT)
        assert await closed_with(ws) == 4403

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_token_of_an_inactive_user_does_not_log_in(traders):
    seller, _ = traders
    header = token_header(seller.user)
    get_user_model().objects.filter(pk=seller.user.pk).update(is_active=False)

    async def scenario():
        ws = WebsocketCommunicator(application, "/ws/me/", headers=[ORIGIN, header])
        await ws.connect(timeout=TIMEOUT)
        assert await closed_with(ws) == 4401

    run(scenario)


# -- origin -----------------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_a_page_of_another_site_cannot_open_a_socket_even_with_a_session(traders):
    seller, _ = traders
    cookie = session_cookie(seller.user)

    async def scenario():
        for path in ("/ws/me/", "/ws/book/BKK-C/", "/ws/trades/"):
            ws = WebsocketCommunicator(application, path, headers=[(b"origin", b"https://evil.example"), cookie])
            connected, _ = await ws.connect(timeout=TIMEOUT)
            assert not connected, path
        ws = await socket("/ws/me/", cookie)  # the same session from this site's page
        await place(seller, 1, "sell", KWH, 4 * THB)
        assert [m["type"] for m in await drain(ws)] == ["order"]
        await ws.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_client_that_is_not_a_browser_connects_with_a_token_and_no_origin(traders):
    seller, _ = traders
    header = token_header(seller.user)

    async def scenario():
        ws = await socket("/ws/me/", header, origin=False)
        sell, _ = await place(seller, 1, "sell", KWH, 4 * THB)
        assert [(m["type"], m["id"]) for m in await drain(ws)] == [("order", sell.pk)]
        await ws.disconnect()

    run(scenario)


def test_events_for_a_network_layer_leave_through_the_sender_thread_in_order(monkeypatch):
    """With a layer other than the in-memory one (Redis in production), publishing returns at once and the
    process's sender thread delivers every message in the order it was handed over."""
    sent = []

    class Recording:
        async def group_send(self, group, message):
            sent.append((group, message["n"]))

    monkeypatch.setattr(streams, "get_channel_layer", lambda: Recording())
    for n in range(200):
        streams._deliver([("book.BKK-C", {"n": 2 * n}), ("trades", {"n": 2 * n + 1})])
    streams.flush()
    assert [n for _, n in sent] == list(range(400))
    assert sent[0] == ("book.BKK-C", 0) and sent[1] == ("trades", 1)
