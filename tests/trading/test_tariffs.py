"""The zone-pair tariff matrix, landed cost and its inverse, and the arithmetic of a trade."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading.tariffs import KWH, Tariff, TariffSchedule, ask_ceiling, landed_cost, trade_amounts

from tests.trading.builders import kwh, thb


def test_the_default_matrix_is_the_original_gateway_s():
    schedule = TariffSchedule()
    by_distance = [schedule.between(d) for d in range(10)]
    assert by_distance == [
        Tariff(thb(0.50), 100), Tariff(thb(1.00), 300), Tariff(thb(1.70), 500),  # same, adjacent, two apart
        Tariff(thb(1.80), 600), Tariff(thb(1.90), 700), Tariff(thb(2.00), 800),  # further: 1.50 + 0.10 d, 3 + 1 d %
        Tariff(thb(2.10), 900), Tariff(thb(2.20), 1000), Tariff(thb(2.30), 1100), Tariff(thb(2.40), 1200)]
    assert schedule.between(13) == Tariff(thb(2.80), 1500)  # the loss stops at 15 %
    assert schedule.between(None) == Tariff(thb(2.00), 500)  # a zone outside the market


def test_the_matrix_is_symmetric_and_indexed_seller_then_buyer():
    matrix = TariffSchedule().matrix(5)
    assert all(matrix[a][b] == matrix[b][a] for a in range(5) for b in range(5))
    assert matrix[0][4] == TariffSchedule().between(4) and matrix[3][3] == TariffSchedule().same_zone


def test_governance_can_change_the_schedule_within_the_bounds():
    schedule = TariffSchedule(adjacent=Tariff(thb(0.80), 250), further_loss_cap_bps=900)
    assert schedule.between(1) == Tariff(thb(0.80), 250)
    assert schedule.between(9).loss_bps == 900
    with pytest.raises(ValueError, match="wheeling"):
        TariffSchedule(same_zone=Tariff(thb(10.01), 100))
    with pytest.raises(ValueError, match="loss"):
        TariffSchedule(two_apart=Tariff(thb(1), 2001))


def test_landed_cost_is_price_plus_wheeling_plus_the_cost_of_the_energy_lost():
    adjacent = TariffSchedule().adjacent  # 1.00 THB/kWh, 3 %
    # 4.50 per kWh sent buys 0.97 kWh delivered: 4.50 / 0.97 = 4.639175..., rounded up, plus 1.00.
    assert landed_cost(thb(4.50), adjacent) == 5_639_176
    loss_cost = landed_cost(thb(4.50), adjacent) - thb(4.50) - thb(1.00)
    assert loss_cost == -(-thb(4.50) * 300 // (10_000 - 300))


tariffs = st.builds(Tariff, st.integers(0, thb(10)), st.integers(0, 2000))


@given(limit=st.integers(thb(0.5), thb(20)), tariff=tariffs)
def test_ask_ceiling_is_the_exact_inverse_of_landed_cost(limit, tariff):
    ceiling = ask_ceiling(limit, tariff)
    if ceiling >= 0:
        assert landed_cost(ceiling, tariff) <= limit
    assert landed_cost(ceiling + 1, tariff) > limit


def test_trade_amounts_truncate_and_add_up():
    a = trade_amounts(kwh(1.234567891), thb(4.50), Tariff(thb(1.00), 300))
    assert a.effective == 1_197_530_854 and a.loss == kwh(1.234567891) - 1_197_530_854
    assert a.value == 1_234_567_891 * 4_500_000 // KWH == 5_555_555
    assert a.wheeling == 1_197_530_854 * 1_000_000 // KWH == 1_197_530
    assert a.loss_value == a.value - 1_197_530_854 * 4_500_000 // KWH


@given(quantity=st.integers(kwh(0.001), kwh(10_000)), limit=st.integers(thb(0.5), thb(20)), tariff=tariffs)
def test_a_buyer_never_pays_more_than_quantity_times_limit(quantity, limit, tariff):
    price = ask_ceiling(limit, tariff)
    if price <= 0:
        return
    a = trade_amounts(quantity, price, tariff)
    assert a.effective + a.loss == quantity
    assert a.value + a.wheeling <= quantity * limit // KWH
