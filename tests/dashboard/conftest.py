"""Households on the dashboard: logged-in clients, a meter with signed readings of the last hours, and a market."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from oracle import services as oracle_services

from tests.energy import INTERVAL, meter
from tests.trading.test_services import traders  # noqa: F401 (a fixture: a prosumer with 10 kWh, a consumer with 100 THB)


def client_of(p) -> Client:
    client = Client(headers={"X-Forwarded-Proto": "https"})
    client.force_login(p.user)
    return client


def recent_readings(sim, count: int, generated_wh: int, consumed_wh: int) -> list[dict]:
    """`count` signed readings of the intervals that ended most recently, oldest first."""
    last = int(time.time()) // INTERVAL * INTERVAL - INTERVAL
    starts = [last - i * INTERVAL for i in reversed(range(count))]
    return [sim.signed(0, generated_wh, consumed_wh, interval_start=s, sequence=s // INTERVAL) for s in starts]


@pytest.fixture
def solar(traders):
    """The prosumer's solar meter in BKK-E with four settled readings of 1,000 Wh generated and 200 Wh consumed,
    and one rejected reading (over the meter's capacity)."""
    seller, _ = traders
    sim = meter(seller, "SOLAR-1", zone_code="BKK-E")
    bodies = recent_readings(sim, 5, 1000, 200)
    bodies[-1] = sim.signed(0, 999_999, 0, interval_start=bodies[-1]["interval_start"],
                            sequence=bodies[-1]["sequence"])
    report = oracle_services.readings_ingest(bodies)
    assert [r.status for r in report.results] == ["accepted"] * 4 + ["rejected"]
    settled = oracle_services.settle()
    assert settled.readings == 4 and not settled.failed
    return sim, bodies
