"""The canonical encoding of a meter reading, which the meter signs (docs/PROTOCOL.md, "Meter readings").

86 bytes, little-endian:

    magic "GXRD" | version u8 = 1 | meter public key (32) | interval_start i64 (Unix seconds, UTC) |
    interval_seconds u32 | generated_wh u64 | consumed_wh u64 | sequence u64 |
    present u8 (bit 0 voltage, bit 1 power factor, bit 2 frequency) |
    voltage_mv u32 | power_factor_ppm u32 | frequency_mhz u32

An absent electrical value is encoded as 0 with its `present` bit clear. The reading's id (its digest) is the
SHA-256 of these 86 bytes; the signature is Ed25519 over the same bytes with the meter's own key.
The JSON form (`to_json` / `from_json`) carries exactly these integers, so any client can rebuild the bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ledger.crypto import Keypair, b58, sha256, unb58, verify
from ledger.errors import InvalidInput

MAGIC = b"GXRD"
VERSION = 1
_LAYOUT = struct.Struct("<4sB32sqIQQQBIII")
SIZE = _LAYOUT.size  # 86
U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1
I64_MAX = 2**63 - 1

_OPTIONAL = (("voltage_mv", 1), ("power_factor_ppm", 2), ("frequency_mhz", 4))
_REQUIRED = ("meter", "interval_start", "interval_seconds", "generated_wh", "consumed_wh", "sequence", "signature")


class InvalidReading(InvalidInput):
    code = "invalid_reading"


@dataclass(frozen=True, slots=True)
class Reading:
    meter: bytes  # the meter's Ed25519 public key
    interval_start: int  # Unix seconds, UTC
    interval_seconds: int
    generated_wh: int
    consumed_wh: int
    sequence: int
    voltage_mv: int | None = None
    power_factor_ppm: int | None = None  # 1,000,000 = unity power factor
    frequency_mhz: int | None = None

    def serialize(self) -> bytes:
        present = 0
        for name, bit in _OPTIONAL:
            if getattr(self, name) is not None:
                present |= bit
        return _LAYOUT.pack(
            MAGIC, VERSION, self.meter, self.interval_start, self.interval_seconds, self.generated_wh,
            self.consumed_wh, self.sequence, present, self.voltage_mv or 0, self.power_factor_ppm or 0,
            self.frequency_mhz or 0,
        )

    def digest(self) -> bytes:
        return sha256(self.serialize())

    def sign(self, key: Keypair) -> bytes:
        return key.sign(self.serialize())

    def verify(self, signature: bytes) -> bool:
        return verify(self.meter, self.serialize(), signature)

    @classmethod
    def deserialize(cls, raw: bytes) -> Reading:
        if len(raw) != SIZE:
            raise InvalidReading(f"a reading is {SIZE} bytes, got {len(raw)}")
        magic, version, meter, start, seconds, gen, cons, seq, present, volt, pf, freq = _LAYOUT.unpack(raw)
        if magic != MAGIC or version != VERSION:
            raise InvalidReading("not a version 1 GridTokenX reading (magic 'GXRD', version 1)")
        if present & ~7:
            raise InvalidReading("unknown bits set in the 'present' byte")
        return cls(meter, start, seconds, gen, cons, seq,
                   volt if present & 1 else None, pf if present & 2 else None, freq if present & 4 else None)

    def to_json(self, signature: bytes) -> dict:
        out = {
            "meter": b58(self.meter),
            "interval_start": self.interval_start,
            "interval_seconds": self.interval_seconds,
            "generated_wh": self.generated_wh,
            "consumed_wh": self.consumed_wh,
            "sequence": self.sequence,
        }
        for name, _ in _OPTIONAL:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        out["signature"] = b58(signature)
        return out


def _integer(body: dict, name: str, low: int, high: int, optional: bool = False) -> int | None:
    value = body.get(name)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidReading(f"'{name}' must be an integer", field=name)
    if not low <= value <= high:
        raise InvalidReading(f"'{name}' must be between {low} and {high}, got {value}", field=name)
    return value


def from_json(body) -> tuple[Reading, bytes]:
    """Parse the JSON form into a reading and its signature; raises InvalidReading naming the bad field."""
    if not isinstance(body, dict):
        raise InvalidReading("a reading must be a JSON object")
    missing = [name for name in _REQUIRED if name not in body]
    if missing:
        raise InvalidReading(f"missing field(s): {', '.join(missing)}", field=missing[0])
    unknown = sorted(set(body) - set(_REQUIRED) - {name for name, _ in _OPTIONAL})
    if unknown:
        raise InvalidReading(f"unknown field(s): {', '.join(unknown)}", field=unknown[0])
    try:
        meter = unb58(body["meter"], 32, "meter")
        signature = unb58(body["signature"], 64, "signature")
    except InvalidInput as exc:
        raise InvalidReading(exc.message, field="meter" if "meter" in exc.message else "signature") from None
    reading = Reading(
        meter=meter,
        interval_start=_integer(body, "interval_start", 0, I64_MAX),
        interval_seconds=_integer(body, "interval_seconds", 1, U32_MAX),
        generated_wh=_integer(body, "generated_wh", 0, U64_MAX),
        consumed_wh=_integer(body, "consumed_wh", 0, U64_MAX),
        sequence=_integer(body, "sequence", 0, U64_MAX),
        voltage_mv=_integer(body, "voltage_mv", 0, U32_MAX, optional=True),
        power_factor_ppm=_integer(body, "power_factor_ppm", 0, 1_000_000, optional=True),
        frequency_mhz=_integer(body, "frequency_mhz", 0, U32_MAX, optional=True),
    )
    return reading, signature
