"""Several processes submit at once; one sequencer orders them; nothing is lost or applied twice.

Runs against the configured database: PostgreSQL (advisory-lock leader) in the PostgreSQL pass, SQLite (file-lock
leader) in the embedded pass.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.db import connection

from ledger import node as ledger_node
from ledger import selectors
from ledger.management.commands.verify_ledger import verify_chain
from ledger.models import Transaction as TxRow
from ledger import services
from ledger.chain import LedgerState
from ledger.errors import TransactionFailed
from ledger.token_program import transfer_ix
from tests.factories import ata, signed, transfer, wallet

WORKER = Path(__file__).with_name("submit_worker.py")
PROCESSES = 4
PER_PROCESS = 40


def worker_env() -> dict:
    env = dict(os.environ)
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    else:
        env["GRIDTOKENX_SQLITE_PATH"] = str(db["NAME"])
    env["GRIDTOKENX_VAR_DIR"] = str(settings.VAR_DIR)
    return env


def test_concurrent_submission_from_several_processes_loses_and_duplicates_nothing(ledger, tmp_path):
    senders = [wallet(f"sender {i}", gxt=1_000_000) for i in range(PROCESSES)]
    receiver = wallet("receiver")
    batches = [[transfer(s, receiver, n + 1) for n in range(PER_PROCESS)] for s in senders]
    # Every process also resubmits the first transfers of its neighbour: those must still apply once.
    files = []
    for i, batch in enumerate(batches):
        extra = batches[(i + 1) % PROCESSES][:5]
        path = tmp_path / f"batch{i}.hex"
        path.write_text("\n".join(tx.wire.hex() for tx in batch + extra))
        files.append(path)
    ledger_node.shutdown()  # the workers race to become the sequencer among themselves

    procs = [subprocess.Popen([sys.executable, str(WORKER), str(f)], env=worker_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for f in files]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))

    assert all(not r["failed"] for r in results), [r["failed"][:3] for r in results]
    assert any(r["led"] for r in results)
    unique = {tx.txid for batch in batches for tx in batch}
    reported = {sig for r in results for sig in r["committed"]}
    assert reported == unique
    assert TxRow.objects.count() == len(unique) + PROCESSES + 1  # plus the wallet-funding transactions
    per_sender = sum(range(1, PER_PROCESS + 1))
    assert selectors.wallet_balances(receiver.pubkey)["GXT"] == PROCESSES * per_sender
    for s in senders:
        assert selectors.wallet_balances(s.pubkey)["GXT"] == 1_000_000 - per_sender
    verify_chain()


def test_the_blockhash_handed_out_is_never_that_of_a_block_about_to_be_undone(ledger, monkeypatch):
    """A block whose every transaction is refused is undone at once; a client that asked for the latest blockhash
    in that moment must still get one that later blocks know."""
    alice, bob = wallet("alice", gxt=5), wallet("bob")
    seen = []
    undo = LedgerState.undo

    def undo_watched(self, block):
        seen.append((block.hash, selectors.latest_blockhash()))  # asked for while the doomed block is the tip
        undo(self, block)

    monkeypatch.setattr(LedgerState, "undo", undo_watched)
    try:
        services.transaction_submit(wire=transfer(alice, bob, 10).wire)  # more than alice has: refused
    except TransactionFailed:
        pass
    assert seen, "the refused transaction's block was not undone"
    doomed, handed_out = seen[0]
    assert handed_out != doomed
    later = signed([transfer_ix(source=ata(alice), destination=ata(bob), authority=alice.pubkey, amount=1)], [alice],
                   blockhash=handed_out)
    services.transaction_submit(wire=later.wire)  # accepted: its blockhash is a block the chain kept
    assert selectors.wallet_balances(bob.pubkey)["GXT"] == 1
