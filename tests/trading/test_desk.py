"""The order desk (trading.desk): orders placed many at a time, each with its own answer, and the API's
asynchronous front that sends token-authenticated placements to it."""

import json
from concurrent.futures import wait

import pytest
from asgiref.sync import async_to_sync
from channels.testing import HttpCommunicator
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ledger.errors import Conflict, Rejected, SignatureVerificationFailed
from trading import desk
from trading.models import EscrowRecord, Order
from trading.tariffs import KWH, THB

from tests.trading.test_services import balances, signed, traders  # noqa: F401  (fixture)

URL = "/api/v1/trading/orders"


def key_of(p) -> str:
    return Token.objects.get_or_create(user=p.user)[0].key


def test_a_batch_answers_each_order_on_its_own(traders):  # noqa: F811
    seller, buyer = traders
    sell = signed(seller, 1, "sell", KWH, 4 * THB)
    forged = dict(signed(seller, 2, "sell", KWH, 4 * THB), price=1 * THB)
    too_big = signed(buyer, 1, "buy", 1000 * KWH, 5 * THB)
    small = signed(buyer, 2, "buy", KWH // 2, 3 * THB)
    other = signed(seller, 1, "sell", 2 * KWH, 4 * THB)  # nonce 1 again, another order
    thb_before = balances(buyer)["THB"]
    outcomes = desk.place_batch([(key_of(seller), sell), (key_of(seller), forged), (key_of(buyer), too_big),
                                 ("0" * 40, small), (key_of(buyer), small), (key_of(seller), sell),
                                 (key_of(seller), other)])
    placed, created = outcomes[0]
    assert created and placed["status"] == "open" and placed["owner"] == "seller" and placed["zone"] == "BKK-C"
    assert isinstance(outcomes[1], SignatureVerificationFailed)
    assert isinstance(outcomes[2], Rejected) and outcomes[2].code == "insufficient_funds"
    assert isinstance(outcomes[3], desk.NotForTheDesk)  # an unknown token: the REST framework answers it
    assert outcomes[4][1] and outcomes[4][0]["quantity"] == KWH // 2
    assert outcomes[5] == (placed, False)  # the same order twice in a batch: the second is a retry
    assert isinstance(outcomes[6], Conflict)
    assert Order.objects.count() == 2  # the refused buy left no row
    assert sorted(EscrowRecord.objects.values_list("order_id", "kind", "amount")) == sorted(
        [(placed["id"], "lock", KWH), (outcomes[4][0]["id"], "lock", outcomes[4][0]["escrowed"])])
    assert balances(buyer)["THB"] == thb_before - outcomes[4][0]["escrowed"]


def test_the_desk_thread_places_concurrent_orders_in_batches(traders, settings):  # noqa: F811
    settings.TRADING_PLACEMENT = "batched"
    seller, buyer = traders
    counter = desk.Desk()
    try:
        futures = [counter.submit(key_of(seller), signed(seller, n, "sell", KWH // 10, 4 * THB)) for n in range(1, 21)]
        futures += [counter.submit(key_of(buyer), signed(buyer, n, "buy", KWH // 10, 3 * THB)) for n in range(1, 21)]
        done, _ = wait(futures, timeout=120)
        assert len(done) == 40
        results = [f.result() for f in futures]
    finally:
        counter.close()
    assert all(created for _, created in results)
    assert len({data["id"] for data, _ in results}) == 40
    assert Order.objects.exclude(ledger_signature="").count() == 40
    assert EscrowRecord.objects.filter(kind="lock").count() == 40


@pytest.fixture
def door():
    from django.core.asgi import get_asgi_application

    return desk.OrderDoor(get_asgi_application())


def call(app, body, *, key=None, session=None, content_type=b"application/json", method="POST", path=URL,
         host=b"testserver", extra=()):
    """One request through the ASGI application, as a server hands it over; returns (status, headers, body)."""
    headers = [(b"host", host), (b"content-type", content_type), *extra]
    if key:
        headers.append((b"authorization", f"Token {key}".encode()))
    if session:
        headers.append((b"cookie", f"sessionid={session}".encode()))
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers.append((b"content-length", str(len(payload)).encode()))
    communicator = HttpCommunicator(app, method, path, body=payload, headers=headers)
    response = async_to_sync(communicator.get_response)(timeout=60)
    return response["status"], dict(response["headers"]), response["body"]


def test_a_placement_through_the_door_answers_as_the_view_does(traders, door):  # noqa: F811
    seller, _ = traders
    body = signed(seller, 1, "sell", KWH, 4 * THB)
    status, headers, content = call(door, body, key=key_of(seller))
    assert status == 201, content
    placed = json.loads(content)
    assert placed["status"] == "open" and placed["owner"] == "seller" and placed["ledger_signature"]
    # The retry, through the door and through the REST framework's own view (which Django's stack answers).
    again = call(door, body, key=key_of(seller))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key_of(seller)}")
    view = client.post(URL, body, format="json")
    assert again[0] == view.status_code == 200
    assert json.loads(again[2]) == view.json() == placed
    for name in ("content-type", "x-content-type-options", "referrer-policy", "cross-origin-opener-policy",
                 "x-frame-options", "vary", "allow"):
        assert again[1].get(name.encode()) == (view.headers[name].encode() if name in view.headers else None), name
    refused = call(door, signed(seller, 2, "sell", 1000 * KWH, 4 * THB), key=key_of(seller))
    assert refused[0] == 422 and json.loads(refused[2])["error"]["code"] == "insufficient_funds"
    assert Order.objects.count() == 1


def test_requests_the_door_does_not_take_get_the_views_answers(traders, door, settings):  # noqa: F811
    seller, _ = traders
    body = signed(seller, 1, "sell", KWH, 4 * THB)
    assert call(door, body, key="0" * 40)[0] == 401  # unknown token: the view's authentication answers
    assert call(door, body)[0] == 401  # no credentials at all
    coerced = dict(body, nonce="1")  # the serializer accepts a numeric string; the door's parse does not
    status, _, content = call(door, coerced, key=key_of(seller))
    assert status == 201 and json.loads(content)["nonce"] == 1, content
    status, _, content = call(door, dict(body, quantity=-1), key=key_of(seller))
    assert status == 400 and json.loads(content)["error"]["code"] == "invalid_order"
    assert call(door, b"{not json", key=key_of(seller))[0] == 400
    assert call(door, b"nonce=2", key=key_of(seller), content_type=b"application/x-www-form-urlencoded")[0] == 400
    assert call(door, body, key=key_of(seller), host=b"elsewhere.example")[0] == 400  # Django refuses the host
    status, _, content = call(door, b"", key=key_of(seller), method="GET")
    assert status == 200 and [o["nonce"] for o in json.loads(content)] == [1], content
    assert Order.objects.count() == 1


def test_behind_https_the_door_answers_with_django_s_security_headers(traders, settings):  # noqa: F811
    from django.core.asgi import get_asgi_application

    seller, _ = traders
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    desk._headers.cache_clear()
    try:
        door = desk.OrderDoor(get_asgi_application())
        body = signed(seller, 1, "sell", KWH, 4 * THB)
        assert call(door, body, key=key_of(seller))[0] == 301  # plain HTTP: left to Django, which redirects
        assert not Order.objects.exists()
        status, headers, _ = call(door, body, key=key_of(seller), extra=[(b"x-forwarded-proto", b"https")])
        assert status == 201 and headers[b"strict-transport-security"].startswith(b"max-age=3600")
    finally:
        desk._headers.cache_clear()


def test_a_batch_request_places_each_order_on_its_own_through_the_door_and_the_view(traders, door):  # noqa: F811
    seller, buyer = traders
    batch_url = URL + "/batch"
    sell = signed(seller, 1, "sell", KWH, 4 * THB)
    forged = dict(signed(seller, 2, "sell", KWH, 4 * THB), price=1 * THB)
    too_big = signed(seller, 3, "sell", 1000 * KWH, 4 * THB)
    other = signed(seller, 1, "sell", 2 * KWH, 4 * THB)  # nonce 1 again, another order
    status, _, content = call(door, {"orders": [sell, forged, too_big, sell, other]}, key=key_of(seller),
                              path=batch_url)
    assert status == 200, content
    results = json.loads(content)["results"]
    assert [r["status"] for r in results] == [201, 400, 422, 200, 409]
    assert results[0]["order"]["status"] == "open" and results[0]["order"]["owner"] == "seller"
    assert results[3]["order"] == results[0]["order"]  # the same order twice: the second is a retry
    assert results[1]["error"]["code"] == "signature_verification_failed"
    assert results[2]["error"]["code"] == "insufficient_funds"
    assert Order.objects.count() == 1
    # The REST framework's view (a session, say) answers the same way, here with the buyer's own orders.
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key_of(buyer)}")
    buys = [signed(buyer, n, "buy", KWH // 10, 3 * THB) for n in (1, 2)]
    view = client.post(batch_url, {"orders": buys}, format="json")
    assert view.status_code == 200, view.content
    assert [r["status"] for r in view.json()["results"]] == [201, 201]
    again = call(door, {"orders": buys}, key=key_of(buyer), path=batch_url)
    assert [(r["status"], r["order"]["id"]) for r in json.loads(again[2])["results"]] == [
        (200, r["order"]["id"]) for r in view.json()["results"]]
    # An order the door's parse refuses is answered in its place, as the view answers it.
    status, _, content = call(door, {"orders": [dict(sell, nonce=9, quantity=-1)]}, key=key_of(seller),
                              path=batch_url)
    assert status == 200 and json.loads(content)["results"][0]["error"]["code"] == "invalid_order", content
    # A body that is not a list of 1 to 20 orders places nothing: 400 for the whole request.
    for bad in ({"orders": []}, {"orders": [sell] * 21}, {"orders": "x"}, [sell], {}):
        status, _, content = call(door, bad, key=key_of(seller), path=batch_url)
        assert status == 400 and json.loads(content)["error"]["code"] == "invalid_input", content
    assert call(door, {"orders": [sell]}, key="0" * 40, path=batch_url)[0] == 401
    assert Order.objects.count() == 3


def test_a_large_batch_checks_every_signature_and_refuses_only_the_forged_ones(traders):  # noqa: F811
    from trading import services

    seller, _ = traders
    count = services.VERIFY_SPLIT_MIN + 8  # checked on several threads
    bodies = [signed(seller, n, "sell", KWH // 100, 4 * THB) for n in range(1, count + 1)]
    forged = {3, count - 2}
    for n in forged:
        bodies[n] = dict(bodies[n], price=1 * THB)
    outcomes = desk.place_batch([(key_of(seller), body) for body in bodies])
    refused = {i for i, outcome in enumerate(outcomes) if isinstance(outcome, SignatureVerificationFailed)}
    assert refused == forged
    assert all(outcome[1] for i, outcome in enumerate(outcomes) if i not in forged)
    assert Order.objects.count() == count - len(forged)


def test_a_batch_that_fails_as_a_whole_is_answered_as_one_error_with_its_headers(traders, door, monkeypatch):  # noqa: F811
    from django.db import OperationalError

    from trading import services

    seller, _ = traders

    def down(placements, **kwargs):
        raise OperationalError("connection failed: the database is restarting")

    monkeypatch.setattr(services, "orders_place", down)
    orders = [signed(seller, n, "sell", KWH // 10, 4 * THB) for n in (1, 2)]
    status, headers, content = call(door, {"orders": orders}, key=key_of(seller), path=URL + "/batch")
    assert status == 503 and headers.get(b"retry-after") == b"1", content
    assert json.loads(content)["error"]["code"] == "database_unavailable"
    client = APIClient()  # the REST framework's view answers the same
    client.credentials(HTTP_AUTHORIZATION=f"Token {key_of(seller)}")
    view = client.post(URL + "/batch", {"orders": orders}, format="json")
    assert view.status_code == 503 and view.json() == json.loads(content)
