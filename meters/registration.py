"""Registering the fleet: each meter's owner household signs up (or logs in), then registers its meter in a zone.

Idempotent: a username that is taken (409) logs in with its derived password instead, and a meter that is
already registered (409) is left as it is, so re-running the simulator with the same seed registers nothing new.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from meters.client import METERS_PATH, TOKEN_PATH, USERS_PATH, ZONES_PATH, Api, GaveUp, RetryPolicy, error_reason
from meters.physics import Site
from meters.sim import SimulatedMeter, jitter_position

# Registration stops early when the server is down, rather than backing off for minutes per meter.
REGISTRATION_RETRY = RetryPolicy(attempts=5, base_delay=0.5, max_delay=4.0)


class RegistrationError(Exception):
    """The fleet could not be registered; the message says why and what to do."""


@dataclass(frozen=True)
class Zone:
    code: str
    latitude: float | None
    longitude: float | None


@dataclass
class Registration:
    users_created: int = 0
    users_existing: int = 0
    meters_created: int = 0
    meters_existing: int = 0


async def _call(api: Api, method: str, path: str, **kwargs) -> httpx.Response:
    try:
        return await api.request(method, path, retry=REGISTRATION_RETRY, **kwargs)
    except GaveUp as exc:
        raise RegistrationError(f"no usable answer from the server: {exc}. Is it running (./scripts/run.sh)?") from None


def _refused(what: str, response: httpx.Response) -> RegistrationError:
    code, message = error_reason(response)
    return RegistrationError(f"{what} was refused: HTTP {response.status_code} {code}: {message}")


async def owner_token(api: Api, meter: SimulatedMeter, registration: Registration) -> str:
    """The API token of the meter's owner, signing them up on first use."""
    body = {"username": meter.username, "password": meter.password, "role": meter.role}
    response = await _call(api, "POST", USERS_PATH, json=body)
    if response.status_code == 201:
        registration.users_created += 1
        return response.json()["token"]
    if response.status_code != 409:
        raise _refused(f"signing up user {meter.username}", response)
    registration.users_existing += 1
    response = await _call(api, "POST", TOKEN_PATH, json={"username": meter.username, "password": meter.password})
    if response.status_code != 200:
        raise RegistrationError(
            f"user {meter.username} exists but logging in with the simulator's password was refused "
            f"(HTTP {response.status_code}: {error_reason(response)[1]}); was it created otherwise? "
            "Use another --seed."
        )
    return response.json()["token"]


async def zones_list(api: Api, token: str) -> list[Zone]:
    """Every zone, following pagination if the list is paginated."""
    zones: list[Zone] = []
    path: str | None = ZONES_PATH
    while path:
        response = await _call(api, "GET", path, token=token)
        if response.status_code != 200:
            raise _refused("listing the zones", response)
        body = response.json()
        items = body.get("results", []) if isinstance(body, dict) else body
        for item in items:
            lat, lon = item.get("center_lat"), item.get("center_lon")
            zones.append(Zone(str(item["code"]), _degrees(lat), _degrees(lon)))
        following = body.get("next") if isinstance(body, dict) else None
        path = None if not following else _path(following)
    return zones


def _degrees(value) -> float | None:
    """A zone's centre coordinate, which the API may give as a number or a decimal string."""
    return None if value is None else float(value)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def choose_zones(zones: Sequence[Zone], meters: Sequence[SimulatedMeter], code: str | None) -> dict[int, Zone]:
    """Each meter's zone: the one named, or the zones in order of their code, round-robin by meter index."""
    if not zones:
        raise RegistrationError(
            "the server has no zones to register meters in; create them with `python manage.py seed_demo`"
        )
    ordered = sorted(zones, key=lambda zone: zone.code)
    if code is not None:
        named = [zone for zone in ordered if zone.code == code]
        if not named:
            raise RegistrationError(f"no zone {code!r}; the zones are {', '.join(z.code for z in ordered)}")
        return {meter.index: named[0] for meter in meters}
    return {meter.index: ordered[meter.index % len(ordered)] for meter in meters}


def meter_body(meter: SimulatedMeter, zone: Zone, site: Site) -> dict:
    """The registration of `meter`: near its zone's centre (or the site, for a zone without one)."""
    latitude = site.latitude if zone.latitude is None else zone.latitude
    longitude = site.longitude if zone.longitude is None else zone.longitude
    latitude, longitude = jitter_position(meter.seed, meter.index, latitude, longitude)
    return {
        "serial": meter.serial,
        "type": meter.kind,
        "zone": zone.code,
        "latitude": latitude,
        "longitude": longitude,
        "capacity_w": math.ceil(meter.spec.rated_generation_w),
        "max_import_w": math.ceil(meter.spec.import_limit_w),
        "public_key": meter.keypair.address,
    }


async def meter_register(api: Api, meter: SimulatedMeter, *, token: str, zone: Zone, site: Site,
                         registration: Registration) -> None:
    response = await _call(api, "POST", METERS_PATH, json=meter_body(meter, zone, site), token=token)
    if response.status_code == 201:
        registration.meters_created += 1
    elif response.status_code == 409:
        registration.meters_existing += 1
    else:
        raise _refused(f"registering meter {meter.serial}", response)


async def fleet_register(api: Api, meters: Sequence[SimulatedMeter], *, site: Site, zone: str | None) -> Registration:
    """Sign up every meter's owner and register every meter, as many at once as the Api allows.

    The first owner signs up alone, so that a server without zones is reported before the rest sign up."""
    registration = Registration()
    if not meters:
        return registration
    first_token = await owner_token(api, meters[0], registration)
    zones = choose_zones(await zones_list(api, first_token), meters, zone)

    async def register(meter: SimulatedMeter, token: str | None) -> None:
        token = token or await owner_token(api, meter, registration)
        await meter_register(api, meter, token=token, zone=zones[meter.index], site=site, registration=registration)

    try:
        async with asyncio.TaskGroup() as group:
            for position, meter in enumerate(meters):
                group.create_task(register(meter, first_token if position == 0 else None))
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return registration
