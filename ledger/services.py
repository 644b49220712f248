"""Writes to the ledger. Every path that puts a transaction on chain goes through `transaction_submit`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

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
from ledger.node import Outcome, committed_height, node
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


def transactions_submit_many(items: list, *, timeout: float = 30.0) -> list:
    """Submit many transactions at once and wait for all; each outcome, in order, is a Submitted or the
    GridTokenXError that refused it. The same guarantees as `transaction_submit` for each one.

    An item is a wire (decoded and verified like any submission) or a Transaction built and signed in this
    process (handed over as it is). In the sequencer's own process they are handed over together, so they share
    blocks; elsewhere they go through the pending table in one insert and are waited for with one poll per round.
    """
    return [outcome for part in transactions_submit_stream(items, chunk=max(1, len(items)), timeout=timeout)
            for outcome in part]


def transactions_submit_stream(items: list, *, chunk: int, timeout: float = 30.0,
                                merge_ready: bool = False) -> Iterator[list]:
    """`transactions_submit_many`, answered a chunk at a time: every transaction is handed over at once, then
    the outcomes of items [0, chunk), [chunk, 2 chunk), ... are yielded in turn, each as soon as all of its own
    are known. The caller can record what one chunk committed while the ledger orders the next. Consume it to the
    end: every transaction was handed over before the first chunk is yielded, whatever the caller does next.

    With `merge_ready`, the chunks after one whose outcomes are all known already (the ledger got ahead of the
    caller) are yielded with it, as one longer list: the caller then records them together."""
    outcomes: list = [None] * len(items)
    futures: dict[int, Outcome] = {}
    remote: dict[int, Transaction] = {}
    for i, item in enumerate(items):
        try:
            if isinstance(item, Transaction):
                fut = node().submit_async(item)
                tx = item
            else:
                wire = _wire_bytes(item)
                fut = node().submit_wire_async(wire)
                tx = transaction_decode(wire=wire) if fut is None else None
        except GridTokenXError as exc:
            outcomes[i] = exc
            continue
        if fut is None:
            remote[i] = tx
        else:
            futures[i] = fut
    if remote:
        node().pending_insert(list(remote.values()))
    deadline = time.monotonic() + timeout  # for the whole stream, as for one batch
    start = 0
    while start < len(items):
        end = min(start + chunk, len(items))
        while merge_ready and end < len(items) and all(
                i not in remote and (i not in futures or futures[i].done())
                for i in range(end, min(end + chunk, len(items)))):
            end = min(end + chunk, len(items))
        part = range(start, end)
        start = end
        for i in part:
            if (fut := futures.get(i)) is not None:
                outcomes[i] = _local_outcome(items[i], fut, max(0.0, deadline - time.monotonic()), timeout)
        waiting = [i for i in part if i in remote]
        if waiting:
            heights = node().pending_wait([remote[i] for i in waiting],
                                          timeout=max(0.0, deadline - time.monotonic()))
            for i, height in zip(waiting, heights, strict=True):
                outcomes[i] = height if isinstance(height, GridTokenXError) else Submitted(remote[i].txid, height)
        yield outcomes[part.start:part.stop]


def _local_outcome(item, fut: Outcome, wait: float, timeout: float):
    # A future that answers belongs to a transaction that decoded: its first signature is its id.
    signature = item.signature if isinstance(item, Transaction) else bytes(item[1:65])
    try:
        return Submitted(b58(signature), fut.result(timeout=wait))
    except DuplicateTransaction as exc:
        height = committed_height(signature)  # committed before: answer with its block
        return exc if height is None else Submitted(b58(signature), height)
    except FutureTimeout:
        return LedgerUnavailable(f"transaction was not committed within {timeout:.0f} s")
    except GridTokenXError as exc:
        return exc


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
