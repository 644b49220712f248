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
