"""seed_demo gives every demo wallet its starting balances once, however often it runs."""

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from ledger import selectors, services
from ledger.management.commands.seed_demo import DEMO_WALLETS
from ledger.management.commands.verify_ledger import verify_chain
from tests.factories import GXT, THB, transfer, wallet


def supply(mint: bytes) -> int:
    return selectors.mint_get(mint)[1].supply


def test_running_it_twice_leaves_every_demo_wallet_at_its_target_and_mints_nothing_more(ledger, capsys):
    call_command("seed_demo")
    height = selectors.block_height()
    call_command("seed_demo")

    assert selectors.block_height() == height, "a rerun with nothing to do submits nothing"
    for demo in DEMO_WALLETS:
        assert selectors.wallet_balances(demo.keypair.pubkey) == {"GXT": demo.gxt, "THB": demo.thb}
    assert supply(GXT) == sum(demo.gxt for demo in DEMO_WALLETS)
    assert supply(THB) == sum(demo.thb for demo in DEMO_WALLETS)
    out = capsys.readouterr().out
    assert "public development keys" in out
    for demo in DEMO_WALLETS:
        assert demo.label in out and demo.keypair.address in out
    verify_chain()


def test_it_tops_up_a_balance_that_fell_below_target_and_leaves_a_higher_one_alone(ledger):
    call_command("seed_demo")
    alice, carol = DEMO_WALLETS[0], DEMO_WALLETS[2]
    stranger = wallet("stranger")
    services.transaction_submit(wire=transfer(alice.keypair, carol.keypair, 7).wire)
    services.transaction_submit(wire=transfer(alice.keypair, stranger, 3).wire)
    call_command("seed_demo")

    assert selectors.wallet_balances(alice.keypair.pubkey)["GXT"] == alice.gxt
    assert selectors.wallet_balances(carol.keypair.pubkey)["GXT"] == carol.gxt + 7
    assert supply(GXT) == sum(demo.gxt for demo in DEMO_WALLETS) + 7 + 3


def test_it_refuses_a_ledger_with_a_configured_mint_authority(ledger):
    with override_settings(LEDGER_AUTHORITY_SEED="11" * 32), pytest.raises(CommandError, match="development mint"):
        call_command("seed_demo")
    assert supply(GXT) == 0
