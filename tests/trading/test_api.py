"""The trading REST API as two households and an operator use it."""

import csv
import io

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from trading.services import now_ms
from trading.tariffs import KWH, THB

from tests.trading.test_services import fund, signed
from tests.energy import participant
from registry.defaults import zones_seed
from rest_framework.authtoken.models import Token


def client_for(p):
    c = APIClient(headers={"X-Forwarded-Proto": "https"})
    c.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=p.user)[0].key}")
    return c


def order(p, nonce, side, quantity, price, **extra):
    """A signed order body that lives an hour from now (the tests' `signed`, with a fresh expiry)."""
    return signed(p, nonce, side, quantity, price, **({"expires_at": now_ms() + 3_600_000} | extra))


@pytest.fixture
def market(ledger):
    zones_seed()
    seller, buyer = participant("seller"), participant("buyer", role="consumer")
    fund(seller, gxt=10 * KWH)
    fund(buyer, thb=100 * THB)
    return seller, buyer


def test_two_households_trade_through_the_api(market):
    seller, buyer = market
    s, b = client_for(seller), client_for(buyer)
    sell = order(seller, 1, "sell", 2 * KWH, 4 * THB)
    placed = s.post("/api/v1/trading/orders", sell, format="json")
    assert placed.status_code == 201 and placed.json()["status"] == "open"
    again = s.post("/api/v1/trading/orders", sell, format="json")  # a client's retry
    assert again.status_code == 200 and again.json()["id"] == placed.json()["id"]
    assert APIClient().get("/api/v1/trading/book/BKK-C", headers={"X-Forwarded-Proto": "https"}).json()["asks"] == [
        [4 * THB, 2 * KWH]]

    quote = b.post("/api/v1/trading/quote", {"side": "buy", "zone": "BKK-C", "quantity": KWH, "price": 5 * THB},
                   format="json").json()
    assert quote["total"]["quantity"] == KWH and quote["total"]["effective"] == KWH * 99 // 100
    assert quote["total"]["buyer_pays"] == quote["total"]["value"] + quote["total"]["wheeling"]

    bought = b.post("/api/v1/trading/orders", order(buyer, 1, "buy", KWH, 5 * THB), format="json")
    assert bought.status_code == 201 and bought.json()["status"] == "filled"
    fills = b.get("/api/v1/trading/fills").json()
    assert len(fills) == 1 and fills[0]["effective"] == quote["total"]["effective"]
    exported = b.get("/api/v1/trading/fills?export=csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert exported["Content-Type"] == "text/csv" and rows[0]["role"] == "buyer"
    stats = b.get("/api/v1/trading/stats").json()
    assert stats["zones"]["BKK-C"]["last_price"] == 4 * THB and stats["zones"]["BKK-C"]["vwap"] == 4 * THB

    assert b.post(f"/api/v1/trading/orders/{placed.json()['id']}/cancel").status_code == 404  # not the buyer's
    cancelled = s.post(f"/api/v1/trading/orders/{placed.json()['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["refunded"] == KWH
    assert s.post(f"/api/v1/trading/orders/{placed.json()['id']}/cancel").status_code == 422


def test_bad_orders_get_clear_errors_and_a_paused_market_refuses(market):
    seller, buyer = market
    s = client_for(seller)
    body = order(seller, 2, "sell", KWH, 4 * THB)
    assert s.post("/api/v1/trading/orders", dict(body, price=3 * THB), format="json").status_code == 400  # forged
    assert s.post("/api/v1/trading/orders", order(buyer, 9, "sell", KWH, 4 * THB), format="json").status_code == 403
    too_cheap = s.post("/api/v1/trading/orders", order(seller, 3, "sell", KWH, THB // 10), format="json")
    assert too_cheap.status_code == 422 and too_cheap.json()["error"]["code"] == "price_out_of_range"
    assert s.post("/api/v1/trading/orders", order(seller, 4, "sell", KWH, 4 * THB, zone="MARS"),
                  format="json").status_code == 404
    assert s.post("/api/v1/trading/market/pause", {"paused": True}, format="json").status_code == 403

    ops = APIClient(headers={"X-Forwarded-Proto": "https"})
    ops.force_authenticate(get_user_model().objects.create_user("op", password="x", is_staff=True))
    assert ops.post("/api/v1/trading/market/pause", {"paused": True}, format="json").json() == {"paused": True}
    refused = s.post("/api/v1/trading/orders", body, format="json")
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "market_paused"
    assert "paused" in refused.json()["error"]["message"]
    ops.post("/api/v1/trading/market/pause", {"paused": False}, format="json")
    assert s.post("/api/v1/trading/orders", body, format="json").status_code == 201
