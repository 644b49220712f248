"""Writes to the registry: each change is a signed ledger transaction first, then its mirror row.

A row is written only after its transaction commits, and names it. If the process dies in between, the ledger
holds a record the mirror lacks; `reconcile` reports it (and corrects statuses that differ).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from ledger import selectors as ledger_selectors
from ledger import services as ledger_services
from ledger.config import platform_authority
from ledger.crypto import Keypair, b58, parse_address
from ledger.errors import Conflict, InvalidInput, NotFound, Rejected, TransactionFailed
from ledger.models import Account
from ledger.token_program import create_account_ix, mint_address
from oracle import program as oracle_program
from registry import program
from registry.models import Meter, Participant, Zone
from registry.program import MeterRecord, MeterStatus, MeterType, Role, UserRecord, UserStatus, ZoneRecord
from registry.wallets import seal, unseal

_ROLES = {Participant.Role.PROSUMER: Role.PROSUMER, Participant.Role.CONSUMER: Role.CONSUMER,
          Participant.Role.OPERATOR: Role.OPERATOR}
_USER_STATUS = {Participant.Status.ACTIVE: UserStatus.ACTIVE, Participant.Status.SUSPENDED: UserStatus.SUSPENDED}
_METER_STATUS = {Meter.Status.ACTIVE: MeterStatus.ACTIVE, Meter.Status.MAINTENANCE: MeterStatus.MAINTENANCE,
                 Meter.Status.DEACTIVATED: MeterStatus.DEACTIVATED}
_METER_TYPES = {t: MeterType[t.name] for t in Meter.Type}


def micro(degrees: float) -> int:
    """Degrees to the ledger's micro-degrees, rounded to the nearest (about 0.1 m)."""
    return round(degrees * 1_000_000)


def _submit(instructions, signers):
    try:
        return ledger_services.instructions_submit(instructions=instructions, signers=signers)
    except TransactionFailed as exc:
        raise Rejected(exc.reason_code, exc.reason, instruction=exc.instruction) from None


def programs_initialize() -> None:
    """Create the registry and oracle config accounts on a new chain (signed by the GXT mint authority); idempotent."""
    authority = platform_authority()
    gxt = mint_address("GXT")
    missing = set(ledger_selectors.raw_accounts([program.config_address(), oracle_program.config_address()]))
    instructions = []
    if program.config_address() not in missing:
        instructions.append(program.initialize_ix(authority=authority.pubkey, gxt_mint=gxt))
    if oracle_program.config_address() not in missing:
        instructions.append(oracle_program.initialize_ix(authority=authority.pubkey, gxt_mint=gxt))
    if instructions:
        try:
            _submit(instructions, [authority])
        except Rejected:  # another process initialized in between
            if len(ledger_selectors.raw_accounts([program.config_address(), oracle_program.config_address()])) != 2:
                raise


def zone_register(*, code: str, name: str, center: tuple[float, float],
                  bbox: tuple[float, float, float, float]) -> Zone:
    """Register a zone; bbox is (south, west, north, east) in degrees."""
    programs_initialize()
    if Zone.objects.filter(code=code).exists():
        raise Conflict(f"zone {code} already exists")
    record = ZoneRecord(code, micro(center[0]), micro(center[1]), *(micro(v) for v in bbox), name)
    authority = platform_authority()
    try:
        ix = program.register_zone_ix(authority=authority.pubkey, zone=record)
    except Exception as exc:  # InstructionError from text packing
        raise InvalidInput(getattr(exc, "message", str(exc))) from None
    submitted = _submit([ix], [authority])
    return Zone.objects.create(code=code, name=name, center_lat=center[0], center_lon=center[1], south=bbox[0],
                               west=bbox[1], north=bbox[2], east=bbox[3], address=b58(program.zone_address(code)),
                               ledger_signature=submitted.signature)


def user_register(*, username: str, password: str, role: str, email: str = "") -> Participant:
    """Create a login, a custodial wallet, and the user's on-ledger identity with GXT and THB token accounts."""
    programs_initialize()
    if role not in _ROLES:
        raise InvalidInput(f"role must be one of {', '.join(_ROLES)}", field="role")
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise Conflict(f"username {username!r} is taken", field="username")
    wallet = Keypair.generate()
    authority = platform_authority()
    submitted = _submit([
        program.register_user_ix(authority=authority.pubkey, wallet=wallet.pubkey, role=_ROLES[role]),
        create_account_ix(payer=authority.pubkey, owner=wallet.pubkey, mint=mint_address("GXT")),
        create_account_ix(payer=authority.pubkey, owner=wallet.pubkey, mint=mint_address("THB")),
    ], [authority, wallet])
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, password=password, email=email,
                                            is_staff=role == Participant.Role.OPERATOR)
            return Participant.objects.create(user=user, role=role, wallet=wallet.address, wallet_secret=seal(wallet),
                                              ledger_signature=submitted.signature)
    except IntegrityError:
        raise Conflict(f"username {username!r} is taken", field="username") from None


def user_set_status(*, participant: Participant, status: str) -> Participant:
    if status not in _USER_STATUS:
        raise InvalidInput(f"status must be one of {', '.join(_USER_STATUS)}", field="status")
    authority = platform_authority()
    _submit([program.set_user_status_ix(authority=authority.pubkey, wallet=parse_address(participant.wallet),
                                        status=_USER_STATUS[status])], [authority])
    Participant.objects.filter(pk=participant.pk).update(status=status)
    participant.status = status
    return participant


def meter_register(*, owner: Participant, serial: str, type: str, zone_code: str, latitude: float, longitude: float,
                   capacity_w: int, max_import_w: int, public_key: str) -> Meter:
    if type not in _METER_TYPES:
        raise InvalidInput(f"type must be one of {', '.join(_METER_TYPES)}", field="type")
    if owner.status != Participant.Status.ACTIVE:
        raise Rejected("user_suspended", "a suspended user cannot register meters")
    zone = Zone.objects.filter(code=zone_code).first()
    if zone is None:
        raise NotFound(f"no zone {zone_code!r}", field="zone")
    if not (zone.south <= latitude <= zone.north and zone.west <= longitude <= zone.east):
        raise InvalidInput(f"({latitude}, {longitude}) lies outside zone {zone_code}'s bounding box", field="latitude")
    key = parse_address(public_key)
    if Meter.objects.filter(serial=serial).exists():
        raise Conflict(f"meter {serial!r} is already registered", field="serial")
    if Meter.objects.filter(public_key_bytes=key).exists():
        raise Conflict("this public key belongs to another meter", field="public_key")
    authority = platform_authority()
    try:
        ix = program.register_meter_ix(authority=authority.pubkey, owner=parse_address(owner.wallet), meter_key=key,
                                       zone=zone_code, type=_METER_TYPES[type], capacity_w=capacity_w,
                                       max_import_w=max_import_w, lat=micro(latitude), lon=micro(longitude),
                                       serial=serial)
    except Exception as exc:
        raise InvalidInput(getattr(exc, "message", str(exc))) from None
    submitted = _submit([ix], [authority, unseal(owner.wallet_secret)])
    try:
        return Meter.objects.create(
            serial=serial, owner=owner, zone=zone, type=type, latitude=latitude, longitude=longitude,
            capacity_w=capacity_w, max_import_w=max_import_w, public_key=b58(key), public_key_bytes=key,
            address=b58(program.meter_address(key)), ledger_signature=submitted.signature,
        )
    except IntegrityError:
        raise Conflict(f"meter {serial!r} is already registered", field="serial") from None


def meter_set_status(*, meter: Meter, status: str) -> Meter:
    if status not in _METER_STATUS:
        raise InvalidInput(f"status must be one of {', '.join(_METER_STATUS)}", field="status")
    if meter.status == Meter.Status.DEACTIVATED:
        raise Rejected("meter_deactivated", "a deactivated meter stays deactivated")
    authority = platform_authority()
    _submit([program.set_meter_status_ix(authority=authority.pubkey, meter_key=bytes(meter.public_key_bytes),
                                         status=_METER_STATUS[status])], [authority])
    Meter.objects.filter(pk=meter.pk).update(status=status)
    meter.status = status
    return meter


# -- reconciliation ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Discrepancy:
    kind: str  # "user", "zone" or "meter"
    key: str
    problem: str


def reconcile(*, fix: bool = False) -> list[Discrepancy]:
    """Compare every mirrored row with its ledger account and every registry account with its row.

    With `fix`, statuses that differ are set to the ledger's (the ledger is the truth); missing rows are only
    reported, since a ledger record alone lacks the login and the wallet's key.
    """
    accounts = {bytes(a): bytes(d) for a, d in Account.objects.filter(owner=program.REGISTRY_PROGRAM_ID)
                .values_list("address", "data")}
    out: list[Discrepancy] = []
    seen: set[bytes] = set()
    status_of_user = {v: k for k, v in _USER_STATUS.items()}
    status_of_meter = {v: k for k, v in _METER_STATUS.items()}
    for p in Participant.objects.all():
        address = program.user_address(parse_address(p.wallet))
        seen.add(address)
        data = accounts.get(address)
        if data is None:
            out.append(Discrepancy("user", p.wallet, "no ledger record"))
            continue
        record = UserRecord.unpack(data)
        if _ROLES[p.role] != record.role:
            out.append(Discrepancy("user", p.wallet, f"role {p.role} but the ledger says {record.role.name.lower()}"))
        if _USER_STATUS[p.status] != record.status:
            out.append(Discrepancy("user", p.wallet, f"status {p.status} but the ledger says {record.status.name.lower()}"))
            if fix:
                Participant.objects.filter(pk=p.pk).update(status=status_of_user[record.status])
    for z in Zone.objects.all():
        address = program.zone_address(z.code)
        seen.add(address)
        data = accounts.get(address)
        if data is None:
            out.append(Discrepancy("zone", z.code, "no ledger record"))
        elif ZoneRecord.unpack(data).name != z.name:
            out.append(Discrepancy("zone", z.code, "name differs from the ledger's"))
    for m in Meter.objects.select_related("owner", "zone"):
        address = program.meter_address(bytes(m.public_key_bytes))
        seen.add(address)
        data = accounts.get(address)
        if data is None:
            out.append(Discrepancy("meter", m.serial, "no ledger record"))
            continue
        record = MeterRecord.unpack(data)
        expected = (b58(record.owner), record.zone, record.serial, record.capacity_w, record.max_import_w)
        if expected != (m.owner.wallet, m.zone.code, m.serial, m.capacity_w, m.max_import_w):
            out.append(Discrepancy("meter", m.serial, "owner, zone, serial or capacity differs from the ledger's"))
        if _METER_STATUS[m.status] != record.status:
            out.append(Discrepancy("meter", m.serial, f"status {m.status} but the ledger says {record.status.name.lower()}"))
            if fix:
                Meter.objects.filter(pk=m.pk).update(status=status_of_meter[record.status])
    for address, data in accounts.items():
        if address in seen or address == program.config_address():
            continue
        kind = {2: "user", 3: "zone", 4: "meter"}.get(data[0], "unknown")
        out.append(Discrepancy(kind, b58(address), "on the ledger but not in the database"))
    return out
