"""A fleet of simulated smart meters stepped one interval at a time, vectorised across meters.

Determinism: a meter's parameters are a pure function of (seed, index, mix, design); its per-interval noise is a
pure function of (seed, index, interval); the site's weather is a pure function of (seed, date). So for one seed
and start, meter i produces the same readings, to the last bit, in a fleet of one or of ten thousand, whatever
the order of the indices and however the meters are split between processes.

Readings count energy at the meter, in integer Wh, truncated (rounded down: every value is >= 0):

- generated_wh: energy delivered behind the meter by PV, the wind turbine and battery discharge;
- consumed_wh: energy drawn behind the meter by the household or business and by battery charging;

so generated_wh - consumed_wh is the net export to the grid, up to the truncation of each figure (< 1 Wh).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache

import numpy as np

from meters.physics import electrical, rng, wind
from meters.physics.battery import SOC_MAX, SOC_MIN, battery_step
from meters.physics.load import LoadProfile, ar1_coefficient, ar1_step, interval_share, load_wh
from meters.physics.pv import DEFAULT_DESIGN, PvDesign, clear_sky_day, pv_interval_wh
from meters.physics.site import BANGKOK, DEFAULT_INTERVAL, Site, interval_seconds, locate, unix_seconds
from meters.physics.weather import cloud_factor, weather_day, weather_key


class MeterKind(StrEnum):
    SOLAR = "solar"
    CONSUMER = "consumer"
    HYBRID = "hybrid"
    BATTERY = "battery"
    WIND = "wind"


DEFAULT_MIX: Mapping[MeterKind, float] = {
    MeterKind.SOLAR: 0.25,
    MeterKind.CONSUMER: 0.50,
    MeterKind.HYBRID: 0.15,
    MeterKind.BATTERY: 0.05,
    MeterKind.WIND: 0.05,
}

# Service connections: 63 A single phase for a home, 63 A three phase for a business.
RESIDENTIAL_IMPORT_LIMIT_W = 63 * 230
COMMERCIAL_IMPORT_LIMIT_W = 3 * 63 * 230
COMMERCIAL_SHARE_OF_CONSUMERS = 0.2
# Battery-only meters charge from the grid off-peak and sell at the evening peak (local hours).
BATTERY_CHARGE_HOURS = (0.0, 6.0)
BATTERY_DISCHARGE_HOURS = (17.0, 22.0)

_GOLDEN_FRACTION = 0.6180339887498949


@dataclass(frozen=True, slots=True)
class MeterSpec:
    """The fixed parameters of one meter. Ratings in W, energies in Wh, shares as fractions."""

    index: int
    kind: MeterKind
    load_profile: LoadProfile
    daily_kwh: float
    load_noise: float
    pv_dc_w: float
    pv_ac_w: float
    wind_rated_w: float
    hub_height_m: float
    battery_capacity_wh: float
    battery_power_w: float
    initial_soc: float
    initial_load_noise: float
    import_limit_w: float
    voltage_offset: float
    power_factor: float
    noise_key: int

    @property
    def rated_generation_w(self) -> float:
        """Most power the meter can report generating: inverter AC rating, turbine rating, battery power."""
        return self.pv_ac_w + self.wind_rated_w + self.battery_power_w


@dataclass(frozen=True, slots=True)
class Reading:
    meter_index: int
    interval_start: datetime
    generated_wh: int
    consumed_wh: int
    voltage: float
    power_factor: float
    frequency: float


@dataclass(frozen=True)
class FleetInterval:
    """One interval of the whole fleet as arrays aligned with `meter_index`. The float breakdown (Wh) is for
    inspection; the integer columns are the readings."""

    interval_start: datetime
    meter_index: np.ndarray
    generated_wh: np.ndarray
    consumed_wh: np.ndarray
    voltage: np.ndarray
    power_factor: np.ndarray
    frequency: np.ndarray
    pv_wh: np.ndarray
    wind_wh: np.ndarray
    load_wh: np.ndarray
    charged_wh: np.ndarray
    discharged_wh: np.ndarray
    soc_wh: np.ndarray

    def readings(self) -> list[Reading]:
        start = self.interval_start
        return [
            Reading(i, start, g, c, v, pf, f)
            for i, g, c, v, pf, f in zip(
                self.meter_index.tolist(),
                self.generated_wh.tolist(),
                self.consumed_wh.tolist(),
                self.voltage.tolist(),
                self.power_factor.tolist(),
                self.frequency.tolist(),
                strict=True,
            )
        ]


def normalise_mix(mix: Mapping[MeterKind | str, float]) -> tuple[float, ...]:
    """Shares in MeterKind order; they must be non-negative and add up to 1."""
    shares = {MeterKind(kind): float(share) for kind, share in mix.items()}
    if any(share < 0 for share in shares.values()):
        raise ValueError(f"fleet mix shares must be non-negative, got {dict(mix)}")
    if abs(sum(shares.values()) - 1.0) > 1e-9:
        raise ValueError(f"fleet mix shares must add up to 1, got {sum(shares.values())}")
    return tuple(shares.get(kind, 0.0) for kind in MeterKind)


@lru_cache(maxsize=16)
def _kind_offset(seed: int) -> float:
    return float(rng.generator(seed, rng.KINDS).random())


def meter_kind(*, seed: int, index: int, shares: tuple[float, ...]) -> MeterKind:
    """Kinds follow a golden-ratio sequence with a seeded offset: any run of consecutive indices matches the mix
    to within a meter or two, and a meter's kind does not depend on the fleet size."""
    position = (_kind_offset(seed) + index * _GOLDEN_FRACTION) % 1.0
    kinds = list(MeterKind)
    bucket, edge = 0, shares[0]
    while bucket < len(kinds) - 1 and position >= edge:
        bucket += 1
        edge += shares[bucket]
    while shares[bucket] == 0.0:
        bucket -= 1
    return kinds[bucket]


def meter_spec(
    *, seed: int, index: int, mix: Mapping[MeterKind | str, float] = DEFAULT_MIX, design: PvDesign = DEFAULT_DESIGN
) -> MeterSpec:
    """Meter `index`'s parameters, drawn from its own Generator. Every draw is made whatever the kind, so the
    sequence of draws, and so every parameter, is the same for a given (seed, index)."""
    return _meter_spec(seed, index, normalise_mix(mix), design)


_BATTERY_KWH = (5.0, 7.5, 10.0, 13.5, 15.0, 20.0)
_WIND_KW = (1.0, 2.0, 3.0, 5.0)


def _clip(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _meter_spec(seed: int, index: int, shares: tuple[float, ...], design: PvDesign) -> MeterSpec:
    if index < 0:
        raise ValueError(f"meter index must be non-negative, got {index}")
    kind = meter_kind(seed=seed, index=index, shares=shares)
    g = rng.meter_generator(seed, index)
    noise_key = int(g.integers(2**64, dtype=np.uint64))
    commercial = float(g.random()) < COMMERCIAL_SHARE_OF_CONSUMERS and kind is MeterKind.CONSUMER
    normals = g.standard_normal(3).tolist()
    uniforms = g.random(7).tolist()
    residential_kwh = _clip(9.0 * math.exp(0.35 * normals[0]), 3.0, 30.0)
    commercial_kwh = _clip(60.0 * math.exp(0.4 * normals[1]), 20.0, 200.0)
    initial_load_noise = normals[2]
    load_noise = 0.10 + 0.10 * uniforms[0]
    pv_size = uniforms[1]
    battery_kwh = _BATTERY_KWH[int(uniforms[2] * len(_BATTERY_KWH))]
    wind_kw = _WIND_KW[int(uniforms[3] * len(_WIND_KW))]
    hub_height = 12.0 + 12.0 * uniforms[4]
    initial_soc = 0.3 + 0.4 * uniforms[5]
    voltage_offset = -0.03 + 0.05 * uniforms[6]
    power_factor = float(g.uniform(0.93, 0.99))

    pv_dc_w = 0.0
    if kind is MeterKind.SOLAR:
        pv_dc_w = round(3000.0 + 7000.0 * pv_size, -2)
    elif kind is MeterKind.HYBRID:
        pv_dc_w = round(5000.0 + 5000.0 * pv_size, -2)
    battery_capacity_wh = 0.0
    if kind is MeterKind.HYBRID:
        battery_capacity_wh = min(battery_kwh, 15.0) * 1000.0
    elif kind is MeterKind.BATTERY:
        battery_capacity_wh = max(battery_kwh, 10.0) * 1000.0
    battery_power_w = min(max(0.5 * battery_capacity_wh, 2500.0), 5000.0) if battery_capacity_wh else 0.0
    has_wind = kind is MeterKind.WIND
    return MeterSpec(
        index=index,
        kind=kind,
        load_profile=LoadProfile.COMMERCIAL if commercial else LoadProfile.RESIDENTIAL,
        daily_kwh=round(commercial_kwh if commercial else residential_kwh, 1),
        load_noise=load_noise,
        pv_dc_w=pv_dc_w,
        pv_ac_w=float(design.ac_rating_w(pv_dc_w)),
        wind_rated_w=wind_kw * 1000.0 if has_wind else 0.0,
        hub_height_m=hub_height if has_wind else 0.0,
        battery_capacity_wh=battery_capacity_wh,
        battery_power_w=battery_power_w,
        initial_soc=initial_soc,
        initial_load_noise=initial_load_noise,
        import_limit_w=float(COMMERCIAL_IMPORT_LIMIT_W if commercial else RESIDENTIAL_IMPORT_LIMIT_W),
        voltage_offset=voltage_offset,
        power_factor=power_factor,
        noise_key=noise_key,
    )


def _column(specs: Sequence[MeterSpec], name: str, dtype=np.float64) -> np.ndarray:
    return np.array([getattr(spec, name) for spec in specs], dtype=dtype)


@dataclass
class Fleet:
    """Meters on one site, stepped together. Build with `Fleet.build`; call `step()` once per interval."""

    site: Site
    design: PvDesign
    seconds: int
    seed: int
    meters: tuple[MeterSpec, ...]
    next_start: int
    _weather_key: int = field(repr=False)
    _arrays: dict[str, np.ndarray] = field(repr=False)
    _noise: np.ndarray = field(repr=False)
    _soc: np.ndarray = field(repr=False)

    @classmethod
    def build(
        cls,
        *,
        seed: int,
        start: datetime,
        count: int | None = None,
        indices: Sequence[int] | None = None,
        mix: Mapping[MeterKind | str, float] = DEFAULT_MIX,
        site: Site = BANGKOK,
        design: PvDesign = DEFAULT_DESIGN,
        interval: timedelta = DEFAULT_INTERVAL,
    ) -> Fleet:
        """Meters 0..count-1, or exactly the meters `indices` (in that order), their first interval at `start`.

        `start` must be timezone-aware and on the interval grid counted from the site's local midnight.
        """
        if (count is None) == (indices is None):
            raise ValueError("give either count or indices")
        indices = list(range(count)) if indices is None else [int(i) for i in indices]
        if len(set(indices)) != len(indices):
            raise ValueError("meter indices must be unique")
        seconds = interval_seconds(interval)
        first = unix_seconds(start)
        locate(site, first, seconds)
        shares = normalise_mix(mix)
        specs = tuple(_meter_spec(seed, i, shares, design) for i in indices)
        return cls._from_specs(specs, seed=seed, first=first, site=site, design=design, seconds=seconds)

    @classmethod
    def _from_specs(
        cls, specs: tuple[MeterSpec, ...], *, seed: int, first: int, site: Site, design: PvDesign, seconds: int
    ) -> Fleet:
        kinds = [spec.kind for spec in specs]
        arrays = {
            "index": _column(specs, "index", np.int64),
            "key": _column(specs, "noise_key", np.uint64),
            "profile": _column(specs, "load_profile", np.int64),
            "daily_kwh": _column(specs, "daily_kwh"),
            "sigma": _column(specs, "load_noise"),
            "pv_dc_w": _column(specs, "pv_dc_w"),
            "wind_rated_w": _column(specs, "wind_rated_w"),
            "hub_factor": np.array([wind.hub_factor(s.hub_height_m) if s.hub_height_m else 0.0 for s in specs]),
            "capacity_wh": _column(specs, "battery_capacity_wh"),
            "power_w": _column(specs, "battery_power_w"),
            "import_limit_w": _column(specs, "import_limit_w"),
            "load_limit_w": np.array([s.import_limit_w - s.battery_power_w for s in specs]),
            "voltage_offset": _column(specs, "voltage_offset"),
            "power_factor": _column(specs, "power_factor"),
            "hybrid": np.array([k is MeterKind.HYBRID for k in kinds], dtype=bool),
        }
        arrays["pv"] = np.flatnonzero(arrays["pv_dc_w"] > 0)
        arrays["wind"] = np.flatnonzero(arrays["wind_rated_w"] > 0)
        arrays["battery"] = np.flatnonzero(arrays["capacity_wh"] > 0)
        for array in arrays.values():
            array.setflags(write=False)
        noise = _column(specs, "initial_load_noise") * arrays["sigma"]
        soc = _column(specs, "initial_soc") * arrays["capacity_wh"]
        return cls(
            site=site,
            design=design,
            seconds=seconds,
            seed=seed,
            meters=specs,
            next_start=first,
            _weather_key=weather_key(seed),
            _arrays=arrays,
            _noise=noise,
            _soc=np.clip(soc, SOC_MIN * arrays["capacity_wh"], SOC_MAX * arrays["capacity_wh"]),
        )

    def __len__(self) -> int:
        return len(self.meters)

    @property
    def interval_start(self) -> datetime:
        """Start of the interval the next `step()` produces."""
        return datetime.fromtimestamp(self.next_start, tz=UTC)

    def step(self, interval_start: datetime | None = None) -> list[Reading]:
        """Readings of every meter for the next interval (in the fleet's meter order), then advance.
        Passing `interval_start` checks it is the interval the fleet is at."""
        return self.step_arrays(interval_start).readings()

    def run(self, intervals: int) -> Iterator[list[Reading]]:
        for _ in range(intervals):
            yield self.step()

    def step_arrays(self, interval_start: datetime | None = None) -> FleetInterval:
        start = self.next_start
        if interval_start is not None and unix_seconds(interval_start) != start:
            raise ValueError(f"the fleet is at {self.interval_start.isoformat()}, not {interval_start.isoformat()}")
        a, site, seconds = self._arrays, self.site, self.seconds
        hours = seconds / 3600.0
        day, position = locate(site, start, seconds)
        sky = weather_day(site, self._weather_key, day, seconds)
        temp_air = float(sky.temp_air[position])
        wind_speed = float(sky.wind_speed[position])
        middle = datetime.fromtimestamp(start + seconds / 2, tz=site.tz)
        hour = middle.hour + middle.minute / 60.0 + middle.second / 3600.0
        n = len(self.meters)
        keys = a["key"]

        share = interval_share(hour, middle.weekday() >= 5, seconds)[a["profile"]]
        z = rng.normal(keys, start, rng.LOAD)
        self._noise = ar1_step(self._noise, z, sigma=a["sigma"], phi=ar1_coefficient(seconds))
        load = np.minimum(load_wh(daily_kwh=a["daily_kwh"], share=share, noise=self._noise), a["load_limit_w"] * hours)

        pv = np.zeros(n)
        if a["pv"].size:
            m = a["pv"]
            factor = cloud_factor(sky.level[position], rng.normal(keys[m], start, rng.CLOUD))
            pv[m] = pv_interval_wh(
                clear=clear_sky_day(site, self.design, day, seconds),
                position=position,
                cloud_factor=factor,
                temp_air=temp_air,
                wind_speed=wind_speed,
                dc_w=a["pv_dc_w"][m],
                design=self.design,
                seconds=seconds,
            )

        turbine = np.zeros(n)
        if a["wind"].size:
            m = a["wind"]
            gust = np.maximum(0.0, 1.0 + wind.GUST_NOISE * rng.normal(keys[m], start, rng.GUST))
            turbine[m] = wind.turbine_power_w(wind_speed * a["hub_factor"][m] * gust, a["wind_rated_w"][m]) * hours

        charged = np.zeros(n)
        discharged = np.zeros(n)
        if a["battery"].size:
            m = a["battery"]
            limit = a["power_w"][m] * hours
            if BATTERY_CHARGE_HOURS[0] <= hour < BATTERY_CHARGE_HOURS[1]:
                scheduled = limit
            elif BATTERY_DISCHARGE_HOURS[0] <= hour < BATTERY_DISCHARGE_HOURS[1]:
                scheduled = -limit
            else:
                scheduled = np.zeros(m.size)
            # PV + battery meters use the battery for self-consumption: store the surplus, cover the deficit.
            request = np.where(a["hybrid"][m], pv[m] + turbine[m] - load[m], scheduled)
            result = battery_step(
                self._soc[m], request, capacity_wh=a["capacity_wh"][m], power_w=a["power_w"][m], hours=hours
            )
            self._soc[m] = result.soc_wh
            charged[m] = result.charged_wh
            discharged[m] = result.discharged_wh

        generated_wh = np.floor(pv + turbine + discharged).astype(np.int64)
        consumed_wh = np.floor(load + charged).astype(np.int64)
        export_share = (generated_wh - consumed_wh) / (a["import_limit_w"] * hours)
        grid_z = float(rng.normal(self._weather_key, start, rng.GRID)[0])
        interval = FleetInterval(
            interval_start=datetime.fromtimestamp(start, tz=UTC),
            meter_index=a["index"],
            generated_wh=generated_wh,
            consumed_wh=consumed_wh,
            voltage=electrical.voltage(
                offset=a["voltage_offset"], z=rng.normal(keys, start, rng.VOLTAGE), export_share=export_share
            ),
            power_factor=electrical.power_factor(base=a["power_factor"], z=rng.normal(keys, start, rng.POWER_FACTOR)),
            frequency=electrical.frequency(grid_z=grid_z, meter_z=rng.normal(keys, start, rng.FREQUENCY)),
            pv_wh=pv,
            wind_wh=turbine,
            load_wh=load,
            charged_wh=charged,
            discharged_wh=discharged,
            soc_wh=self._soc.copy(),
        )
        self.next_start = start + seconds
        return interval
