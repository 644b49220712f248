"""The ledger as JSON: blocks, transactions, instructions and accounts, shared by the JSON-RPC and REST interfaces.

One presenter serves both, so an object looks the same wherever it appears:
- keys, hashes and signatures are base58; raw account data is base64;
- u64 amounts are decimal strings (a JavaScript number loses precision past 2^53), and a display amount is
  `ui_amount_string` from `ledger.units`, never a float;
- times are Unix seconds (`block_time`); a block's height is also its slot (one block per slot).
Dicts use snake_case keys; the JSON-RPC layer passes them through `camel` to get Solana's camelCase.

Input parsing lives here too: every interface turns text into keys, signatures and wire bytes the same way, with
length limits checked before decoding (base58 decoding is quadratic in the length of the text). Decoding a token
account reads its mint (for the decimals), and a few reads both interfaces need sit at the end of the module.
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Callable, Iterable
from functools import cache

from ledger import selectors
from ledger.config import make_runtime
from ledger.crypto import PUBKEY_LEN, SIGNATURE_LEN, b58, unb58
from ledger.encoding import MAX_TX_SIZE, Instruction, Transaction
from ledger.errors import GridTokenXError, InvalidAddress, MalformedTransaction, NotFound
from ledger.models import Block
from ledger.token_program import (
    GXT_DECIMALS,
    IX_BURN,
    IX_CREATE_ACCOUNT,
    IX_MINT_TO,
    IX_SET_MINT_AUTHORITY,
    IX_TRANSFER,
    IX_TRANSFER_SPLIT,
    MAX_SPLIT,
    MINT_KIND,
    THB_DECIMALS,
    TOKEN_ACCOUNT_KIND,
    TOKEN_PROGRAM_ID,
    Mint,
    TokenAccount,
    associated_token_address,
    mint_address,
    split_amounts,
)
from ledger.units import format_units

# Decimals are fixed when a mint is created; no instruction changes them.
TOKEN_DECIMALS = {"GXT": GXT_DECIMALS, "THB": THB_DECIMALS}
WIRE_ENCODINGS = ("base64", "base58")
# The longest text a MAX_TX_SIZE transaction encodes to (base58 grows by log(256)/log(58) < 1.37).
_MAX_ENCODED = {"base64": 4 * -(-MAX_TX_SIZE // 3), "base58": MAX_TX_SIZE * 137 // 100 + 1}
# The longest base58 text of a 32-byte key and of a 64-byte signature.
_MAX_ADDRESS_CHARS = 44
_MAX_SIGNATURE_CHARS = 88
_U64 = struct.Struct("<Q")


# -- input ----------------------------------------------------------------------------------------------------

def parse_address(text: object, what: str = "address") -> bytes:
    """A 32-byte key from base58 text. Raises InvalidAddress (400) naming `what`."""
    if isinstance(text, str) and len(text) > _MAX_ADDRESS_CHARS:
        raise InvalidAddress(f"{what} is {len(text)} characters; a base58 address has at most {_MAX_ADDRESS_CHARS}")
    return unb58(text, PUBKEY_LEN, what)


def parse_signature(text: object) -> bytes:
    """A 64-byte transaction signature from base58 text. Raises InvalidAddress (400)."""
    if isinstance(text, str) and len(text) > _MAX_SIGNATURE_CHARS:
        raise InvalidAddress(f"signature is {len(text)} characters; a base58 signature has at most {_MAX_SIGNATURE_CHARS}")
    return unb58(text, SIGNATURE_LEN, "signature")


def parse_wire(text: object, encoding: str = "base64") -> bytes:
    """The wire bytes of a transaction from base64 or base58 text. Raises MalformedTransaction (400)."""
    if encoding not in WIRE_ENCODINGS:
        raise MalformedTransaction(f"encoding must be one of {', '.join(WIRE_ENCODINGS)}, not {str(encoding)[:40]!r}")
    if not isinstance(text, str) or not text:
        raise MalformedTransaction(f"the transaction must be a non-empty {encoding} string")
    if len(text) > _MAX_ENCODED[encoding]:
        raise MalformedTransaction(
            f"the {encoding} text is {len(text)} characters; a transaction of at most {MAX_TX_SIZE} bytes "
            f"encodes to at most {_MAX_ENCODED[encoding]}"
        )
    if encoding == "base58":
        try:
            return unb58(text, what="transaction")
        except InvalidAddress:
            raise MalformedTransaction("the transaction is not valid base58") from None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedTransaction("the transaction is not valid base64") from None


def parse_mint(text: object) -> bytes:
    """A mint's address from a platform token symbol ("GXT", "THB") or a base58 mint address."""
    if isinstance(text, str) and text in TOKEN_DECIMALS:
        return mint_address(text)
    return parse_address(text, "mint address or token symbol (GXT, THB)")


# -- amounts and times ----------------------------------------------------------------------------------------

def block_time(timestamp_ms: int) -> int:
    """A block's time in Unix seconds, as Solana's `blockTime` (blocks store milliseconds)."""
    return timestamp_ms // 1000


def ui_amount_string(amount: int, decimals: int) -> str:
    """Base units as a plain decimal string: 1_500_000 with 6 decimals is "1.5". Exact; no digit grouping."""
    return format_units(amount, decimals).replace(",", "")


def token_amount(amount: int, decimals: int) -> dict:
    return {"amount": str(amount), "decimals": decimals, "ui_amount_string": ui_amount_string(amount, decimals)}


# -- instructions and transactions ----------------------------------------------------------------------------

def _no_args(data: bytes) -> dict | None:
    return {} if len(data) == 1 else None


def _amount_args(data: bytes) -> dict | None:
    return {"amount": str(_U64.unpack_from(data, 1)[0])} if len(data) == 9 else None


def _new_authority_args(data: bytes) -> dict | None:
    return {"new_authority": b58(data[1:33])} if len(data) == 33 else None


def _split_args(data: bytes) -> dict | None:
    amounts = split_amounts(data)
    return None if amounts is None else {"amounts": [str(a) for a in amounts]}


# tag -> (name, the role of each account in order, argument parser)
_TOKEN_INSTRUCTIONS: dict[int, tuple[str, tuple[str, ...], Callable[[bytes], dict | None]]] = {
    IX_CREATE_ACCOUNT: ("create_account", ("payer", "account", "owner", "mint"), _no_args),
    IX_TRANSFER: ("transfer", ("source", "destination", "authority"), _amount_args),
    IX_MINT_TO: ("mint_to", ("mint", "destination", "authority"), _amount_args),
    IX_BURN: ("burn", ("source", "mint", "authority"), _amount_args),
    IX_SET_MINT_AUTHORITY: ("set_mint_authority", ("mint", "authority"), _new_authority_args),
    IX_TRANSFER_SPLIT: ("transfer_split", ("source", "authority") + tuple(f"destination {i}" for i in range(1, MAX_SPLIT + 1)),
                        _split_args),
}


def _decode_token_instruction(data: bytes) -> tuple[str, tuple[str, ...], dict] | None:
    entry = _TOKEN_INSTRUCTIONS.get(data[0]) if data else None
    if entry is None:
        return None
    name, roles, parse_args = entry
    args = parse_args(data)
    return None if args is None else (name, roles, args)


# program id -> decoder of its instruction data; a program without one is shown with its raw data only.
INSTRUCTION_DECODERS: dict[bytes, Callable[[bytes], tuple[str, tuple[str, ...], dict] | None]] = {
    TOKEN_PROGRAM_ID: _decode_token_instruction,
}


@cache
def _program_names() -> dict[bytes, str]:
    return {program_id: program.name for program_id, program in make_runtime().programs.items()}


def instruction(ix: Instruction) -> dict:
    """An instruction with its program's name and, where the program has a decoder, its name, roles and args."""
    decoder = INSTRUCTION_DECODERS.get(ix.program_id)
    decoded = decoder(ix.data) if decoder else None
    name, roles, args = decoded if decoded else (None, (), None)
    return {
        "program_id": b58(ix.program_id),
        "program": _program_names().get(ix.program_id),
        "name": name,
        "accounts": [
            {"pubkey": b58(meta.pubkey), "signer": meta.is_signer, "writable": meta.is_writable,
             "role": roles[i] if i < len(roles) else None}
            for i, meta in enumerate(ix.accounts)
        ],
        "args": args,
        "data": b58(ix.data),
    }


def transaction_body(tx: Transaction) -> dict:
    message = tx.message
    return {
        "signatures": [b58(sig) for sig in tx.signatures],
        "message": {
            "fee_payer": b58(message.fee_payer),
            "recent_blockhash": b58(message.recent_blockhash),
            "instructions": [instruction(ix) for ix in message.instructions],
        },
    }


# Only successful transactions are recorded (docs/LEDGER.md), so every committed transaction has this meta, with
# the lines the runtime logged while executing it.
def _committed_meta(logs: str) -> dict:
    return {"err": None, "status": {"Ok": None}, "log_messages": logs.split("\n") if logs else []}


def block_transaction(tx: Transaction, logs: str = "", *, encoding: str = "json") -> dict:
    """A transaction decoded ("json"), or as Solana's ["<base64 wire bytes>", "base64"] ("base64"), with its
    stored logs (newline-separated)."""
    body = [base64.b64encode(tx.wire).decode("ascii"), "base64"] if encoding == "base64" else transaction_body(tx)
    return {"transaction": body, "meta": _committed_meta(logs)}


def committed_transaction(tx: Transaction, row: Block, logs: str = "", *, encoding: str = "json") -> dict:
    """A transaction with the block that holds it and its stored logs, as `selectors.transaction_get` gives them."""
    return {"slot": row.height, "block_time": block_time(row.timestamp_ms),
            **block_transaction(tx, logs, encoding=encoding)}


def signature_info(signature: bytes, height: int, timestamp_ms: int) -> dict:
    return {"signature": b58(signature), "slot": height, "err": None, "block_time": block_time(timestamp_ms)}


# -- blocks ---------------------------------------------------------------------------------------------------

def block_header(row: Block) -> dict:
    return {
        "blockhash": b58(bytes(row.hash)),
        "previous_blockhash": b58(bytes(row.parent_hash)),
        "parent_slot": max(row.height - 1, 0),
        "block_height": row.height,
        "block_time": block_time(row.timestamp_ms),
        # The header hashes the time in milliseconds (docs/PROTOCOL.md); `block_time` alone cannot rebuild it.
        "timestamp_ms": row.timestamp_ms,
        "transaction_count": row.tx_count,
        "tx_root": b58(bytes(row.tx_root)),
        "state_root": b58(bytes(row.state_root)),
        "producer": b58(bytes(row.producer)),
        "signature": b58(bytes(row.signature)),
    }


def block(row: Block, tx_rows: Iterable, *, encoding: str = "json") -> dict:
    """A block with its transactions (`tx_rows`: its stored transactions in order, as `selectors.block_get` gives)."""
    return {**block_header(row), "transactions": [
        block_transaction(Transaction.decode(bytes(tx.wire)), tx.logs, encoding=encoding) for tx in tx_rows
    ]}


# -- accounts -------------------------------------------------------------------------------------------------

def token(address: bytes, mint: Mint) -> dict:
    """A token: its mint's address, symbol, decimals, authority and supply."""
    return {
        "address": b58(address),
        "symbol": mint.symbol,
        "decimals": mint.decimals,
        "authority": b58(mint.authority),
        "supply": token_amount(mint.supply, mint.decimals),
    }


def _parsed_token_data(data: bytes) -> dict | None:
    try:
        if data[:1] == bytes((MINT_KIND,)):
            m = Mint.unpack(data)
            return {"type": "mint", "info": {"mint_authority": b58(m.authority), "supply": str(m.supply),
                                             "decimals": m.decimals, "symbol": m.symbol, "is_initialized": True}}
        if data[:1] == bytes((TOKEN_ACCOUNT_KIND,)):
            account = TokenAccount.unpack(data)
            decimals = selectors.mint_get(account.mint)[1].decimals
            return {"type": "account", "info": {"mint": b58(account.mint), "owner": b58(account.owner),
                                                "token_amount": token_amount(account.amount, decimals)}}
    except (GridTokenXError, UnicodeDecodeError):  # not the layout its kind byte claims, or its mint is gone
        return None
    return None


def account(owner: bytes, data: bytes, *, encoding: str = "base64") -> dict:
    """An account; with encoding "jsonParsed", token-program data is decoded (others stay base64, as in Solana).

    Decoding a token account reads its mint for the decimals.
    """
    parsed = _parsed_token_data(data) if encoding == "jsonParsed" and owner == TOKEN_PROGRAM_ID else None
    return {
        "owner": b58(owner),
        "data": {"program": "token", "parsed": parsed, "space": len(data)} if parsed
        else [base64.b64encode(data).decode("ascii"), "base64"],
        "space": len(data),
        "executable": False,
    }


def balances(owner: bytes) -> dict[str, dict]:
    return {symbol: token_amount(amount, TOKEN_DECIMALS[symbol])
            for symbol, amount in selectors.wallet_balances(owner).items()}


# -- reads the interfaces share that selectors.py does not offer ----------------------------------------------

def block_times(heights: Iterable[int]) -> dict[int, int]:
    """Block timestamps (ms) by height."""
    return dict(Block.objects.filter(height__in=set(heights)).values_list("height", "timestamp_ms"))


def signatures_for_address(address: bytes, *, limit: int, before: bytes | None = None) -> list[dict]:
    """Transactions that named `address`, newest first, starting after the transaction `before` if given."""
    cursor = None
    if before is not None:
        try:
            row = selectors.transaction_get(before)[0]
        except NotFound:
            raise NotFound("no committed transaction with the `before` signature") from None
        cursor = (row.block_height, row.position)
    rows = selectors.signatures_for_address(address, limit=limit, before=cursor)
    times = block_times(height for _, height, _ in rows)
    return [signature_info(bytes(sig), height, times[height]) for sig, height, _ in rows]


def is_wallet(owner: bytes) -> bool:
    """True when `owner` holds an associated token account of a platform token."""
    atas = [associated_token_address(owner, mint_address(symbol)) for symbol in TOKEN_DECIMALS]
    return bool(selectors.raw_accounts(atas))


# -- naming ---------------------------------------------------------------------------------------------------

def _camel_key(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def camel(value):
    """The same JSON with Solana's camelCase keys (`block_time` -> `blockTime`); values are left alone."""
    if isinstance(value, dict):
        return {_camel_key(k) if isinstance(k, str) else k: camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value

