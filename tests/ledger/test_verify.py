"""verify_ledger replays the stored chain from genesis; any altered byte is named with its block and transaction."""

import pytest
from django.core.management import call_command
from django.db import connection

from ledger import node as ledger_node
from ledger import selectors, services
from ledger.chain import LedgerState
from ledger.config import make_runtime
from ledger.management.commands.verify_ledger import Problem, verify_chain
from ledger.models import Account, Block, Transaction
from ledger.store import load_state
from tests.factories import transfer, wallet


def build_history():
    alice = wallet("alice", gxt=10_000, thb=5_000)
    bob = wallet("bob", gxt=1)
    for amount in (100, 200, 300):
        services.transaction_submit(wire=transfer(alice, bob, amount).wire)
    return alice, bob


def flip(raw: bytes, at: int) -> bytes:
    raw = bytearray(raw)
    raw[at] ^= 0x01
    return bytes(raw)


def stop_sequencer():
    ledger_node.shutdown()


def test_an_untouched_chain_verifies(ledger, capsys):
    build_history()
    assert verify_chain() == selectors.block_height() + 1
    call_command("verify_ledger")
    assert "ledger verified" in capsys.readouterr().out


def test_replay_from_genesis_reproduces_every_state_root(ledger):
    build_history()
    stop_sequencer()
    replayed = LedgerState(make_runtime())
    verify_chain()  # checks each block's state root during replay
    load_state(replayed)
    assert replayed.commitment.root() == bytes(Block.objects.order_by("-height").first().state_root)


@pytest.mark.parametrize("where", [0, 70, 150, -1])
def test_an_altered_transaction_byte_is_reported_with_its_block_and_transaction(ledger, where):
    build_history()
    stop_sequencer()
    row = Transaction.objects.order_by("-block_height").first()
    Transaction.objects.filter(signature=row.signature).update(wire=flip(bytes(row.wire), where))
    with pytest.raises(Problem) as info:
        verify_chain()
    assert f"block {row.block_height}" in str(info.value)
    assert "transaction" in str(info.value)


@pytest.mark.parametrize("field", ["timestamp_ms", "state_root", "tx_root", "parent_hash", "signature", "hash"])
def test_an_altered_block_header_is_reported_with_its_height(ledger, field):
    build_history()
    stop_sequencer()
    block = Block.objects.get(height=2)
    value = getattr(block, field)
    Block.objects.filter(height=2).update(**{field: value + 1 if isinstance(value, int) else flip(bytes(value), 5)})
    with pytest.raises(Problem) as info:
        verify_chain()
    assert str(info.value).startswith("block 2") or str(info.value).startswith("block 3")


def test_an_altered_account_balance_is_reported(ledger):
    alice, _ = build_history()
    stop_sequencer()
    from tests.factories import ata

    account = Account.objects.get(address=ata(alice))
    Account.objects.filter(address=account.address).update(data=flip(bytes(account.data), 70))
    with pytest.raises(Problem, match="stored state differs"):
        verify_chain()


def test_a_deleted_transaction_is_reported(ledger):
    build_history()
    stop_sequencer()
    row = Transaction.objects.order_by("-block_height").first()
    Transaction.objects.filter(signature=row.signature).delete()
    with pytest.raises(Problem, match=f"block {row.block_height}"):
        verify_chain()


def test_the_command_exits_non_zero_on_tampering(ledger):
    build_history()
    stop_sequencer()
    Block.objects.filter(height=1).update(timestamp_ms=1)
    with pytest.raises(SystemExit) as info:
        call_command("verify_ledger")
    assert info.value.code == 1


def test_the_chain_survives_a_restart(ledger):
    alice, bob = build_history()
    height = selectors.block_height()
    stop_sequencer()
    connection.close()
    assert ledger_node.node().try_lead() is not None
    assert selectors.block_height() == height
    services.transaction_submit(wire=transfer(alice, bob, 5).wire)
    assert selectors.block_height() == height + 1
    assert selectors.wallet_balances(bob.pubkey)["GXT"] == 1 + 100 + 200 + 300 + 5
    verify_chain()


def test_a_sequencer_refuses_to_start_on_accounts_that_do_not_match_the_tip(ledger):
    alice, _ = build_history()
    stop_sequencer()
    from tests.factories import ata

    account = Account.objects.get(address=ata(alice))
    Account.objects.filter(address=account.address).update(data=flip(bytes(account.data), 70))
    from ledger.errors import LedgerUnavailable

    with pytest.raises(LedgerUnavailable, match="verify_ledger"):
        ledger_node.node().try_lead()


def test_every_committed_transaction_has_its_logs_and_altered_logs_are_reported(ledger):
    build_history()
    stop_sequencer()
    rows = list(Transaction.objects.all())
    assert rows and all(row.logs.startswith("Program ") and row.logs.endswith(" success") for row in rows)
    row = Transaction.objects.order_by("-block_height").first()
    Transaction.objects.filter(signature=row.signature).update(logs=row.logs.replace("success", "failed"))
    with pytest.raises(Problem, match=f"block {row.block_height}, transaction {row.position}.*stored logs differ"):
        verify_chain()
