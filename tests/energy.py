"""Builders shared by the registry and oracle tests: a zone, participants, meters with their keys, readings."""

from __future__ import annotations

from dataclasses import dataclass

from ledger.crypto import Keypair, parse_address
from ledger.selectors import wallet_balances
from oracle.reading import Reading
from registry import services
from registry.models import Meter, Participant, Zone

INTERVAL = 900
# A fixed "now" well after the readings below: 2026-11-24 00:00:00 UTC.
NOW = 1_795_478_400
DAY_START = NOW - 86_400


def zone(code: str = "BKK-1") -> Zone:
    return services.zone_register(code=code, name=f"Zone {code}", center=(13.76, 100.69),
                                  bbox=(13.5, 100.3, 14.0, 101.0))


def participant(username: str = "alice", role: str = "prosumer") -> Participant:
    return services.user_register(username=username, password="correct horse battery", role=role)


@dataclass
class SimMeter:
    row: Meter
    key: Keypair

    def reading(self, slot: int, generated_wh: int, consumed_wh: int, **extra) -> Reading:
        fields = dict(meter=self.key.pubkey, interval_start=DAY_START + slot * INTERVAL, interval_seconds=INTERVAL,
                      generated_wh=generated_wh, consumed_wh=consumed_wh, sequence=slot)
        fields.update(extra)
        return Reading(**fields)

    def signed(self, slot: int, generated_wh: int, consumed_wh: int, *, key: Keypair | None = None, **extra) -> dict:
        reading = self.reading(slot, generated_wh, consumed_wh, **extra)
        return reading.to_json(reading.sign(key or self.key))


def meter(owner: Participant, serial: str = "M-1", *, type: str = "solar", capacity_w: int = 5000,
          max_import_w: int = 15000, zone_code: str = "BKK-1") -> SimMeter:
    key = Keypair.from_label(f"test meter {serial}")
    row = services.meter_register(owner=owner, serial=serial, type=type, zone_code=zone_code, latitude=13.76,
                                  longitude=100.69, capacity_w=capacity_w, max_import_w=max_import_w,
                                  public_key=key.address)
    return SimMeter(row, key)


def gxt(p: Participant) -> int:
    return wallet_balances(parse_address(p.wallet))["GXT"]
