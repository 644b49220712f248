"""Consumption: daily profiles with weekday and weekend shapes, AR(1) noise, the meter's daily kWh on average."""

from datetime import timedelta

import numpy as np
import pytest

from meters.physics import Fleet
from meters.physics.load import LoadProfile, ar1_coefficient, ar1_step, day_weight, interval_share, shape_value
from tests.meters.helpers import START

SECONDS = 900
HOURS = (np.arange(96) + 0.5) * SECONDS / 3600


def day_shares(profile: LoadProfile, weekend: bool) -> np.ndarray:
    return np.array([interval_share(h, weekend, SECONDS)[profile] for h in HOURS])


@pytest.mark.parametrize("profile", list(LoadProfile))
def test_a_week_of_profiles_averages_exactly_one_daily_kwh(profile):
    weekday, weekend = day_shares(profile, False).sum(), day_shares(profile, True).sum()
    assert weekday == pytest.approx(day_weight(profile, False))
    assert weekend == pytest.approx(day_weight(profile, True))
    assert (5 * weekday + 2 * weekend) / 7 == pytest.approx(1.0)


def test_households_peak_in_the_morning_and_the_evening_and_differ_at_the_weekend():
    weekday = day_shares(LoadProfile.RESIDENTIAL, False)
    weekend = day_shares(LoadProfile.RESIDENTIAL, True)
    morning, midday, evening, night = (slice(24, 34), slice(40, 56), slice(72, 88), slice(8, 20))
    assert weekday[morning].max() > weekday[midday].max()
    assert weekday[evening].max() > weekday[midday].max() * 1.5
    assert weekday[evening].max() > weekday[night].max() * 2
    assert weekend.sum() > weekday.sum()
    assert weekend[midday].mean() > weekday[midday].mean() * 1.2
    assert int(np.argmax(weekend[:48])) > int(np.argmax(weekday[:48]))


def test_businesses_plateau_from_nine_to_five_on_weekdays():
    weekday = day_shares(LoadProfile.COMMERCIAL, False)
    weekend = day_shares(LoadProfile.COMMERCIAL, True)
    plateau = weekday[38:66]  # 09:30 to 16:30
    assert plateau.max() - plateau.min() < 1e-12
    assert plateau.min() > 3 * weekday[:24].max()
    assert weekend.sum() < 0.5 * weekday.sum()
    assert shape_value(LoadProfile.COMMERCIAL, False, 12.0) == shape_value(LoadProfile.COMMERCIAL, False, 15.0)


def test_ar1_noise_is_stationary_with_the_meters_sigma():
    generator = np.random.default_rng(0)
    phi = ar1_coefficient(SECONDS)
    values = np.empty(40_000)
    current = 0.0
    for i in range(values.size):
        current = float(ar1_step(current, generator.standard_normal(), sigma=0.15, phi=phi))
        values[i] = current
    assert values.mean() == pytest.approx(0.0, abs=0.01)
    assert values.std() == pytest.approx(0.15, rel=0.05)
    assert np.corrcoef(values[:-1], values[1:])[0, 1] == pytest.approx(phi, abs=0.02)


def test_consumers_use_their_daily_kwh_on_average_and_more_at_the_weekend():
    fleet = Fleet.build(count=120, seed=13, start=START, mix={"consumer": 1.0})
    daily = np.array([meter.daily_kwh for meter in fleet.meters]) * 1000
    assert {meter.load_profile for meter in fleet.meters} == set(LoadProfile)
    load = np.zeros((14, len(fleet)))
    consumed = np.zeros((14, len(fleet)), dtype=np.int64)
    for d in range(14):
        for _ in range(96):
            interval = fleet.step_arrays()
            load[d] += interval.load_wh
            consumed[d] += interval.consumed_wh
    assert load.sum() / (14 * daily.sum()) == pytest.approx(1.0, rel=0.015)
    # Truncation to whole Wh loses less than 1 Wh per interval.
    assert np.all((load - consumed >= 0) & (load - consumed < 96))
    per_meter = load.mean(axis=0) / daily
    assert np.all(np.abs(per_meter - 1.0) < 0.1)

    residential = np.array([meter.load_profile is LoadProfile.RESIDENTIAL for meter in fleet.meters])
    weekend_days = [d for d in range(14) if (START + timedelta(days=d)).weekday() >= 5]
    weekdays = [d for d in range(14) if d not in weekend_days]
    assert load[weekend_days][:, residential].mean() > load[weekdays][:, residential].mean()
    assert load[weekend_days][:, ~residential].mean() < 0.6 * load[weekdays][:, ~residential].mean()
