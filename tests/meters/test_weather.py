"""The site's weather: a persistent Markov chain over sky states that only ever dims the clear sky."""

from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from meters.physics.site import BANGKOK
from meters.physics.weather import SKY_DRY, SKY_LEVEL, SKY_WET, Sky, cloud_factor, weather_day, weather_key

SECONDS = 900


def days(first: date, count: int, seed: int = 1):
    key = weather_key(seed)
    return [weather_day(BANGKOK, key, first + timedelta(days=d), SECONDS) for d in range(count)]


def test_sky_states_scale_clear_sky_as_specified():
    assert [s.name for s in Sky] == ["SUNNY", "PARTLY_CLOUDY", "CLOUDY", "OVERCAST", "RAINY"]
    assert SKY_LEVEL.tolist() == [1.0, 0.72, 0.42, 0.18, 0.10]


@given(st.sampled_from(SKY_LEVEL.tolist()), st.floats(-8.0, 8.0))
def test_a_meters_cloud_factor_never_exceeds_clear_sky(level, z):
    factor = float(cloud_factor(level, z))
    assert 0.0 <= factor <= 1.0
    assert abs(factor - level) <= 0.05 * 8.0 * level + 1e-12


def test_the_sky_persists_and_moves_one_state_at_a_time():
    skies = np.concatenate([d.sky for d in days(date(2025, 1, 1), 60)])
    per_day = np.concatenate([np.diff(d.sky) for d in days(date(2025, 1, 1), 60)])
    assert set(np.unique(skies)) == set(range(5))
    assert np.all(np.abs(per_day) <= 1)
    assert 0.01 < np.mean(per_day != 0) < 0.1


@pytest.mark.parametrize("first, stationary", [(date(2025, 1, 1), SKY_DRY), (date(2025, 7, 1), SKY_WET)])
def test_the_sky_follows_the_seasons_distribution(first, stationary):
    skies = np.concatenate([d.sky for d in days(first, 120 if first.month == 1 else 90)])
    observed = np.bincount(skies, minlength=5) / skies.size
    np.testing.assert_allclose(observed, stationary, atol=0.07)


def test_a_days_weather_depends_on_the_seed_and_the_date_only():
    weather_day.cache_clear()
    one = days(date(2025, 3, 3), 3, seed=1)
    weather_day.cache_clear()
    again = days(date(2025, 3, 3), 3, seed=1)
    for a, b in zip(one, again, strict=True):
        assert a.sky.tobytes() == b.sky.tobytes()
        assert a.temp_air.tobytes() == b.temp_air.tobytes()
        assert a.wind_speed.tobytes() == b.wind_speed.tobytes()
    other = days(date(2025, 3, 3), 3, seed=2)
    assert any(a.temp_air.tobytes() != b.temp_air.tobytes() for a, b in zip(one, other, strict=True))


def test_temperature_and_wind_are_plausible_for_bangkok():
    weather = days(date(2025, 4, 1), 30)
    temps = np.concatenate([d.temp_air for d in weather])
    wind = np.concatenate([d.wind_speed for d in weather])
    assert 20.0 < temps.min() and temps.max() < 38.0
    afternoon = np.concatenate([d.temp_air[56:64] for d in weather]).mean()
    dawn = np.concatenate([d.temp_air[20:28] for d in weather]).mean()
    assert afternoon > dawn + 3.0
    assert wind.min() >= 0.0
    assert wind.mean() == pytest.approx(BANGKOK.mean_wind_speed_ms, rel=0.3)
