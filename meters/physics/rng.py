"""Randomness that depends only on (seed, meter index, interval), never on who else is being simulated.

A meter's fixed parameters come from its own numpy Generator, seeded by `SeedSequence(seed, spawn_key=(0, index))`
(the key `SeedSequence(seed).spawn()` would give it, without spawning the others). Its per-interval noise is
counter-based: a SplitMix64 hash of (the meter's noise key, the interval's Unix time, a stream number). A counter
hash vectorises over thousands of meters in a few numpy operations, and because nothing is drawn from a shared
stream, the numbers a meter sees cannot change with the fleet's size, the order meters are stepped in, or how
the fleet is split across processes.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

# Top-level spawn keys under the simulation seed.
METERS = 0
WEATHER = 1
KINDS = 2

# Per-interval streams of a meter.
LOAD = 1
CLOUD = 2
GUST = 3
VOLTAGE = 4
POWER_FACTOR = 5
FREQUENCY = 6
GRID = 7

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_STREAMS = np.uint64(64)


def meter_generator(seed: int, index: int) -> np.random.Generator:
    """The Generator that draws meter `index`'s fixed parameters."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(METERS, index))))


def generator(seed: int, purpose: int) -> np.random.Generator:
    """A Generator for something shared by the whole simulation (the weather, the kind sequence)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(purpose,))))


def _splitmix(z: np.ndarray) -> np.ndarray:
    z = z + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def uniform(key, counter, stream: int) -> np.ndarray:
    """Uniform numbers in the open interval (0, 1), one per broadcast element of (key, counter)."""
    key = np.atleast_1d(np.asarray(key, dtype=np.uint64))
    counter = np.atleast_1d(np.asarray(counter, dtype=np.int64)).astype(np.uint64)
    with np.errstate(over="ignore"):
        h = _splitmix(_splitmix(counter * _STREAMS + np.uint64(stream)) ^ key)
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


def normal(key, counter, stream: int) -> np.ndarray:
    """Standard normal numbers, by the inverse normal CDF of `uniform` (one hash per number)."""
    return ndtri(uniform(key, counter, stream))
