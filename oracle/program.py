"""The oracle program: turns verified meter readings into GXT, exactly once per meter interval.

Accounts (owned by the oracle program, at program-derived addresses):

| account | seeds | layout (little-endian) |
|---|---|---|
| config | `"oracle"` | kind u8 = 1, authority 32, readings u64, minted u64, burned u64, grid_import u64 (65 bytes) |
| meter state | `"meter"`, meter record address | kind u8 = 2, meter record 32, last_end i64, readings u64, generated_wh u64, consumed_wh u64, minted u64, burned u64, grid_import u64 (97 bytes) |

`settle` (tag 2) carries readings the oracle authority has verified (meter signature, registry status, every
oracle rule), each with the SHA-256 digest of the meter's signed reading, so every mint and burn on chain names
the readings it came from. Per meter, readings must be in interval order and each must start at or after the end
of the last settled one (`last_end`): settling the same interval twice fails the whole transaction.

Net metering per reading, in GXT base units (1 Wh = 10^6 base units, as GXT has 9 decimals and 1 GXT = 1 kWh):
net = generated - consumed. A surplus is minted to the owner's GXT account; a deficit is burned from it, as much
as the balance allows (balances evolve reading by reading); what the balance cannot cover is recorded as grid
import, never as a negative balance. The program mints and burns through the token program, signed by the
oracle authority, which must be the GXT mint authority.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ledger.crypto import b58, find_program_address, sha256
from ledger.encoding import MAX_ACCOUNTS_PER_INSTRUCTION, AccountMeta, Instruction
from ledger.errors import InstructionError
from ledger.runtime import AccountView, Invocation, Program, checked_add
from ledger.token_program import (
    IX_BURN_BY_AUTHORITY,
    IX_MINT_TO,
    TOKEN_PROGRAM_ID,
    Mint,
    TokenAccount,
    associated_token_address,
)
from registry.program import REGISTRY_PROGRAM_ID, MeterRecord

ORACLE_PROGRAM_ID = sha256(b"GridTokenX program: oracle")
BASE_UNITS_PER_WH = 10**6

IX_INITIALIZE = 1
IX_SETTLE = 2

_CONFIG = struct.Struct("<B32sQQQQ")
_STATE = struct.Struct("<B32sqQQQQQQ")
_ENTRY = struct.Struct("<qIQQ32s")  # interval_start, interval_seconds, generated_wh, consumed_wh, digest
_U64 = struct.Struct("<Q")
# Three fixed accounts, then three per meter, within the ledger's accounts-per-instruction limit.
MAX_SETTLE_METERS = (MAX_ACCOUNTS_PER_INSTRUCTION - 3) // 3


@dataclass(frozen=True, slots=True)
class OracleConfig:
    authority: bytes
    readings: int
    minted: int
    burned: int
    grid_import: int

    def pack(self) -> bytes:
        return _CONFIG.pack(1, self.authority, self.readings, self.minted, self.burned, self.grid_import)

    @classmethod
    def unpack(cls, data: bytes) -> OracleConfig:
        if len(data) != _CONFIG.size or data[0] != 1:
            raise InstructionError("invalid_config", "account is not the oracle config")
        return cls(*_CONFIG.unpack(data)[1:])


@dataclass(frozen=True, slots=True)
class MeterState:
    meter: bytes
    last_end: int
    readings: int
    generated_wh: int
    consumed_wh: int
    minted: int
    burned: int
    grid_import: int

    def pack(self) -> bytes:
        return _STATE.pack(2, self.meter, self.last_end, self.readings, self.generated_wh, self.consumed_wh,
                           self.minted, self.burned, self.grid_import)

    @classmethod
    def unpack(cls, data: bytes) -> MeterState:
        if len(data) != _STATE.size or data[0] != 2:
            raise InstructionError("invalid_meter_state", "account is not an oracle meter state")
        return cls(*_STATE.unpack(data)[1:])


@dataclass(frozen=True, slots=True)
class SettleEntry:
    interval_start: int
    interval_seconds: int
    generated_wh: int
    consumed_wh: int
    digest: bytes


@dataclass(frozen=True, slots=True)
class SettleGroup:
    """One meter's readings in a settle instruction, with the accounts they need."""

    meter_record: bytes
    owner: bytes
    entries: tuple[SettleEntry, ...]


def config_address() -> bytes:
    return find_program_address([b"oracle"], ORACLE_PROGRAM_ID)[0]


def meter_state_address(meter_record: bytes) -> bytes:
    return find_program_address([b"meter", meter_record], ORACLE_PROGRAM_ID)[0]


def settle_size(meters: int, readings: int) -> int:
    """Bytes a settle instruction adds to a transaction, to pack transactions under the size limit."""
    fixed = 32 + 1 + 3 * 33 + 2 + 2  # program id, account count, three fixed accounts, data length, tag + count
    return fixed + meters * (3 * 33 + 1) + readings * _ENTRY.size


def initialize_ix(*, authority: bytes, gxt_mint: bytes) -> Instruction:
    return Instruction(ORACLE_PROGRAM_ID, (
        AccountMeta(authority, True, True),
        AccountMeta(config_address(), False, True),
        AccountMeta(gxt_mint, False, False),
    ), bytes((IX_INITIALIZE,)))


def settle_ix(*, authority: bytes, gxt_mint: bytes, groups: list[SettleGroup]) -> Instruction:
    if not 0 < len(groups) <= MAX_SETTLE_METERS:
        raise ValueError(f"a settle instruction covers 1 to {MAX_SETTLE_METERS} meters")
    metas = [AccountMeta(authority, True, False), AccountMeta(config_address(), False, True),
             AccountMeta(gxt_mint, False, True)]
    data = bytearray((IX_SETTLE, len(groups)))
    for group in groups:
        metas += [AccountMeta(group.meter_record, False, False),
                  AccountMeta(meter_state_address(group.meter_record), False, True),
                  AccountMeta(associated_token_address(group.owner, gxt_mint), False, True)]
        if not 0 < len(group.entries) <= 255:
            raise ValueError("a meter's group holds 1 to 255 readings")
        data.append(len(group.entries))
        for e in group.entries:
            data += _ENTRY.pack(e.interval_start, e.interval_seconds, e.generated_wh, e.consumed_wh, e.digest)
    return Instruction(ORACLE_PROGRAM_ID, tuple(metas), bytes(data))


def parse_settle(data: bytes) -> list[tuple[int, list[SettleEntry]]]:
    """Decode a settle instruction's data into (group index, entries); raises InstructionError if malformed."""
    if len(data) < 2:
        raise InstructionError("invalid_instruction_data", "settle data is too short")
    groups, pos = [], 2
    for index in range(data[1]):
        if pos >= len(data):
            raise InstructionError("invalid_instruction_data", "settle data ends before its last meter")
        count, pos = data[pos], pos + 1
        end = pos + count * _ENTRY.size
        if count == 0 or end > len(data):
            raise InstructionError("invalid_instruction_data", "a meter's readings are missing or truncated")
        groups.append((index, [SettleEntry(*_ENTRY.unpack_from(data, pos + i * _ENTRY.size)) for i in range(count)]))
        pos = end
    if pos != len(data):
        raise InstructionError("invalid_instruction_data", "trailing bytes after the last meter's readings")
    return groups


class OracleProgram(Program):
    program_id = ORACLE_PROGRAM_ID
    name = "oracle"

    def process(self, inv: Invocation) -> None:
        if not inv.data:
            raise InstructionError("invalid_instruction_data", "empty instruction data")
        if inv.data[0] == IX_INITIALIZE:
            self._initialize(inv)
        elif inv.data[0] == IX_SETTLE:
            self._settle(inv)
        else:
            raise InstructionError("invalid_instruction", f"unknown oracle instruction {inv.data[0]}")

    def _initialize(self, inv: Invocation) -> None:
        inv.need(3)
        authority, config, mint_view = inv.accounts[:3]
        if len(inv.data) != 1:
            raise InstructionError("invalid_instruction_data", "initialize takes no data")
        mint = self._gxt(mint_view)
        if not authority.is_signer or authority.key != mint.authority:
            raise InstructionError("unauthorized", "only the GXT mint authority may initialize the oracle")
        address, bump = find_program_address([b"oracle"], ORACLE_PROGRAM_ID)
        if config.key != address:
            raise InstructionError("invalid_account_address", "the second account must be the oracle config")
        inv.claim(config, [b"oracle", bytes((bump,))])
        config.data = OracleConfig(authority.key, 0, 0, 0, 0).pack()

    @staticmethod
    def _gxt(view: AccountView) -> Mint:
        if view.owner != TOKEN_PROGRAM_ID:
            raise InstructionError("invalid_mint", "the GXT mint account is not a mint")
        mint = Mint.unpack(view.data)
        if mint.symbol != "GXT":
            raise InstructionError("invalid_mint", f"expected the GXT mint, got {mint.symbol}")
        return mint

    def _settle(self, inv: Invocation) -> None:
        inv.need(3)
        authority, config, mint_view = inv.accounts[:3]
        if config.owner != ORACLE_PROGRAM_ID or config.key != config_address():
            raise InstructionError("invalid_config", "the second account must be the oracle config")
        cfg = OracleConfig.unpack(config.data)
        if not authority.is_signer or authority.key != cfg.authority:
            raise InstructionError("unauthorized", f"the oracle authority {b58(cfg.authority)} must sign")
        self._gxt(mint_view)
        groups = parse_settle(inv.data)
        inv.need(3 + 3 * len(groups))
        readings = minted = burned = grid_import = 0
        for index, entries in groups:
            record_view, state_view, token_view = inv.accounts[3 + 3 * index: 6 + 3 * index]
            result = self._settle_meter(inv, authority, mint_view, record_view, state_view, token_view, entries)
            readings += len(entries)
            minted += result[0]
            burned += result[1]
            grid_import += result[2]
        config.data = OracleConfig(cfg.authority, checked_add(cfg.readings, readings), checked_add(cfg.minted, minted),
                                   checked_add(cfg.burned, burned), checked_add(cfg.grid_import, grid_import)).pack()

    def _settle_meter(self, inv: Invocation, authority, mint_view, record_view, state_view, token_view,
                      entries: list[SettleEntry]) -> tuple[int, int, int]:
        if record_view.owner != REGISTRY_PROGRAM_ID:
            raise InstructionError("unknown_meter", f"{b58(record_view.key)} is not a registered meter")
        record = MeterRecord.unpack(record_view.data)
        if token_view.key != associated_token_address(record.owner, mint_view.key):
            raise InstructionError("invalid_token_account", f"GXT account {b58(token_view.key)} is not the meter owner's")
        if token_view.owner != TOKEN_PROGRAM_ID:
            raise InstructionError("uninitialized_account", f"the meter owner's GXT account {b58(token_view.key)} does not exist")
        balance = TokenAccount.unpack(token_view.data).amount
        address, bump = find_program_address([b"meter", record_view.key], ORACLE_PROGRAM_ID)
        if state_view.key != address:
            raise InstructionError("invalid_account_address", f"{b58(state_view.key)} is not the meter's oracle state")
        if state_view.is_empty():
            inv.claim(state_view, [b"meter", record_view.key, bytes((bump,))])
            state = MeterState(record_view.key, 0, 0, 0, 0, 0, 0, 0)
        else:
            state = MeterState.unpack(state_view.data)
        last_end = state.last_end
        gen = cons = mint_total = burn_total = shortfall = 0
        for e in entries:
            if e.interval_seconds == 0:
                raise InstructionError("invalid_interval", "an interval lasts at least one second")
            if e.interval_start < last_end:
                raise InstructionError(
                    "already_settled",
                    f"meter {record.serial}: interval starting {e.interval_start} is not after the settled end {last_end}",
                )
            last_end = e.interval_start + e.interval_seconds
            gen = checked_add(gen, e.generated_wh)
            cons = checked_add(cons, e.consumed_wh)
            if e.generated_wh >= e.consumed_wh:
                amount = (e.generated_wh - e.consumed_wh) * BASE_UNITS_PER_WH
                mint_total = checked_add(mint_total, amount)
                balance = checked_add(balance, amount)
            else:
                need = (e.consumed_wh - e.generated_wh) * BASE_UNITS_PER_WH
                take = min(balance, need)
                balance -= take
                burn_total += take
                shortfall = checked_add(shortfall, need - take)
        # Minting the surplus first and then burning gives the same balance as reading-by-reading order.
        if mint_total:
            inv.invoke(TOKEN_PROGRAM_ID, (AccountMeta(mint_view.key, False, True), AccountMeta(token_view.key, False, True),
                                          AccountMeta(authority.key, True, False)),
                       bytes((IX_MINT_TO,)) + _U64.pack(mint_total))
        if burn_total:
            inv.invoke(TOKEN_PROGRAM_ID, (AccountMeta(token_view.key, False, True), AccountMeta(mint_view.key, False, True),
                                          AccountMeta(authority.key, True, False)),
                       bytes((IX_BURN_BY_AUTHORITY,)) + _U64.pack(burn_total))
        state_view.data = MeterState(
            record_view.key, last_end, checked_add(state.readings, len(entries)),
            checked_add(state.generated_wh, gen), checked_add(state.consumed_wh, cons),
            checked_add(state.minted, mint_total), checked_add(state.burned, burn_total),
            checked_add(state.grid_import, shortfall),
        ).pack()
        inv.log(f"meter {record.serial}: {len(entries)} reading(s), minted {mint_total}, burned {burn_total}, "
                f"grid import {shortfall}")
        return mint_total, burn_total, shortfall
