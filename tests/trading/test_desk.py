"""The order desk (trading.desk): orders placed many at a time, each with its own answer, and the API's
asynchronous front that sends token-authenticated placements to it."""

from concurrent.futures import wait

import pytest
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
def api(traders):  # noqa: F811
    seller, buyer = traders
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key_of(seller)}")
    return client, seller


def test_a_placement_through_the_desk_answers_as_the_view_does(api):
    client, seller = api
    body = signed(seller, 1, "sell", KWH, 4 * THB)
    first = client.post(URL, body, format="json")
    assert first.status_code == 201, first.content
    again = client.post(URL, body, format="json")
    assert again.status_code == 200 and again.json() == first.json()
    # The same order through the REST framework's own path (a session login) reads the same.
    session = APIClient()
    session.force_authenticate(seller.user)
    assert session.get(f"{URL}/{first.json()['id']}").json() == first.json()
    refused = client.post(URL, signed(seller, 2, "sell", 1000 * KWH, 4 * THB), format="json")
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "insufficient_funds"


def test_requests_the_desk_does_not_take_get_the_views_answers(api):
    client, seller = api
    body = signed(seller, 1, "sell", KWH, 4 * THB)
    unknown = APIClient()
    unknown.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert unknown.post(URL, body, format="json").status_code == 401
    coerced = dict(body, nonce="1")  # the serializer accepts a numeric string; the desk's parse does not
    response = client.post(URL, coerced, format="json")
    assert response.status_code == 201 and response.json()["nonce"] == 1
    bad = client.post(URL, dict(body, quantity=-1), format="json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_order"
    assert Order.objects.count() == 1
