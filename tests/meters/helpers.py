from datetime import datetime
from zoneinfo import ZoneInfo

from meters.physics import Fleet, Reading

BANGKOK_TIME = ZoneInfo("Asia/Bangkok")
# A Monday.
START = datetime(2025, 3, 3, tzinfo=BANGKOK_TIME)


def run(fleet: Fleet, intervals: int) -> list[Reading]:
    return [reading for readings in fleet.run(intervals) for reading in readings]


def as_bytes(readings: list[Reading]) -> bytes:
    """The readings as a meter would serialise them for signing: exact ints, shortest round-trip floats."""
    return "\n".join(
        f"{r.meter_index}|{r.interval_start.isoformat()}|{r.generated_wh}|{r.consumed_wh}|"
        f"{r.voltage!r}|{r.power_factor!r}|{r.frequency!r}"
        for r in readings
    ).encode()
