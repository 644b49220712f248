"""Batteries: state of charge kept within limits, losses on the way in and on the way out, power limited.

Energy accounting for one step (all in Wh, `charged` and `discharged` measured outside the battery):

    soc_after = soc_before + charged * eta_charge - discharged / eta_discharge

so whatever the meter counts as consumed by the battery and delivered by it, the difference not found in the
state of charge is exactly the conversion loss. A battery never charges and discharges in the same step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SOC_MIN = 0.10
SOC_MAX = 0.95
ETA_CHARGE = 0.95
ETA_DISCHARGE = 0.95


@dataclass(frozen=True)
class BatteryStep:
    soc_wh: np.ndarray
    charged_wh: np.ndarray
    discharged_wh: np.ndarray


def battery_step(
    soc_wh,
    request_wh,
    *,
    capacity_wh,
    power_w,
    hours: float,
    soc_min: float = SOC_MIN,
    soc_max: float = SOC_MAX,
    eta_charge: float = ETA_CHARGE,
    eta_discharge: float = ETA_DISCHARGE,
) -> BatteryStep:
    """One interval of batteries, vectorised over arrays.

    `request_wh` > 0 offers that much energy for charging (a surplus), < 0 asks for that much energy (a deficit).
    The battery takes or gives as much of it as its power limit and its state-of-charge headroom allow.
    Guarantees: capacity * soc_min <= soc <= capacity * soc_max afterwards (given it was before), charged and
    discharged are >= 0, at most power * hours, never both > 0, and the accounting identity above holds.
    """
    soc = np.asarray(soc_wh, dtype=float)
    request = np.asarray(request_wh, dtype=float)
    capacity = np.asarray(capacity_wh, dtype=float)
    limit = np.asarray(power_w, dtype=float) * hours
    floor = capacity * soc_min
    ceiling = capacity * soc_max

    room = np.maximum(ceiling - soc, 0.0) / eta_charge
    charged = np.minimum(np.minimum(np.maximum(request, 0.0), limit), room)
    available = np.maximum(soc - floor, 0.0) * eta_discharge
    discharged = np.minimum(np.minimum(np.maximum(-request, 0.0), limit), available)

    after = soc + charged * eta_charge - discharged / eta_discharge
    # Clamping removes only rounding residue (a few ulp) from a step that filled or emptied the battery exactly.
    after = np.minimum(np.maximum(after, np.minimum(floor, soc)), np.maximum(ceiling, soc))
    return BatteryStep(soc_wh=after, charged_wh=charged, discharged_wh=discharged)
