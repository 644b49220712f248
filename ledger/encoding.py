"""The canonical wire format of transactions and block headers (specified in docs/PROTOCOL.md).

Every integer is little-endian and unsigned unless stated; keys are raw 32 bytes; nothing is optional or
variable except where a length prefix says so, so one message has exactly one encoding.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ledger.crypto import PUBKEY_LEN, SIGNATURE_LEN, Keypair, b58, sha256, verify
from ledger.errors import MalformedTransaction, SignatureVerificationFailed

TX_MAGIC = b"GXTX"
TX_VERSION = 1
BLOCK_MAGIC = b"GXBK"
BLOCK_VERSION = 1

MAX_TX_SIZE = 4096
MAX_INSTRUCTIONS = 64
MAX_ACCOUNTS_PER_INSTRUCTION = 64
MAX_SIGNATURES = 16

FLAG_SIGNER = 0x01
FLAG_WRITABLE = 0x02

_U16 = struct.Struct("<H")
_HEADER = struct.Struct("<4sBQ32sq32s32sI32s")


@dataclass(frozen=True, slots=True)
class AccountMeta:
    pubkey: bytes
    is_signer: bool = False
    is_writable: bool = False


@dataclass(frozen=True, slots=True)
class Instruction:
    program_id: bytes
    accounts: tuple[AccountMeta, ...]
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class Message:
    fee_payer: bytes
    recent_blockhash: bytes
    instructions: tuple[Instruction, ...]

    def serialize(self) -> bytes:
        if not self.instructions:
            raise MalformedTransaction("a transaction needs at least one instruction")
        if len(self.instructions) > MAX_INSTRUCTIONS:
            raise MalformedTransaction(f"at most {MAX_INSTRUCTIONS} instructions")
        _check_key(self.fee_payer, "fee payer")
        _check_key(self.recent_blockhash, "recent blockhash")
        out = [TX_MAGIC, bytes((TX_VERSION,)), self.fee_payer, self.recent_blockhash, bytes((len(self.instructions),))]
        for ix in self.instructions:
            _check_key(ix.program_id, "program id")
            if len(ix.accounts) > MAX_ACCOUNTS_PER_INSTRUCTION:
                raise MalformedTransaction(f"at most {MAX_ACCOUNTS_PER_INSTRUCTION} accounts per instruction")
            out.append(ix.program_id)
            out.append(bytes((len(ix.accounts),)))
            for meta in ix.accounts:
                _check_key(meta.pubkey, "account")
                out.append(meta.pubkey)
                out.append(bytes(((FLAG_SIGNER if meta.is_signer else 0) | (FLAG_WRITABLE if meta.is_writable else 0),)))
            if len(ix.data) > 0xFFFF:
                raise MalformedTransaction("instruction data is at most 65535 bytes")
            out.append(_U16.pack(len(ix.data)))
            out.append(ix.data)
        return b"".join(out)

    def signers(self) -> list[bytes]:
        """Required signers: the fee payer, then every account flagged signer, in order of first appearance."""
        seen = {self.fee_payer: None}
        for ix in self.instructions:
            for meta in ix.accounts:
                if meta.is_signer and meta.pubkey not in seen:
                    seen[meta.pubkey] = None
        return list(seen)

    def account_keys(self) -> list[bytes]:
        """Every account the transaction names (fee payer first), each once, in order of first appearance."""
        seen = {self.fee_payer: None}
        for ix in self.instructions:
            for meta in ix.accounts:
                seen.setdefault(meta.pubkey, None)
        return list(seen)


@dataclass(frozen=True, slots=True)
class Transaction:
    signatures: tuple[bytes, ...]
    message: Message
    message_bytes: bytes = field(repr=False)
    wire: bytes = field(repr=False)

    @property
    def signature(self) -> bytes:
        """The transaction id: its first signature, which is the fee payer's."""
        return self.signatures[0]

    @property
    def txid(self) -> str:
        return b58(self.signatures[0])

    @classmethod
    def build(cls, message: Message, signers: list[Keypair]) -> Transaction:
        message_bytes = message.serialize()
        by_key = {kp.pubkey: kp for kp in signers}
        sigs = []
        required = message.signers()
        if len(required) > MAX_SIGNATURES:
            raise MalformedTransaction(f"message requires {len(required)} signatures; the limit is {MAX_SIGNATURES}")
        size = 1 + SIGNATURE_LEN * len(required) + len(message_bytes)
        if size > MAX_TX_SIZE:
            raise MalformedTransaction(f"transaction would be {size} bytes; the limit is {MAX_TX_SIZE}")
        for key in required:
            kp = by_key.get(key)
            if kp is None:
                raise MalformedTransaction(f"no key pair given for required signer {b58(key)}")
            sigs.append(kp.sign(message_bytes))
        wire = bytes((len(sigs),)) + b"".join(sigs) + message_bytes
        return cls(signatures=tuple(sigs), message=message, message_bytes=message_bytes, wire=wire)

    @classmethod
    def decode(cls, wire: bytes) -> Transaction:
        if type(wire) is not bytes:
            if not isinstance(wire, (bytes, bytearray)):
                raise MalformedTransaction("transaction must be bytes")
            wire = bytes(wire)
        # Decoding is on every submission's path: well-formed input takes the lean parser below, and anything it
        # does not accept is parsed again by the step-by-step one, which says exactly what is wrong.
        tx = _decode_well_formed(wire)
        if tx is not None:
            return tx
        return cls._decode_checked(wire)

    @classmethod
    def _decode_checked(cls, wire: bytes) -> Transaction:
        if len(wire) > MAX_TX_SIZE:
            raise MalformedTransaction(f"transaction is {len(wire)} bytes; the limit is {MAX_TX_SIZE}")
        reader = _Reader(wire)
        n_sigs = reader.u8("signature count")
        if n_sigs == 0 or n_sigs > MAX_SIGNATURES:
            raise MalformedTransaction(f"signature count must be 1..{MAX_SIGNATURES}, got {n_sigs}")
        sigs = tuple(reader.take(SIGNATURE_LEN, "signature") for _ in range(n_sigs))
        message_start = reader.pos
        if reader.take(4, "magic") != TX_MAGIC:
            raise MalformedTransaction("message does not start with the magic bytes 'GXTX'")
        version = reader.u8("version")
        if version != TX_VERSION:
            raise MalformedTransaction(f"unsupported message version {version}")
        fee_payer = reader.take(PUBKEY_LEN, "fee payer")
        blockhash = reader.take(PUBKEY_LEN, "recent blockhash")
        n_ix = reader.u8("instruction count")
        if n_ix == 0:
            raise MalformedTransaction("a transaction needs at least one instruction")
        if n_ix > MAX_INSTRUCTIONS:
            raise MalformedTransaction(f"transaction has {n_ix} instructions; the limit is {MAX_INSTRUCTIONS}")
        instructions = []
        for i in range(n_ix):
            program_id = reader.take(PUBKEY_LEN, f"instruction {i} program id")
            n_acc = reader.u8(f"instruction {i} account count")
            if n_acc > MAX_ACCOUNTS_PER_INSTRUCTION:
                raise MalformedTransaction(f"instruction {i} names {n_acc} accounts; the limit is {MAX_ACCOUNTS_PER_INSTRUCTION}")
            metas = []
            for _ in range(n_acc):
                key = reader.take(PUBKEY_LEN, f"instruction {i} account")
                flags = reader.u8(f"instruction {i} account flags")
                if flags & ~(FLAG_SIGNER | FLAG_WRITABLE):
                    raise MalformedTransaction(f"instruction {i} has unknown account flag bits {flags:#04x}")
                metas.append(AccountMeta(key, bool(flags & FLAG_SIGNER), bool(flags & FLAG_WRITABLE)))
            data_len = _U16.unpack(reader.take(2, f"instruction {i} data length"))[0]
            instructions.append(Instruction(program_id, tuple(metas), reader.take(data_len, f"instruction {i} data")))
        if reader.pos != len(wire):
            raise MalformedTransaction(f"{len(wire) - reader.pos} unexpected bytes after the message")
        message = Message(fee_payer, blockhash, tuple(instructions))
        expected = len(message.signers())
        if expected != n_sigs:
            raise MalformedTransaction(f"message requires {expected} signatures, transaction carries {n_sigs}")
        return cls(signatures=sigs, message=message, message_bytes=wire[message_start:], wire=wire)

    def verify_signatures(self) -> None:
        for index, (key, sig) in enumerate(zip(self.message.signers(), self.signatures)):
            if not verify(key, self.message_bytes, sig):
                raise SignatureVerificationFailed(
                    f"signature {index} does not verify for signer {b58(key)}", signer=b58(key), index=index
                )


_MESSAGE_PREFIX = TX_MAGIC + bytes((TX_VERSION,))
_FLAG_BITS = ((False, False), (True, False), (False, True), (True, True))
# Account metas are immutable and the same accounts recur in transaction after transaction: decoded ones are
# shared rather than built again. Bounded; emptied when full.
_METAS_SEEN: dict[bytes, AccountMeta] = {}
_METAS_SEEN_MAX = 65536


def _decode_well_formed(wire: bytes) -> Transaction | None:
    """The transaction in `wire`, or None if `wire` breaks any rule of the format (then `_decode_checked` says which).

    Accepts exactly what `_decode_checked` accepts, with one bounds check per field group instead of one reader call
    (and one error text) per field.
    """
    size = len(wire)
    if size > MAX_TX_SIZE or size == 0:
        return None
    n_sigs = wire[0]
    if n_sigs == 0 or n_sigs > MAX_SIGNATURES:
        return None
    start = 1 + SIGNATURE_LEN * n_sigs
    pos = start + 70  # magic, version, fee payer, recent blockhash, instruction count
    if pos > size or wire[start : start + 5] != _MESSAGE_PREFIX:
        return None
    n_ix = wire[pos - 1]
    if n_ix == 0 or n_ix > MAX_INSTRUCTIONS:
        return None
    fee_payer = wire[start + 5 : start + 37]
    signers = {fee_payer: None}
    flag_bits = _FLAG_BITS
    metas_seen = _METAS_SEEN
    instructions = []
    for _ in range(n_ix):
        first = pos + 33
        if first > size:
            return None
        n_acc = wire[pos + 32]
        if n_acc > MAX_ACCOUNTS_PER_INSTRUCTION:
            return None
        data_at = first + 33 * n_acc + 2
        if data_at > size:
            return None
        metas = []
        for at in range(first, data_at - 2, 33):
            entry = wire[at : at + 33]  # key and flags
            meta = metas_seen.get(entry)
            if meta is None:
                flags = entry[32]
                if flags > 3:
                    return None
                is_signer, is_writable = flag_bits[flags]
                meta = AccountMeta(entry[:32], is_signer, is_writable)
                if len(metas_seen) >= _METAS_SEEN_MAX:
                    metas_seen.clear()
                metas_seen[entry] = meta
            if meta.is_signer and meta.pubkey not in signers:
                signers[meta.pubkey] = None
            metas.append(meta)
        end = data_at + (wire[data_at - 2] | wire[data_at - 1] << 8)
        if end > size:
            return None
        instructions.append(Instruction(wire[pos : pos + 32], tuple(metas), wire[data_at:end]))
        pos = end
    if pos != size or len(signers) != n_sigs:
        return None
    if n_sigs == 1:
        sigs = (wire[1:65],)
    else:
        sigs = tuple(wire[at : at + SIGNATURE_LEN] for at in range(1, start, SIGNATURE_LEN))
    message = Message(fee_payer, wire[start + 37 : start + 69], tuple(instructions))
    return Transaction(sigs, message, wire[start:], wire)


class _Reader:
    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes):
        self.buf = buf
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        end = self.pos + n
        if end > len(self.buf):
            raise MalformedTransaction(f"transaction ends inside the {what}")
        out = self.buf[self.pos : end]
        self.pos = end
        return out

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]


def _check_key(key: bytes, what: str) -> None:
    if not isinstance(key, (bytes, bytearray)) or len(key) != PUBKEY_LEN:
        raise MalformedTransaction(f"{what} must be {PUBKEY_LEN} bytes")


@dataclass(frozen=True, slots=True)
class BlockHeader:
    height: int
    parent_hash: bytes
    timestamp_ms: int
    tx_root: bytes
    state_root: bytes
    tx_count: int
    producer: bytes

    def serialize(self) -> bytes:
        return _HEADER.pack(
            BLOCK_MAGIC, BLOCK_VERSION, self.height, self.parent_hash, self.timestamp_ms,
            self.tx_root, self.state_root, self.tx_count, self.producer,
        )

    def hash(self) -> bytes:
        return sha256(self.serialize())
