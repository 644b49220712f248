"""The chain as pure data: genesis, block production and block replay over an in-memory state. No I/O."""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from ledger.crypto import Keypair, b58, verify
from ledger.encoding import BlockHeader, Transaction
from ledger.errors import BlockhashNotFound, DuplicateTransaction, GridTokenXError, TransactionFailed
from ledger.merkle import EMPTY_ROOT, StateCommitment, tx_root
from ledger.runtime import EMPTY, Clock, Runtime
from ledger.token_program import GXT_DECIMALS, THB_DECIMALS, TOKEN_PROGRAM_ID, Mint, mint_address

# A transaction's recent blockhash must be one of the last BLOCKHASH_WINDOW blocks; within that window a
# signature is accepted once. Older transactions are refused, so the duplicate check needs only the window.
BLOCKHASH_WINDOW = 300
ZERO_HASH = bytes(32)


@dataclass(frozen=True)
class GenesisConfig:
    validator: Keypair
    authority: Keypair
    timestamp_ms: int

    def accounts(self) -> dict[bytes, tuple[bytes, bytes]]:
        return {
            mint_address("GXT"): (TOKEN_PROGRAM_ID, Mint(self.authority.pubkey, 0, GXT_DECIMALS, "GXT").pack()),
            mint_address("THB"): (TOKEN_PROGRAM_ID, Mint(self.authority.pubkey, 0, THB_DECIMALS, "THB").pack()),
        }


@dataclass
class Block:
    header: BlockHeader
    hash: bytes
    signature: bytes
    transactions: list[Transaction]
    writes: dict[bytes, tuple[bytes, bytes]] = field(default_factory=dict)
    # Accounts each transaction touched, for the address index: one tuple of keys per transaction.
    touched: list[tuple[bytes, ...]] = field(default_factory=list)
    # What the runtime logged for each transaction, in order.
    logs: list[list[str]] = field(default_factory=list)

    @property
    def height(self) -> int:
        return self.header.height


@dataclass
class Rejection:
    tx: Transaction
    error: GridTokenXError
    index: int = -1  # position in the list given to `produce`


class LedgerState:
    """Every account, the state commitment, and the recent-block window, as of the chain tip."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.accounts: dict[bytes, tuple[bytes, bytes]] = {}
        self.commitment = StateCommitment()
        self.tip: BlockHeader | None = None
        self.tip_hash = ZERO_HASH
        self.recent_blocks: OrderedDict[bytes, int] = OrderedDict()
        self.recent_signatures: dict[bytes, int] = {}
        self._signatures_by_block: deque[tuple[int, list[bytes]]] = deque()

    # -- loading ------------------------------------------------------------------------------------------
    def load_account(self, key: bytes) -> tuple[bytes, bytes]:
        return self.accounts.get(key, EMPTY)

    def set_account(self, key: bytes, value: tuple[bytes, bytes]) -> None:
        if value == EMPTY:
            self.accounts.pop(key, None)
        else:
            self.accounts[key] = value
        self.commitment.put(key, value[0], value[1])

    def remember_block(self, header: BlockHeader, block_hash: bytes, signatures: Iterable[bytes]) -> None:
        self.tip = header
        self.tip_hash = block_hash
        height = header.height
        self.recent_blocks[block_hash] = height
        signatures = list(signatures)
        if signatures:
            self.recent_signatures.update(dict.fromkeys(signatures, height))
            self._signatures_by_block.append((height, signatures))
        floor = height - BLOCKHASH_WINDOW
        while self.recent_blocks and next(iter(self.recent_blocks.values())) <= floor:
            self.recent_blocks.popitem(last=False)
        # Forget the signatures of the block that left the window, and no others: the cost follows the block size.
        recent = self.recent_signatures
        while self._signatures_by_block and self._signatures_by_block[0][0] <= floor:
            old_height, old = self._signatures_by_block.popleft()
            for sig in old:
                if recent.get(sig) == old_height:
                    del recent[sig]

    # -- genesis ------------------------------------------------------------------------------------------
    def genesis(self, config: GenesisConfig) -> Block:
        for key, value in sorted(config.accounts().items()):
            self.set_account(key, value)
        header = BlockHeader(0, ZERO_HASH, config.timestamp_ms, EMPTY_ROOT, self.commitment.root(), 0, config.validator.pubkey)
        block_hash = header.hash()
        block = Block(header, block_hash, config.validator.sign(block_hash), [], dict(self.accounts))
        self.remember_block(header, block_hash, [])
        return block

    # -- admission ----------------------------------------------------------------------------------------
    def check_admissible(self, tx: Transaction) -> None:
        if tx.message.recent_blockhash not in self.recent_blocks:
            raise BlockhashNotFound(
                f"recent blockhash {b58(tx.message.recent_blockhash)} is unknown or older than {BLOCKHASH_WINDOW} blocks; "
                "fetch a new one with getLatestBlockhash and sign again"
            )
        if tx.signature in self.recent_signatures:
            raise DuplicateTransaction(f"transaction {tx.txid} was already processed", signature=tx.txid)

    # -- production ---------------------------------------------------------------------------------------
    def produce(self, txs: list[Transaction], timestamp_ms: int, validator: Keypair) -> tuple[Block, list[Rejection]]:
        """Execute `txs` in order; successful ones form the next block. State moves to the new block.

        Each rejection carries the index in `txs` of the transaction it refuses. Call `undo(block)` if the block
        cannot be stored: state returns to the previous tip.
        """
        assert self.tip is not None, "produce() before genesis"
        timestamp_ms = max(timestamp_ms, self.tip.timestamp_ms)
        clock = Clock(self.tip.height + 1, timestamp_ms)
        included: list[Transaction] = []
        touched: list[tuple[bytes, ...]] = []
        logs: list[list[str]] = []
        rejected: list[Rejection] = []
        undo: dict[bytes, tuple[bytes, bytes]] = {}
        in_block: set[bytes] = set()
        accounts = self.accounts
        recent_blocks = self.recent_blocks
        recent_signatures = self.recent_signatures
        execute = self.runtime.execute
        load = self.load_account
        for index, tx in enumerate(txs):
            signature = tx.signatures[0]
            if (tx.message.recent_blockhash not in recent_blocks or signature in recent_signatures
                    or signature in in_block):
                rejected.append(Rejection(tx, self._refusal(tx, in_block), index))
                continue
            try:
                result = execute(tx, load, clock)
            except GridTokenXError as exc:
                rejected.append(Rejection(tx, exc, index))
                continue
            for key, value in result.writes.items():
                if key not in undo:
                    undo[key] = accounts.get(key, EMPTY)
                if value == EMPTY:
                    accounts.pop(key, None)
                else:
                    accounts[key] = value
            in_block.add(signature)
            included.append(tx)
            touched.append(tuple(tx.message.account_keys()))
            logs.append(result.logs)
        # The commitment needs each changed account's final value once, however often the block wrote it.
        put = self.commitment.put
        writes = {}
        for key in undo:
            value = writes[key] = accounts.get(key, EMPTY)
            put(key, value[0], value[1])
        header = BlockHeader(
            clock.height, self.tip_hash, timestamp_ms, tx_root([tx.wire for tx in included]),
            self.commitment.root(), len(included), validator.pubkey,
        )
        block_hash = header.hash()
        block = Block(header, block_hash, validator.sign(block_hash), included, writes, touched, logs)
        block._undo = undo  # type: ignore[attr-defined]
        block._previous = (self.tip, self.tip_hash)  # type: ignore[attr-defined]
        self.remember_block(header, block_hash, in_block)
        return block, rejected

    def _refusal(self, tx: Transaction, in_block: set[bytes]) -> GridTokenXError:
        try:
            self.check_admissible(tx)
        except GridTokenXError as exc:
            return exc
        return DuplicateTransaction(f"transaction {tx.txid} was already processed", signature=tx.txid)

    def undo(self, block: Block) -> None:
        for key, value in block._undo.items():  # type: ignore[attr-defined]
            self.set_account(key, value)
        self.recent_blocks.pop(block.hash, None)
        for tx in block.transactions:
            self.recent_signatures.pop(tx.signature, None)
        if self._signatures_by_block and self._signatures_by_block[-1][0] == block.height:
            self._signatures_by_block.pop()
        self.tip, self.tip_hash = block._previous  # type: ignore[attr-defined]


class ReplayMismatch(Exception):
    def __init__(self, message: str, *, height: int, signature: str | None = None):
        super().__init__(message)
        self.height = height
        self.signature = signature


def replay_block(state: LedgerState, header: BlockHeader, block_hash: bytes, signature: bytes,
                 txs: list[Transaction], validator_key: bytes, *, signatures_checked: bool = False) -> list[list[str]]:
    """Check one stored block against the state before it, and move the state past it; return what the runtime
    logged for each transaction. Raises ReplayMismatch."""
    h = header.height
    if header.hash() != block_hash:
        raise ReplayMismatch("stored block hash does not match the header's hash", height=h)
    if header.producer != validator_key or not verify(header.producer, block_hash, signature):
        raise ReplayMismatch("producer signature does not verify with the validator key", height=h)
    if header.parent_hash != state.tip_hash or header.height != state.tip.height + 1:
        raise ReplayMismatch("block does not link to its parent (height or parent hash)", height=h)
    if header.timestamp_ms < state.tip.timestamp_ms:
        raise ReplayMismatch("block timestamp goes backwards", height=h)
    if header.tx_count != len(txs):
        raise ReplayMismatch(f"header says {header.tx_count} transactions, storage holds {len(txs)}", height=h)
    if tx_root([tx.wire for tx in txs]) != header.tx_root:
        raise ReplayMismatch("transaction Merkle root does not match", height=h)
    clock = Clock(h, header.timestamp_ms)
    seen: set[bytes] = set()
    logs: list[list[str]] = []
    for tx in txs:
        try:
            if not signatures_checked:
                tx.verify_signatures()
            state.check_admissible(tx)
            if tx.signature in seen:
                raise DuplicateTransaction(f"transaction {tx.txid} appears twice")
            result = state.runtime.execute(tx, state.load_account, clock)
        except (GridTokenXError, TransactionFailed) as exc:
            raise ReplayMismatch(f"transaction does not replay: {exc}", height=h, signature=tx.txid) from None
        seen.add(tx.signature)
        logs.append(result.logs)
        for key, value in result.writes.items():
            state.set_account(key, value)
    if state.commitment.root() != header.state_root:
        raise ReplayMismatch("state root after replay differs from the block's state root", height=h)
    state.remember_block(header, block_hash, seen)
    return logs
