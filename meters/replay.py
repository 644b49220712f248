"""Readings as CSV: `CsvExport` writes what the simulator generates, `read_csv` reads it back for a replay.

One row per reading, with a header. Columns (docs/SIMULATOR.md, "CSV format"):

    meter_index, serial, interval_start, interval_seconds, generated_wh, consumed_wh,
    voltage_mv, power_factor_ppm, frequency_mhz

A replay needs `meter_index` or `serial` (or both, then they must agree), `interval_start` (ISO 8601 with a UTC
offset, or Unix seconds), `generated_wh` and `consumed_wh`; the electrical columns are optional and may be
empty, and `interval_seconds`, when present, must be the replay's interval. Every value is the exact integer the
meter signs, so export then replay gives the same readings and, signed with the same keys, the same JSON.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from meters.sim import IntervalReadings, MeterReading, meter_index_from_serial, meter_serial

COLUMNS = (
    "meter_index",
    "serial",
    "interval_start",
    "interval_seconds",
    "generated_wh",
    "consumed_wh",
    "voltage_mv",
    "power_factor_ppm",
    "frequency_mhz",
)
OPTIONAL = ("voltage_mv", "power_factor_ppm", "frequency_mhz")


class ReplayError(ValueError):
    """A replay file that cannot be read; the message names the row and column to fix."""


def format_time(unix: int) -> str:
    return datetime.fromtimestamp(unix, tz=UTC).isoformat().replace("+00:00", "Z")


class CsvExport:
    """Writes readings to a CSV file as they are generated, one interval at a time."""

    def __init__(self, path: Path, *, seed: int):
        self.seed = seed
        self._file: TextIO = open(path, "w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file)
        self._writer.writerow(COLUMNS)

    def write(self, interval: IntervalReadings) -> None:
        for r in interval.readings:
            self._writer.writerow((
                r.meter_index, meter_serial(self.seed, r.meter_index), format_time(r.interval_start),
                r.interval_seconds, r.generated_wh, r.consumed_wh,
                *("" if value is None else value for value in (r.voltage_mv, r.power_factor_ppm, r.frequency_mhz)),
            ))
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> CsvExport:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _optional_integer(row: dict, column: str, line: int) -> int | None:
    text = (row.get(column) or "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise ReplayError(f"line {line}: {column} must be a non-negative integer, got {text!r}") from None
    if value < 0:
        raise ReplayError(f"line {line}: {column} must be a non-negative integer, got {value}")
    return value


def _integer(row: dict, column: str, line: int) -> int:
    value = _optional_integer(row, column, line)
    if value is None:
        raise ReplayError(f"line {line}: {column} is empty")
    return value


def _time(text: str, line: int) -> int:
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ReplayError(
            f"line {line}: interval_start must be ISO 8601 (2025-03-03T00:00:00+07:00) or Unix seconds, got {text!r}"
        ) from None
    if moment.tzinfo is None:
        raise ReplayError(f"line {line}: interval_start {text!r} needs a UTC offset, e.g. {text}Z")
    return int(moment.timestamp())


def _meter_index(row: dict, seed: int, line: int) -> int:
    index = _optional_integer(row, "meter_index", line)
    serial = (row.get("serial") or "").strip()
    if serial:
        try:
            from_serial = meter_index_from_serial(seed, serial)
        except ValueError as exc:
            raise ReplayError(f"line {line}: {exc}; replay with the --seed that exported it") from None
        if index is not None and index != from_serial:
            raise ReplayError(f"line {line}: meter_index {index} does not match serial {serial}")
        index = from_serial
    if index is None:
        raise ReplayError(f"line {line}: give the meter as meter_index or serial")
    return index


def read_csv(path: Path, *, seed: int, interval_seconds: int) -> list[IntervalReadings]:
    """Every reading of the file, grouped by interval in time order, each interval's readings by meter index."""
    by_start: dict[int, dict[int, MeterReading]] = defaultdict(dict)
    with open(path, newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        header = set(reader.fieldnames or ())
        missing = [c for c in ("interval_start", "generated_wh", "consumed_wh") if c not in header]
        if missing or not header & {"meter_index", "serial"}:
            needed = missing or ["meter_index or serial"]
            raise ReplayError(f"{path}: the header lacks {', '.join(needed)} (columns: {', '.join(COLUMNS)})")
        for row in reader:
            line = reader.line_num
            seconds = _optional_integer(row, "interval_seconds", line)
            if seconds is not None and seconds != interval_seconds:
                raise ReplayError(
                    f"line {line}: the reading is for a {seconds} s interval; replay it with --interval {seconds}"
                )
            index = _meter_index(row, seed, line)
            start = _time(row.get("interval_start") or "", line)
            if index in by_start[start]:
                raise ReplayError(f"line {line}: a second reading of meter {index} for {format_time(start)}")
            by_start[start][index] = MeterReading(
                meter_index=index,
                interval_start=start,
                interval_seconds=interval_seconds,
                generated_wh=_integer(row, "generated_wh", line),
                consumed_wh=_integer(row, "consumed_wh", line),
                **{column: _optional_integer(row, column, line) for column in OPTIONAL},
            )
    return [
        IntervalReadings(start=start, seconds=interval_seconds, readings=tuple(r for _, r in sorted(meters.items())))
        for start, meters in sorted(by_start.items())
    ]
