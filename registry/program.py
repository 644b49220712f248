"""The registry program: who may take part (users), where (zones) and with which meters.

Accounts (all owned by the registry program, at program-derived addresses):

| account | seeds | layout (little-endian) |
|---|---|---|
| config | `"registry"` | kind u8 = 1, authority 32, users u64, zones u64, meters u64 (81 bytes) |
| user | `"user"`, wallet | kind u8 = 2, wallet 32, role u8, status u8, registered_ms i64 (43 bytes) |
| zone | `"zone"`, code | kind u8 = 3, code 16, centre lat i32, lon i32, south i32, west i32, north i32, east i32, name 48 (89 bytes) |
| meter | `"meter"`, meter key | kind u8 = 4, meter key 32, owner 32, zone 16, type u8, status u8, capacity_w u64, max_import_w u64, lat i32, lon i32, serial 32, registered_ms i64 (158 bytes) |

Coordinates are micro-degrees. Text fields are UTF-8 (codes and serials ASCII), NUL-padded.
The registry authority (the operator) signs every instruction; a user's own wallet also signs their
registration and the registration of their meters, proving they hold the key. `initialize` may only be signed by
the GXT mint authority, so nobody else can take a fresh chain's registry.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from ledger.crypto import b58, find_program_address, sha256
from ledger.encoding import AccountMeta, Instruction
from ledger.errors import InstructionError
from ledger.runtime import AccountView, Invocation, Program, checked_add
from ledger.token_program import TOKEN_PROGRAM_ID, Mint

REGISTRY_PROGRAM_ID = sha256(b"GridTokenX program: registry")


class Role(IntEnum):
    PROSUMER = 1
    CONSUMER = 2
    OPERATOR = 3


class UserStatus(IntEnum):
    ACTIVE = 1
    SUSPENDED = 2


class MeterType(IntEnum):
    SOLAR = 1
    WIND = 2
    BATTERY = 3
    CONSUMPTION = 4
    HYBRID = 5


class MeterStatus(IntEnum):
    ACTIVE = 1
    MAINTENANCE = 2
    DEACTIVATED = 3  # final


IX_INITIALIZE = 1
IX_REGISTER_ZONE = 2
IX_REGISTER_USER = 3
IX_SET_USER_STATUS = 4
IX_REGISTER_METER = 5
IX_SET_METER_STATUS = 6

_CONFIG = struct.Struct("<B32sQQQ")
_USER = struct.Struct("<B32sBBq")
_ZONE_BODY = struct.Struct("<16siiiiii48s")
_ZONE = struct.Struct("<B16siiiiii48s")
_METER_BODY = struct.Struct("<32s16sBQQii32s")
_METER = struct.Struct("<B32s32s16sBBQQii32sq")


def pack_text(text: str, size: int, what: str) -> bytes:
    raw = text.encode("utf-8")
    if not raw or len(raw) > size or b"\0" in raw:
        raise InstructionError("invalid_text", f"{what} must be 1 to {size} bytes of UTF-8 without NUL")
    return raw.ljust(size, b"\0")


def unpack_text(raw: bytes) -> str:
    return raw.rstrip(b"\0").decode("utf-8", errors="replace")


def _unpack(layout: struct.Struct, kind: int, data: bytes, what: str) -> tuple:
    if len(data) != layout.size or data[0] != kind:
        raise InstructionError(f"invalid_{what}", f"account is not a registry {what}")
    return layout.unpack(data)[1:]


@dataclass(frozen=True, slots=True)
class Config:
    authority: bytes
    users: int
    zones: int
    meters: int

    def pack(self) -> bytes:
        return _CONFIG.pack(1, self.authority, self.users, self.zones, self.meters)

    @classmethod
    def unpack(cls, data: bytes) -> Config:
        return cls(*_unpack(_CONFIG, 1, data, "config"))


@dataclass(frozen=True, slots=True)
class UserRecord:
    wallet: bytes
    role: Role
    status: UserStatus
    registered_ms: int

    def pack(self) -> bytes:
        return _USER.pack(2, self.wallet, self.role, self.status, self.registered_ms)

    @classmethod
    def unpack(cls, data: bytes) -> UserRecord:
        wallet, role, status, registered = _unpack(_USER, 2, data, "user")
        return cls(wallet, Role(role), UserStatus(status), registered)


@dataclass(frozen=True, slots=True)
class ZoneRecord:
    code: str
    lat: int
    lon: int
    south: int
    west: int
    north: int
    east: int
    name: str

    def body(self) -> bytes:
        return _ZONE_BODY.pack(pack_text(self.code, 16, "zone code"), self.lat, self.lon, self.south, self.west,
                               self.north, self.east, pack_text(self.name, 48, "zone name"))

    def pack(self) -> bytes:
        return bytes((3,)) + self.body()

    @classmethod
    def from_body(cls, body: bytes) -> ZoneRecord:
        code, lat, lon, south, west, north, east, name = _ZONE_BODY.unpack(body)
        return cls(unpack_text(code), lat, lon, south, west, north, east, unpack_text(name))

    @classmethod
    def unpack(cls, data: bytes) -> ZoneRecord:
        _unpack(_ZONE, 3, data, "zone")
        return cls.from_body(data[1:])


@dataclass(frozen=True, slots=True)
class MeterRecord:
    meter_key: bytes
    owner: bytes
    zone: str
    type: MeterType
    status: MeterStatus
    capacity_w: int
    max_import_w: int
    lat: int
    lon: int
    serial: str
    registered_ms: int

    def pack(self) -> bytes:
        return _METER.pack(4, self.meter_key, self.owner, pack_text(self.zone, 16, "zone code"), self.type,
                           self.status, self.capacity_w, self.max_import_w, self.lat, self.lon,
                           pack_text(self.serial, 32, "serial"), self.registered_ms)

    @classmethod
    def unpack(cls, data: bytes) -> MeterRecord:
        key, owner, zone, mtype, status, cap, imp, lat, lon, serial, registered = _unpack(_METER, 4, data, "meter")
        return cls(key, owner, unpack_text(zone), MeterType(mtype), MeterStatus(status), cap, imp, lat, lon,
                   unpack_text(serial), registered)


def config_address() -> bytes:
    return find_program_address([b"registry"], REGISTRY_PROGRAM_ID)[0]


def user_address(wallet: bytes) -> bytes:
    return find_program_address([b"user", wallet], REGISTRY_PROGRAM_ID)[0]


def zone_address(code: str) -> bytes:
    return find_program_address([b"zone", code.encode("utf-8")], REGISTRY_PROGRAM_ID)[0]


def meter_address(meter_key: bytes) -> bytes:
    return find_program_address([b"meter", meter_key], REGISTRY_PROGRAM_ID)[0]


# -- instruction builders ---------------------------------------------------------------------------------

def _ix(tag: int, metas: list[tuple[bytes, bool, bool]], body: bytes = b"") -> Instruction:
    return Instruction(REGISTRY_PROGRAM_ID, tuple(AccountMeta(*m) for m in metas), bytes((tag,)) + body)


def initialize_ix(*, authority: bytes, gxt_mint: bytes) -> Instruction:
    return _ix(IX_INITIALIZE, [(authority, True, True), (config_address(), False, True), (gxt_mint, False, False)])


def register_zone_ix(*, authority: bytes, zone: ZoneRecord) -> Instruction:
    return _ix(IX_REGISTER_ZONE, [(authority, True, True), (config_address(), False, True),
                                  (zone_address(zone.code), False, True)], zone.body())


def register_user_ix(*, authority: bytes, wallet: bytes, role: Role) -> Instruction:
    return _ix(IX_REGISTER_USER, [(authority, True, True), (config_address(), False, True), (wallet, True, False),
                                  (user_address(wallet), False, True)], bytes((role,)))


def set_user_status_ix(*, authority: bytes, wallet: bytes, status: UserStatus) -> Instruction:
    return _ix(IX_SET_USER_STATUS, [(authority, True, False), (config_address(), False, False),
                                    (user_address(wallet), False, True)], bytes((status,)))


def register_meter_ix(*, authority: bytes, owner: bytes, meter_key: bytes, zone: str, type: MeterType,
                      capacity_w: int, max_import_w: int, lat: int, lon: int, serial: str) -> Instruction:
    body = _METER_BODY.pack(meter_key, pack_text(zone, 16, "zone code"), type, capacity_w, max_import_w, lat, lon,
                            pack_text(serial, 32, "serial"))
    return _ix(IX_REGISTER_METER, [
        (authority, True, True), (config_address(), False, True), (owner, True, False),
        (user_address(owner), False, False), (zone_address(zone), False, False), (meter_address(meter_key), False, True),
    ], body)


def set_meter_status_ix(*, authority: bytes, meter_key: bytes, status: MeterStatus) -> Instruction:
    return _ix(IX_SET_METER_STATUS, [(authority, True, False), (config_address(), False, False),
                                     (meter_address(meter_key), False, True)], bytes((status,)))


# -- the program ------------------------------------------------------------------------------------------

def _enum(enum: type[IntEnum], value: int, what: str):
    try:
        return enum(value)
    except ValueError:
        raise InstructionError(f"invalid_{what}", f"{value} is not a valid {what}") from None


def _read(view: AccountView, cls, what: str):
    if view.owner != REGISTRY_PROGRAM_ID:
        raise InstructionError(f"unknown_{what}", f"{what} account {b58(view.key)} is not registered")
    return cls.unpack(view.data)


def _seeded(view: AccountView, seeds: list[bytes], what: str) -> list[bytes]:
    address, bump = find_program_address(seeds, REGISTRY_PROGRAM_ID)
    if view.key != address:
        raise InstructionError("invalid_account_address", f"{what} account {b58(view.key)} is not at its derived address")
    return [*seeds, bytes((bump,))]


class RegistryProgram(Program):
    program_id = REGISTRY_PROGRAM_ID
    name = "registry"

    def process(self, inv: Invocation) -> None:
        if not inv.data:
            raise InstructionError("invalid_instruction_data", "empty instruction data")
        handler = {
            IX_INITIALIZE: self._initialize,
            IX_REGISTER_ZONE: self._register_zone,
            IX_REGISTER_USER: self._register_user,
            IX_SET_USER_STATUS: self._set_user_status,
            IX_REGISTER_METER: self._register_meter,
            IX_SET_METER_STATUS: self._set_meter_status,
        }.get(inv.data[0])
        if handler is None:
            raise InstructionError("invalid_instruction", f"unknown registry instruction {inv.data[0]}")
        handler(inv, inv.data[1:])

    @staticmethod
    def _authorised(inv: Invocation, authority: AccountView, config: AccountView) -> Config:
        _seeded(config, [b"registry"], "config")
        cfg = _read(config, Config, "config")
        if not authority.is_signer or authority.key != cfg.authority:
            raise InstructionError("unauthorized", f"the registry authority {b58(cfg.authority)} must sign")
        return cfg

    def _initialize(self, inv: Invocation, body: bytes) -> None:
        inv.need(3)
        authority, config, mint_view = inv.accounts[:3]
        if body:
            raise InstructionError("invalid_instruction_data", "initialize takes no data")
        if mint_view.owner != TOKEN_PROGRAM_ID:
            raise InstructionError("invalid_mint", "the third account must be the GXT mint")
        mint = Mint.unpack(mint_view.data)
        if mint.symbol != "GXT" or not authority.is_signer or authority.key != mint.authority:
            raise InstructionError("unauthorized", "only the GXT mint authority may initialize the registry")
        inv.claim(config, _seeded(config, [b"registry"], "config"))
        config.data = Config(authority.key, 0, 0, 0).pack()

    def _register_zone(self, inv: Invocation, body: bytes) -> None:
        inv.need(3)
        authority, config, zone_view = inv.accounts[:3]
        cfg = self._authorised(inv, authority, config)
        if len(body) != _ZONE_BODY.size:
            raise InstructionError("invalid_instruction_data", f"zone data is {_ZONE_BODY.size} bytes")
        zone = ZoneRecord.from_body(body)
        pack_text(zone.code, 16, "zone code")
        if not zone.code.isascii():
            raise InstructionError("invalid_text", "a zone code is ASCII")
        if not (zone.south <= zone.lat <= zone.north and zone.west <= zone.lon <= zone.east):
            raise InstructionError("invalid_geography", "the zone's centre must lie inside its bounding box")
        if not (-90_000_000 <= zone.south <= zone.north <= 90_000_000 and -180_000_000 <= zone.west <= zone.east <= 180_000_000):
            raise InstructionError("invalid_geography", "bounding box outside latitude -90..90 / longitude -180..180")
        inv.claim(zone_view, _seeded(zone_view, [b"zone", zone.code.encode()], "zone"))
        zone_view.data = zone.pack()
        config.data = Config(cfg.authority, cfg.users, checked_add(cfg.zones, 1), cfg.meters).pack()

    def _register_user(self, inv: Invocation, body: bytes) -> None:
        inv.need(4)
        authority, config, wallet, user_view = inv.accounts[:4]
        cfg = self._authorised(inv, authority, config)
        if len(body) != 1:
            raise InstructionError("invalid_instruction_data", "register-user takes a role byte")
        role = _enum(Role, body[0], "role")
        if not wallet.is_signer:
            raise InstructionError("missing_signature", f"the user's wallet {b58(wallet.key)} must sign its registration")
        if not user_view.is_empty():
            raise InstructionError("already_registered", f"wallet {b58(wallet.key)} is already registered")
        inv.claim(user_view, _seeded(user_view, [b"user", wallet.key], "user"))
        user_view.data = UserRecord(wallet.key, role, UserStatus.ACTIVE, inv.clock.timestamp_ms).pack()
        config.data = Config(cfg.authority, checked_add(cfg.users, 1), cfg.zones, cfg.meters).pack()

    def _set_user_status(self, inv: Invocation, body: bytes) -> None:
        inv.need(3)
        authority, config, user_view = inv.accounts[:3]
        self._authorised(inv, authority, config)
        if len(body) != 1:
            raise InstructionError("invalid_instruction_data", "set-user-status takes a status byte")
        status = _enum(UserStatus, body[0], "user_status")
        user = _read(user_view, UserRecord, "user")
        user_view.data = UserRecord(user.wallet, user.role, status, user.registered_ms).pack()

    def _register_meter(self, inv: Invocation, body: bytes) -> None:
        inv.need(6)
        authority, config, owner, user_view, zone_view, meter_view = inv.accounts[:6]
        cfg = self._authorised(inv, authority, config)
        if len(body) != _METER_BODY.size:
            raise InstructionError("invalid_instruction_data", f"meter data is {_METER_BODY.size} bytes")
        key, zone_raw, mtype, capacity, max_import, lat, lon, serial_raw = _METER_BODY.unpack(body)
        mtype = _enum(MeterType, mtype, "meter_type")
        if not owner.is_signer:
            raise InstructionError("missing_signature", f"the owner {b58(owner.key)} must sign the meter's registration")
        _seeded(user_view, [b"user", owner.key], "user")
        user = _read(user_view, UserRecord, "user")
        if user.status != UserStatus.ACTIVE:
            raise InstructionError("user_suspended", f"user {b58(owner.key)} is suspended")
        zone_code = unpack_text(zone_raw)
        _seeded(zone_view, [b"zone", zone_code.encode()], "zone")
        _read(zone_view, ZoneRecord, "zone")
        serial = unpack_text(serial_raw)
        if not serial or not serial.isascii():
            raise InstructionError("invalid_text", "a serial is 1 to 32 ASCII characters")
        if mtype == MeterType.CONSUMPTION and capacity:
            raise InstructionError("invalid_capacity", "a consumption-only meter has no generation capacity")
        if not meter_view.is_empty():
            raise InstructionError("already_registered", f"meter key {b58(key)} is already registered")
        inv.claim(meter_view, _seeded(meter_view, [b"meter", key], "meter"))
        meter_view.data = MeterRecord(key, owner.key, zone_code, mtype, MeterStatus.ACTIVE, capacity, max_import,
                                      lat, lon, serial, inv.clock.timestamp_ms).pack()
        config.data = Config(cfg.authority, cfg.users, cfg.zones, checked_add(cfg.meters, 1)).pack()

    def _set_meter_status(self, inv: Invocation, body: bytes) -> None:
        inv.need(3)
        authority, config, meter_view = inv.accounts[:3]
        self._authorised(inv, authority, config)
        if len(body) != 1:
            raise InstructionError("invalid_instruction_data", "set-meter-status takes a status byte")
        status = _enum(MeterStatus, body[0], "meter_status")
        meter = _read(meter_view, MeterRecord, "meter")
        if meter.status == MeterStatus.DEACTIVATED:
            raise InstructionError("meter_deactivated", "a deactivated meter stays deactivated")
        m = meter
        meter_view.data = MeterRecord(m.meter_key, m.owner, m.zone, m.type, status, m.capacity_w, m.max_import_w,
                                      m.lat, m.lon, m.serial, m.registered_ms).pack()
