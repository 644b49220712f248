"""Voltage, power factor and frequency as a meter reports them with each reading.

Voltage: 230 V nominal, a fixed per-meter offset (distance along the feeder), noise, and a rise when the meter
exports (PV pushing current back up the feeder), kept within +-5 %, reported to 0.1 V.
Power factor: a per-meter base between 0.93 and 0.99 with noise, kept within 0.90..1.00, reported to 0.001.
Frequency: the grid's frequency is common to the whole site; each meter adds a small measurement error;
kept within 50 +- 0.05 Hz, reported to 0.001 Hz.
"""

from __future__ import annotations

import numpy as np

NOMINAL_VOLTAGE = 230.0
NOMINAL_FREQUENCY = 50.0
VOLTAGE_BAND = 0.05
FREQUENCY_BAND = 0.05
POWER_FACTOR_MIN = 0.90


def voltage(*, offset, z, export_share) -> np.ndarray:
    """`export_share` is net export over the meter's import limit for the interval, in -1..1."""
    deviation = np.asarray(offset) + 0.004 * np.asarray(z) + 0.02 * np.clip(export_share, -1.0, 1.0)
    return np.round(NOMINAL_VOLTAGE * (1.0 + np.clip(deviation, -VOLTAGE_BAND, VOLTAGE_BAND)), 1)


def power_factor(*, base, z) -> np.ndarray:
    return np.round(np.clip(np.asarray(base) + 0.01 * np.asarray(z), POWER_FACTOR_MIN, 1.0), 3)


def frequency(*, grid_z: float, meter_z) -> np.ndarray:
    grid = np.clip(0.02 * grid_z, -0.045, 0.045)
    deviation = np.clip(grid + 0.002 * np.asarray(meter_z), -FREQUENCY_BAND, FREQUENCY_BAND)
    return np.round(NOMINAL_FREQUENCY + deviation, 3)
