"""The oracle's rules for a signed reading, each with its own rejection code. Pure functions: no I/O.

Checked in this order; the first rule that fails names the rejection:

| code | rule |
|---|---|
| `bad_signature` | Ed25519 signature by the key of the meter named in the reading |
| `meter_inactive` | the meter is active (not in maintenance, not deactivated) |
| `user_suspended` | the meter's owner is not suspended |
| `invalid_interval` | the interval lasts the oracle's configured length (900 s by default) |
| `misaligned_interval` | the interval starts on a multiple of its length since the Unix epoch |
| `future_interval` | the interval has ended, give or take the allowed clock skew (60 s) |
| `stale_interval` | the interval starts at or after the end of the meter's last accepted interval |
| `over_capacity` | generation fits the meter's rated capacity over the interval: Wh x 3600 <= W x seconds |
| `over_import_limit` | consumption fits the meter's import limit over the interval, likewise |
| `implausible_ratio` | with consumption > 0, generation <= ratio x consumption (100 by default) |
| `electrical_out_of_range` | voltage <= 1,000 V, frequency between 40 and 70 Hz, when present |

The ratio rule: the original oracle allowed generation of at most 10 x consumption; a household with 5 kW of
panels and 200 W of standby load legitimately reaches 25 x at noon, and the simulator's fleet (large arrays on
small loads) reaches 82 x in a week of 500 meters, so the default here is 100 x, configurable
(`ORACLE_MAX_GENERATION_RATIO`). Duplicates and conflicts are decided before these rules, against stored readings.
"""

from __future__ import annotations

from dataclasses import dataclass

from oracle.reading import Reading


@dataclass(frozen=True, slots=True)
class Params:
    interval_seconds: int = 900
    future_skew_s: int = 60
    max_generation_ratio: int = 100
    max_voltage_mv: int = 1_000_000
    frequency_mhz: tuple[int, int] = (40_000, 70_000)


@dataclass(frozen=True, slots=True)
class MeterSnapshot:
    id: int
    active: bool
    owner_active: bool
    capacity_w: int
    max_import_w: int
    last_end: int


@dataclass(frozen=True, slots=True)
class Verdict:
    code: str
    message: str


def check(reading: Reading, signature_ok: bool, meter: MeterSnapshot, now: int, params: Params) -> Verdict | None:
    """The first rule `reading` breaks, or None if it may be accepted. `now` is Unix seconds."""
    r = reading
    if not signature_ok:
        return Verdict("bad_signature", "the signature does not verify with the meter's registered key")
    if not meter.active:
        return Verdict("meter_inactive", "the meter is in maintenance or deactivated")
    if not meter.owner_active:
        return Verdict("user_suspended", "the meter's owner is suspended")
    if r.interval_seconds != params.interval_seconds:
        return Verdict("invalid_interval", f"intervals last {params.interval_seconds} s, got {r.interval_seconds}")
    if r.interval_start % r.interval_seconds:
        return Verdict("misaligned_interval",
                       f"an interval starts on a multiple of {r.interval_seconds} s since the epoch; "
                       f"{r.interval_start} is {r.interval_start % r.interval_seconds} s past one")
    end = r.interval_start + r.interval_seconds
    if end > now + params.future_skew_s:
        return Verdict("future_interval", f"the interval ends at {end}, {end - now} s from now; it must have ended")
    if r.interval_start < meter.last_end:
        return Verdict("stale_interval",
                       f"the interval starts at {r.interval_start}, before the end of the last accepted one ({meter.last_end})")
    if r.generated_wh * 3600 > meter.capacity_w * r.interval_seconds:
        limit = meter.capacity_w * r.interval_seconds // 3600
        return Verdict("over_capacity", f"{r.generated_wh} Wh generated exceeds the meter's {limit} Wh for the interval")
    if r.consumed_wh * 3600 > meter.max_import_w * r.interval_seconds:
        limit = meter.max_import_w * r.interval_seconds // 3600
        return Verdict("over_import_limit", f"{r.consumed_wh} Wh consumed exceeds the meter's {limit} Wh for the interval")
    if r.consumed_wh and r.generated_wh > params.max_generation_ratio * r.consumed_wh:
        return Verdict("implausible_ratio", f"generation {r.generated_wh} Wh is more than {params.max_generation_ratio} x "
                                            f"consumption {r.consumed_wh} Wh")
    if r.voltage_mv is not None and r.voltage_mv > params.max_voltage_mv:
        return Verdict("electrical_out_of_range", f"voltage {r.voltage_mv / 1000} V is above {params.max_voltage_mv // 1000} V")
    low, high = params.frequency_mhz
    if r.frequency_mhz is not None and not low <= r.frequency_mhz <= high:
        return Verdict("electrical_out_of_range", f"frequency {r.frequency_mhz / 1000} Hz is outside {low // 1000}-{high // 1000} Hz")
    return None
