"""Writes to the ledger. Every path that puts a transaction on chain goes through `transaction_submit`."""

from __future__ import annotations

from dataclasses import dataclass

from ledger import selectors
from ledger.chain import LedgerState
from ledger.config import make_runtime
from ledger.crypto import Keypair, b58
from ledger.encoding import Instruction, Message, Transaction
from ledger.errors import GridTokenXError, MalformedTransaction, TransactionFailed
from ledger.node import Outcome, node
from ledger.runtime import EMPTY, Clock


@dataclass(frozen=True)
class Submitted:
    signature: str
    block_height: int


def transaction_decode(*, wire: bytes, verify: bool = True) -> Transaction:
    """Decode a transaction and check every signature. Raises MalformedTransaction or SignatureVerificationFailed."""
    tx = Transaction.decode(wire)
    if verify:
        tx.verify_signatures()
    return tx


def transaction_submit(*, wire: bytes, timeout: float = 30.0) -> Submitted:
    """Verify, order and commit a transaction; return once its block is durably stored.

    Atomic: the transaction applies whole or not at all. Idempotent: resubmitting a committed transaction returns
    its original block. Raises MalformedTransaction, SignatureVerificationFailed, BlockhashNotFound,
    TransactionFailed (with the failing instruction and reason) or LedgerUnavailable.
    """
    signature, height = node().submit_wire(_wire_bytes(wire), timeout=timeout)
    return Submitted(b58(signature), height)


def transaction_submit_async(*, wire: bytes) -> Outcome | None:
    """Hand a transaction over without waiting; the same path as `transaction_submit`.

    Returns the local sequencer's Outcome (a future): its result is the block height once the block is durably
    stored, and it raises what `transaction_submit` raises, except that an already committed transaction raises
    DuplicateTransaction instead of answering with its block. None if another process orders: use
    `transaction_submit`.
    """
    return node().submit_wire_async(_wire_bytes(wire))


def _wire_bytes(wire) -> bytes:
    if type(wire) is bytes:
        return wire
    if not isinstance(wire, (bytes, bytearray)):
        raise MalformedTransaction("transaction must be bytes")
    return bytes(wire)


def transaction_simulate(*, wire: bytes, sig_verify: bool = True) -> dict:
    """Execute a transaction against the committed state without storing anything; report err and logs."""
    tx = transaction_decode(wire=wire, verify=sig_verify)
    tip = selectors.tip_header()
    state = LedgerState(make_runtime())
    accounts = selectors.raw_accounts(tx.message.account_keys())
    try:
        result = state.runtime.execute(tx, lambda key: accounts.get(key, EMPTY), Clock(tip.height + 1, tip.timestamp_ms))
    except TransactionFailed as exc:
        return {"err": exc.as_dict(), "logs": [], "accounts": {}}
    return {"err": None, "logs": result.logs, "accounts": result.writes}


def instructions_submit(*, instructions: list[Instruction], signers: list[Keypair], timeout: float = 30.0) -> Submitted:
    """Build, sign (first signer pays) and submit a transaction for a platform service."""
    if not signers:
        raise GridTokenXError("a transaction needs at least one signer")
    message = Message(signers[0].pubkey, selectors.latest_blockhash(), tuple(instructions))
    tx = Transaction.build(message, signers)
    return Submitted(tx.txid, node().submit(tx, timeout=timeout))
