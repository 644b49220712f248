"""From the fleet to signed readings: deterministic keys and identities, exact integer conversion, signatures."""

import itertools
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from ledger.crypto import Keypair, sha256
from meters.physics import Fleet, MeterKind
from meters.physics import Reading as PhysicsReading
from meters.sim import (
    IntervalReadings,
    SimulatedMeter,
    Signer,
    fleet_intervals,
    jitter_position,
    measure,
    meter_index_from_serial,
    meter_keypair,
    owner_password,
)
from oracle.reading import Reading, from_json
from tests.meters.helpers import START

pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")


def intervals(seed: int, count: int = 12, n: int = 8, start: datetime = START) -> list[IntervalReadings]:
    return list(itertools.islice(fleet_intervals(Fleet.build(seed=seed, count=count, start=start)), n))


def signed_json(seed: int, **kwargs) -> str:
    signer = Signer(seed)
    return json.dumps([r.to_json() for i in intervals(seed, **kwargs) for r in signer.sign_interval(i)])


def test_the_same_seed_gives_identical_signed_json():
    first = signed_json(7, start=START + timedelta(hours=10))
    assert first == signed_json(7, start=START + timedelta(hours=10))
    assert len(json.loads(first)) == 12 * 8


def test_another_seed_gives_other_keys_and_other_readings():
    one = json.loads(signed_json(7))
    other = json.loads(signed_json(8))
    assert {r["meter"] for r in one}.isdisjoint({r["meter"] for r in other})
    assert sum(a["consumed_wh"] != b["consumed_wh"] for a, b in zip(one, other, strict=True)) > 0.9 * len(one)


def test_a_meters_key_is_derived_from_the_seed_and_its_index():
    expected = Keypair.from_seed(sha256(b"gridtokenx simulator 42 meter 7"))
    assert meter_keypair(42, 7) == expected
    assert len({meter_keypair(seed, index).pubkey for seed in (1, 2) for index in range(50)}) == 100


def test_every_signature_verifies_with_the_meters_key():
    signer = Signer(3)
    for interval in intervals(3, start=START + timedelta(hours=11)):
        for signed in signer.sign_interval(interval):
            reading, signature = from_json(signed.to_json())
            assert reading == signed.reading
            assert reading.verify(signature)
            assert reading.meter == meter_keypair(3, signed.meter_index).pubkey
            assert not replace(reading, generated_wh=reading.generated_wh + 1).verify(signature)


def test_the_sequence_is_the_interval_number_since_the_epoch():
    readings = [r for interval in intervals(1, n=3) for r in interval.readings]
    assert {r.sequence for r in readings} == {int(START.timestamp()) // 900 + k for k in range(3)}
    signed = Signer(1).sign(readings[0])
    assert signed.reading.sequence == readings[0].interval_start // 900


def test_electrical_values_become_the_integers_the_meter_signs():
    physics = PhysicsReading(3, datetime(2025, 3, 3, tzinfo=UTC), 812, 95, 231.4, 0.957, 50.012)
    reading = measure(physics, 900)
    assert (reading.voltage_mv, reading.power_factor_ppm, reading.frequency_mhz) == (231_400, 957_000, 50_012)
    assert (reading.meter_index, reading.interval_start, reading.generated_wh, reading.consumed_wh) == (
        3, 1_740_960_000, 812, 95)
    assert measure(replace(physics, power_factor=1.0000004), 900).power_factor_ppm == 1_000_000
    assert measure(replace(physics, power_factor=-0.1), 900).power_factor_ppm == 0


def test_readings_fit_the_oracles_encoding():
    for interval in intervals(5, count=30, n=96):
        for r in interval.readings:
            Reading(b"\0" * 32, r.interval_start, r.interval_seconds, r.generated_wh, r.consumed_wh, r.sequence,
                    r.voltage_mv, r.power_factor_ppm, r.frequency_mhz).serialize()
            assert 218_500 <= r.voltage_mv <= 241_500 and 900_000 <= r.power_factor_ppm <= 1_000_000
            assert 49_950 <= r.frequency_mhz <= 50_050


def test_a_meters_identity_is_fixed_by_seed_and_index():
    fleet = Fleet.build(seed=9, count=40, start=START)
    meters = [SimulatedMeter(9, spec) for spec in fleet.meters]
    m = meters[12]
    assert (m.serial, m.username) == ("SIM-9-00012", "sim-9-00012")
    assert m.password == owner_password(9, 12) and len(m.password) >= 12
    assert owner_password(9, 12) != owner_password(9, 13) != owner_password(10, 12)
    assert {meter.role for meter in meters if meter.spec.kind is MeterKind.CONSUMER} == {"consumer"}
    assert {meter.role for meter in meters if meter.spec.kind is not MeterKind.CONSUMER} == {"prosumer"}
    assert {meter.kind for meter in meters} <= {"solar", "wind", "battery", "consumption", "hybrid"}
    assert m.keypair == meter_keypair(9, 12)


def test_a_serial_names_its_meter_only_under_its_own_seed():
    assert meter_index_from_serial(9, "SIM-9-00012") == 12
    for serial in ("SIM-8-00012", "SIM-9-", "SIM-9-12a", "sim-9-00012"):
        with pytest.raises(ValueError, match="not a meter of the fleet with seed 9"):
            meter_index_from_serial(9, serial)


def test_meters_are_placed_near_their_zone_and_always_at_the_same_spot():
    spots = {jitter_position(1, index, 13.7, 100.5) for index in range(100)}
    assert len(spots) == 100
    assert all(abs(lat - 13.7) <= 0.005 and abs(lon - 100.5) <= 0.005 for lat, lon in spots)
    assert jitter_position(1, 5, 13.7, 100.5) == jitter_position(1, 5, 13.7, 100.5)
