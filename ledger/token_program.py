"""The token program: mints (GXT, THB), associated token accounts, transfer, mint, burn.

Invariant, checked by tests and by `verify_ledger`: for every mint, `supply` equals the sum of the balances of
its token accounts; no balance is negative (u64) and no arithmetic wraps.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache

from ledger.crypto import b58, find_program_address, sha256
from ledger.encoding import AccountMeta, Instruction
from ledger.errors import InstructionError
from ledger.runtime import Invocation, Program, checked_add, checked_sub

TOKEN_PROGRAM_ID = sha256(b"GridTokenX program: token")

MINT_KIND = 1
TOKEN_ACCOUNT_KIND = 2
_MINT = struct.Struct("<B32sQB8s")  # kind, authority, supply, decimals, symbol (ASCII, NUL-padded)
_ACCOUNT = struct.Struct("<B32s32sQ")  # kind, mint, owner, amount
_U64 = struct.Struct("<Q")

IX_CREATE_ACCOUNT = 1
IX_TRANSFER = 2
IX_MINT_TO = 3
IX_BURN = 4
IX_SET_MINT_AUTHORITY = 5
IX_BURN_BY_AUTHORITY = 6
IX_TRANSFER_SPLIT = 7
MAX_SPLIT = 8  # destinations of one transfer_split

GXT_DECIMALS = 9
THB_DECIMALS = 6


@dataclass(frozen=True, slots=True)
class Mint:
    authority: bytes
    supply: int
    decimals: int
    symbol: str

    def pack(self) -> bytes:
        return _MINT.pack(MINT_KIND, self.authority, self.supply, self.decimals, self.symbol.encode("ascii"))

    @classmethod
    def unpack(cls, data: bytes) -> Mint:
        if len(data) != _MINT.size or data[0] != MINT_KIND:
            raise InstructionError("invalid_mint", "account is not a mint")
        _, authority, supply, decimals, symbol = _MINT.unpack(data)
        return cls(authority, supply, decimals, symbol.rstrip(b"\0").decode("ascii"))


@dataclass(frozen=True, slots=True)
class TokenAccount:
    mint: bytes
    owner: bytes
    amount: int

    def pack(self) -> bytes:
        return _ACCOUNT.pack(TOKEN_ACCOUNT_KIND, self.mint, self.owner, self.amount)

    @classmethod
    def unpack(cls, data: bytes) -> TokenAccount:
        if len(data) != _ACCOUNT.size or data[0] != TOKEN_ACCOUNT_KIND:
            raise InstructionError("invalid_token_account", "account is not a token account")
        _, mint, owner, amount = _ACCOUNT.unpack(data)
        return cls(mint, owner, amount)


@lru_cache(maxsize=64)
def mint_address(symbol: str) -> bytes:
    return find_program_address([b"mint", symbol.encode("ascii")], TOKEN_PROGRAM_ID)[0]


@lru_cache(maxsize=1 << 16)
def associated_token_address(owner: bytes, mint: bytes) -> bytes:
    return find_program_address([owner, mint], TOKEN_PROGRAM_ID)[0]


# -- instruction builders (what clients call) -------------------------------------------------------------

def create_account_ix(*, payer: bytes, owner: bytes, mint: bytes) -> Instruction:
    """Create `owner`'s associated token account for `mint`; does nothing if it already exists."""
    return Instruction(TOKEN_PROGRAM_ID, (
        AccountMeta(payer, True, True),
        AccountMeta(associated_token_address(owner, mint), False, True),
        AccountMeta(owner, False, False),
        AccountMeta(mint, False, False),
    ), bytes((IX_CREATE_ACCOUNT,)))


def transfer_ix(*, source: bytes, destination: bytes, authority: bytes, amount: int) -> Instruction:
    return Instruction(TOKEN_PROGRAM_ID, (
        AccountMeta(source, False, True),
        AccountMeta(destination, False, True),
        AccountMeta(authority, True, False),
    ), bytes((IX_TRANSFER,)) + _U64.pack(amount))


def split_amounts(data: bytes) -> tuple[int, ...] | None:
    """The amounts of a transfer_split's data (its tag included), or None unless it holds 1 to MAX_SPLIT u64s."""
    legs, rest = divmod(len(data) - 1, 8)
    if rest or not 1 <= legs <= MAX_SPLIT:
        return None
    return struct.unpack_from(f"<{legs}Q", data, 1)


def transfer_split_ix(*, source: bytes, authority: bytes, legs: list[tuple[bytes, int]]) -> Instruction:
    """One source paying several destinations (`legs`: destination, amount; an amount may be 0) in one call."""
    return Instruction(TOKEN_PROGRAM_ID, (
        AccountMeta(source, False, True),
        AccountMeta(authority, True, False),
        *(AccountMeta(destination, False, True) for destination, _ in legs),
    ), bytes((IX_TRANSFER_SPLIT,)) + b"".join(_U64.pack(amount) for _, amount in legs))


def mint_to_ix(*, mint: bytes, destination: bytes, authority: bytes, amount: int) -> Instruction:
    return Instruction(TOKEN_PROGRAM_ID, (
        AccountMeta(mint, False, True),
        AccountMeta(destination, False, True),
        AccountMeta(authority, True, False),
    ), bytes((IX_MINT_TO,)) + _U64.pack(amount))


def burn_ix(*, source: bytes, mint: bytes, authority: bytes, amount: int) -> Instruction:
    return Instruction(TOKEN_PROGRAM_ID, (
        AccountMeta(source, False, True),
        AccountMeta(mint, False, True),
        AccountMeta(authority, True, False),
    ), bytes((IX_BURN,)) + _U64.pack(amount))


def burn_by_authority_ix(*, source: bytes, mint: bytes, authority: bytes, amount: int) -> Instruction:
    """Burn from any token account of `mint`, signed by the mint authority: how metered consumption is burned."""
    return Instruction(TOKEN_PROGRAM_ID, (
        AccountMeta(source, False, True),
        AccountMeta(mint, False, True),
        AccountMeta(authority, True, False),
    ), bytes((IX_BURN_BY_AUTHORITY,)) + _U64.pack(amount))


def set_mint_authority_ix(*, mint: bytes, authority: bytes, new_authority: bytes) -> Instruction:
    return Instruction(TOKEN_PROGRAM_ID, (
        AccountMeta(mint, False, True),
        AccountMeta(authority, True, False),
    ), bytes((IX_SET_MINT_AUTHORITY,)) + new_authority)


# -- the program ------------------------------------------------------------------------------------------

def _amount(data: bytes) -> int:
    if len(data) != 9:
        raise InstructionError("invalid_instruction_data", "expected a u64 amount after the instruction tag")
    amount = _U64.unpack_from(data, 1)[0]
    if amount == 0:
        raise InstructionError("invalid_amount", "amount must be greater than zero")
    return amount


def _owned(inv: Invocation, view, what: str) -> None:
    if view.owner != TOKEN_PROGRAM_ID:
        raise InstructionError("uninitialized_account", f"{what} {b58(view.key)} is not an initialized token-program account")


class TokenProgram(Program):
    program_id = TOKEN_PROGRAM_ID
    name = "token"

    def process(self, inv: Invocation) -> None:
        if not inv.data:
            raise InstructionError("invalid_instruction_data", "empty instruction data")
        tag = inv.data[0]
        handler = {
            IX_CREATE_ACCOUNT: self._create_account,
            IX_TRANSFER: self._transfer,
            IX_MINT_TO: self._mint_to,
            IX_BURN: self._burn,
            IX_SET_MINT_AUTHORITY: self._set_mint_authority,
            IX_BURN_BY_AUTHORITY: self._burn_by_authority,
            IX_TRANSFER_SPLIT: self._transfer_split,
        }.get(tag)
        if handler is None:
            raise InstructionError("invalid_instruction", f"unknown token instruction {tag}")
        handler(inv)

    def _create_account(self, inv: Invocation) -> None:
        if len(inv.data) != 1:
            raise InstructionError("invalid_instruction_data", "create-account takes no data after its tag")
        inv.need(4)
        payer, account, owner, mint = inv.accounts[:4]
        if not payer.is_signer:
            raise InstructionError("missing_signature", "the payer must sign")
        _owned(inv, mint, "mint")
        Mint.unpack(mint.data)
        if not account.is_empty():
            existing = TokenAccount.unpack(account.data) if account.owner == TOKEN_PROGRAM_ID else None
            if existing is None or existing.owner != owner.key or existing.mint != mint.key:
                raise InstructionError("account_already_initialized", f"account {b58(account.key)} is in use")
            return
        inv.claim(account, [owner.key, mint.key, bytes((find_program_address([owner.key, mint.key], TOKEN_PROGRAM_ID)[1],))])
        account.data = TokenAccount(mint.key, owner.key, 0).pack()

    def _transfer(self, inv: Invocation) -> None:
        inv.need(3)
        amount = _amount(inv.data)
        source, destination, authority = inv.accounts[:3]
        _owned(inv, source, "source")
        _owned(inv, destination, "destination")
        src = TokenAccount.unpack(source.data)
        dst = TokenAccount.unpack(destination.data)
        if src.mint != dst.mint:
            raise InstructionError("mint_mismatch", "source and destination hold different tokens")
        if not authority.is_signer or authority.key != src.owner:
            raise InstructionError("owner_mismatch", f"the source's owner {b58(src.owner)} must sign the transfer")
        if source.key == destination.key:
            checked_sub(src.amount, amount)
            return
        source.data = TokenAccount(src.mint, src.owner, checked_sub(src.amount, amount, "insufficient_funds",
                                                                    f"insufficient funds: balance {src.amount}, transfer {amount}")).pack()
        destination.data = TokenAccount(dst.mint, dst.owner, checked_add(dst.amount, amount)).pack()

    def _transfer_split(self, inv: Invocation) -> None:
        amounts = split_amounts(inv.data)
        if amounts is None:
            raise InstructionError("invalid_instruction_data",
                                   f"transfer_split takes 1 to {MAX_SPLIT} u64 amounts after the instruction tag")
        legs = len(amounts)
        total = sum(amounts)
        if total == 0:
            raise InstructionError("invalid_amount", "the amounts must add up to more than zero")
        inv.need(2 + legs)
        source, authority = inv.accounts[:2]
        _owned(inv, source, "source")
        src = TokenAccount.unpack(source.data)
        if not authority.is_signer or authority.key != src.owner:
            raise InstructionError("owner_mismatch", f"the source's owner {b58(src.owner)} must sign the transfer")
        source.data = TokenAccount(src.mint, src.owner, checked_sub(src.amount, total, "insufficient_funds",
                                                                    f"insufficient funds: balance {src.amount}, transfer {total}")).pack()
        for destination, amount in zip(inv.accounts[2:2 + legs], amounts):
            _owned(inv, destination, "destination")
            if destination.key == source.key:
                raise InstructionError("invalid_account_address", "a split cannot pay its own source")
            dst = TokenAccount.unpack(destination.data)
            if dst.mint != src.mint:
                raise InstructionError("mint_mismatch", "source and destination hold different tokens")
            if amount:
                destination.data = TokenAccount(dst.mint, dst.owner, checked_add(dst.amount, amount)).pack()

    def _mint_to(self, inv: Invocation) -> None:
        inv.need(3)
        amount = _amount(inv.data)
        mint_view, destination, authority = inv.accounts[:3]
        _owned(inv, mint_view, "mint")
        _owned(inv, destination, "destination")
        mint = Mint.unpack(mint_view.data)
        dst = TokenAccount.unpack(destination.data)
        if dst.mint != mint_view.key:
            raise InstructionError("mint_mismatch", "destination holds a different token")
        if not authority.is_signer or authority.key != mint.authority:
            raise InstructionError("owner_mismatch", f"the mint authority {b58(mint.authority)} must sign")
        mint_view.data = Mint(mint.authority, checked_add(mint.supply, amount), mint.decimals, mint.symbol).pack()
        destination.data = TokenAccount(dst.mint, dst.owner, dst.amount + amount).pack()

    def _burn(self, inv: Invocation) -> None:
        self._burn_signed_by(inv, by_mint_authority=False)

    def _burn_by_authority(self, inv: Invocation) -> None:
        self._burn_signed_by(inv, by_mint_authority=True)

    def _burn_signed_by(self, inv: Invocation, *, by_mint_authority: bool) -> None:
        inv.need(3)
        amount = _amount(inv.data)
        source, mint_view, authority = inv.accounts[:3]
        _owned(inv, source, "source")
        _owned(inv, mint_view, "mint")
        src = TokenAccount.unpack(source.data)
        mint = Mint.unpack(mint_view.data)
        if src.mint != mint_view.key:
            raise InstructionError("mint_mismatch", "source holds a different token")
        if by_mint_authority:
            if not authority.is_signer or authority.key != mint.authority:
                raise InstructionError("owner_mismatch", f"the mint authority {b58(mint.authority)} must sign")
        elif not authority.is_signer or authority.key != src.owner:
            raise InstructionError("owner_mismatch", f"the source's owner {b58(src.owner)} must sign the burn")
        remaining = checked_sub(src.amount, amount, "insufficient_funds", f"insufficient funds: balance {src.amount}, burn {amount}")
        source.data = TokenAccount(src.mint, src.owner, remaining).pack()
        mint_view.data = Mint(mint.authority, mint.supply - amount, mint.decimals, mint.symbol).pack()

    def _set_mint_authority(self, inv: Invocation) -> None:
        inv.need(2)
        if len(inv.data) != 33:
            raise InstructionError("invalid_instruction_data", "expected the new 32-byte authority")
        mint_view, authority = inv.accounts[:2]
        _owned(inv, mint_view, "mint")
        mint = Mint.unpack(mint_view.data)
        if not authority.is_signer or authority.key != mint.authority:
            raise InstructionError("owner_mismatch", f"the mint authority {b58(mint.authority)} must sign")
        mint_view.data = Mint(inv.data[1:33], mint.supply, mint.decimals, mint.symbol).pack()
