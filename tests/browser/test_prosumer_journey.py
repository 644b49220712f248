"""Two households and an operator in a real browser, against a live server.

A prosumer signs up, registers a meter, and sees the GXT its signed readings mint once the oracle settles them;
places a sell order and sees it in the live book, cancels it and gets the refund; sells again, and a consumer's
buy fills against it: both see the trade as it happens and in their history, linked to the explorer. An operator
opens the revenue analytics and pauses the market, and the prosumer's next order is refused with a clear message.
"""

from __future__ import annotations

import tempfile
import time

import httpx
from django.contrib.auth import get_user_model
from django.db import connections
from playwright.sync_api import Page, expect

from ledger.crypto import Keypair
from oracle import services as oracle_services
from oracle.reading import Reading
from registry.models import Participant
from trading.models import Order, Trade
from trading.tariffs import KWH, THB

from tests.browser.conftest import TIMEOUT_MS
from tests.energy import INTERVAL
from tests.trading.test_services import fund

PASSWORD = "sunny rooftop 42"


def sign_up(page: Page, url: str, username: str, role: str) -> None:
    page.goto(f"{url}/dashboard/signup/")
    page.fill("#id_username", username)
    page.select_option("#id_role", role)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("text=Create my account")
    expect(page.locator(".messages")).to_contain_text(f"Welcome, {username}")


def place(page: Page, side: str, quantity: str, price: str) -> None:
    page.select_option("#id_side", side)
    page.fill("#id_quantity", quantity)
    page.fill("#id_price", price)
    expect(page.locator("#quote")).to_contain_text("Before you place it")
    page.click("text=Sign and place")


def signed_readings(key: Keypair, generated_wh: list[int], consumed_wh: int) -> list[dict]:
    """A reading for each of the intervals that ended most recently, oldest first, signed by the meter's key."""
    last = int(time.time()) // INTERVAL * INTERVAL - INTERVAL
    out = []
    for i, generated in enumerate(generated_wh):
        start = last - (len(generated_wh) - 1 - i) * INTERVAL
        reading = Reading(meter=key.pubkey, interval_start=start, interval_seconds=INTERVAL,
                          generated_wh=generated, consumed_wh=consumed_wh, sequence=start // INTERVAL)
        out.append(reading.to_json(reading.sign(key)))
    return out


def test_two_households_trade_and_an_operator_pauses_the_market(live_server_url, browser):
    server = live_server_url
    url = server.url
    try:
        journey(browser, url)
    except Exception:
        print(f"-- the server's log:\n{server.log_tail(6000)}")
        for i, page in enumerate(p for context in browser.contexts for p in context.pages):
            path = f"{tempfile.gettempdir()}/gridtokenx-browser-{i}.png"
            page.screenshot(path=path, full_page=True)
            print(f"-- {page.url}: {path}")
        raise
    finally:
        # The test's queries ran beside Playwright's event loop, on a connection of their own: closed here, or
        # PostgreSQL refuses to drop the test database while it is open.
        connections.close_all()


def journey(browser, url: str) -> None:
    prosumer = browser.new_context()
    consumer = browser.new_context()
    operator = browser.new_context()
    for context in (prosumer, consumer, operator):
        context.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    ploy = prosumer.new_page()
    ploy.on("pageerror", lambda exc: errors.append(str(exc)))

    # -- the prosumer signs up and registers a meter with a key made for it ------------------------------------
    sign_up(ploy, url, "ploy", "prosumer")
    expect(ploy.locator("text=You have no meter yet")).to_be_visible()
    ploy.click("a:has-text('Register a meter')")
    ploy.fill("#id_serial", "ROOF-1")
    ploy.select_option("#id_zone", "BKK-C")
    ploy.click("text=Register on the ledger")
    expect(ploy.locator("h1")).to_have_text("Meter ROOF-1 is registered")
    key = Keypair.from_seed(bytes.fromhex(ploy.inner_text("[data-meter-seed]")))
    assert ploy.inner_text("[data-meter-key]") == key.address

    # -- the meter's signed readings: four accepted, one over its 5 kW capacity; the oracle settles them ---------
    bodies = signed_readings(key, [1200, 1200, 1200, 1200, 900_000], consumed_wh=200)
    answer = httpx.post(f"{url}/api/v1/oracle/readings/batch", json={"readings": bodies},
                        headers={"x-forwarded-proto": "https"}).json()
    assert (answer["accepted"], answer["rejected"]) == (4, 1), answer
    settled = oracle_services.settle()
    assert settled.readings == 4 and settled.minted == 4 * 1000 * 10**6 and not settled.failed

    ploy.goto(f"{url}/dashboard/")
    expect(ploy.locator("[data-minted]")).to_have_text("4 kWh")
    expect(ploy.locator('[data-balance="GXT"]')).to_have_text("4 kWh")
    ploy.click("nav >> text=Meters")
    meter = ploy.locator('[data-meter="ROOF-1"]')
    expect(meter).to_contain_text("4 settled")
    expect(meter).to_contain_text("over_capacity")
    expect(meter.locator("canvas[data-drawn]")).to_have_count(2)  # the day and week charts

    # -- a sell order: in the live book, then cancelled and refunded ----------------------------------------------
    ploy.click("nav >> text=Market")
    ploy.select_option("#zone-choice", "BKK-C")
    expect(ploy.locator("#book-status")).to_have_text("live")
    expect(ploy.locator("#me-status")).to_have_text("live")
    place(ploy, "sell", "2", "4")
    expect(ploy.locator("#order-panel [data-placed]")).to_contain_text("placed: sell 2 kWh at 4 THB/kWh")
    expect(ploy.locator('#book-asks tr[data-price="4000000"]')).to_contain_text("2")
    expect(ploy.locator("#open-orders tr[data-order]")).to_have_count(1)
    expect(ploy.locator('[data-balance="GXT"]')).to_have_text("2 kWh")
    expect(ploy.locator("[data-escrow]")).to_contain_text("2 kWh · 0 THB")

    ploy.click("#open-orders >> text=Cancel")
    expect(ploy.locator("#open-orders")).to_contain_text("cancelled; 2 kWh of GXT back to your wallet")
    expect(ploy.locator("#book-asks tr[data-price]")).to_have_count(0)
    expect(ploy.locator('[data-balance="GXT"]')).to_have_text("4 kWh")
    assert Order.objects.get().status == "cancelled"

    # -- sells again; a consumer's buy fills against it, and both see the trade ------------------------------------
    place(ploy, "sell", "2", "4")
    expect(ploy.locator('#book-asks tr[data-price="4000000"]')).to_contain_text("2")

    krit = consumer.new_page()
    krit.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_up(krit, url, "krit", "consumer")
    fund(Participant.objects.get(user__username="krit"), thb=50 * THB)
    krit.goto(f"{url}/dashboard/market/?zone=BKK-C")
    expect(krit.locator('#book-asks tr[data-price="4000000"]')).to_contain_text("2")
    expect(krit.locator("#me-status")).to_have_text("live")
    krit.select_option("#id_side", "buy")
    krit.fill("#id_quantity", "1")
    krit.fill("#id_price", "5")
    quote = krit.locator("#quote")
    expect(quote.locator('[data-q="quantity"]')).to_have_text("1 kWh")
    expect(quote.locator('[data-q="value"]')).to_have_text("4 THB")
    expect(quote.locator('[data-q="effective"]')).to_have_text("0.99 kWh")
    for part in ("wheeling", "loss", "fee", "pays"):
        expect(quote.locator(f'[data-q="{part}"]')).to_contain_text("THB")
    krit.click("text=Sign and place")

    expect(krit.locator("#fills tr[data-fill]")).to_have_count(1)  # over /ws/me/, as it happens
    expect(ploy.locator("#fills tr[data-fill]")).to_have_count(1)
    expect(ploy.locator("#tape tr[data-trade]")).to_have_count(1)
    expect(ploy.locator('#book-asks tr[data-price="4000000"]')).to_contain_text("1")
    trade = Trade.objects.get()
    assert trade.quantity == KWH and trade.price == 4 * THB
    for page, role in ((ploy, "seller"), (krit, "buyer")):
        page.click("nav >> text=History")
        row = page.locator(f'tr[data-trade="{trade.pk}"]')
        expect(row).to_contain_text(role)
        expect(row.locator("a")).to_have_attribute("href", f"/explorer/tx/{trade.ledger_signature}/")
    krit.click(f'tr[data-trade="{trade.pk}"] a')
    expect(krit.locator("body")).to_contain_text(trade.ledger_signature)
    ploy.click("nav >> text=Home")
    expect(ploy.locator("[data-earnings]")).to_have_text(f"{(trade.value - trade.fee) / THB:g} THB")

    # -- the operator opens the revenue analytics and pauses the market; the next order is refused ------------------
    get_user_model().objects.create_superuser("operator", password=PASSWORD)
    admin = operator.new_page()
    admin.goto(f"{url}/admin/login/?next=/admin/analytics/")
    admin.fill("#id_username", "operator")
    admin.fill("#id_password", PASSWORD)
    admin.click("input[type=submit]")
    expect(admin.locator("h1")).to_contain_text("Revenue analytics")
    admin.goto(f"{url}/admin/monitoring/")
    admin.click("input[value='Pause the market']")
    expect(admin.locator("#market-state")).to_contain_text("paused")

    ploy.click("nav >> text=Market")
    expect(ploy.locator("#order-panel")).to_contain_text("The market is paused by its operator")
    expect(ploy.locator(f'#tape tr[data-trade="{trade.pk}"]')).to_contain_text("BKK-C → BKK-C")  # the page's tape
    place(ploy, "sell", "1", "4")
    expect(ploy.locator("#order-panel .form-errors").last).to_contain_text(
        "the market is paused by its operator: no new orders")
    assert Order.objects.filter(owner__user__username="ploy").count() == 2
    assert not errors, errors
