"""The sequencer and the submission path. See docs/LEDGER.md for the design and its guarantees.

Any process may submit. Exactly one process at a time holds the leader lock (a PostgreSQL advisory lock, or a
file lock beside the SQLite database) and runs the sequencer: a producer thread that orders transactions and
executes them against the in-memory state, and a writer thread that stores each block in one database
transaction. Submitters in the leader's process hand transactions over in memory; other processes insert them
into the pending table, which the producer polls. A submitter learns the outcome only after the block holding
its transaction is durably committed.
"""

from __future__ import annotations

import fcntl
import logging
import os
import queue
import sys
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

from django.conf import settings
from django.db import close_old_connections, connection

from ledger import store
from ledger.chain import Block, LedgerState
from ledger.config import genesis_config, make_runtime
from ledger.encoding import Transaction
from ledger.errors import BlockhashNotFound, DuplicateTransaction, GridTokenXError, LedgerUnavailable, TransactionFailed

log = logging.getLogger(__name__)

ADVISORY_LOCK_KEY = 0x47585458  # "GXTX"
REMOTE_POLL_S = 0.005
WAIT_POLL_MAX_S = 0.02
LEAD_RETRY_S = 1.0


# -- leader lock ----------------------------------------------------------------------------------------------

class _FileLock:
    def __init__(self, path: str):
        self.path = path
        self.fd: int | None = None

    def try_acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


class _AdvisoryLock:
    """A session-level advisory lock on a connection of its own: it lasts exactly as long as this process."""

    def __init__(self):
        self.conn = None

    def try_acquire(self) -> bool:
        import psycopg

        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        conn = psycopg.connect(**params, autocommit=True)
        got = conn.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY]).fetchone()[0]
        if not got:
            conn.close()
            return False
        self.conn = conn
        return True

    def release(self) -> None:
        if self.conn is not None:
            try:
                self.conn.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
            finally:
                self.conn.close()
                self.conn = None


def _make_lock():
    return _AdvisoryLock() if connection.vendor == "postgresql" else _FileLock(settings.LEDGER_LOCK_FILE)


# -- the sequencer --------------------------------------------------------------------------------------------

@dataclass
class _Job:
    block: Block | None
    futures: dict[bytes, Future] = field(default_factory=dict)
    rejected: list[tuple[bytes, GridTokenXError]] = field(default_factory=list)
    remote_done: list[bytes] = field(default_factory=list)
    remote_errors: list[tuple[bytes, str]] = field(default_factory=list)


class Sequencer:
    def __init__(self):
        config = genesis_config()
        self.validator = config.validator
        self.state = LedgerState(make_runtime())
        self.max_batch = settings.LEDGER_MAX_BLOCK_TRANSACTIONS
        self.inbox: queue.Queue[tuple[Transaction, Future]] = queue.Queue()
        self.jobs: queue.Queue[_Job | None] = queue.Queue()
        # At most two blocks in flight (one being stored, one waiting): while they are, transactions gather in the
        # inbox, so the next block is larger and one commit (one fsync) covers more transactions.
        self.slots = threading.Semaphore(2)
        self.remote_inflight: set[bytes] = set()
        self.running = True
        self.failure: BaseException | None = None
        # Busy seconds of each stage and totals, for monitoring and benchmarks.
        self.stats = {"produce_s": 0.0, "write_s": 0.0, "blocks": 0, "transactions": 0, "rejected": 0}
        self._boot(config)
        # The writer waits on the database many times per block; with the default 5 ms GIL switch interval each
        # wake-up can queue behind busy Python threads. A shorter interval keeps the writer's turns short.
        sys.setswitchinterval(0.0005)
        self.producer = threading.Thread(target=self._produce_loop, name="ledger-producer", daemon=True)
        self.writer = threading.Thread(target=self._write_loop, name="ledger-writer", daemon=True)
        self.producer.start()
        self.writer.start()

    def _boot(self, config) -> None:
        if store.chain_height() is None:
            block = self.state.genesis(config)
            store.write_block(block)
            log.info("ledger: wrote genesis block %s", block.hash.hex())
            return
        store.load_state(self.state)
        if self.state.commitment.root() != self.state.tip.state_root:
            raise LedgerUnavailable(
                "stored accounts do not match the state root of the tip block; run `manage.py verify_ledger`"
            )

    def enqueue(self, tx: Transaction) -> Future:
        if not self.running:
            raise LedgerUnavailable("the sequencer has stopped", reason=str(self.failure or "shut down"))
        fut: Future = Future()
        self.inbox.put((tx, fut))
        return fut

    def stop(self) -> None:
        self.running = False
        self.producer.join(timeout=10)
        self.jobs.put(None)
        self.writer.join(timeout=30)

    # producer -------------------------------------------------------------------------------------------
    def _take_batch(self) -> list[tuple[Transaction, Future | None]]:
        batch: list[tuple[Transaction, Future | None]] = []
        try:
            batch.append(self.inbox.get(timeout=REMOTE_POLL_S))
        except queue.Empty:
            pass
        while len(batch) < self.max_batch:
            try:
                batch.append(self.inbox.get_nowait())
            except queue.Empty:
                break
        if len(batch) < self.max_batch:
            batch.extend(self._take_remote(self.max_batch - len(batch)))
        return batch

    def _take_remote(self, limit: int) -> list[tuple[Transaction, None]]:
        with connection.cursor() as cur:
            cur.execute(
                "SELECT signature, wire FROM ledger_pending_transaction WHERE error IS NULL ORDER BY received_at LIMIT %s",
                [limit + len(self.remote_inflight)],
            )
            rows = cur.fetchall()
        out = []
        for sig, wire in rows:
            sig = bytes(sig)
            if sig in self.remote_inflight:
                continue
            try:
                tx = Transaction.decode(bytes(wire))
            except GridTokenXError:
                continue  # submitters decode before inserting, so this row was written by hand; leave it be
            self.remote_inflight.add(sig)
            out.append((tx, None))
        return out

    def _produce_loop(self) -> None:
        try:
            while self.running:
                if not self.slots.acquire(timeout=0.1):
                    continue
                batch = self._take_batch()
                if not batch:
                    self.slots.release()
                    continue
                futures = {}
                for tx, fut in batch:
                    if fut is not None:
                        futures.setdefault(tx.signature, fut)
                started = time.perf_counter()
                block, rejected = self.state.produce([tx for tx, _ in batch], int(time.time() * 1000), self.validator)
                self.stats["produce_s"] += time.perf_counter() - started
                job = _Job(block, futures)
                if not block.transactions:
                    self.state.undo(block)
                    job.block = None
                remote = {tx.signature for tx, fut in batch if fut is None}
                for r in rejected:
                    job.rejected.append((r.tx.signature, r.error))
                    if r.tx.signature in remote:
                        job.remote_errors.append((r.tx.signature, _error_json(r.error)))
                if job.block is not None:
                    job.remote_done = [tx.signature for tx in block.transactions if tx.signature in remote]
                self.jobs.put(job)
        except BaseException as exc:  # noqa: BLE001 - any failure stops the sequencer; state is then suspect
            log.exception("ledger producer failed")
            self._fail(exc)
        finally:
            connection.close()

    # writer ---------------------------------------------------------------------------------------------
    def _write_loop(self) -> None:
        try:
            while True:
                job = self.jobs.get()
                if job is None:
                    return
                if job.block is not None or job.remote_errors:
                    started = time.perf_counter()
                    self._write(job)
                    self.stats["write_s"] += time.perf_counter() - started
                    if job.block is not None:
                        self.stats["blocks"] += 1
                        self.stats["transactions"] += len(job.block.transactions)
                self.stats["rejected"] += len(job.rejected)
                self.slots.release()
                self._settle(job)
        except BaseException as exc:  # noqa: BLE001
            log.exception("ledger writer failed")
            self._fail(exc)
            self._drain_jobs(exc)
        finally:
            connection.close()

    def _write(self, job: _Job) -> None:
        if job.block is not None:
            store.write_block(job.block, pending_done=job.remote_done, pending_errors=job.remote_errors)
        else:
            from django.db import transaction

            with transaction.atomic(), connection.cursor() as cur:
                cur.executemany("UPDATE ledger_pending_transaction SET error = %s WHERE signature = %s",
                                [(err, sig) for sig, err in job.remote_errors])

    def _settle(self, job: _Job) -> None:
        if job.block is not None:
            for tx in job.block.transactions:
                fut = job.futures.get(tx.signature)
                if fut is not None and not fut.done():
                    fut.set_result(job.block.height)
                self.remote_inflight.discard(tx.signature)
        for sig, error in job.rejected:
            fut = job.futures.get(sig)
            if fut is not None and not fut.done():
                fut.set_exception(error)
            self.remote_inflight.discard(sig)

    def _fail(self, exc: BaseException) -> None:
        self.failure = exc
        self.running = False
        _node.sequencer_failed(self)

    def _drain_jobs(self, exc: BaseException) -> None:
        error = LedgerUnavailable("the ledger could not store a block; resubmit", reason=str(exc))
        while True:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                break
            if job is None:
                continue
            for fut in job.futures.values():
                if not fut.done():
                    fut.set_exception(error)
        while True:
            try:
                _, fut = self.inbox.get_nowait()
            except queue.Empty:
                break
            if fut is not None and not fut.done():
                fut.set_exception(error)


def _error_json(error: GridTokenXError) -> str:
    import json

    return json.dumps(error.as_dict())


# -- the per-process node -------------------------------------------------------------------------------------

class LedgerNode:
    def __init__(self):
        self._lock = threading.Lock()
        self._leader_lock = None
        self.sequencer: Sequencer | None = None
        self._last_attempt = float("-inf")

    def try_lead(self) -> Sequencer | None:
        """Become the sequencer if no other process is; cheap to call often."""
        if self.sequencer is not None:
            return self.sequencer
        if time.monotonic() - self._last_attempt < LEAD_RETRY_S:
            return None  # another process led a moment ago; do not open a lock connection per submission
        with self._lock:
            if self.sequencer is not None:
                return self.sequencer
            self._last_attempt = time.monotonic()
            lock = _make_lock()
            if not lock.try_acquire():
                return None
            try:
                self.sequencer = Sequencer()
            except BaseException:
                lock.release()
                raise
            self._leader_lock = lock
            log.info("ledger: this process is the sequencer (pid %s)", os.getpid())
            return self.sequencer

    def sequencer_failed(self, seq: Sequencer) -> None:
        with self._lock:
            if self.sequencer is seq:
                self.sequencer = None
                if self._leader_lock is not None:
                    self._leader_lock.release()
                    self._leader_lock = None

    def shutdown(self) -> None:
        with self._lock:
            seq, self.sequencer = self.sequencer, None
            lock, self._leader_lock = self._leader_lock, None
            self._last_attempt = float("-inf")
        if seq is not None:
            seq.stop()
        if lock is not None:
            lock.release()

    def submit_async(self, tx: Transaction) -> Future | None:
        """Hand a verified transaction to the local sequencer; None when another process is the sequencer."""
        seq = self.try_lead()
        if seq is None:
            return None
        return seq.enqueue(tx)

    def submit(self, tx: Transaction, *, timeout: float = 30.0) -> int:
        """Order `tx` and wait until its block is committed; returns the block height.

        Idempotent: submitting a transaction that is already on chain returns its height.
        Raises TransactionFailed (nothing applied), BlockhashNotFound, or LedgerUnavailable.
        """
        fut = self.submit_async(tx)
        try:
            if fut is not None:
                try:
                    return fut.result(timeout=timeout)
                except FutureTimeout:
                    raise LedgerUnavailable(f"transaction {tx.txid} was not committed within {timeout:.0f} s") from None
            return self._submit_remote(tx, timeout)
        except (DuplicateTransaction, BlockhashNotFound):
            # A resubmitted transaction that is on chain answers with its block, even after its blockhash aged out.
            height = committed_height(tx.signature)
            if height is None:
                raise
            return height

    def _submit_remote(self, tx: Transaction, timeout: float) -> int:
        with connection.cursor() as cur:
            cur.execute(
                "INSERT INTO ledger_pending_transaction (signature, wire, received_at, error) VALUES (%s, %s, %s, NULL)"
                " ON CONFLICT (signature) DO UPDATE SET error = NULL",
                [tx.signature, tx.wire, _now()],
            )
        deadline = time.monotonic() + timeout
        delay = 0.001
        while time.monotonic() < deadline:
            with connection.cursor() as cur:
                cur.execute("SELECT error FROM ledger_pending_transaction WHERE signature = %s", [tx.signature])
                row = cur.fetchone()
            if row is None:
                height = committed_height(tx.signature)
                if height is not None:
                    return height
            elif row[0] is not None:
                raise _error_from_json(row[0])
            self.try_lead()  # if the sequencer's process is gone, this one takes over and orders the pending rows
            time.sleep(delay)
            delay = min(delay * 2, WAIT_POLL_MAX_S)
        raise LedgerUnavailable(f"transaction {tx.txid} was not committed within {timeout:.0f} s; no sequencer answered")


def _now():
    from django.utils import timezone

    return timezone.now()


def _error_from_json(raw) -> GridTokenXError:
    import json

    from ledger import errors

    data = json.loads(raw) if isinstance(raw, str) else raw
    code = data.get("code")
    message = data.get("message", "transaction rejected")
    if code == TransactionFailed.code:
        return TransactionFailed(instruction=data.get("instruction"), reason_code=data.get("reason", "error"),
                                 message=message.split("failed: ", 1)[-1])
    for cls in (errors.BlockhashNotFound, errors.DuplicateTransaction, errors.SignatureVerificationFailed,
                errors.MalformedTransaction):
        if cls.code == code:
            return cls(message)
    return GridTokenXError(message)


def committed_height(signature: bytes) -> int | None:
    with connection.cursor() as cur:
        cur.execute("SELECT block_height FROM ledger_transaction WHERE signature = %s", [signature])
        row = cur.fetchone()
    return row[0] if row else None


_node = LedgerNode()


def node() -> LedgerNode:
    return _node


def shutdown() -> None:
    _node.shutdown()
    close_old_connections()
