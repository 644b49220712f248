"""The prosumer dashboard as traders use it: sign-up, meters, the market's order form, cancel, history, and
that nobody sees or touches anyone else's data."""

from __future__ import annotations

import re
import time

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from dashboard import selectors
from oracle.models import Reading, RejectedReading
from ledger.crypto import Keypair, parse_address, unb58, verify
from registry.defaults import zones_seed
from registry.models import Meter, Participant
from trading import services
from trading.models import Order, Trade
from trading.order_message import OrderMessage
from trading.tariffs import KWH, THB

from tests.dashboard.conftest import client_of
from tests.energy import INTERVAL, participant
from tests.trading.test_services import balances

HTMX = {"HX-Request": "true"}
PAGES = ["/dashboard/", "/dashboard/meters/", "/dashboard/meters/add/", "/dashboard/market/",
         "/dashboard/market/?zone=BKK-N", "/dashboard/orders/", "/dashboard/balances/", "/dashboard/history/",
         "/dashboard/history/?page=999"]


def order_form(client: Client, **fields):
    body = {"nonce": fields.pop("nonce", time.time_ns() % 2**62), "side": "sell", "zone": "BKK-C", "quantity": "2",
            "price": "4", "tif": "gtc", "life": "60"} | fields
    return client.post("/dashboard/orders/place/", body, headers=HTMX)


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# -- sign-up, log-in ---------------------------------------------------------------------------------------------

def test_signing_up_creates_a_wallet_on_the_ledger_and_logs_the_user_in(ledger):
    client = Client(headers={"X-Forwarded-Proto": "https"})
    response = client.post("/dashboard/signup/", {"username": "nok", "role": "prosumer", "email": "",
                                                  "password1": "sunny rooftop 42", "password2": "sunny rooftop 42"})
    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    participant = Participant.objects.get(user__username="nok")
    assert participant.role == "prosumer" and participant.ledger_signature
    home = client.get("/dashboard/")
    assert home.status_code == 200 and participant.wallet in text(home)
    assert 'data-balance="GXT">0 kWh' in text(home)


@pytest.mark.parametrize("fields, message", [
    ({"password2": "something else 1"}, "The two passwords differ."),
    ({"password1": "short", "password2": "short"}, "too short"),
    ({"username": "no spaces allowed"}, "Use 3 to 150 letters"),
    ({"role": "operator"}, "Select a valid choice"),
])
def test_a_bad_sign_up_says_what_to_fix_and_creates_nothing(ledger, fields, message):
    body = {"username": "nok", "role": "prosumer", "password1": "sunny rooftop 42",
            "password2": "sunny rooftop 42"} | fields
    response = Client().post("/dashboard/signup/", body)
    assert response.status_code == 200 and message in text(response)
    assert not Participant.objects.exists()


def test_a_taken_username_is_a_form_error(traders):
    response = Client().post("/dashboard/signup/", {"username": "Seller", "role": "prosumer",
                                                    "password1": "sunny rooftop 42", "password2": "sunny rooftop 42"})
    assert response.status_code == 200 and "This username is taken." in text(response)


def test_log_in_and_log_out(traders):
    seller, _ = traders
    client = Client()
    assert client.get("/dashboard/market/")["Location"] == "/dashboard/login/?next=/dashboard/market/"
    wrong = client.post("/dashboard/login/", {"username": "seller", "password": "wrong"})
    assert wrong.status_code == 200 and "Please enter a correct username and password" in text(wrong)
    assert client.post("/dashboard/login/", {"username": "seller", "password": "correct horse battery"}
                       )["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200
    assert client.post("/dashboard/logout/")["Location"] == "/dashboard/login/"
    assert client.get("/dashboard/").status_code == 302


def test_a_login_without_a_wallet_is_told_it_has_no_exchange_account(ledger):
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", password="pw"))
    response = client.get("/dashboard/")
    assert response.status_code == 403 and "has no wallet on the exchange" in text(response)


# -- every page, empty and large ---------------------------------------------------------------------------------

def test_every_page_renders_for_a_new_user_with_nothing(ledger):
    zones_seed()
    client = client_of(participant("newcomer"))
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 200, page
    assert "You have no meter yet" in text(client.get("/dashboard/"))
    assert "No open orders." in text(client.get("/dashboard/orders/"))
    assert "No trades yet." in text(client.get("/dashboard/history/"))


def test_every_page_renders_with_nothing_on_the_exchange_at_all(ledger):
    client = client_of(participant("first"))  # not even a zone
    for page in PAGES:
        assert client.get(page).status_code == 200, page
    assert "No zones exist yet." in text(client.get("/dashboard/market/"))


def test_every_page_renders_for_a_user_with_a_large_history(solar):
    """Thousands of readings and rejections, hundreds of open orders and trades: the pages show a bounded part."""
    sim, _ = solar
    seller = sim.row.owner
    buyer = Participant.objects.get(user__username="buyer")
    start = sim.row.last_end - 8 * 86_400
    Reading.objects.bulk_create([
        Reading(meter=sim.row, interval_start=start + i * INTERVAL, interval_seconds=INTERVAL, generated_wh=i % 900,
                consumed_wh=100, sequence=i, digest=i.to_bytes(32, "big"), signature=bytes(64), status="settled")
        for i in range(700)])
    RejectedReading.objects.bulk_create([RejectedReading(meter=sim.row, meter_key=sim.row.public_key, code="stale_interval",
                                                         message=f"rejection {i}", payload={}) for i in range(600)])
    zone = sim.row.zone
    orders = Order.objects.bulk_create([
        Order(owner=owner, nonce=10_000 + i, side=side, kind="limit", tif="gtc", zone=zone, quantity=KWH,
              price=4 * THB, remaining=KWH, expires_at=services.now_ms() + 3_600_000, escrowed=KWH,
              digest=bytes(32), signature="s", ledger_signature=f"placed-{side}-{i}")
        for i in range(400) for owner, side in ((seller, "sell"), (buyer, "buy"))])
    Trade.objects.bulk_create([
        Trade(buy_order=orders[2 * i + 1], sell_order=orders[2 * i], buyer_zone=zone, seller_zone=zone, quantity=KWH,
              effective=KWH * 99 // 100, loss=KWH // 100, price=4 * THB, value=4 * THB, fee=10_000, wheeling=5_000,
              loss_value=40_000, ledger_signature=f"trade-{i}", block_height=1) for i in range(300)])
    client = client_of(seller)
    for page in [*PAGES, "/dashboard/history/?page=6", "/dashboard/meters/SOLAR-1/series.json?span=week"]:
        assert client.get(page).status_code == 200, page
    history = text(client.get("/dashboard/history/"))
    assert history.count("data-trade=") == 50 and "Page 1 of 6" in history
    meters = text(client.get("/dashboard/meters/"))
    assert "<span data-rejected-count>601</span> rejected" in meters
    assert meters.count("rejection ") == 20
    assert text(client.get("/dashboard/orders/")).count("data-order=") == 100
    assert "300 kWh sold, net of fees" in text(client.get("/dashboard/"))


# -- meters --------------------------------------------------------------------------------------------------------

def test_registering_a_meter_with_a_key_made_here_shows_its_seed_once(traders):
    seller, _ = traders
    client = client_of(seller)
    response = client.post("/dashboard/meters/add/", {"serial": "ROOF-1", "type": "solar", "zone": "BKK-C",
                                                      "capacity_w": 5000, "max_import_w": 15000})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    seed = re.search(r"data-meter-seed[^>]*>([0-9a-f]{64})<", response.content.decode()).group(1)
    meter = Meter.objects.get(serial="ROOF-1")
    assert meter.owner == seller and meter.public_key == Keypair.from_seed(bytes.fromhex(seed)).address
    assert (meter.latitude, meter.longitude) == (13.745, 100.530)  # the zone's centre
    assert seed not in text(client.get("/dashboard/meters/"))


def test_registering_a_meter_with_its_own_public_key(traders):
    seller, _ = traders
    key = Keypair.from_label("a meter of my own")
    response = client_of(seller).post("/dashboard/meters/add/", {
        "serial": "ROOF-2", "type": "hybrid", "zone": "BKK-N", "latitude": "13.9", "longitude": "100.55",
        "capacity_w": 3000, "max_import_w": 9000, "public_key": key.address})
    assert response.status_code == 302 and response["Location"] == "/dashboard/meters/"
    assert Meter.objects.get(serial="ROOF-2").public_key == key.address


@pytest.mark.parametrize("fields, message", [
    ({"public_key": "not-base58!"}, "base58"),
    ({"public_key": Keypair.from_label("test meter SOLAR-1").address}, "this public key belongs to another meter"),
    ({"serial": "SOLAR-1"}, "meter &#x27;SOLAR-1&#x27; is already registered"),
    ({"latitude": "20", "longitude": "100.5"}, "lies outside zone BKK-C"),
    ({"zone": "MARS"}, "Select a valid choice"),
    ({"capacity_w": "-1"}, "greater than or equal to 0"),
    ({"serial": ""}, "This field is required."),
])
def test_a_bad_meter_registration_says_what_to_fix(solar, fields, message):
    seller = solar[0].row.owner
    body = {"serial": "ROOF-3", "type": "solar", "zone": "BKK-C", "capacity_w": 5000, "max_import_w": 15000} | fields
    response = client_of(seller).post("/dashboard/meters/add/", body)
    assert response.status_code == 200 and message in response.content.decode()
    assert Meter.objects.filter(owner=seller).count() == 1


def test_home_and_meters_show_todays_energy_the_gxt_minted_and_rejections_with_reasons(solar):
    sim, bodies = solar
    client = client_of(sim.row.owner)
    home = text(client.get("/dashboard/"))
    assert 'data-minted>3.2 kWh' in home  # 4 x (1,000 - 200) Wh
    assert 'data-balance="GXT">13.2 kWh' in home  # 10 funded + 3.2 minted
    midnight = int(selectors.local_midnight().timestamp())
    today = [b for b in bodies[:4] if b["interval_start"] >= midnight]
    assert f'data-today="generated">{len(today)} kWh' in home
    assert f'data-today="consumed">{0.2 * len(today):g} kWh' in home or not today

    meters = text(client.get("/dashboard/meters/"))
    assert "4 settled" in meters and "over_capacity" in meters and "999999 Wh generated exceeds" in meters
    series = client.get("/dashboard/meters/SOLAR-1/series.json?span=day").json()
    assert len(series["labels"]) == 24 and sum(series["generated_wh"]) == 4000
    assert sum(series["consumed_wh"]) == 800
    week = client.get("/dashboard/meters/SOLAR-1/series.json?span=week").json()
    assert len(week["labels"]) == 28 and sum(week["generated_wh"]) == 4000
    assert client.get("/dashboard/meters/SOLAR-1/series.json?span=year").status_code == 400


# -- the market ------------------------------------------------------------------------------------------------------

def test_the_quote_shows_the_landed_cost_breakdown_before_placing(traders):
    seller, buyer = traders
    assert order_form(client_of(seller), quantity="2", price="4").status_code == 200
    body = {"nonce": 1, "side": "buy", "zone": "BKK-C", "quantity": "1", "price": "5", "tif": "gtc", "life": "60"}
    response = client_of(buyer).post("/dashboard/market/quote/", body, headers=HTMX)
    page = text(response)
    expected = services.quote(participant=buyer, side="buy", zone="BKK-C", quantity=KWH, price=5 * THB)["total"]
    assert expected["effective"] == KWH * 99 // 100
    assert 'data-q="quantity">1 kWh' in page and 'data-q="value">4 THB' in page
    assert 'data-q="effective">0.99 kWh' in page
    assert f'data-q="wheeling">{expected["wheeling"] / THB:g} THB' in page
    assert f'data-q="pays">{(expected["value"] + expected["wheeling"]) / THB:g} THB' in page
    assert not Order.objects.filter(owner=buyer).exists()  # a quote changes nothing

    refused = text(client_of(buyer).post("/dashboard/market/quote/", body | {"price": "99"}, headers=HTMX))
    assert "This order would be refused" in refused and "price" in refused
    empty = text(client_of(buyer).post("/dashboard/market/quote/", body | {"quantity": ""}, headers=HTMX))
    assert "Enter a quantity and a price" in empty


def test_the_quote_in_an_auction_zone_shows_the_round_as_it_would_clear_now(traders, settings):
    settings.TRADING_AUCTION_ZONES = ["BKK-N"]
    seller, buyer = traders
    assert order_form(client_of(seller), zone="BKK-N", quantity="2", price="4").status_code == 200
    body = {"nonce": 1, "side": "buy", "zone": "BKK-N", "quantity": "1", "price": "5", "tif": "gtc", "life": "60"}
    page = text(client_of(buyer).post("/dashboard/market/quote/", body, headers=HTMX))
    expected = services.quote(participant=buyer, side="buy", zone="BKK-N", quantity=KWH, price=5 * THB)
    assert expected["mechanism"] == "auction" and expected["total"]["quantity"] == KWH
    assert 'data-q="auction"' in page and "Matched if it closed now" in page
    assert f'data-q="clearing">{expected["clearing_price"] / THB:g} THB per kWh' in page
    assert 'data-q="quantity">1 kWh' in page
    assert not Order.objects.filter(owner=buyer).exists()
    lone = text(client_of(buyer).post("/dashboard/market/quote/", body | {"price": "3", "quantity": "5"},
                                      headers=HTMX))
    assert "would not trade if the round closed now" in lone and "wait for the next round" in lone


def test_an_order_from_the_form_is_signed_with_the_users_key_and_escrowed_on_the_ledger(traders):
    seller, _ = traders
    client = client_of(seller)
    response = order_form(client, nonce=77, quantity="2.5", price="4.25")
    assert response.status_code == 200 and response["HX-Trigger"] == "orders-changed"
    order = Order.objects.get(owner=seller)
    assert "data-placed" in text(response) and f"Order {order.pk} placed" in text(response)
    assert (order.nonce, order.quantity, order.price, order.side) == (77, 2_500_000_000, 4_250_000, "sell")
    signed = OrderMessage(owner=parse_address(seller.wallet), nonce=77, side="sell", kind="limit", tif="gtc",
                          cross_zone=False, zone="BKK-C", quantity=order.quantity, price=order.price,
                          expires_at=order.expires_at)
    assert verify(parse_address(seller.wallet), signed.serialize(), unb58(order.signature, 64, "signature"))
    assert balances(seller)["GXT"] == 10 * KWH - order.quantity
    assert selectors.escrow_locked(seller) == {"GXT": order.quantity, "THB": 0}
    assert "2.5 kWh · 0 THB" in text(client.get("/dashboard/"))
    assert f'data-order="{order.pk}"' in text(client.get("/dashboard/orders/"))

    again = order_form(client, nonce=77, quantity="2.5", price="4.25")  # the same form sent twice
    assert Order.objects.filter(owner=seller).count() == 1 and again.status_code == 200


@pytest.mark.parametrize("fields, message", [
    ({"quantity": "lots"}, "Enter an amount in kWh"),
    ({"quantity": "0"}, "Enter an amount of kWh above zero."),
    ({"quantity": "-1"}, "above zero"),
    ({"price": "4.1234567"}, "at most 6 decimal places"),
    ({"price": "99"}, "price"),
    ({"quantity": "0.0000001"}, "minimum"),
    ({"quantity": "1000"}, "insufficient"),
    ({"quantity": "99999999999999999999"}, "too large"),
    ({"zone": "MARS"}, "Select a valid choice"),
    ({"side": "lend"}, "Select a valid choice"),
    ({"life": "5"}, "Select a valid choice"),
    ({"nonce": "x"}, "Enter a whole number"),
])
def test_a_bad_order_says_what_to_fix_and_places_nothing(traders, fields, message):
    seller, _ = traders
    response = order_form(client_of(seller), **fields)
    assert response.status_code == 200 and message.lower() in text(response).lower()
    assert not Order.objects.exists()


def test_a_paused_market_refuses_the_order_with_a_clear_message(traders):
    seller, _ = traders
    client = client_of(seller)
    services.market_set_paused(paused=True)
    assert "The market is paused by its operator" in text(client.get("/dashboard/market/"))
    response = order_form(client)
    assert response.status_code == 200
    assert "the market is paused by its operator: no new orders" in text(response)
    assert not Order.objects.exists() and balances(seller)["GXT"] == 10 * KWH


def test_a_buy_fills_against_a_sell_and_both_see_the_trade_with_its_components(traders):
    seller, buyer = traders
    order_form(client_of(seller), quantity="2", price="4")
    response = order_form(client_of(buyer), side="buy", quantity="1", price="5")
    assert "now filled" in text(response)
    trade = Trade.objects.get()
    for who, role in ((seller, "seller"), (buyer, "buyer")):
        history = text(client_of(who).get("/dashboard/history/"))
        assert f'data-trade="{trade.pk}"' in history and f"<td>{role}</td>" in history
        assert f'href="/explorer/tx/{trade.ledger_signature}/"' in history
        assert "/api/v1/trading/fills?export=csv" in history
    tape = client_of(buyer).get("/dashboard/market/").context["tape"]
    assert [(t["id"], t["quantity"], t["price"]) for t in tape] == [(trade.pk, KWH, 4 * THB)]
    assert set(tape[0]) >= {"landed", "created_at"} and not set(tape[0]) & {"buy_order", "ledger_signature"}
    assert client_of(buyer).get("/dashboard/market/?zone=BKK-N").context["tape"] == []  # another zone's tape
    home = text(client_of(seller).get("/dashboard/"))
    assert f"data-earnings>{(trade.value - trade.fee) / THB:g} THB" in home
    csv = client_of(buyer).get("/api/v1/trading/fills?export=csv")  # the history's CSV link, with the session
    assert csv.status_code == 200 and trade.ledger_signature in csv.content.decode()


def test_cancelling_refunds_the_escrow(traders):
    seller, _ = traders
    client = client_of(seller)
    order_form(client, quantity="3", price="4")
    order = Order.objects.get()
    response = client.post(f"/dashboard/orders/{order.pk}/cancel/", headers=HTMX)
    assert response.status_code == 200 and response["HX-Trigger"] == "orders-changed"
    assert f"Order {order.pk} cancelled; 3 kWh of GXT back to your wallet." in text(response)
    assert "No open orders." in text(response)
    order.refresh_from_db()
    assert order.status == "cancelled" and order.refunded == 3 * KWH and balances(seller)["GXT"] == 10 * KWH
    assert selectors.escrow_locked(seller) == {"GXT": 0, "THB": 0}
    again = client.post(f"/dashboard/orders/{order.pk}/cancel/", headers=HTMX)
    assert again.status_code == 200 and "was not cancelled" in text(again)
    plain = client.post(f"/dashboard/orders/{order.pk}/cancel/")  # without htmx: back to the market page
    assert plain.status_code == 302 and plain["Location"] == "/dashboard/market/?zone=BKK-C"


def test_the_order_form_works_without_javascript(traders):
    seller, _ = traders
    client = client_of(seller)
    body = {"nonce": 5, "side": "sell", "zone": "BKK-N", "quantity": "1", "price": "4", "tif": "gtc", "life": "60"}
    placed = client.post("/dashboard/orders/place/", body)
    assert placed.status_code == 302 and placed["Location"] == "/dashboard/market/?zone=BKK-N"
    refused = client.post("/dashboard/orders/place/", body | {"nonce": 6, "quantity": "nothing"})
    assert refused.status_code == 200 and "Enter an amount in kWh" in text(refused)


def test_posts_need_the_csrf_token(traders):
    seller, _ = traders
    client = Client(enforce_csrf_checks=True)
    client.force_login(seller.user)
    body = {"nonce": 5, "side": "sell", "zone": "BKK-C", "quantity": "1", "price": "4", "tif": "gtc", "life": "60"}
    assert client.post("/dashboard/orders/place/", body).status_code == 403
    page = client.get("/dashboard/market/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    assert client.post("/dashboard/orders/place/", body | {"csrfmiddlewaretoken": token}).status_code == 302
    assert Order.objects.count() == 1


# -- privacy -----------------------------------------------------------------------------------------------------------

def test_nobody_sees_or_touches_another_users_orders_meters_or_trades(solar):
    sim, _ = solar
    seller = sim.row.owner
    buyer = Participant.objects.get(user__username="buyer")
    order_form(client_of(seller), quantity="2", price="4")
    order_form(client_of(buyer), side="buy", quantity="1", price="5")
    sell = Order.objects.get(owner=seller)
    trade = Trade.objects.get()
    eve = client_of(participant("eve", role="consumer"))
    assert eve.post(f"/dashboard/orders/{sell.pk}/cancel/", headers=HTMX).status_code == 404
    assert eve.post(f"/dashboard/orders/{sell.pk}/cancel/").status_code == 404
    sell.refresh_from_db()
    assert sell.status == "open"
    assert eve.get("/dashboard/meters/SOLAR-1/series.json").status_code == 404
    for page in PAGES:
        body = text(eve.get(page))
        assert "SOLAR-1" not in body and trade.ledger_signature not in body and f'data-order="{sell.pk}"' not in body
        assert seller.wallet not in body and "over_capacity" not in body
    buyer_pages = text(client_of(buyer).get("/dashboard/meters/")) + text(client_of(buyer).get("/dashboard/orders/"))
    assert "SOLAR-1" not in buyer_pages and f'data-order="{sell.pk}"' not in buyer_pages
    assert selectors.escrow_locked(Participant.objects.get(user__username="eve")) == {"GXT": 0, "THB": 0}
    assert selectors.escrow_locked(seller)["GXT"] == KWH
