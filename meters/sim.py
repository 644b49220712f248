"""From the physics fleet to what a meter sends: its identity, and its readings as signed integers.

Pure and deterministic, no I/O. A simulated meter's key pair, serial, owner's credentials and position are
functions of (seed, index) alone; its readings are the fleet's (so functions of seed, index, mix, site and
interval); and Ed25519 signatures are deterministic. So one seed gives the same signed JSON, byte for byte, on
every run, and a restarted simulator resends exactly what the oracle already holds.

The keys and passwords derive from public labels: like the demo wallets, they are development credentials that
anyone who knows the seed can reproduce.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

from ledger.crypto import Keypair, b58, sha256
from meters.physics import Fleet, MeterKind, MeterSpec
from meters.physics import Reading as PhysicsReading
from oracle.reading import Reading

LABEL = "gridtokenx simulator"
POSITION_JITTER_DEG = 0.005  # meters spread within about a kilometre of their zone's centre
PASSWORD_LENGTH = 24

# The registry's name for each kind of meter.
REGISTRY_KIND: dict[MeterKind, str] = {
    MeterKind.SOLAR: "solar",
    MeterKind.CONSUMER: "consumption",
    MeterKind.HYBRID: "hybrid",
    MeterKind.BATTERY: "battery",
    MeterKind.WIND: "wind",
}


def meter_keypair(seed: int, index: int) -> Keypair:
    return Keypair.from_seed(sha256(f"{LABEL} {seed} meter {index}".encode()))


def meter_serial(seed: int, index: int) -> str:
    return f"SIM-{seed}-{index:05d}"


def owner_username(seed: int, index: int) -> str:
    return f"sim-{seed}-{index:05d}"


def owner_password(seed: int, index: int) -> str:
    return b58(sha256(f"{LABEL} {seed} password {index}".encode()))[:PASSWORD_LENGTH]


def meter_index_from_serial(seed: int, serial: str) -> int:
    """The index in `meter_serial(seed, index)`; ValueError if the serial is not one of this seed's meters."""
    prefix = f"SIM-{seed}-"
    digits = serial[len(prefix):] if serial.startswith(prefix) else ""
    if not digits.isdigit():
        raise ValueError(f"serial {serial!r} is not a meter of the fleet with seed {seed} (SIM-{seed}-NNNNN)")
    return int(digits)


def jitter_position(seed: int, index: int, latitude: float, longitude: float) -> tuple[float, float]:
    """A point within POSITION_JITTER_DEG of (latitude, longitude), fixed by (seed, index), to 6 decimals."""
    digest = sha256(f"{LABEL} {seed} position {index}".encode())
    u = int.from_bytes(digest[:4], "little") / 2**32
    v = int.from_bytes(digest[4:8], "little") / 2**32
    return (
        round(latitude + (2 * u - 1) * POSITION_JITTER_DEG, 6),
        round(longitude + (2 * v - 1) * POSITION_JITTER_DEG, 6),
    )


@dataclass(frozen=True)
class SimulatedMeter:
    """One meter of the fleet with everything it needs to register and to sign."""

    seed: int
    spec: MeterSpec

    @property
    def index(self) -> int:
        return self.spec.index

    @property
    def serial(self) -> str:
        return meter_serial(self.seed, self.index)

    @property
    def username(self) -> str:
        return owner_username(self.seed, self.index)

    @property
    def password(self) -> str:
        return owner_password(self.seed, self.index)

    @property
    def kind(self) -> str:
        return REGISTRY_KIND[self.spec.kind]

    @property
    def role(self) -> str:
        """Households with only a consumption meter buy; every other meter can sell."""
        return "consumer" if self.spec.kind is MeterKind.CONSUMER else "prosumer"

    @cached_property
    def keypair(self) -> Keypair:
        return meter_keypair(self.seed, self.index)


@dataclass(frozen=True, slots=True)
class MeterReading:
    """What a meter measured over one interval, in the integers it signs (and the columns of a CSV export)."""

    meter_index: int
    interval_start: int  # Unix seconds, UTC
    interval_seconds: int
    generated_wh: int
    consumed_wh: int
    voltage_mv: int | None = None
    power_factor_ppm: int | None = None
    frequency_mhz: int | None = None

    @property
    def sequence(self) -> int:
        """The interval's number since the Unix epoch: increases with every interval, the same after a restart."""
        return self.interval_start // self.interval_seconds

    def for_meter(self, meter: bytes) -> Reading:
        return Reading(
            meter=meter,
            interval_start=self.interval_start,
            interval_seconds=self.interval_seconds,
            generated_wh=self.generated_wh,
            consumed_wh=self.consumed_wh,
            sequence=self.sequence,
            voltage_mv=self.voltage_mv,
            power_factor_ppm=self.power_factor_ppm,
            frequency_mhz=self.frequency_mhz,
        )


def measure(reading: PhysicsReading, seconds: int) -> MeterReading:
    """The physics' reading as the meter's registers hold it: V to mV, power factor to ppm, Hz to mHz."""
    return MeterReading(
        meter_index=reading.meter_index,
        interval_start=int(reading.interval_start.timestamp()),
        interval_seconds=seconds,
        generated_wh=reading.generated_wh,
        consumed_wh=reading.consumed_wh,
        voltage_mv=round(reading.voltage * 1000),
        power_factor_ppm=min(max(round(reading.power_factor * 1_000_000), 0), 1_000_000),
        frequency_mhz=round(reading.frequency * 1000),
    )


@dataclass(frozen=True, slots=True)
class SignedReading:
    meter_index: int
    reading: Reading
    signature: bytes

    def to_json(self) -> dict:
        return self.reading.to_json(self.signature)


def sign(reading: MeterReading, key: Keypair) -> SignedReading:
    body = reading.for_meter(key.pubkey)
    return SignedReading(reading.meter_index, body, body.sign(key))


@dataclass(frozen=True)
class IntervalReadings:
    """Every reading the fleet produced for one interval."""

    start: int  # Unix seconds
    seconds: int
    readings: tuple[MeterReading, ...]

    @property
    def end(self) -> int:
        return self.start + self.seconds


def fleet_intervals(fleet: Fleet) -> Iterator[IntervalReadings]:
    """The fleet's readings, one interval after another, without end."""
    while True:
        start = fleet.next_start
        readings = tuple(measure(reading, fleet.seconds) for reading in fleet.step())
        yield IntervalReadings(start=start, seconds=fleet.seconds, readings=readings)


class Signer:
    """Signs readings with each meter's key (derived once per meter)."""

    def __init__(self, seed: int):
        self.seed = seed
        self._keys: dict[int, Keypair] = {}

    def key(self, index: int) -> Keypair:
        key = self._keys.get(index)
        if key is None:
            key = self._keys[index] = meter_keypair(self.seed, index)
        return key

    def sign(self, reading: MeterReading) -> SignedReading:
        return sign(reading, self.key(reading.meter_index))

    def sign_interval(self, interval: IntervalReadings) -> list[SignedReading]:
        return [self.sign(reading) for reading in interval.readings]
