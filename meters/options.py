"""Parsing of the simulator's command-line values. Each parser raises ValueError with a message that says what to
write instead."""

from __future__ import annotations

import math
import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from meters.physics import BANGKOK, MeterKind, Site
from meters.sim import REGISTRY_KIND

_KIND_NAMES = {kind.value: kind for kind in MeterKind} | {name: kind for kind, name in REGISTRY_KIND.items()}
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}


def parse_mix(text: str) -> dict[MeterKind, float]:
    """`solar=0.25,consumption=0.5,...`: shares of each kind of meter, adding up to 1 (kinds left out get none).

    A kind is named as in the physics (`consumer`) or as in the registry (`consumption`)."""
    shares: dict[MeterKind, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, equals, value = part.partition("=")
        kind = _KIND_NAMES.get(name.strip().lower())
        if kind is None or not equals:
            raise ValueError(f"{part!r} is not KIND=SHARE with KIND one of {', '.join(sorted(_KIND_NAMES))}")
        if kind in shares:
            raise ValueError(f"the mix names {kind.value} twice")
        try:
            share = float(value)
        except ValueError:
            raise ValueError(f"the share in {part!r} is not a number") from None
        if not (math.isfinite(share) and share >= 0):
            raise ValueError(f"the share in {part!r} must be a non-negative number")
        shares[kind] = share
    total = sum(shares.values())
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"the mix's shares must add up to 1, they add up to {total:g}")
    return {kind: share / total for kind, share in shares.items()}


def parse_site(text: str) -> Site:
    """`lat,lon[,timezone]`. Without a timezone the site keeps the fixed UTC offset nearest its longitude.
    The climate (temperature, wind, wet months) is the Site defaults: tropical, like Bangkok's."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (2, 3):
        raise ValueError(f"a site is LAT,LON or LAT,LON,TIMEZONE (e.g. 13.76,100.69,Asia/Bangkok), got {text!r}")
    try:
        latitude, longitude = float(parts[0]), float(parts[1])
    except ValueError:
        raise ValueError(f"the site's latitude and longitude must be numbers, got {text!r}") from None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ValueError(f"latitude must be within -90..90 and longitude within -180..180, got {text!r}")
    if len(parts) == 3:
        timezone = parts[2]
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {timezone!r}; use an IANA name such as Asia/Bangkok") from None
    else:
        hours = round(longitude / 15)
        # The IANA Etc zones count the other way: Etc/GMT-7 is UTC+7.
        timezone = "Etc/GMT" if hours == 0 else f"Etc/GMT{-hours:+d}"
    if (latitude, longitude, timezone) == (BANGKOK.latitude, BANGKOK.longitude, BANGKOK.timezone):
        return BANGKOK
    return Site(name=f"{latitude:g},{longitude:g}", latitude=latitude, longitude=longitude, timezone=timezone)


def parse_duration(text: str, interval_seconds: int) -> int:
    """`1d`, `6h`, `90m`, `3600s`, `2w`, or a bare number of intervals; returns a number of intervals."""
    text = text.strip().lower()
    if text.isdigit():
        intervals = int(text)
    else:
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhdw])", text)
        if not match:
            raise ValueError(f"a duration is like 1d, 6h, 90m or a number of intervals, got {text!r}")
        seconds = float(match[1]) * _UNITS[match[2]]
        if seconds % interval_seconds:
            raise ValueError(f"{text} is not a whole number of {interval_seconds} s intervals")
        intervals = int(seconds // interval_seconds)
    if intervals <= 0:
        raise ValueError(f"the duration must be at least one interval, got {text!r}")
    return intervals


def parse_start(text: str, site: Site) -> datetime:
    """An ISO 8601 time; without a UTC offset it is the site's local time."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--start must be an ISO 8601 time such as 2025-03-03T00:00 or 2025-03-03, got {text!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=site.tz)
