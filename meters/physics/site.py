"""Where the meters are, and the grid of intervals their readings fall on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

DEFAULT_INTERVAL = timedelta(minutes=15)


@dataclass(frozen=True)
class Site:
    """A neighbourhood that shares one sky, one feeder and one weather.

    `linke_turbidity` None means pvlib's monthly climatology lookup (shipped with pvlib, works offline).
    The climate figures drive the ambient temperature and wind that the weather process produces.
    """

    name: str
    latitude: float
    longitude: float
    timezone: str
    altitude_m: float = 0.0
    linke_turbidity: float | None = None
    mean_temperature_c: float = 29.0
    daily_temperature_swing_c: float = 4.0
    mean_wind_speed_ms: float = 3.0
    wet_months: tuple[int, ...] = (5, 6, 7, 8, 9, 10)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


BANGKOK = Site(name="Bangkok", latitude=13.76, longitude=100.69, timezone="Asia/Bangkok", altitude_m=5.0)


def interval_seconds(interval: timedelta) -> int:
    """The interval in whole seconds; it must divide a day so every local day starts on an interval boundary."""
    seconds = interval.total_seconds()
    if seconds != int(seconds) or not 60 <= seconds <= 86_400 or 86_400 % int(seconds):
        raise ValueError(
            f"interval must be a whole number of seconds between 60 and 86400 that divides a day, got {interval}"
        )
    return int(seconds)


@lru_cache(maxsize=64)
def day_grid(site: Site, day: date, seconds: int) -> np.ndarray:
    """Unix start times of the intervals of one local day (from local midnight to the next, DST-aware)."""
    begin = int(datetime.combine(day, time(0), tzinfo=site.tz).timestamp())
    end = int(datetime.combine(day + timedelta(days=1), time(0), tzinfo=site.tz).timestamp())
    grid = np.arange(begin, end, seconds, dtype=np.int64)
    grid.setflags(write=False)
    return grid


def locate(site: Site, start: int, seconds: int) -> tuple[date, int]:
    """The local day an interval starting at Unix time `start` belongs to, and its position in that day."""
    day = datetime.fromtimestamp(start, tz=site.tz).date()
    grid = day_grid(site, day, seconds)
    position = int(np.searchsorted(grid, start))
    if position >= len(grid) or grid[position] != start:
        raise ValueError(
            f"{datetime.fromtimestamp(start, tz=UTC).isoformat()} is not on the {seconds} s interval grid "
            f"counted from local midnight in {site.timezone}"
        )
    return day, position


def unix_seconds(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("interval times must be timezone-aware")
    return int(moment.timestamp())
