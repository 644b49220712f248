"""The operator portal: the market's admin pages, the tariff matrix, revenue analytics and monitoring, staff only,
and the operator's switches (pause and resume the market, settle readings now) acting on the ledger."""

import asyncio
import time
import uuid
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from django.utils import timezone

from ledger.errors import Rejected
from ledger.units import format_units
from oracle import services as oracle_services
from oracle.models import Settlement
from portal import selectors
from trading import presence, services
from trading.models import Order
from trading.tariffs import KWH, THB

from tests.energy import NOW as READINGS_NOW, meter, participant
from tests.trading.test_services import NOW, signed

PORTAL_PAGES = ("/admin/analytics/", "/admin/monitoring/")
ADMIN_PAGES = ("trading/order", "trading/trade", "trading/escrowrecord", "registry/zone", "registry/participant",
               "registry/meter", "oracle/reading", "oracle/rejectedreading", "oracle/settlement", "auth/user")


def thb(amount: int) -> str:
    return format_units(amount, 6)


def test_every_portal_page_and_admin_list_renders_on_an_empty_platform(operator_client):
    for url in PORTAL_PAGES + tuple(f"/admin/{page}/" for page in ADMIN_PAGES):
        response = operator_client.get(url)
        assert response.status_code == 200, url
    assert b"No trades yet." in operator_client.get("/admin/analytics/").content
    zones = operator_client.get("/admin/registry/zone/").content
    assert b"Zone-pair tariffs" in zones and b"the default market parameters" in zones


@pytest.mark.parametrize("method, url", [("get", "/admin/analytics/"), ("get", "/admin/monitoring/"),
                                         ("post", "/admin/monitoring/market/"), ("post", "/admin/monitoring/settle/")])
def test_the_portal_pages_refuse_anonymous_and_non_staff_users(member_client, method, url):
    for client in (Client(headers={"X-Forwarded-Proto": "https"}), member_client):
        response = getattr(client, method)(url, {"paused": "true"})
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url
    assert not services.market_paused()


def test_the_market_pages_show_every_trade_read_only_with_links_to_the_explorer(operator_client, market):
    trade = market["intra"]
    listing = operator_client.get("/admin/trading/trade/").content.decode()
    assert f"/explorer/tx/{trade.ledger_signature}/" in listing and thb(trade.fee) in listing
    detail = operator_client.get(f"/admin/trading/trade/{trade.pk}/change/")
    assert detail.status_code == 200 and b'name="_save"' not in detail.content
    order = trade.sell_order
    assert operator_client.get(f"/admin/trading/order/{order.pk}/change/").status_code == 200
    assert operator_client.get("/admin/trading/order/?status__exact=open&q=seller").status_code == 200
    assert operator_client.get("/admin/trading/escrowrecord/?kind__exact=lock").status_code == 200
    for page in ("trading/order", "trading/trade", "trading/escrowrecord"):
        assert operator_client.get(f"/admin/{page}/add/").status_code == 403
    assert operator_client.get(f"/admin/trading/trade/{trade.pk}/delete/").status_code == 403
    assert operator_client.get(f"/admin/registry/zone/{trade.buyer_zone_id}/delete/").status_code == 403


def test_the_zone_page_shows_the_tariff_matrix_the_ledger_charges(operator_client, market):
    matrix = selectors.tariff_matrix()
    assert matrix["source"] == "the market account on the ledger"
    assert matrix["zones"] == ["BKK-C", "BKK-E", "BKK-N", "BKK-S", "BKK-W"]
    same, adjacent = matrix["rows"][0]["cells"][0], matrix["rows"][0]["cells"][1]
    assert (same["wheeling"], same["loss_bps"]) == (500_000, 100)
    assert (adjacent["wheeling"], adjacent["loss_bps"]) == (1_000_000, 300)
    page = operator_client.get("/admin/registry/zone/").content.decode()
    assert "0.5 THB · 1 %" in page and "1 THB · 3 %" in page and "1.7 THB · 5 %" in page


def test_revenue_analytics_adds_up_the_trades_by_zone_day_and_flow(operator_client, market):
    intra, inter = market["intra"], market["inter"]
    report = selectors.revenue()
    assert report["total"]["trades"] == 2
    assert report["total"]["fee"] == intra.fee + inter.fee
    assert report["total"]["wheeling"] == intra.wheeling + inter.wheeling
    assert report["intra"]["quantity"] == intra.quantity and report["inter"]["quantity"] == inter.quantity
    zones = {row["buyer_zone__code"]: row for row in report["zones"]}
    assert zones["BKK-N"]["loss_value"] == inter.loss_value
    assert zones["BKK-C"]["average_price"] == intra.value * KWH // intra.quantity == 4 * THB
    assert [row["trades"] for row in report["days"]] == [2]
    page = operator_client.get("/admin/analytics/").content.decode()
    assert thb(intra.fee + inter.fee) in page and thb(inter.wheeling) in page
    assert "vendor/chart.umd.min.js" in page and 'id="portal-charts"' in page
    assert '"label": "BKK-N"' in page and f'"fee": "{thb(inter.fee)}"' in page


def test_an_operator_pauses_and_resumes_the_market_and_a_paused_market_refuses_orders(operator_client, market):
    response = operator_client.post("/admin/monitoring/market/", {"paused": "true"}, follow=True)
    assert b"The market is paused" in response.content and b"Resume the market" in response.content
    assert services.market_paused()
    seller = market["seller"]
    with pytest.raises(Rejected) as refused:
        services.order_place(participant=seller, body=signed(seller, 7, "sell", KWH, 4 * THB), now=NOW)
    assert refused.value.code == "market_paused"
    response = operator_client.post("/admin/monitoring/market/", {"paused": "false"}, follow=True)
    assert b"The market is open again" in response.content and not services.market_paused()
    order, created = services.order_place(participant=seller, body=signed(seller, 7, "sell", KWH, 4 * THB), now=NOW)
    assert created and order.status == "open"
    response = operator_client.post("/admin/monitoring/market/", {"paused": "maybe"}, follow=True)
    assert b"Say whether to pause" in response.content and not services.market_paused()
    assert operator_client.get("/admin/monitoring/market/").status_code == 405


def test_an_operator_triggers_minting_of_the_pending_readings(operator_client, ledger):
    from tests.energy import zone

    zone()
    m = meter(participant())
    oracle_services.readings_ingest([m.signed(1, 500, 100), m.signed(2, 300, 0)], now=READINGS_NOW)
    assert selectors.monitoring()["oracle"]["pending_readings"] == 2
    assert b'id="pending-mints">Pending mints (readings to settle)<b>2</b>' in operator_client.get(
        "/admin/monitoring/").content
    response = operator_client.post("/admin/monitoring/settle/", follow=True)
    assert b"Settled 2 readings in 1 ledger transactions" in response.content
    assert oracle_services.pending_count() == 0
    assert Settlement.objects.get().status == "committed"


def test_monitoring_reports_the_ledger_the_matcher_lag_and_the_services(operator_client, market):
    m = selectors.monitoring()
    assert m["ledger"]["height"] >= 1 and m["ledger"]["age_ms"] >= 0
    assert m["ledger"]["rates"][0]["transactions"] >= 1  # the trades were just committed
    assert (m["matcher"]["waiting"], m["matcher"]["lag_ms"]) == (0, 0)  # the matcher ran: nothing waits
    assert m["market_exists"] and not m["market_paused"]
    parts = {s["part"]: s for s in m["services"]}
    assert parts["Database"]["embedded"] == (not selectors.settings.DATABASE_URL)
    # A sell and a crossing buy the matcher has not seen yet: the buy waits, and the lag grows from its placement.
    seller, buyer = market["seller"], market["buyer"]
    services.order_place(participant=seller, body=signed(seller, 9, "sell", KWH, 4 * THB), now=NOW)
    order, _ = services.order_place(participant=buyer, body=signed(buyer, 9, "buy", KWH, 5 * THB), now=NOW)
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(seconds=42))
    m = selectors.monitoring()
    assert m["matcher"]["waiting"] == 1 and 42_000 <= m["matcher"]["lag_ms"] < 60_000
    page = operator_client.get("/admin/monitoring/").content.decode()
    assert "1 of" in page and "await the matcher" in page
    services.run_matcher(now=NOW)
    assert selectors.monitoring()["matcher"]["lag_ms"] == 0


def test_the_websocket_count_follows_connects_and_disconnects(monkeypatch):
    from tests.trading.test_streams import socket

    monkeypatch.setattr(presence, "KEY", f"{presence.KEY}:test-{uuid.uuid4().hex}")  # others may share the Redis

    async def counted(expected):
        """The count once the consumer has joined or left (it accepts the socket before it joins its group)."""
        for _ in range(200):
            if presence.count() == expected:
                return True
            await asyncio.sleep(0.01)
        return False

    async def scenario():
        before = presence.count()
        ws = await socket("/ws/trades/")
        assert await counted(before + 1)
        await ws.disconnect()
        assert await counted(before)

    async_to_sync(scenario)()


def test_the_pages_render_for_a_large_market(operator_client, market):
    """Thousands of trades over 90 days and many open orders: the pages aggregate in the database and stay quick."""
    from trading.models import Trade

    template = market["inter"]
    fields = {f.attname: getattr(template, f.attname) for f in Trade._meta.concrete_fields if f.attname != "id"}
    Trade.objects.bulk_create(Trade(**{**fields, "ledger_signature": f"bulk-{i}"}) for i in range(3_000))
    now = timezone.now()
    for day in range(90):
        Trade.objects.filter(ledger_signature__endswith=f"-{day}").update(created_at=now - timedelta(days=day))
    order = market["buyer"].orders.first()
    order_fields = {f.attname: getattr(order, f.attname) for f in Order._meta.concrete_fields if f.attname != "id"}
    Order.objects.bulk_create(Order(**{**order_fields, "nonce": 1_000 + i, "status": "open", "remaining": KWH,
                                       "price": THB, "tif": "gtc", "expires_at": services.now_ms() + 3_600_000})
                              for i in range(1_000))
    started = time.monotonic()
    for url in PORTAL_PAGES + tuple(f"/admin/{page}/" for page in ADMIN_PAGES):
        assert operator_client.get(url).status_code == 200, url
    assert time.monotonic() - started < 60
    report = selectors.revenue()
    assert report["total"]["trades"] == 3_002 and len(report["days"]) == 90
