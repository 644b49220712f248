from ledger import selectors, services

from tests.factories import transfer, wallet


def test_a_transfer_moves_gxt_between_wallets(ledger):
    alice = wallet("alice", gxt=1_000)
    bob = wallet("bob")
    services.transaction_submit(wire=transfer(alice, bob, 400).wire)
    assert selectors.wallet_balances(alice.pubkey)["GXT"] == 600
    assert selectors.wallet_balances(bob.pubkey)["GXT"] == 400


def test_a_stream_of_submissions_answers_chunk_by_chunk_in_order_with_each_refusal_in_its_place(ledger):
    from ledger.errors import TransactionFailed

    alice = wallet("alice", gxt=1_000)
    bob = wallet("bob")
    # The fourth spends more than alice has left by then: it fails alone, in its own place.
    txs = [transfer(alice, bob, 100), transfer(alice, bob, 200), transfer(alice, bob, 300),
           transfer(alice, bob, 10_000), transfer(alice, bob, 50)]
    chunks = list(services.transactions_submit_stream(txs, chunk=2))
    assert [len(c) for c in chunks] == [2, 2, 1]
    outcomes = [o for c in chunks for o in c]
    assert isinstance(outcomes[3], TransactionFailed)
    assert [o.signature for i, o in enumerate(outcomes) if i != 3] == [tx.txid for i, tx in enumerate(txs) if i != 3]
    assert selectors.wallet_balances(bob.pubkey)["GXT"] == 650
    again = services.transactions_submit_many(txs[:2])  # resubmitted: the same blocks, nothing moves twice
    assert [o.block_height for o in again] == [o.block_height for o in outcomes[:2]]
    assert selectors.wallet_balances(bob.pubkey)["GXT"] == 650


def test_a_stream_that_merges_ready_chunks_yields_what_the_ledger_committed_while_the_caller_was_busy(ledger):
    import time

    from ledger.node import committed_height

    alice = wallet("alice", gxt=1_000)
    bob = wallet("bob")
    txs = [transfer(alice, bob, n) for n in (1, 2, 3, 4, 5, 6, 7)]
    stream = services.transactions_submit_stream(txs, chunk=2, merge_ready=True)
    first = next(stream)  # the first two, as soon as they are known
    assert [o.signature for o in first] == [tx.txid for tx in txs[:2]]
    # A caller busy recording while the ledger commits the rest: until the last is stored, and its submitter told.
    deadline = time.monotonic() + 10
    while committed_height(txs[-1].signature) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.5)
    rest = list(stream)
    assert [len(part) for part in rest] == [5]  # every chunk already committed, in one list
    assert [o.signature for o in rest[0]] == [tx.txid for tx in txs[2:]]
    # Without merging, the same stream gives fixed chunks whatever the ledger has done.
    more = [transfer(alice, bob, n) for n in (10, 11, 12)]
    assert [len(part) for part in services.transactions_submit_stream(more, chunk=2)] == [2, 1]
