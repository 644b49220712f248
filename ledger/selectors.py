"""Reads of the ledger. Everything here reads committed data from the database, so any process can answer."""

from __future__ import annotations

from django.db import connection

from ledger.chain import BLOCKHASH_WINDOW
from ledger.encoding import BlockHeader, Transaction
from ledger.errors import LedgerUnavailable, NotFound
from ledger.models import Account, AccountTransaction, Block
from ledger.models import Transaction as TxRow
from ledger.node import node
from ledger.store import header_from_row
from ledger.token_program import TOKEN_PROGRAM_ID, Mint, TokenAccount, associated_token_address, mint_address

TOKENS = ("GXT", "THB")


def tip_header() -> BlockHeader:
    row = Block.objects.order_by("-height").values_list(
        "height", "hash", "parent_hash", "timestamp_ms", "tx_root", "state_root", "tx_count", "producer", "signature"
    ).first()
    if row is None:
        node().try_lead()  # the first reader of an empty database writes genesis, if no other process leads
        row = Block.objects.order_by("-height").values_list(
            "height", "hash", "parent_hash", "timestamp_ms", "tx_root", "state_root", "tx_count", "producer", "signature"
        ).first()
        if row is None:
            raise LedgerUnavailable("the ledger has no genesis block yet")
    return header_from_row(row)[0]


def block_height() -> int:
    return tip_header().height


def latest_blockhash() -> bytes:
    seq = node().sequencer
    if seq is not None:
        return seq.blockhash
    tip_header()
    return bytes(Block.objects.order_by("-height").values_list("hash", flat=True).first())


def latest_blockhash_with_expiry() -> tuple[bytes, int]:
    tip = tip_header()
    return bytes(Block.objects.get(height=tip.height).hash), tip.height + BLOCKHASH_WINDOW


def raw_accounts(keys: list[bytes]) -> dict[bytes, tuple[bytes, bytes]]:
    with connection.cursor() as cur:
        out = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            cur.execute(
                f"SELECT address, owner, data FROM ledger_account WHERE address IN ({', '.join(['%s'] * len(chunk))})", chunk
            )
            for address, owner, data in cur.fetchall():
                out[bytes(address)] = (bytes(owner), bytes(data))
    return out


def account_get(address: bytes) -> Account:
    try:
        return Account.objects.get(address=address)
    except Account.DoesNotExist:
        raise NotFound("no account with this address") from None


def mint_get(symbol_or_address: bytes | str) -> tuple[bytes, Mint]:
    key = mint_address(symbol_or_address) if isinstance(symbol_or_address, str) else symbol_or_address
    acc = account_get(key)
    if bytes(acc.owner) != TOKEN_PROGRAM_ID or not bytes(acc.data) or bytes(acc.data)[0] != 1:
        raise NotFound("this account is not a token mint")
    return key, Mint.unpack(bytes(acc.data))


def token_account_get(address: bytes) -> TokenAccount:
    acc = account_get(address)
    if bytes(acc.owner) != TOKEN_PROGRAM_ID or not bytes(acc.data) or bytes(acc.data)[0] != 2:
        raise NotFound("this account is not a token account")
    return TokenAccount.unpack(bytes(acc.data))


def wallet_balances(owner: bytes) -> dict[str, int]:
    """An owner's balance of each platform token (its associated token accounts; 0 where none exists)."""
    atas = {symbol: associated_token_address(owner, mint_address(symbol)) for symbol in TOKENS}
    rows = raw_accounts(list(atas.values()))
    out = {}
    for symbol, ata in atas.items():
        value = rows.get(ata)
        out[symbol] = TokenAccount.unpack(value[1]).amount if value else 0
    return out


def block_get(height: int) -> tuple[Block, list[TxRow]]:
    try:
        block = Block.objects.get(height=height)
    except Block.DoesNotExist:
        raise NotFound(f"no block at height {height}") from None
    return block, list(TxRow.objects.filter(block_height=height).order_by("position"))


def blocks_list(*, before: int | None = None, limit: int = 20):
    qs = Block.objects.order_by("-height")
    if before is not None:
        qs = qs.filter(height__lt=before)
    return list(qs[:limit])


def transaction_get(signature: bytes) -> tuple[TxRow, Transaction, Block]:
    try:
        row = TxRow.objects.get(signature=signature)
    except TxRow.DoesNotExist:
        raise NotFound("no committed transaction with this signature") from None
    return row, Transaction.decode(bytes(row.wire)), Block.objects.get(height=row.block_height)


def signature_statuses(signatures: list[bytes]) -> dict[bytes, int]:
    rows = TxRow.objects.filter(signature__in=signatures).values_list("signature", "block_height")
    return {bytes(sig): height for sig, height in rows}


def signatures_for_address(address: bytes, *, limit: int = 100, before: tuple[int, int] | None = None):
    qs = AccountTransaction.objects.filter(address=address).order_by("-block_height", "-position")
    if before is not None:
        height, position = before
        from django.db.models import Q

        qs = qs.filter(Q(block_height__lt=height) | Q(block_height=height, position__lt=position))
    return list(qs.values_list("signature", "block_height", "position")[:limit])
