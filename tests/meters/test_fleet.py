"""The fleet: reproducible readings, independent of fleet size and order, plausible and within ratings."""

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from meters.physics import DEFAULT_MIX, Fleet, MeterKind, Site, meter_spec
from meters.physics.battery import ETA_CHARGE, ETA_DISCHARGE, SOC_MAX, SOC_MIN
from meters.physics.site import day_grid
from tests.meters.helpers import START, as_bytes, run

pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")

DAY = 96


def test_the_same_seed_gives_byte_identical_readings():
    first = as_bytes(run(Fleet.build(count=40, seed=7, start=START), DAY))
    second = as_bytes(run(Fleet.build(count=40, seed=7, start=START), DAY))
    assert first == second
    assert len(first) > 0


def test_another_seed_gives_other_readings():
    one = run(Fleet.build(count=40, seed=7, start=START), DAY)
    other = run(Fleet.build(count=40, seed=8, start=START), DAY)
    assert as_bytes(one) != as_bytes(other)
    differing = sum(a.consumed_wh != b.consumed_wh for a, b in zip(one, other, strict=True))
    assert differing > 0.9 * len(one)


def test_a_meters_readings_do_not_depend_on_the_fleet_size_or_order():
    whole = run(Fleet.build(count=60, seed=11, start=START), DAY)
    by_meter = {}
    for reading in whole:
        by_meter.setdefault(reading.meter_index, []).append(reading)

    shuffled = run(Fleet.build(indices=[41, 3, 59, 17, 0], seed=11, start=START), DAY)
    alone = run(Fleet.build(indices=[17], seed=11, start=START), DAY)
    assert [r for r in shuffled if r.meter_index == 17] == by_meter[17] == alone
    for index in (41, 3, 59, 0):
        assert as_bytes([r for r in shuffled if r.meter_index == index]) == as_bytes(by_meter[index])


def test_a_fleet_split_across_two_processes_produces_the_same_readings():
    whole = run(Fleet.build(count=30, seed=5, start=START), DAY)
    even = run(Fleet.build(indices=range(0, 30, 2), seed=5, start=START), DAY)
    odd = run(Fleet.build(indices=range(1, 30, 2), seed=5, start=START), DAY)
    key = lambda r: (r.interval_start, r.meter_index)  # noqa: E731
    assert as_bytes(sorted(even + odd, key=key)) == as_bytes(sorted(whole, key=key))


def test_the_fleet_follows_the_mix():
    fleet = Fleet.build(count=1000, seed=3, start=START)
    kinds = Counter(meter.kind for meter in fleet.meters)
    for kind, share in DEFAULT_MIX.items():
        assert abs(kinds[kind] - 1000 * share) <= 2
    for prefix in (20, 57, 333):
        kinds = Counter(meter.kind for meter in fleet.meters[:prefix])
        assert abs(kinds[MeterKind.CONSUMER] - prefix * 0.5) <= 2


def test_a_meters_kind_and_parameters_come_from_its_seed_and_index_alone():
    fleet = Fleet.build(count=50, seed=3, start=START)
    assert fleet.meters[37] == meter_spec(seed=3, index=37)
    assert meter_spec(seed=3, index=37) != meter_spec(seed=4, index=37)
    only_solar = Fleet.build(count=20, seed=3, start=START, mix={"solar": 1.0})
    assert {meter.kind for meter in only_solar.meters} == {MeterKind.SOLAR}
    assert all(3000 <= meter.pv_dc_w <= 10_000 for meter in only_solar.meters)


@pytest.mark.parametrize("mix", [{"solar": 0.5}, {"solar": 1.2, "consumer": -0.2}, {"nuclear": 1.0}])
def test_it_refuses_a_mix_that_is_not_a_distribution_over_meter_kinds(mix):
    with pytest.raises(ValueError):
        Fleet.build(count=3, seed=1, start=START, mix=mix)


def test_readings_are_non_negative_integers_within_the_meters_ratings():
    fleet = Fleet.build(count=300, seed=21, start=START)
    hours = fleet.seconds / 3600
    specs = {meter.index: meter for meter in fleet.meters}
    readings = run(fleet, 3 * DAY)
    for r in readings:
        spec = specs[r.meter_index]
        assert type(r.generated_wh) is int and type(r.consumed_wh) is int
        assert 0 <= r.generated_wh <= spec.rated_generation_w * hours
        assert 0 <= r.consumed_wh <= spec.import_limit_w * hours
        assert 218.5 <= r.voltage <= 241.5
        assert 0.9 <= r.power_factor <= 1.0
        assert abs(r.frequency - 50.0) <= 0.05 + 1e-9
    assert {specs[r.meter_index].kind for r in readings if r.generated_wh > 0} == set(MeterKind) - {MeterKind.CONSUMER}
    assert all(r.generated_wh == 0 for r in readings if specs[r.meter_index].kind is MeterKind.CONSUMER)
    assert len({r.voltage for r in readings}) > 50 and len({r.frequency for r in readings}) > 20


def test_solar_meters_generate_by_day_and_not_at_night():
    fleet = Fleet.build(count=40, seed=2, start=START, mix={"solar": 1.0})
    intervals = [fleet.step_arrays() for _ in range(DAY)]
    local_hours = [i.interval_start.astimezone(START.tzinfo).hour for i in intervals]
    total = np.array([i.generated_wh.sum() for i in intervals])
    night = np.array([h < 5 or h >= 20 for h in local_hours])
    assert np.all(total[night] == 0)
    assert total[~night].sum() > 0
    assert 9 <= local_hours[int(np.argmax(total))] <= 14


def test_batteries_stay_within_their_limits_and_lose_only_conversion_energy():
    fleet = Fleet.build(count=60, seed=9, start=START, mix={"hybrid": 0.5, "battery": 0.5})
    capacity = np.array([meter.battery_capacity_wh for meter in fleet.meters])
    soc_start = np.array([meter.initial_soc for meter in fleet.meters]) * capacity
    charged = discharged = 0.0
    for _ in range(3 * DAY):
        interval = fleet.step_arrays()
        assert np.all(interval.soc_wh >= SOC_MIN * capacity - 1e-9)
        assert np.all(interval.soc_wh <= SOC_MAX * capacity + 1e-9)
        assert not np.any((interval.charged_wh > 0) & (interval.discharged_wh > 0))
        charged += interval.charged_wh.sum()
        discharged += interval.discharged_wh.sum()
    assert charged > 0 and discharged > 0
    stored = interval.soc_wh.sum() - soc_start.sum()
    assert stored == pytest.approx(charged * ETA_CHARGE - discharged / ETA_DISCHARGE, abs=1e-6)


def test_net_export_is_generation_minus_consumption_behind_the_meter():
    fleet = Fleet.build(count=100, seed=4, start=START)
    for _ in range(DAY):
        i = fleet.step_arrays()
        net = (i.pv_wh + i.wind_wh + i.discharged_wh) - (i.load_wh + i.charged_wh)
        assert np.all(np.abs((i.generated_wh - i.consumed_wh) - net) < 1.0)
        assert np.all(i.generated_wh <= i.pv_wh + i.wind_wh + i.discharged_wh)


def test_it_steps_one_interval_at_a_time_on_the_sites_grid():
    fleet = Fleet.build(count=2, seed=1, start=START)
    assert fleet.interval_start == START.astimezone(UTC)
    readings = fleet.step(START)
    assert [r.interval_start for r in readings] == [START, START]
    with pytest.raises(ValueError, match="the fleet is at"):
        fleet.step(START)
    assert fleet.step(START + timedelta(minutes=15))[0].interval_start == START + timedelta(minutes=15)


def test_it_refuses_a_start_off_the_grid_or_without_a_timezone():
    with pytest.raises(ValueError, match="not on the 900 s interval grid"):
        Fleet.build(count=2, seed=1, start=START + timedelta(minutes=7))
    with pytest.raises(ValueError, match="timezone-aware"):
        Fleet.build(count=2, seed=1, start=datetime(2025, 3, 3))
    with pytest.raises(ValueError, match="either count or indices"):
        Fleet.build(seed=1, start=START)
    with pytest.raises(ValueError, match="unique"):
        Fleet.build(indices=[1, 1], seed=1, start=START)


def test_the_interval_length_is_configurable():
    hourly = Fleet.build(count=20, seed=6, start=START, interval=timedelta(hours=1))
    quarterly = Fleet.build(count=20, seed=6, start=START)
    hourly_days = [hourly.step_arrays() for _ in range(24)]
    quarterly_days = [quarterly.step_arrays() for _ in range(96)]
    assert hourly.meters == quarterly.meters
    assert hourly.interval_start == quarterly.interval_start == START + timedelta(days=1)
    # Different noise samples, the same expected energy.
    hourly_load = sum(i.load_wh.sum() for i in hourly_days)
    assert hourly_load == pytest.approx(sum(i.load_wh.sum() for i in quarterly_days), rel=0.1)
    assert max(i.pv_wh.max() for i in hourly_days) > 3 * max(i.pv_wh.max() for i in quarterly_days)
    with pytest.raises(ValueError):
        Fleet.build(count=2, seed=1, start=START, interval=timedelta(minutes=7))


def test_a_site_with_daylight_saving_time_steps_through_the_change():
    berlin = Site("Berlin", 52.52, 13.40, "Europe/Berlin", mean_temperature_c=10.0, wet_months=())
    start = datetime(2025, 3, 29, 22, tzinfo=ZoneInfo("Europe/Berlin"))
    fleet = Fleet.build(count=10, seed=1, site=berlin, start=start)
    starts = [fleet.step_arrays().interval_start for _ in range(96)]
    assert all(b - a == timedelta(minutes=15) for a, b in zip(starts, starts[1:], strict=False))
    assert len(day_grid(berlin, date(2025, 3, 30), 900)) == 92


def test_an_empty_fleet_steps_to_no_readings():
    assert Fleet.build(count=0, seed=1, start=START).step() == []


def test_thousands_of_meters_step_cheaply():
    fleet = Fleet.build(count=3000, seed=1, start=START + timedelta(hours=12))
    fleet.step()
    began = datetime.now()
    for _ in range(8):
        fleet.step_arrays()
    assert (datetime.now() - began).total_seconds() < 2.0
