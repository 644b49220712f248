"""`manage.py verify_ledger`: re-check every signature and hash link and replay the chain from genesis.

Exits 0 when every block hash, producer signature, transaction signature, Merkle root and state root agrees and
the stored accounts equal the replayed state; otherwise names the block (and transaction) at fault and exits 1.
"""

import os
import sys
from concurrent.futures import ThreadPoolExecutor

from django.core.management.base import BaseCommand

from ledger import store
from ledger.chain import LedgerState, ReplayMismatch, replay_block
from ledger.config import genesis_config, make_runtime
from ledger.crypto import b58
from ledger.encoding import Transaction
from ledger.errors import GridTokenXError
from ledger.runtime import EMPTY
from ledger.token_program import TOKEN_PROGRAM_ID, Mint, TokenAccount


class Problem(Exception):
    pass


def _decode_and_verify(item):
    position, stored_sig, wire, _ = item
    try:
        tx = Transaction.decode(wire)
        if tx.signature != stored_sig:
            return position, stored_sig, None, "stored signature differs from the transaction's first signature"
        tx.verify_signatures()
    except GridTokenXError as exc:
        return position, stored_sig, None, exc.message
    return position, stored_sig, tx, None


def verify_chain(log=lambda msg: None) -> int:
    """Replay the whole chain; return the number of blocks checked. Raises Problem naming what is wrong."""
    config = genesis_config()
    state = LedgerState(make_runtime())
    expected_genesis = state.genesis(config)
    pool = ThreadPoolExecutor(os.cpu_count() or 1)
    count = 0
    try:
        for header, block_hash, signature, rows in store.iter_blocks():
            count += 1
            if header.height == 0:
                if block_hash != expected_genesis.hash or header != expected_genesis.header or rows:
                    raise Problem("block 0: genesis differs from the configured genesis")
                continue
            positions = [row[0] for row in rows]
            if positions != list(range(len(rows))):
                raise Problem(f"block {header.height}: transaction positions are not 0..{len(rows) - 1}")
            txs = []
            for position, stored_sig, tx, error in pool.map(_decode_and_verify, rows):
                if error:
                    raise Problem(f"block {header.height}, transaction {position} ({b58(stored_sig)}): {error}")
                txs.append(tx)
            try:
                logs = replay_block(state, header, block_hash, signature, txs, config.validator.pubkey,
                                    signatures_checked=True)
            except ReplayMismatch as exc:
                where = f"block {exc.height}" + (f", transaction {exc.signature}" if exc.signature else "")
                raise Problem(f"{where}: {exc}") from None
            for (position, stored_sig, _, stored_logs), replayed in zip(rows, logs, strict=True):
                # Logs are not in the block hash; replay must reproduce them (an empty value: none were stored).
                if stored_logs and stored_logs != "\n".join(replayed):
                    raise Problem(f"block {header.height}, transaction {position} ({b58(stored_sig)}): "
                                  "the stored logs differ from what replaying it logs")
            if count % 1000 == 0:
                log(f"... block {header.height}")
    finally:
        pool.shutdown()
    if count == 0:
        raise Problem("the ledger has no blocks")
    _compare_accounts(state)
    _check_supply(state)
    return count


def _compare_accounts(state: LedgerState) -> None:
    stored = {}
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT address, owner, data FROM ledger_account")
        for address, owner, data in cur.fetchall():
            stored[bytes(address)] = (bytes(owner), bytes(data))
    for key in sorted(set(stored) | set(state.accounts)):
        if stored.get(key, EMPTY) != state.accounts.get(key, EMPTY):
            raise Problem(f"account {b58(key)}: stored state differs from the replayed state")


def _check_supply(state: LedgerState) -> None:
    supplies, sums = {}, {}
    for key, (owner, data) in state.accounts.items():
        if owner != TOKEN_PROGRAM_ID:
            continue
        if data[0] == 1:
            supplies[key] = Mint.unpack(data).supply
        else:
            acc = TokenAccount.unpack(data)
            sums[acc.mint] = sums.get(acc.mint, 0) + acc.amount
    for mint, supply in supplies.items():
        if sums.get(mint, 0) != supply:
            raise Problem(f"mint {b58(mint)}: supply {supply} differs from the sum of balances {sums.get(mint, 0)}")


class Command(BaseCommand):
    help = "Re-verify every signature and hash link and replay the ledger from genesis."

    def handle(self, *args, **options):
        try:
            count = verify_chain(log=self.stderr.write)
        except Problem as exc:
            self.stderr.write(self.style.ERROR(f"LEDGER VERIFICATION FAILED: {exc}"))
            sys.exit(1)
        self.stdout.write(self.style.SUCCESS(f"ledger verified: {count} blocks, every state root reproduced"))
