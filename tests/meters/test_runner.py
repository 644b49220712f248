"""The whole simulator against a local stand-in for the platform's API: registration, streaming, batches,
re-runs, replay and stopping."""

import asyncio
import io
import itertools
import math
import time
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command

from meters.physics import Fleet, MeterKind, meter_spec
from meters.registration import RegistrationError
from meters.runner import SimulationConfig, run_simulation, simulate
from meters.sim import Signer, fleet_intervals, meter_keypair
from tests.meters.helpers import START
from tests.meters.stub_platform import StubPlatform

pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")

ZONES = [
    {"code": "BKK-2", "name": "Bangkok 2", "center_lat": "13.80", "center_lon": "100.60"},
    {"code": "BKK-1", "name": "Bangkok 1", "center_lat": "13.70", "center_lon": "100.50"},
]
MORNING = START + timedelta(hours=6)


def test_it_registers_every_meter_then_streams_every_reading_in_order():
    with StubPlatform(ZONES) as platform:
        summary = run_simulation(platform.url, 12, 2, MORNING, 24, concurrency=8)
    stats = summary.stats
    assert (stats.generated, stats.sent, stats.accepted, stats.rejected, stats.failed) == (288, 288, 288, 0, 0)
    assert (summary.registration.users_created, summary.registration.meters_created) == (12, 12)
    assert (summary.intervals, summary.first_start, summary.last_end) == (
        24, MORNING.timestamp(), MORNING.timestamp() + 24 * 900)

    for index in range(12):
        consumer = meter_spec(seed=2, index=index).kind is MeterKind.CONSUMER
        assert platform.users[f"sim-2-{index:05d}"]["role"] == ("consumer" if consumer else "prosumer")
    meter = platform.meters["SIM-2-00005"]
    spec = meter_spec(seed=2, index=5)
    assert meter["public_key"] == meter_keypair(2, 5).address
    assert meter["capacity_w"] == math.ceil(spec.rated_generation_w)
    assert meter["max_import_w"] == math.ceil(spec.import_limit_w)
    assert meter["zone"] == "BKK-2" and abs(meter["latitude"] - 13.80) <= 0.005  # zones by code, round-robin
    assert platform.meters["SIM-2-00004"]["zone"] == "BKK-1"
    assert meter["owner"] == "sim-2-00005"


def test_the_server_receives_exactly_the_signed_readings_of_the_fleet():
    with StubPlatform() as platform:
        run_simulation(platform.url, 5, 3, MORNING, 4)
    fleet = Fleet.build(seed=3, count=5, start=MORNING)
    signer = Signer(3)
    four = itertools.islice(fleet_intervals(fleet), 4)
    expected = [signed.to_json() for interval in four for signed in signer.sign_interval(interval)]
    assert sorted(platform.readings.values(), key=str) == sorted(expected, key=str)


def test_a_rerun_registers_nothing_new_and_resends_as_duplicates():
    with StubPlatform() as platform:
        run_simulation(platform.url, 6, 4, MORNING, 4)
        again = run_simulation(platform.url, 6, 4, MORNING, 8)
    r = again.registration
    assert (r.users_created, r.users_existing, r.meters_created, r.meters_existing) == (0, 6, 0, 6)
    assert platform.hits["POST /api/v1/auth/token"] == 6
    assert (again.stats.duplicates, again.stats.accepted, again.stats.rejected) == (24, 24, 0)


def test_aggregators_post_batches_of_at_most_n_readings():
    with StubPlatform() as platform:
        summary = run_simulation(platform.url, 12, 5, MORNING, 3, batch=5)
    assert sorted(platform.batch_sizes) == [2, 2, 2, 5, 5, 5, 5, 5, 5]
    assert platform.hits["POST /api/v1/oracle/readings"] == 0
    assert (summary.stats.accepted, summary.stats.sent) == (36, 36)


def test_a_server_without_zones_is_a_clear_error():
    with StubPlatform(zones=[]) as platform:
        with pytest.raises(RegistrationError, match="python manage.py seed_demo"):
            run_simulation(platform.url, 5, 1, MORNING, 1)
    assert len(platform.users) == 1 and platform.meters == {}


def test_every_meter_goes_to_the_zone_asked_for():
    with StubPlatform(ZONES) as platform:
        run_simulation(platform.url, 4, 1, MORNING, 1, zone="BKK-1")
        with pytest.raises(RegistrationError, match="no zone 'BKK-9'; the zones are BKK-1, BKK-2"):
            run_simulation(platform.url, 4, 1, MORNING, 1, zone="BKK-9")
    assert {meter["zone"] for meter in platform.meters.values()} == {"BKK-1"}


def test_a_user_created_otherwise_is_reported_with_what_to_do():
    with StubPlatform() as platform:
        platform.users["sim-1-00000"] = {"username": "sim-1-00000", "password": "someone else's", "role": "consumer"}
        with pytest.raises(RegistrationError, match="Use another --seed"):
            run_simulation(platform.url, 2, 1, MORNING, 1)


def test_an_export_replayed_to_another_server_stores_the_same_readings(tmp_path):
    path = tmp_path / "readings.csv"
    with StubPlatform() as first:
        run_simulation(first.url, 6, 8, MORNING, 5, export=path)
    with StubPlatform() as second:
        summary = run_simulation(second.url, 1, 8, None, None, replay=path)
    assert second.readings == first.readings and len(second.readings) == 30
    assert (summary.meters, summary.intervals, summary.stats.accepted) == (6, 5, 30)


def test_setting_stop_ends_the_run_with_a_summary():
    async def go(url: str):
        stop = asyncio.Event()
        config = SimulationConfig(url=url, meters=3, seed=1, start=MORNING, speed=3600)  # 4 intervals a second
        asyncio.get_running_loop().call_later(1.0, stop.set)
        return await simulate(config, out=io.StringIO(), live=False, stop=stop)

    with StubPlatform() as platform:
        summary = asyncio.run(go(platform.url))
    assert summary.stopped
    assert 1 <= summary.intervals <= 8 and summary.stats.rejected == 0
    # A stop cancels the requests in flight: the platform may have stored some whose answers never came back, which
    # the summary counts as unanswered (a rerun resends them, and they come back as duplicates).
    stats = summary.stats
    assert stats.accepted <= len(platform.readings) <= stats.accepted + stats.pending
    assert stats.pending == 0 or "readings unanswered" in summary.text()


def test_the_command_prints_a_summary_and_turns_bad_options_into_errors():
    out, err = io.StringIO(), io.StringIO()
    with StubPlatform() as platform:
        call_command("simulate_meters", "--url", platform.url, "--meters", "3", "--speed", "0", "--start",
                     "2025-03-03T06:00", "--duration", "1h", "--mix", "solar=0.5,consumption=0.5", stdout=out,
                     stderr=err)
    assert "4 intervals of 900 s, 3 meters" in out.getvalue()
    assert "12 sent, 12 accepted" in out.getvalue()
    assert {meter["type"] for meter in platform.meters.values()} <= {"solar", "consumption"}
    for options, message in [(["--mix", "solar=2"], "add up to 1"), (["--duration", "7m"], "whole number"),
                             (["--batch", "1001"], "--batch"), (["--site", "1,2,Nowhere"], "timezone")]:
        with pytest.raises(CommandError, match=message):
            call_command("simulate_meters", "--url", "http://127.0.0.1:9", *options, stdout=out, stderr=err)


def test_an_unreachable_server_is_reported_within_seconds():
    began = time.monotonic()
    with pytest.raises(CommandError, match=r"no usable answer from the server: .*ConnectError.*Is it running"):
        call_command("simulate_meters", "--url", "http://127.0.0.1:9", "--quiet", stdout=io.StringIO(),
                     stderr=io.StringIO())
    assert time.monotonic() - began < 15
