"""Consumption: a daily load profile per building type, scaled to the meter's average daily kWh, with AR(1) noise.

Profiles are 24 hourly values centred on the half hour, interpolated linearly (periodically over the day) at the
interval's midpoint. Each day type's shape is normalised to mean 1, then weighted so that a week of five weekdays
and two weekend days averages exactly the meter's daily kWh: a residential weekend day uses more than a weekday
(people are at home), a commercial one much less.

The noise is multiplicative, load * (1 + e), with e an AR(1) process of mean 0 and standard deviation `sigma`,
so it leaves the expected energy unchanged (the load is clipped at zero, which at sigma <= 0.2 almost never
happens).
"""

from __future__ import annotations

import math
from enum import IntEnum

import numpy as np


class LoadProfile(IntEnum):
    RESIDENTIAL = 0
    COMMERCIAL = 1


# Thai households: a morning peak before work and school, a large evening peak (cooking, air conditioning).
_RESIDENTIAL_WEEKDAY = (
    0.55, 0.50, 0.48, 0.47, 0.48, 0.60, 0.95, 1.10, 0.90, 0.70, 0.65, 0.65,
    0.75, 0.70, 0.68, 0.70, 0.80, 1.00, 1.35, 1.60, 1.70, 1.60, 1.30, 0.85,
)  # fmt: skip
# Weekend: a later, flatter morning and people at home through the day.
_RESIDENTIAL_WEEKEND = (
    0.60, 0.52, 0.50, 0.48, 0.48, 0.50, 0.60, 0.80, 1.05, 1.15, 1.05, 1.00,
    1.05, 1.00, 0.95, 0.92, 0.95, 1.05, 1.30, 1.50, 1.60, 1.50, 1.25, 0.90,
)  # fmt: skip
# Shops and offices: a 09:00-17:00 plateau on a night-time base of refrigeration and security.
_COMMERCIAL_WEEKDAY = (
    0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.30, 0.45, 0.75, 1.00, 1.00, 1.00,
    1.00, 1.00, 1.00, 1.00, 1.00, 0.75, 0.45, 0.30, 0.28, 0.27, 0.26, 0.25,
)  # fmt: skip
_COMMERCIAL_WEEKEND = (
    0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.30, 0.40, 0.50, 0.50, 0.50,
    0.50, 0.50, 0.50, 0.50, 0.50, 0.40, 0.30, 0.27, 0.26, 0.25, 0.25, 0.25,
)  # fmt: skip

# Energy of a weekend day relative to the weekly average; weekdays take up the rest.
_WEEKEND_WEIGHT = {LoadProfile.RESIDENTIAL: 1.10, LoadProfile.COMMERCIAL: 0.45}
_SHAPES = {
    LoadProfile.RESIDENTIAL: (_RESIDENTIAL_WEEKDAY, _RESIDENTIAL_WEEKEND),
    LoadProfile.COMMERCIAL: (_COMMERCIAL_WEEKDAY, _COMMERCIAL_WEEKEND),
}

LOAD_PERSISTENCE = 0.85


def day_weight(profile: LoadProfile, weekend: bool) -> float:
    """Energy of one day of this type relative to the meter's average daily kWh."""
    weekend_weight = _WEEKEND_WEIGHT[profile]
    return weekend_weight if weekend else (7.0 - 2.0 * weekend_weight) / 5.0


def shape_value(profile: LoadProfile, weekend: bool, hour: float) -> float:
    """The day type's profile at local `hour` (0-24), normalised so its mean over the day is 1."""
    values = _SHAPES[profile][1 if weekend else 0]
    position = (hour - 0.5) % 24.0
    below = int(math.floor(position))
    fraction = position - below
    value = values[below] * (1.0 - fraction) + values[(below + 1) % 24] * fraction
    return value / (sum(values) / 24.0)


def interval_share(hour: float, weekend: bool, seconds: int) -> np.ndarray:
    """Share of the average daily energy that falls in an interval whose midpoint is at local `hour`,
    indexed by LoadProfile."""
    return np.array([day_weight(p, weekend) * shape_value(p, weekend, hour) * seconds / 86_400.0 for p in LoadProfile])


def ar1_coefficient(seconds: int) -> float:
    return LOAD_PERSISTENCE ** (seconds / 900.0)


def ar1_step(previous, z, *, sigma, phi: float) -> np.ndarray:
    """Next value of a stationary AR(1) process with standard deviation `sigma`, driven by standard normal `z`."""
    return phi * np.asarray(previous) + np.asarray(sigma) * math.sqrt(1.0 - phi * phi) * np.asarray(z)


def load_wh(*, daily_kwh, share, noise) -> np.ndarray:
    """Energy (Wh, float) consumed in the interval: the meter's share of its daily energy, times (1 + noise)."""
    return np.asarray(daily_kwh) * 1000.0 * np.asarray(share) * np.maximum(0.0, 1.0 + np.asarray(noise))
