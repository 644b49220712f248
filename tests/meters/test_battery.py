"""Batteries: within 10-95 % state of charge, within power limits, and energy conserved up to the efficiencies."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meters.physics.battery import ETA_CHARGE, ETA_DISCHARGE, SOC_MAX, SOC_MIN, battery_step

requests = st.lists(st.floats(-20_000.0, 20_000.0), min_size=1, max_size=200)


@settings(max_examples=300, deadline=None)
@given(
    requests,
    st.floats(1_000.0, 30_000.0),
    st.floats(500.0, 10_000.0),
    st.floats(SOC_MIN, SOC_MAX),
    st.sampled_from([0.25, 0.5, 1.0]),
)
def test_a_battery_stays_within_limits_and_conserves_energy(sequence, capacity, power, initial, hours):
    soc = capacity * initial
    start = soc
    charged_total = discharged_total = 0.0
    for request in sequence:
        step = battery_step(soc, request, capacity_wh=capacity, power_w=power, hours=hours)
        charged, discharged = float(step.charged_wh), float(step.discharged_wh)
        assert SOC_MIN * capacity <= float(step.soc_wh) <= SOC_MAX * capacity
        assert 0.0 <= charged <= power * hours + 1e-9 and 0.0 <= discharged <= power * hours + 1e-9
        assert charged == 0.0 or discharged == 0.0
        assert charged <= max(request, 0.0) and discharged <= max(-request, 0.0)
        assert float(step.soc_wh) - soc == pytest.approx(charged * ETA_CHARGE - discharged / ETA_DISCHARGE, abs=1e-6)
        soc = float(step.soc_wh)
        charged_total += charged
        discharged_total += discharged
    losses = charged_total - discharged_total - (soc - start)
    assert losses == pytest.approx(
        charged_total * (1 - ETA_CHARGE) + discharged_total * (1 / ETA_DISCHARGE - 1), abs=1e-6 * len(sequence)
    )
    assert losses >= -1e-6


def test_a_battery_fills_to_95_percent_and_empties_to_10_percent():
    capacity, power = 10_000.0, 5_000.0
    soc = np.array([5_000.0])
    for _ in range(20):
        soc = battery_step(soc, 5_000.0, capacity_wh=capacity, power_w=power, hours=0.25).soc_wh
    assert soc[0] == pytest.approx(9_500.0)
    first = battery_step(soc, -100_000.0, capacity_wh=capacity, power_w=power, hours=0.25)
    assert first.discharged_wh[0] == pytest.approx(1_250.0)
    for _ in range(40):
        soc = battery_step(soc, -100_000.0, capacity_wh=capacity, power_w=power, hours=0.25).soc_wh
    assert soc[0] == pytest.approx(1_000.0)
    # 8.5 kWh stored between the limits gives back 8.5 * 0.95 kWh.
    delivered = 0.0
    soc = np.array([9_500.0])
    while True:
        step = battery_step(soc, -100_000.0, capacity_wh=capacity, power_w=power, hours=0.25)
        if step.discharged_wh[0] == 0:
            break
        delivered += step.discharged_wh[0]
        soc = step.soc_wh
    assert delivered == pytest.approx(8_500.0 * ETA_DISCHARGE)


def test_batteries_step_as_arrays():
    step = battery_step(
        np.array([5_000.0, 1_000.0, 9_500.0]),
        np.array([1_000.0, -1_000.0, 1_000.0]),
        capacity_wh=np.array([10_000.0, 10_000.0, 10_000.0]),
        power_w=np.array([2_000.0, 2_000.0, 2_000.0]),
        hours=0.25,
    )
    np.testing.assert_allclose(step.charged_wh, [500.0, 0.0, 0.0])
    np.testing.assert_allclose(step.discharged_wh, [0.0, 0.0, 0.0])
    np.testing.assert_allclose(step.soc_wh, [5_475.0, 1_000.0, 9_500.0])
