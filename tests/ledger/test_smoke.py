from ledger import selectors, services

from tests.factories import transfer, wallet


def test_a_transfer_moves_gxt_between_wallets(ledger):
    alice = wallet("alice", gxt=1_000)
    bob = wallet("bob")
    services.transaction_submit(wire=transfer(alice, bob, 400).wire)
    assert selectors.wallet_balances(alice.pubkey)["GXT"] == 600
    assert selectors.wallet_balances(bob.pubkey)["GXT"] == 400
