"""The site's weather: a Markov chain over sky states, plus the ambient temperature and the wind it brings.

Neighbours share a sky, so the sky state, temperature and wind are site-wide, computed once per local day for
all of that day's intervals and cached. A per-meter chain would average out over a fleet and the market would
never see a cloudy afternoon. Each meter then adds a small cloud-factor noise of its own (`cloud_factor`).

Each local day's chain starts afresh from the season's stationary distribution at midnight, using randomness
keyed by (seed, date, interval): the weather of a day is a pure function of the seed and the date, whatever
interval a simulation starts at. The restart falls at night, where it cannot show in PV output.

The chain moves at most one state per interval (sunny <-> partly cloudy <-> ... <-> rainy): with probability
1 - PERSISTENCE per 15 minutes it proposes a neighbouring state, which it accepts by the Metropolis rule, so its
stationary distribution is the season's `SKY_DRY` or `SKY_WET`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from enum import IntEnum
from functools import lru_cache

import numpy as np
from scipy.special import erfc
from scipy.special import gamma as gamma_fn

from meters.physics import rng
from meters.physics.site import Site, day_grid


class Sky(IntEnum):
    SUNNY = 0
    PARTLY_CLOUDY = 1
    CLOUDY = 2
    OVERCAST = 3
    RAINY = 4


# Fraction of clear-sky irradiance that reaches the panels, by sky state.
SKY_LEVEL = np.array([1.0, 0.72, 0.42, 0.18, 0.10])
SKY_DRY = np.array([0.45, 0.30, 0.14, 0.07, 0.04])
SKY_WET = np.array([0.20, 0.30, 0.22, 0.15, 0.13])
PERSISTENCE = 0.92
CLOUD_NOISE = 0.05

# Clouds damp the day's temperature swing and rain cools the air.
_SWING = np.array([1.0, 0.9, 0.7, 0.55, 0.45])
_COOLING_C = np.array([0.0, 0.0, 0.3, 1.0, 2.5])
_STORM_WIND = np.array([1.0, 1.0, 1.05, 1.15, 1.3])
WIND_PERSISTENCE = 0.9
WIND_WEIBULL_K = 2.0

_STATE_INIT, _STATE_MOVE, _STATE_DIRECTION, _STATE_ACCEPT, _TEMPERATURE, _WIND_INIT, _WIND = range(7)
_PER_DAY = 1 << 20


@dataclass(frozen=True)
class WeatherDay:
    """Per-interval site weather of one local day: sky state, ambient temperature (degC), wind at 10 m (m/s)."""

    starts: np.ndarray
    sky: np.ndarray
    temp_air: np.ndarray
    wind_speed: np.ndarray

    @property
    def level(self) -> np.ndarray:
        return SKY_LEVEL[self.sky]


def weather_key(seed: int) -> int:
    return int(rng.generator(seed, rng.WEATHER).integers(2**64, dtype=np.uint64))


def step_probability(persistence: float, seconds: int) -> float:
    """Probability of leaving the current state in one interval, given the 15-minute persistence."""
    return 1.0 - persistence ** (seconds / 900.0)


@lru_cache(maxsize=64)
def weather_day(site: Site, key: int, day: date, seconds: int) -> WeatherDay:
    starts = day_grid(site, day, seconds)
    n = len(starts)
    counters = day.toordinal() * _PER_DAY + np.arange(n, dtype=np.int64)
    u = {s: rng.uniform(key, counters, s) for s in (_STATE_MOVE, _STATE_DIRECTION, _STATE_ACCEPT)}
    stationary = SKY_WET if day.month in site.wet_months else SKY_DRY

    sky = np.empty(n, dtype=np.int8)
    first = float(rng.uniform(key, day.toordinal() * _PER_DAY, _STATE_INIT)[0])
    state = int(np.searchsorted(np.cumsum(stationary), first, side="right"))
    state = min(state, len(stationary) - 1)
    leave = step_probability(PERSISTENCE, seconds)
    for i in range(n):
        if i and u[_STATE_MOVE][i] < leave:
            proposal = state + (1 if u[_STATE_DIRECTION][i] < 0.5 else -1)
            if 0 <= proposal < len(stationary) and u[_STATE_ACCEPT][i] < stationary[proposal] / stationary[state]:
                state = proposal
        sky[i] = state

    hours = np.array([_local_hour(site, s + seconds / 2) for s in starts])
    diurnal = np.cos(2 * np.pi * (hours - 15.0) / 24.0)
    temp_air = (
        site.mean_temperature_c
        + site.daily_temperature_swing_c * _SWING[sky] * diurnal
        - _COOLING_C[sky]
        + 0.3 * rng.normal(key, counters, _TEMPERATURE)
    )

    # Wind: an AR(1) Gaussian process mapped to a Weibull distribution, with a sea breeze in the afternoon.
    phi = WIND_PERSISTENCE ** (seconds / 900.0)
    z = rng.normal(key, counters, _WIND)
    latent = np.empty(n)
    latent[0] = float(rng.normal(key, day.toordinal() * _PER_DAY, _WIND_INIT)[0])
    for i in range(1, n):
        latent[i] = phi * latent[i - 1] + math.sqrt(1.0 - phi * phi) * z[i]
    scale = site.mean_wind_speed_ms / float(gamma_fn(1.0 + 1.0 / WIND_WEIBULL_K))
    # Inverse Weibull CDF of the latent normal's CDF: 1 - Phi(x) = erfc(x / sqrt 2) / 2.
    tail = -np.log(0.5 * erfc(latent / math.sqrt(2.0)))
    breeze = 1.0 + 0.25 * np.cos(2 * np.pi * (hours - 15.0) / 24.0)
    wind = scale * tail ** (1.0 / WIND_WEIBULL_K) * breeze * _STORM_WIND[sky]

    for array in (sky, temp_air, wind):
        array.setflags(write=False)
    return WeatherDay(starts=starts, sky=sky, temp_air=temp_air, wind_speed=wind)


def _local_hour(site: Site, unix: float) -> float:
    local = datetime.fromtimestamp(unix, tz=site.tz)
    return local.hour + local.minute / 60.0 + local.second / 3600.0


def cloud_factor(level, z) -> np.ndarray:
    """A meter's share of clear-sky irradiance: the site's sky level with small per-meter noise, never above 1."""
    return np.clip(np.asarray(level) * (1.0 + CLOUD_NOISE * np.asarray(z)), 0.0, 1.0)
