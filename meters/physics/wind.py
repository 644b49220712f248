"""Small wind turbines: the site's 10 m wind raised to hub height by the power law, then a cubic power curve."""

from __future__ import annotations

import math

import numpy as np

SHEAR_EXPONENT = 0.2
CUT_IN_MS = 3.0
RATED_MS = 11.0
CUT_OUT_MS = 25.0
GUST_NOISE = 0.1


def hub_factor(hub_height_m: float) -> float:
    """Ratio of wind speed at hub height to wind speed at 10 m (power law with exponent SHEAR_EXPONENT)."""
    return math.pow(hub_height_m / 10.0, SHEAR_EXPONENT)


def turbine_power_w(wind_speed, rated_w) -> np.ndarray:
    """Power (W) at hub wind speed `wind_speed`: zero below cut-in and above cut-out, rated from RATED_MS, and
    in between the share of rated power that grows with the cube of the wind speed."""
    v = np.asarray(wind_speed, dtype=float)
    share = (v * v * v - CUT_IN_MS**3) / (RATED_MS**3 - CUT_IN_MS**3)
    share = np.clip(share, 0.0, 1.0)
    share = np.where((v < CUT_IN_MS) | (v >= CUT_OUT_MS), 0.0, share)
    return share * np.asarray(rated_w, dtype=float)
