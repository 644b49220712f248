"""The sequencer and the submission path. See docs/LEDGER.md for the design and its guarantees.

Any process may submit. Exactly one process at a time holds the leader lock (a PostgreSQL advisory lock, or a
file lock beside the SQLite database) and runs the sequencer: verifier threads that decode submitted
transactions and check their signatures (under load with the help of worker processes), a producer thread that
orders transactions and executes them against the in-memory state, and a writer thread that stores each block in
one database transaction. Submitters in the leader's process hand transactions over in memory; other processes
verify them themselves and insert them into the pending table, which the producer polls. A submitter learns the
outcome only after the block holding its transaction is durably committed.
"""

from __future__ import annotations

import atexit
import gc
import logging
import os
import queue
import struct
import sys
import threading
import time
from _thread import allocate_lock
from collections import deque
from concurrent.futures import InvalidStateError
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

from django.conf import settings
from django.db import close_old_connections, connection

from gridtokenx.locks import AdvisoryLock, FileLock
from ledger import store
from ledger.chain import Block, LedgerState
from ledger.config import genesis_config, make_runtime
from ledger.crypto import b58
from ledger.encoding import Transaction
from ledger.errors import BlockhashNotFound, DuplicateTransaction, GridTokenXError, LedgerUnavailable, TransactionFailed

log = logging.getLogger(__name__)

ADVISORY_LOCK_KEY = 0x47585458  # "GXTX"
REMOTE_POLL_S = 0.005
WAIT_POLL_MAX_S = 0.02
LEAD_RETRY_S = 1.0


# -- leader lock ----------------------------------------------------------------------------------------------

def _make_lock():
    """The leader lock: a session-level advisory lock on a connection of its own (it lasts exactly as long as this
    process holds it), or an flock on a file beside the SQLite database."""
    if connection.vendor == "postgresql":
        return AdvisoryLock(ADVISORY_LOCK_KEY)
    return FileLock(settings.LEDGER_LOCK_FILE)


# -- the sequencer --------------------------------------------------------------------------------------------

# Verifier threads take runs of submitted wires from the intake, decode them, and have their signatures checked:
# by worker processes under load (see _VerifierProcesses), in the thread itself otherwise. libsodium releases the
# GIL while it verifies, so either way verification uses every core.
VERIFY_THREADS = 2 * (os.cpu_count() or 1)
VERIFY_BATCH = 64
VERIFY_PROCESSES = os.cpu_count() or 1
VERIFY_NICE = 5
OFFLOAD_MIN = 8  # a shorter run is checked in its thread: a round trip to a worker would cost more than it saves
VERIFIER_IDLE_S = 0.1
# A block started while none is being stored holds at most this many transactions, and each block produced while
# another is in flight at most twice as many as the last, up to LEDGER_MAX_BLOCK_TRANSACTIONS: a backlog that
# arrives at once (a matcher run's settlements) gets its first answers after a small block, and is stored in
# pieces while the rest executes; under sustained load blocks still grow to the maximum within a few blocks.
FIRST_BLOCK_TRANSACTIONS = 250


class Outcome:
    """What a submitter waits for: the height of the block holding its transaction, or why it was refused.

    The part of `concurrent.futures.Future` that submitters use (result, exception, done, add_done_callback),
    without a Condition per submission: one is created for every transaction, so its cost is on the hot path.
    """

    __slots__ = ("_lock", "_state", "_value", "_callbacks", "_waiters")
    _PENDING, _RESULT, _ERROR = 0, 1, 2

    def __init__(self):
        self._lock = allocate_lock()
        self._state = Outcome._PENDING
        self._value = None
        self._callbacks: list | None = None
        self._waiters: list | None = None

    def done(self) -> bool:
        return self._state != Outcome._PENDING

    def cancel(self) -> bool:
        return False  # a handed-over transaction cannot be withdrawn

    def cancelled(self) -> bool:
        return False

    def running(self) -> bool:
        return self._state == Outcome._PENDING

    def result(self, timeout: float | None = None):
        self._wait(timeout)
        if self._state == Outcome._ERROR:
            raise self._value
        return self._value

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self._wait(timeout)
        return self._value if self._state == Outcome._ERROR else None

    def add_done_callback(self, fn) -> None:
        """Call `fn(outcome)` once it is settled: at once if it is, else on the thread that settles it."""
        with self._lock:
            if self._state == Outcome._PENDING:
                if self._callbacks is None:
                    self._callbacks = [fn]
                else:
                    self._callbacks.append(fn)
                return
        _call_back(fn, self)

    def set_result(self, result) -> None:
        self._settle(Outcome._RESULT, result)

    def set_exception(self, error: BaseException) -> None:
        self._settle(Outcome._ERROR, error)

    def _settle(self, state: int, value) -> None:
        with self._lock:
            if self._state != Outcome._PENDING:
                raise InvalidStateError("this outcome is already settled")
            self._value = value
            self._state = state
            waiters, callbacks = self._waiters, self._callbacks
        if waiters:
            for waiter in waiters:
                waiter.release()
        if callbacks:
            for fn in callbacks:
                _call_back(fn, self)

    def _wait(self, timeout: float | None) -> None:
        if self._state != Outcome._PENDING:
            return
        with self._lock:
            if self._state != Outcome._PENDING:
                return
            waiter = allocate_lock()
            waiter.acquire()
            if self._waiters is None:
                self._waiters = [waiter]
            else:
                self._waiters.append(waiter)
        if not waiter.acquire(timeout=-1 if timeout is None else max(timeout, 0)):
            raise FutureTimeout()


def _call_back(fn, outcome: Outcome) -> None:
    try:
        fn(outcome)
    except Exception:  # noqa: BLE001 - as concurrent.futures does: a callback's bug must not stop the settler
        log.exception("exception calling callback for %r", outcome)


@dataclass
class _Job:
    block: Block | None
    # What the producer took, in order: local submissions carry their future, pending-table rows carry None.
    batch: list[tuple[Transaction, Outcome | None]] = field(default_factory=list)
    errors: list[GridTokenXError | None] = field(default_factory=list)  # per batch item; None when included
    remote_done: list[bytes] = field(default_factory=list)
    remote_errors: list[tuple[bytes, str]] = field(default_factory=list)


class _Checked:
    """A run of submissions taken from the intake together, checked by one verifier thread."""

    __slots__ = ("items", "ready")

    def __init__(self, items: list):
        self.items = items
        self.ready = False


class Sequencer:
    """Intake → verifier threads → producer thread → writer thread → database; see docs/LEDGER.md."""

    def __init__(self):
        config = genesis_config()
        self.validator = config.validator
        self.state = LedgerState(make_runtime())
        self.max_batch = settings.LEDGER_MAX_BLOCK_TRANSACTIONS
        # Submissions in arrival order: raw wires still to be decoded and verified, or transactions built and
        # signed in this process. Verifier threads take runs of them under `_take_lock` and append a `_Checked`
        # placeholder to `checked` at the same moment, so the producer sees them in arrival order however the
        # verifiers interleave. Deque appends and pops are atomic: a submission itself takes no lock.
        self.intake: deque[tuple[bytes | Transaction, Outcome]] = deque()
        self.checked: deque[_Checked] = deque()
        self._take_lock = threading.Lock()
        self._intake_ready = threading.Event()
        self._verifiers_idle = 0
        self._wake = threading.Event()
        self._producer_idle = False
        self._next_remote_poll = 0.0
        self._poll_cursor = None
        self.jobs: queue.Queue[_Job | None] = queue.Queue()
        # At most two blocks in flight (one being stored, one waiting): while they are, transactions gather in the
        # intake, so the next block is larger and one commit (one fsync) covers more transactions.
        self.slots = threading.Semaphore(2)
        self.handed = self.stored = 0  # blocks given to the writer, and stored (each counted by one thread)
        self.last_block = 0  # transactions in the last block produced
        self.remote_inflight: set[bytes] = set()
        self.running = True
        self.failure: BaseException | None = None
        # Busy seconds of each stage and totals, for monitoring and benchmarks.
        self.stats = {"produce_s": 0.0, "write_s": 0.0, "blocks": 0, "transactions": 0, "rejected": 0}
        self._boot(config)
        # The hash clients sign against (`ledger.selectors.latest_blockhash`): the tip once the producer has kept
        # its block. The state's own tip may for a moment be a block that is then undone (every transaction in it
        # refused), whose hash no later block knows.
        self.blockhash = self.state.tip_hash
        _tune_interpreter()
        self.producer = threading.Thread(target=self._produce_loop, name="ledger-producer", daemon=True)
        self.writer = threading.Thread(target=self._write_loop, name="ledger-writer", daemon=True)
        self.verifiers = [threading.Thread(target=self._verify_loop, name=f"ledger-verifier-{i}", daemon=True)
                          for i in range(VERIFY_THREADS)]
        for thread in (self.producer, self.writer, *self.verifiers):
            thread.start()

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

    def enqueue(self, tx: Transaction) -> Outcome:
        """Order a transaction built and signed in this process (its signatures are not checked again)."""
        return self._accept(tx)

    def enqueue_wire(self, wire: bytes) -> Outcome:
        """Decode, verify and order a submitted transaction. The future's result is the block height; it raises
        MalformedTransaction or SignatureVerificationFailed as well as what ordering raises."""
        return self._accept(wire)

    def _accept(self, item: bytes | Transaction) -> Outcome:
        if not self.running:
            raise LedgerUnavailable("the sequencer has stopped", reason=str(self.failure or "shut down"))
        fut = Outcome()
        self.intake.append((item, fut))
        if self._verifiers_idle:
            self._intake_ready.set()
        return fut

    def stop(self) -> None:
        self.running = False
        self._intake_ready.set()
        for thread in self.verifiers:
            thread.join(timeout=10)
        self.producer.join(timeout=10)
        self.jobs.put(None)
        self.writer.join(timeout=30)
        self._answer_waiting(LedgerUnavailable("the sequencer stopped before ordering the transaction; resubmit"))

    # verifiers ------------------------------------------------------------------------------------------
    def _verify_loop(self) -> None:
        intake, take_lock = self.intake, self._take_lock
        try:
            while self.running:
                if not intake:
                    with take_lock:
                        self._verifiers_idle += 1
                    if not intake:  # checked again after announcing the wait, so an append in between is not missed
                        self._intake_ready.wait(VERIFIER_IDLE_S)
                    with take_lock:
                        self._verifiers_idle -= 1
                        self._intake_ready.clear()
                    continue
                with take_lock:
                    # Share a backlog among the verifiers rather than leave it to the first one awake.
                    count = min(len(intake), VERIFY_BATCH, len(intake) // VERIFY_THREADS + 1)
                    run = _Checked([intake.popleft() for _ in range(count)])
                    self.checked.append(run)
                    if intake and self._verifiers_idle:
                        self._intake_ready.set()
                _check_run(run.items)
                run.ready = True
                if self._producer_idle:
                    self._wake.set()
        except BaseException as exc:  # noqa: BLE001 - a verifier must not die silently with submissions in hand
            log.exception("ledger verifier failed")
            self._fail(exc)

    # producer -------------------------------------------------------------------------------------------
    def _take_batch(self) -> list[tuple[Transaction, Outcome | None]]:
        checked = self.checked
        if not (checked and checked[0].ready):
            self._producer_idle = True
            if not (checked and checked[0].ready):  # again after announcing the wait, as in _verify_loop
                self._wake.wait(REMOTE_POLL_S)
            self._producer_idle = False
            self._wake.clear()
        batch: list = []
        limit = min(self.max_batch, FIRST_BLOCK_TRANSACTIONS if self.handed == self.stored
                    else max(FIRST_BLOCK_TRANSACTIONS, 2 * self.last_block))
        while checked and checked[0].ready and len(batch) < limit:
            run = checked[0]
            live = [item for item in run.items if item is not None]
            room = limit - len(batch)
            if len(live) > room:
                batch.extend(live[:room])
                run.items = live[room:]
                break
            batch.extend(live)
            checked.popleft()
        # The pending table is polled every REMOTE_POLL_S, not once per block: under local load blocks follow
        # each other faster than that, and each poll is a database round trip on the producer's thread.
        now = time.monotonic()
        if len(batch) < limit and now >= self._next_remote_poll:
            self._next_remote_poll = now + REMOTE_POLL_S
            batch.extend(self._take_remote(limit - len(batch)))
        return batch

    def _take_remote(self, limit: int) -> list[tuple[Transaction, None]]:
        if self._poll_cursor is None:
            # The driver's cursor, kept: this poll runs every few milliseconds, so it skips Django's wrapper.
            self._poll_cursor = connection.cursor().cursor
        cur = self._poll_cursor
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
                started = time.perf_counter()
                block, rejected = self.state.produce([tx for tx, _ in batch], int(time.time() * 1000), self.validator)
                self.stats["produce_s"] += time.perf_counter() - started
                job = _Job(block, batch, [None] * len(batch))
                if not block.transactions:
                    self.state.undo(block)
                    job.block = None
                else:
                    self.blockhash = block.hash
                for r in rejected:
                    job.errors[r.index] = r.error
                    if batch[r.index][1] is None:
                        job.remote_errors.append((r.tx.signature, _error_json(r.error)))
                if job.block is not None and self.remote_inflight:
                    job.remote_done = [tx.signature for (tx, fut), error in zip(batch, job.errors)
                                       if fut is None and error is None]
                self.handed += 1
                self.last_block = len(batch)
                self.jobs.put(job)
        except BaseException as exc:  # noqa: BLE001 - any failure stops the sequencer; state is then suspect
            log.exception("ledger producer failed")
            self._fail(exc)
        finally:
            if self.failure is not None:
                # A block handed over after the writer had failed and drained would otherwise never be answered.
                self._drain_jobs(self.failure)
            connection.close()

    # writer ---------------------------------------------------------------------------------------------
    def _write_loop(self) -> None:
        job = None
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
                self.stats["rejected"] += len(job.errors) - job.errors.count(None)
                self.stored += 1
                self.slots.release()
                self._settle(job)
                job = None
        except BaseException as exc:  # noqa: BLE001
            log.exception("ledger writer failed")
            self._fail(exc)
            self._drain_jobs(exc, job)
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
        height = job.block.height if job.block is not None else None
        for (tx, fut), error in zip(job.batch, job.errors):
            if fut is None:
                self.remote_inflight.discard(tx.signatures[0])
            else:
                _settle_future(fut, height, error)

    def _fail(self, exc: BaseException) -> None:
        self.failure = exc
        self.running = False
        self._intake_ready.set()
        _node.sequencer_failed(self)

    def _drain_jobs(self, exc: BaseException, current: _Job | None = None) -> None:
        """Answer every submitter still waiting, including those of the block whose write failed."""
        error = LedgerUnavailable("the ledger could not store a block; resubmit", reason=str(exc))
        if current is not None:
            for _, fut in current.batch:
                if fut is not None:
                    _settle_future(fut, error=error)
        while True:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                break
            if job is None:
                continue
            for _, fut in job.batch:
                if fut is not None:
                    _settle_future(fut, error=error)
        self._answer_waiting(error)

    def _answer_waiting(self, error: GridTokenXError) -> None:
        """Fail every submission not yet handed to the producer (the sequencer is going away)."""
        while True:
            try:
                _, fut = self.intake.popleft()
            except IndexError:
                break
            _settle_future(fut, error=error)
        while True:
            try:
                run = self.checked.popleft()
            except IndexError:
                break
            for item in run.items:
                if item is not None:
                    _settle_future(item[1], error=error)


def _check_run(items: list) -> None:
    """Decode the wires among `items` and check their signatures, in place: each (wire, future) becomes
    (transaction, future), or None once its future holds the error. Transactions built in this process pass as
    they are."""
    decode = Transaction.decode
    unchecked = []
    for i, (item, fut) in enumerate(items):
        if type(item) is bytes:
            try:
                tx = decode(item)
            except GridTokenXError as exc:
                _settle_future(fut, error=exc)
                items[i] = None
                continue
            items[i] = (tx, fut)
            unchecked.append(i)
    if not unchecked:
        return
    verdicts = _processes.verify([items[i][0] for i in unchecked]) if len(unchecked) >= OFFLOAD_MIN else None
    for n, i in enumerate(unchecked):
        if verdicts is not None and verdicts[n] == 0:
            continue
        tx, fut = items[i]
        try:
            tx.verify_signatures()  # also after a worker's refusal: this gives the exact error to report
        except GridTokenXError as exc:
            _settle_future(fut, error=exc)
            items[i] = None


class _VerifierProcesses:
    """Worker processes that check Ed25519 signatures for the verifier threads.

    In one process, every verification hands the GIL over twice, and the threads waiting for it take turns with
    the producer and the writer; under load that is what limits the sequencer, not the cores. A worker process
    checks a whole run of signatures on its own interpreter and answers with one byte per transaction, so the
    sequencer's process spends a few microseconds per transaction on it instead of a verification plus two
    GIL hand-overs. The workers start the first time a run
    is long enough to be worth it (a light load never starts them), run at a lower priority so that ordering and
    storing, which nothing else can do, go first, and live until the process exits. If they cannot be started or
    one fails, signatures are checked in the verifier threads instead.
    """

    def __init__(self, count: int):
        self.count = count
        self._lock = threading.Lock()
        self._idle: queue.Queue | None = None
        self._broken = False

    def verify(self, txs: list[Transaction]) -> bytes | None:
        """One byte per transaction, 0 when every signature verifies; None when no worker can answer."""
        idle = self._idle if self._idle is not None else self._start()
        if idle is None:
            return None
        while True:
            try:
                worker = idle.get(timeout=0.1)
                break
            except queue.Empty:
                if self._broken:  # the worker this thread waits for will not come back
                    return None
        try:
            request = b"".join(_verify_request(tx) for tx in txs)
            worker.stdin.write(_FRAME.pack(len(request)) + request)
            worker.stdin.flush()
            size = worker.stdout.read(_FRAME.size)
            verdicts = worker.stdout.read(_FRAME.unpack(size)[0]) if len(size) == _FRAME.size else b""
            if len(verdicts) != len(txs):
                raise OSError(f"worker {worker.pid} answered {len(verdicts)} verdicts for {len(txs)} transactions")
        except (OSError, ValueError, struct.error) as exc:
            log.warning("ledger: a signature worker process failed (%s); checking signatures in threads", exc)
            self._broken = True
            self._idle = None
            worker.kill()
            return None
        idle.put(worker)
        return verdicts

    def _start(self) -> queue.Queue | None:
        with self._lock:
            if self._idle is not None or self._broken:
                return self._idle
            import subprocess

            # A fresh interpreter rather than a fork: a forked child would share this process's database
            # connections and locks. It imports only the ledger package, from where this process found it.
            root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
            env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
            idle: queue.Queue = queue.Queue()
            try:
                for _ in range(self.count):
                    worker = subprocess.Popen(
                        [sys.executable, "-c", "from ledger.node import _signature_worker; _signature_worker()"],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=root,
                    )
                    idle.put(worker)
            except OSError as exc:
                log.warning("ledger: no signature worker processes (%s); checking signatures in threads", exc)
                self._broken = True
                return None
            self._idle = idle
            atexit.register(_stop_workers, list(idle.queue))
            return idle


def _stop_workers(workers: list) -> None:
    for worker in workers:
        try:
            worker.stdin.close()  # the worker reads end-of-file and exits
            worker.wait(timeout=1)
        except Exception:  # noqa: BLE001 - exiting anyway
            worker.kill()


_FRAME = struct.Struct("<I")
_ONE_SIGNATURE = struct.Struct("<B32s64sH")


def _verify_request(tx: Transaction) -> bytes:
    """signer count, then (public key, signature) per signer, then the message's length and the message."""
    message = tx.message_bytes
    if len(tx.signatures) == 1:
        return _ONE_SIGNATURE.pack(1, tx.message.fee_payer, tx.signatures[0], len(message)) + message
    pairs = b"".join(key + sig for key, sig in zip(tx.message.signers(), tx.signatures))
    return bytes((len(tx.signatures),)) + pairs + len(message).to_bytes(2, "little") + message


def _signature_worker() -> None:
    """A signature worker process: reads framed requests of `_verify_request`s on stdin and answers each with a
    frame of one byte per transaction on stdout; exits when stdin closes (its parent is gone)."""
    from ledger.crypto import verify

    try:
        os.nice(VERIFY_NICE)
    except OSError:
        pass
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while True:
        size = source.read(_FRAME.size)
        if len(size) < _FRAME.size:
            return
        data = source.read(_FRAME.unpack(size)[0])
        verdicts = bytearray()
        pos, end = 0, len(data)
        while pos < end:
            count = data[pos]
            pairs = [(data[at : at + 32], data[at + 32 : at + 96]) for at in range(pos + 1, pos + 1 + 96 * count, 96)]
            pos += 1 + 96 * count
            size = data[pos] | data[pos + 1] << 8
            message = data[pos + 2 : pos + 2 + size]
            pos += 2 + size
            ok = True
            for key, sig in pairs:
                if not verify(key, message, sig):
                    ok = False
                    break
            verdicts.append(0 if ok else 1)
        sink.write(_FRAME.pack(len(verdicts)) + verdicts)
        sink.flush()


def _settle_future(fut: Outcome, result=None, error: BaseException | None = None) -> None:
    try:
        if error is None:
            fut.set_result(result)
        else:
            fut.set_exception(error)
    except InvalidStateError:
        pass  # already answered, or cancelled by its submitter: the outcome stands all the same


_processes = _VerifierProcesses(VERIFY_PROCESSES)


def _tune_interpreter() -> None:
    """Process-wide settings for the sequencer's threads; the sequencer process runs little else."""
    # The writer and the verifiers wait on the database and on libsodium many times per block; with the default
    # 5 ms GIL switch interval each wake-up could queue behind the producer. A shorter interval keeps turns short.
    sys.setswitchinterval(0.0005)
    # Every transaction allocates a few dozen short-lived objects that reference counting frees. With the
    # default threshold the cyclic collector would run every few transactions, and its older generations would
    # walk the whole long-lived heap (Django, the account state) again and again: move what exists now out of
    # its reach, and collect young objects less often.
    gc.freeze()
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(gen0, 20_000), gen1, gen2)


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

    def submit_async(self, tx: Transaction) -> Outcome | None:
        """Hand a transaction built and signed in this process to the local sequencer; None when another process
        is the sequencer."""
        seq = self.try_lead()
        if seq is None:
            return None
        return seq.enqueue(tx)

    def submit_wire_async(self, wire: bytes) -> Outcome | None:
        """Hand a submitted transaction to the local sequencer, which decodes it, checks its signatures and
        orders it; None when another process is the sequencer (then use `submit_wire`)."""
        seq = self.try_lead()
        if seq is None:
            return None
        return seq.enqueue_wire(wire)

    def submit(self, tx: Transaction, *, timeout: float = 30.0) -> int:
        """Order `tx` and wait until its block is committed; returns the block height.

        Idempotent: submitting a transaction that is already on chain returns its height.
        Raises TransactionFailed (nothing applied), BlockhashNotFound, or LedgerUnavailable.
        """
        fut = self.submit_async(tx)
        return self._outcome(fut, tx, tx.signature, timeout)

    def submit_wire(self, wire: bytes, *, timeout: float = 30.0) -> tuple[bytes, int]:
        """Decode, verify, order and commit a submitted transaction; returns (its signature, the block height).

        Same guarantees as `submit`; also raises MalformedTransaction or SignatureVerificationFailed.
        """
        fut = self.submit_wire_async(wire)
        if fut is None:
            tx = Transaction.decode(wire)
            tx.verify_signatures()
            return tx.signature, self._outcome(None, tx, tx.signature, timeout)
        # A future that answers with a height belongs to a transaction that decoded: its first signature is its id.
        signature = bytes(wire[1:65])
        return signature, self._outcome(fut, None, signature, timeout)

    def _outcome(self, fut: Outcome | None, tx: Transaction | None, signature: bytes, timeout: float) -> int:
        try:
            if fut is not None:
                try:
                    return fut.result(timeout=timeout)
                except FutureTimeout:
                    raise LedgerUnavailable(
                        f"transaction {b58(signature)} was not committed within {timeout:.0f} s") from None
            return self._submit_remote(tx, timeout)
        except (DuplicateTransaction, BlockhashNotFound):
            # A resubmitted transaction that is on chain answers with its block, even after its blockhash aged out.
            height = committed_height(signature)
            if height is None:
                raise
            return height

    def _submit_remote(self, tx: Transaction, timeout: float) -> int:
        outcome = self.submit_remote_many([tx], timeout=timeout)[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def submit_remote_many(self, txs: list[Transaction], *, timeout: float = 30.0) -> list:
        """Hand verified transactions to the sequencer of another process through the pending table and wait for
        all of them: one insert for the lot, then one poll per round for those still waiting. Each outcome, in
        order, is the block height or the GridTokenXError that refused the transaction (a transaction already on
        chain answers with its block)."""
        self.pending_insert(txs)
        return self.pending_wait(txs, timeout=timeout)

    def pending_insert(self, txs: list[Transaction]) -> None:
        """The first half of `submit_remote_many`: the rows for the sequencer, in one insert."""
        if not txs:
            return
        with connection.cursor() as cur:
            cur.executemany(
                "INSERT INTO ledger_pending_transaction (signature, wire, received_at, error) VALUES (%s, %s, %s, NULL)"
                " ON CONFLICT (signature) DO UPDATE SET error = NULL",
                [[tx.signature, tx.wire, _now()] for tx in txs],
            )

    def pending_wait(self, txs: list[Transaction], *, timeout: float = 30.0) -> list:
        """The second half of `submit_remote_many`: wait for transactions handed over with `pending_insert`."""
        outcomes: list = [None] * len(txs)
        if not txs:
            return outcomes
        waiting = {tx.signature: i for i, tx in enumerate(txs)}
        deadline = time.monotonic() + timeout
        delay = 0.001
        while waiting:  # polled at least once, however little time is left
            signatures = list(waiting)
            marks = ", ".join(["%s"] * len(signatures))
            with connection.cursor() as cur:
                cur.execute(f"SELECT signature, error FROM ledger_pending_transaction WHERE signature IN ({marks})",
                            signatures)
                pending = {bytes(signature): error for signature, error in cur.fetchall()}
                gone = [signature for signature in signatures if signature not in pending]
                heights = {}
                if gone:
                    cur.execute("SELECT signature, block_height FROM ledger_transaction WHERE signature IN "
                                f"({', '.join(['%s'] * len(gone))})", gone)
                    heights = {bytes(signature): height for signature, height in cur.fetchall()}
            for signature in signatures:
                if signature in heights:
                    outcomes[waiting.pop(signature)] = heights[signature]
                elif pending.get(signature) is not None:
                    error = _error_from_json(pending[signature])
                    if isinstance(error, (DuplicateTransaction, BlockhashNotFound)):
                        height = committed_height(signature)
                        error = error if height is None else height
                    outcomes[waiting.pop(signature)] = error
            if waiting:
                if time.monotonic() >= deadline:
                    break
                self.try_lead()  # if the sequencer's process is gone, this one takes over and orders the pending rows
                time.sleep(delay)
                delay = min(delay * 2, WAIT_POLL_MAX_S)
        for signature, i in waiting.items():
            outcomes[i] = LedgerUnavailable(f"transaction {b58(signature)} was not committed within {timeout:.0f} s; "
                                            "no sequencer answered")
        return outcomes


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
