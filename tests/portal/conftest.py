"""A market with one intra-zone and one inter-zone trade settled on the ledger, shared by the portal's and the
explorer's tests."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from trading import services
from trading.models import Trade
from trading.tariffs import KWH, THB

from tests.oracle.test_admin import operator_client  # noqa: F401 (a fixture)
from tests.trading.test_services import NOW, signed, traders  # noqa: F401 (a fixture)


@pytest.fixture
def market(traders):
    """Two trades: 2 kWh sold and bought in BKK-C, and 1 kWh sold in BKK-C and bought in BKK-N (cross-zone)."""
    seller, buyer = traders
    services.order_place(participant=seller, body=signed(seller, 1, "sell", 3 * KWH, 4 * THB), now=NOW)
    services.order_place(participant=buyer, body=signed(buyer, 1, "buy", 2 * KWH, 5 * THB), now=NOW)
    services.order_place(participant=buyer, body=signed(buyer, 2, "buy", KWH, 7 * THB, zone="BKK-N", cross_zone=True),
                         now=NOW)
    report = services.run_matcher(now=NOW)
    assert report.trades == 2 and not report.errors
    return {"seller": seller, "buyer": buyer, "intra": Trade.objects.get(buyer_zone__code="BKK-C"),
            "inter": Trade.objects.get(buyer_zone__code="BKK-N")}


@pytest.fixture
def member_client(ledger):
    """A logged-in user who is not staff."""
    client = Client(headers={"X-Forwarded-Proto": "https"})
    client.force_login(get_user_model().objects.create_user("member"))
    return client
