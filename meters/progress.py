"""The simulator's counters, the live progress line and the first few rejection reasons, on stderr."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import TextIO

REJECTIONS_SHOWN = 5


@dataclass
class Stats:
    """Every reading generated ends as accepted, duplicate, rejected (a 4xx: never retried) or failed (no answer
    but 5xx or connection errors, after every retry); until then it is pending."""

    generated: int = 0
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    failed: int = 0
    retries: int = 0
    requests: int = 0
    sim_time: int | None = None  # end of the latest interval handed to the senders, Unix seconds
    next_send: float | None = None  # while waiting for the schedule: when the next interval goes out, Unix time
    rejections: Counter[str] = field(default_factory=Counter)

    @property
    def settled(self) -> int:
        return self.accepted + self.duplicates + self.rejected + self.failed

    @property
    def pending(self) -> int:
        return self.generated - self.settled


class Progress:
    """Writes a carriage-return-updated status line to `out` (unless `live` is off) and notes above it."""

    def __init__(self, stats: Stats, *, out: TextIO, live: bool, meters: int, tz: tzinfo):
        self.stats = stats
        self.out = out
        self.live = live
        self.meters = meters
        self.tz = tz
        self._width = 0
        self._last = (time.monotonic(), 0)
        self._rate = 0.0
        self._notes = 0

    def line(self) -> str:
        s = self.stats
        clock = "-" if s.sim_time is None else datetime.fromtimestamp(s.sim_time, tz=self.tz).strftime("%Y-%m-%d %H:%M")
        text = (
            f"sim {clock}  meters {self.meters:,}  sent {s.sent:,}  accepted {s.accepted:,}  "
            f"duplicates {s.duplicates:,}  rejected {s.rejected:,}  failed {s.failed:,}  "
            f"{self._rate:,.1f} readings/s  retries {s.retries:,}"
        )
        wait = 0 if s.next_send is None else round(s.next_send - time.time())
        if wait > 1:
            text += f"  next interval in {wait // 60}:{wait % 60:02d}"
        return text

    def tick(self) -> None:
        """Update the rate over the time since the last tick and redraw the line."""
        now, settled = time.monotonic(), self.stats.settled
        then, before = self._last
        if now > then:
            self._rate = (settled - before) / (now - then)
        self._last = (now, settled)
        if self.live:
            text = self.line()
            self.out.write("\r" + text.ljust(self._width))
            self.out.flush()
            self._width = len(text)

    def clear(self) -> None:
        if self.live and self._width:
            self.out.write("\r" + " " * self._width + "\r")
            self.out.flush()
            self._width = 0

    def note(self, text: str) -> None:
        """A line of its own above the live line."""
        self.clear()
        self.out.write(text + "\n")
        self.out.flush()

    def rejection(self, code: str, message: str) -> None:
        """Count a rejected reading; print the reason of the first few, and say when the rest are only counted."""
        self.stats.rejected += 1
        self.stats.rejections[code] += 1
        if self._notes < REJECTIONS_SHOWN:
            self._notes += 1
            tail = "; further rejections are only counted" if self._notes == REJECTIONS_SHOWN else ""
            self.note(f"rejected: {code}: {message}{tail}")
