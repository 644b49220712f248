"""When readings go out: the simulated clock against the wall clock. Pure arithmetic, no sleeping."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from meters.physics import Site
from meters.physics.site import day_grid


def align_down(site: Site, moment: datetime, seconds: int) -> datetime:
    """Start of the interval containing `moment`, on the grid counted from the site's local midnight."""
    unix = moment.timestamp()
    grid = day_grid(site, datetime.fromtimestamp(unix, tz=site.tz).date(), seconds)
    position = int(np.searchsorted(grid, unix, side="right")) - 1
    return datetime.fromtimestamp(int(grid[position]), tz=site.tz)


def default_clock_start(site: Site, now: datetime, speed: float) -> datetime:
    """Where the simulated clock starts when --start is not given.

    In real time (or slower) it starts now, so the first reading goes out when the current interval ends, as a
    real meter's would. Faster than real time (or as fast as possible) it starts at the site's local midnight
    today, so a new fleet has today's readings so far within moments and then carries on live.
    """
    if 0 < speed <= 1:
        return now.astimezone(site.tz)
    midnight = day_grid(site, now.astimezone(site.tz).date(), 86_400)[0]
    return datetime.fromtimestamp(int(midnight), tz=site.tz)


@dataclass(frozen=True)
class Schedule:
    """Maps the end of an interval, in simulated time, to the wall-clock time its readings go out (Unix seconds).

    The simulated clock shows `clock_start` at wall time `launch` and runs `speed` times as fast as the wall
    clock; speed 0 means as fast as possible. So with speed S, clock start T and interval length I, the interval
    ending at T + k*I goes out at launch + k*I/S: an interval's readings are sent once it has ended in simulated
    time. With `hold_future`, an interval also waits until it has ended on the wall clock: a meter cannot report
    the future, so once the simulated clock has caught up with the real one the simulation carries on in real
    time.
    """

    clock_start: float
    launch: float
    speed: float
    hold_future: bool = True

    def __post_init__(self):
        if self.speed < 0:
            raise ValueError(f"speed must be 0 (as fast as possible) or positive, got {self.speed}")

    def send_at(self, interval_end: float) -> float:
        at = self.launch
        if self.speed > 0:
            at += max(0.0, interval_end - self.clock_start) / self.speed
        if self.hold_future:
            at = max(at, interval_end)
        return at
