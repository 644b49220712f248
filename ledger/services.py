"""Writes to the ledger. Every path that puts a transaction on chain goes through `transaction_submit`."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from django.db import connection

from ledger import selectors
from ledger.chain import LedgerState
from ledger.config import make_runtime
from ledger.crypto import Keypair, b58
from ledger.encoding import Instruction, Message, Transaction
from ledger.errors import (
    DuplicateTransaction,
    GridTokenXError,
    LedgerUnavailable,
    MalformedTransaction,
    TransactionFailed,
)
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


def transactions_submit_many(wires: list[bytes], *, timeout: float = 30.0, threads: int = 32) -> list:
    """Submit many transactions at once and wait for all; each outcome, in order, is a Submitted or the
    GridTokenXError that refused it. The same guarantees as `transaction_submit` for each one.

    In the sequencer's own process every transaction is handed over together, so they share blocks; elsewhere
    up to `threads` wait on the pending table at a time."""
    futures = []
    for wire in wires:
        try:
            futures.append(transaction_submit_async(wire=wire))
        except GridTokenXError as exc:
            futures.append(exc)
    outcomes: list = []
    for wire, fut in zip(wires, futures, strict=True):
        if fut is None or isinstance(fut, GridTokenXError):
            outcomes.append(fut)
            continue
        try:
            outcomes.append(Submitted(b58(bytes(wire[1:65])), fut.result(timeout=timeout)))
        except DuplicateTransaction:
            outcomes.append(None)  # committed before: `transaction_submit` answers with its block
        except FutureTimeout:
            outcomes.append(LedgerUnavailable(f"transaction was not committed within {timeout:.0f} s"))
        except GridTokenXError as exc:
            outcomes.append(exc)
    retry = [i for i, outcome in enumerate(outcomes) if outcome is None]
    if retry:
        def one(i: int):
            try:
                return transaction_submit_one(wires[i], timeout)
            finally:
                connection.close()  # the pool's threads end with the call

        if len(retry) == 1:
            outcomes[retry[0]] = transaction_submit_one(wires[retry[0]], timeout)
        else:
            with ThreadPoolExecutor(max_workers=min(threads, len(retry)), thread_name_prefix="submit") as pool:
                for i, outcome in zip(retry, pool.map(one, retry), strict=True):
                    outcomes[i] = outcome
    return outcomes


def transaction_submit_one(wire: bytes, timeout: float = 30.0):
    """`transaction_submit`, with a refusal returned instead of raised."""
    try:
        return transaction_submit(wire=wire, timeout=timeout)
    except GridTokenXError as exc:
        return exc


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
