"""Counter-based noise: a function of (key, interval, stream) only, element by element."""

import numpy as np
import pytest

from meters.physics import rng


def test_noise_for_a_meter_does_not_depend_on_the_other_meters_in_the_array():
    keys = np.arange(1, 2001, dtype=np.uint64) * np.uint64(0x9E3779B1)
    everyone = rng.normal(keys, 1_740_960_000, rng.LOAD)
    some = [1999, 0, 733]
    assert rng.normal(keys[some], 1_740_960_000, rng.LOAD).tobytes() == everyone[some].tobytes()
    assert rng.normal(keys[733], 1_740_960_000, rng.LOAD).tobytes() == everyone[[733]].tobytes()


def test_noise_changes_with_the_key_the_interval_and_the_stream():
    base = rng.uniform(12345, 1_740_960_000, rng.LOAD)
    assert rng.uniform(12346, 1_740_960_000, rng.LOAD) != base
    assert rng.uniform(12345, 1_740_960_900, rng.LOAD) != base
    assert rng.uniform(12345, 1_740_960_000, rng.CLOUD) != base


def test_noise_is_uniform_and_normal_in_distribution():
    u = rng.uniform(2**63 + 5, np.arange(200_000), rng.VOLTAGE)
    assert 0.0 < u.min() and u.max() < 1.0
    assert u.mean() == pytest.approx(0.5, abs=0.003)
    assert np.histogram(u, bins=10, range=(0, 1))[0].min() > 19_500
    z = rng.normal(7, np.arange(200_000), rng.VOLTAGE)
    assert z.mean() == pytest.approx(0.0, abs=0.01)
    assert z.std() == pytest.approx(1.0, abs=0.01)
    assert abs(np.corrcoef(z[:-1], z[1:])[0, 1]) < 0.01


def test_each_meter_has_its_own_generator_from_the_seed_and_its_index():
    a = rng.meter_generator(42, 3).random(4)
    assert rng.meter_generator(42, 3).random(4).tolist() == a.tolist()
    assert rng.meter_generator(42, 4).random(4).tolist() != a.tolist()
    # The same stream SeedSequence(42).spawn() gives meters' parent's fourth child, without spawning the others.
    meters = np.random.SeedSequence(42).spawn(1)[0]
    fourth = np.random.Generator(np.random.PCG64(meters.spawn(4)[3]))
    assert fourth.random(4).tolist() == a.tolist()
