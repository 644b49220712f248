"""The runtime: runs a transaction's instructions against accounts, atomically.

Rules the runtime enforces on every instruction, whatever the program does:
- a program may change an account only if the instruction marks it writable;
- a program may change only accounts it owns, or take ownership of an empty account that signed the
  transaction or whose address it derives from seeds (`Invocation.claim`);
- a cross-program call may grant signer rights only to accounts that signed, or to PDAs of the calling program;
- if any instruction fails, the transaction leaves no trace: writes live in a scratch overlay until all succeed.
Handlers are deterministic functions of their accounts, instruction data and the block clock; they do no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ledger.crypto import b58, create_program_address
from ledger.encoding import AccountMeta, Transaction
from ledger.errors import InstructionError, InvalidSeeds, TransactionFailed

SYSTEM_OWNER = bytes(32)
EMPTY = (SYSTEM_OWNER, b"")
MAX_CPI_DEPTH = 4
U64_MAX = 2**64 - 1

AccountLoader = Callable[[bytes], tuple[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class Clock:
    height: int
    timestamp_ms: int


class _Cell:
    __slots__ = ("key", "owner", "data")

    def __init__(self, key: bytes, owner: bytes, data: bytes):
        self.key = key
        self.owner = owner
        self.data = data


class AccountView:
    """An account as one instruction sees it: its key, this instruction's flags, and the shared current value."""

    __slots__ = ("_cell", "key", "is_signer", "is_writable")

    def __init__(self, cell: _Cell, is_signer: bool, is_writable: bool):
        self._cell = cell
        self.key = cell.key  # an account's address never changes: a plain attribute, read very often
        self.is_signer = is_signer
        self.is_writable = is_writable

    @property
    def owner(self) -> bytes:
        return self._cell.owner

    @property
    def data(self) -> bytes:
        return self._cell.data

    @data.setter
    def data(self, value: bytes) -> None:
        self._cell.data = bytes(value)

    def is_empty(self) -> bool:
        return self._cell.owner == SYSTEM_OWNER and not self._cell.data


class Program:
    """An on-ledger program: stateless code identified by `program_id`; state lives in accounts it owns."""

    program_id: bytes
    name: str

    def process(self, inv: Invocation) -> None:  # pragma: no cover - interface
        raise NotImplementedError


def checked_add(a: int, b: int) -> int:
    out = a + b
    if out > U64_MAX:
        raise InstructionError("arithmetic_overflow", "amount would exceed the 64-bit limit")
    return out


def checked_sub(a: int, b: int, what: str = "insufficient_funds", message: str = "insufficient funds") -> int:
    if b > a:
        raise InstructionError(what, message)
    return a - b


@dataclass
class Invocation:
    runtime: Runtime
    program_id: bytes
    accounts: list[AccountView]
    data: bytes
    clock: Clock
    depth: int
    logs: list[str]
    _pre: dict[bytes, tuple[bytes, bytes]] = field(default_factory=dict)
    _claimed: set[bytes] = field(default_factory=set)

    def need(self, count: int) -> None:
        if len(self.accounts) < count:
            raise InstructionError("not_enough_accounts", f"instruction needs {count} accounts, got {len(self.accounts)}")

    def log(self, message: str) -> None:
        self.logs.append(f"Program log: {message}")

    def claim(self, account: AccountView, seeds: list[bytes] | None = None) -> None:
        """Take ownership of an empty account: it must have signed, or be this program's PDA for `seeds`."""
        if not account.is_empty():
            raise InstructionError("account_already_initialized", f"account {b58(account.key)} is already in use")
        if not account.is_writable:
            raise InstructionError("account_not_writable", f"account {b58(account.key)} must be writable")
        if not account.is_signer:
            try:
                derived = create_program_address(seeds or [], self.program_id)
            except InvalidSeeds:
                derived = None
            if derived != account.key:
                raise InstructionError(
                    "invalid_account_address",
                    f"account {b58(account.key)} is neither a signer nor derived from this program with the given seeds",
                )
        account._cell.owner = self.program_id
        self._claimed.add(account.key)

    def invoke(self, program_id: bytes, metas: Iterable[AccountMeta], data: bytes, signer_seeds: Iterable[list[bytes]] = ()) -> None:
        """Call another program with a subset of this instruction's accounts (Solana's invoke_signed)."""
        if self.depth >= MAX_CPI_DEPTH:
            raise InstructionError("call_depth_exceeded", f"cross-program calls nest at most {MAX_CPI_DEPTH} deep")
        pdas = set()
        for seeds in signer_seeds:
            try:
                pdas.add(create_program_address(seeds, self.program_id))
            except InvalidSeeds as exc:
                raise InstructionError("invalid_seeds", exc.message) from None
        mine = {view.key: view for view in self.accounts}
        views = []
        for meta in metas:
            own = mine.get(meta.pubkey)
            if own is None:
                raise InstructionError("missing_account", f"account {b58(meta.pubkey)} was not passed to the caller")
            if meta.is_writable and not own.is_writable:
                raise InstructionError("privilege_escalation", f"account {b58(meta.pubkey)} is not writable for the caller")
            if meta.is_signer and not (own.is_signer or meta.pubkey in pdas):
                raise InstructionError("privilege_escalation", f"account {b58(meta.pubkey)} did not sign")
            views.append(AccountView(own._cell, meta.is_signer, meta.is_writable))
        self.runtime.check_changes(self)
        self.runtime.run_program(program_id, views, data, self.clock, self.depth + 1, self.logs)
        self._rebase()

    def _rebase(self) -> None:
        pre = self._pre
        for view in self.accounts:
            cell = view._cell
            pre[view.key] = (cell.owner, cell.data)


@dataclass
class ExecutionResult:
    writes: dict[bytes, tuple[bytes, bytes]]
    logs: list[str]


class Runtime:
    def __init__(self, programs: Iterable[Program]):
        self.programs: dict[bytes, Program] = {p.program_id: p for p in programs}

    def execute(self, tx: Transaction, load: AccountLoader, clock: Clock) -> ExecutionResult:
        """Run every instruction of `tx`; return the accounts it changes. Raises TransactionFailed, changing nothing."""
        cells: dict[bytes, _Cell] = {}
        originals: dict[bytes, tuple[bytes, bytes]] = {}
        logs: list[str] = []
        signers = set(tx.message.signers())
        for index, ix in enumerate(tx.message.instructions):
            views = []
            for meta in ix.accounts:
                cell = cells.get(meta.pubkey)
                if cell is None:
                    value = load(meta.pubkey)
                    originals[meta.pubkey] = value
                    cell = cells[meta.pubkey] = _Cell(meta.pubkey, value[0], value[1])
                views.append(AccountView(cell, meta.is_signer and meta.pubkey in signers, meta.is_writable))
            try:
                self.run_program(ix.program_id, views, ix.data, clock, 1, logs)
            except InstructionError as exc:
                logs.append(f"Program {b58(ix.program_id)} failed: {exc.message}")
                raise TransactionFailed(instruction=index, reason_code=exc.code, message=exc.message) from None
            except Exception as exc:  # a program bug must not take the sequencer down; the transaction fails.
                raise TransactionFailed(instruction=index, reason_code="program_error", message=f"{type(exc).__name__}: {exc}") from None
        writes = {
            key: (cell.owner, cell.data)
            for key, cell in cells.items()
            if (cell.owner, cell.data) != originals[key]
        }
        return ExecutionResult(writes=writes, logs=logs)

    def run_program(self, program_id: bytes, views: list[AccountView], data: bytes, clock: Clock, depth: int, logs: list[str]) -> None:
        program = self.programs.get(program_id)
        if program is None:
            raise InstructionError("unknown_program", f"no program with id {b58(program_id)}")
        inv = Invocation(self, program_id, views, data, clock, depth, logs)
        inv._rebase()
        logs.append(f"Program {program.name} invoke [{depth}]")
        program.process(inv)
        self.check_changes(inv)
        logs.append(f"Program {program.name} success")

    @staticmethod
    def check_changes(inv: Invocation) -> None:
        pre = inv._pre
        changed = [view for view in inv.accounts if (view._cell.owner, view._cell.data) != pre[view.key]]
        if changed:
            flags: dict[bytes, bool] = {}
            for view in inv.accounts:
                flags[view.key] = flags.get(view.key, False) or view.is_writable
            for view in changed:
                before = pre[view.key]
                cell = view._cell
                if not flags[view.key]:
                    raise InstructionError("account_not_writable", f"account {b58(view.key)} was changed but is not writable")
                pre_owner, pre_data = before
                if pre_owner == inv.program_id:
                    if cell.owner not in (inv.program_id, SYSTEM_OWNER) or (cell.owner == SYSTEM_OWNER and cell.data):
                        raise InstructionError("illegal_owner_change", f"account {b58(view.key)} cannot be given to another program")
                elif pre_owner == SYSTEM_OWNER and not pre_data:
                    if view.key not in inv._claimed or cell.owner != inv.program_id:
                        raise InstructionError("illegal_account_creation", f"account {b58(view.key)} was written without being claimed")
                else:
                    raise InstructionError("account_owned_by_another_program", f"account {b58(view.key)} belongs to program {b58(pre_owner)}")
            for view in changed:  # the others are as the last snapshot has them
                pre[view.key] = (view._cell.owner, view._cell.data)
