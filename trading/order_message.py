"""The canonical encoding of an order, which its owner signs (docs/PROTOCOL.md, "Orders").

89 bytes, little-endian:

    magic "GXOR" | version u8 = 1 | owner public key (32) | nonce u64 | side u8 (1 buy, 2 sell) |
    kind u8 (1 limit, 2 market) | time in force u8 (1 GTC, 2 IOC, 3 FOK) | cross_zone u8 (0 or 1) |
    zone code (16, ASCII, NUL-padded) | quantity u64 (GXT base units) | price u64 (THB base units per kWh) |
    expires_at i64 (Unix milliseconds; 0 = the market's default life)

The signature is Ed25519 over these bytes with the owner's wallet key; the order's digest (SHA-256 of the bytes)
goes on the ledger with the order. `nonce` is the client's: the same owner and nonce name the same order, so a
client that retries a placement gets the order it already placed, never a second one.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ledger.crypto import b58, sha256, unb58, verify
from ledger.errors import InvalidInput

MAGIC = b"GXOR"
VERSION = 1
_LAYOUT = struct.Struct("<4sB32sQBBBB16sQQq")
SIZE = _LAYOUT.size
SIDES = {"buy": 1, "sell": 2}
KINDS = {"limit": 1, "market": 2}
TIFS = {"gtc": 1, "ioc": 2, "fok": 3}
U64_MAX = 2**64 - 1


class InvalidOrder(InvalidInput):
    code = "invalid_order"


@dataclass(frozen=True, slots=True)
class OrderMessage:
    owner: bytes
    nonce: int
    side: str
    kind: str
    tif: str
    cross_zone: bool
    zone: str
    quantity: int
    price: int
    expires_at: int  # ms; 0 = default life

    def serialize(self) -> bytes:
        return _LAYOUT.pack(MAGIC, VERSION, self.owner, self.nonce, SIDES[self.side], KINDS[self.kind], TIFS[self.tif],
                            int(self.cross_zone), self.zone.encode("ascii").ljust(16, b"\0"), self.quantity,
                            self.price, self.expires_at)

    def digest(self) -> bytes:
        return sha256(self.serialize())

    def sign(self, key) -> bytes:
        return key.sign(self.serialize())

    def verify(self, signature: bytes) -> bool:
        return verify(self.owner, self.serialize(), signature)

    def to_json(self, signature: bytes) -> dict:
        return {"owner": b58(self.owner), "nonce": self.nonce, "side": self.side, "kind": self.kind, "tif": self.tif,
                "cross_zone": self.cross_zone, "zone": self.zone, "quantity": self.quantity, "price": self.price,
                "expires_at": self.expires_at, "signature": b58(signature)}


def _int(body: dict, name: str, low: int, high: int) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidOrder(f"'{name}' must be an integer from {low} to {high}", field=name)
    return value


def _choice(body: dict, name: str, choices: dict) -> str:
    value = body.get(name)
    if value not in choices:
        raise InvalidOrder(f"'{name}' must be one of {', '.join(choices)}", field=name)
    return value


def from_json(body) -> tuple[OrderMessage, bytes]:
    """Parse a signed order; raises InvalidOrder naming the bad field. The signature is not checked here."""
    if not isinstance(body, dict):
        raise InvalidOrder("an order must be a JSON object")
    fields = {"owner", "nonce", "side", "kind", "tif", "cross_zone", "zone", "quantity", "price", "expires_at",
              "signature"}
    missing = sorted(fields - set(body) - {"kind", "tif", "cross_zone", "expires_at"})
    if missing:
        raise InvalidOrder(f"missing field(s): {', '.join(missing)}", field=missing[0])
    unknown = sorted(set(body) - fields)
    if unknown:
        raise InvalidOrder(f"unknown field(s): {', '.join(unknown)}", field=unknown[0])
    zone = body.get("zone")
    if not isinstance(zone, str) or not zone or len(zone) > 16 or not zone.isascii():
        raise InvalidOrder("'zone' must be a zone code of 1 to 16 ASCII characters", field="zone")
    cross = body.get("cross_zone", False)
    if not isinstance(cross, bool):
        raise InvalidOrder("'cross_zone' must be true or false", field="cross_zone")
    try:
        owner = unb58(body["owner"], 32, "owner")
        signature = unb58(body["signature"], 64, "signature")
    except InvalidInput as exc:
        raise InvalidOrder(exc.message) from None
    body = {"kind": "limit", "tif": "gtc", "expires_at": 0} | body
    message = OrderMessage(owner, _int(body, "nonce", 0, U64_MAX), _choice(body, "side", SIDES),
                           _choice(body, "kind", KINDS), _choice(body, "tif", TIFS), cross, zone,
                           _int(body, "quantity", 1, U64_MAX), _int(body, "price", 1, U64_MAX),
                           _int(body, "expires_at", 0, 2**63 - 1))
    return message, signature
