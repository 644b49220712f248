"""`manage.py seed_demo`: demo wallets holding GXT and THB, and the default zones, for trying the platform on a
development ledger.

Idempotent: each wallet's token accounts are created once, and a balance is topped up to its target only while
it is below it, so running the command again mints nothing. The demo keys are derived from public labels, so the
command refuses to run on a ledger with a configured (non-development) mint authority.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ledger import node as ledger_node
from ledger import selectors, services
from ledger.config import platform_authority
from ledger.crypto import Keypair, b58
from ledger.units import format_units
from registry.defaults import zones_seed
from registry.models import Zone
from ledger.token_program import (
    GXT_DECIMALS,
    THB_DECIMALS,
    TokenAccount,
    associated_token_address,
    create_account_ix,
    mint_address,
    mint_to_ix,
)

KWH = 10**GXT_DECIMALS
BAHT = 10**THB_DECIMALS
DECIMALS = {"GXT": GXT_DECIMALS, "THB": THB_DECIMALS}


@dataclass(frozen=True)
class DemoWallet:
    label: str
    gxt: int  # target balance, base units
    thb: int

    @property
    def keypair(self) -> Keypair:
        return Keypair.from_label(self.label)

    def target(self, symbol: str) -> int:
        return {"GXT": self.gxt, "THB": self.thb}[symbol]


# Prosumers start with surplus energy to sell; consumers start with baht to buy it.
DEMO_WALLETS = (
    DemoWallet("demo prosumer alice", gxt=500 * KWH, thb=1_000 * BAHT),
    DemoWallet("demo prosumer bob", gxt=250 * KWH, thb=1_000 * BAHT),
    DemoWallet("demo consumer carol", gxt=10 * KWH, thb=5_000 * BAHT),
    DemoWallet("demo consumer dave", gxt=10 * KWH, thb=5_000 * BAHT),
)


def demo_wallets_seed() -> int:
    """Create the demo wallets' token accounts and mint each balance up to its target, in one transaction.

    Returns how many mint instructions were needed (0 when everything was already in place, in which case nothing
    is submitted). Not safe against two runs at the same moment: both could read a low balance and both mint.
    """
    authority = platform_authority()
    instructions = []
    wanted = {}
    for wallet in DEMO_WALLETS:
        for symbol in ("GXT", "THB"):
            wanted[associated_token_address(wallet.keypair.pubkey, mint_address(symbol))] = (wallet, symbol)
    existing = selectors.raw_accounts(list(wanted))
    mints = 0
    for address, (wallet, symbol) in wanted.items():
        mint = mint_address(symbol)
        if address not in existing:
            instructions.append(create_account_ix(payer=authority.pubkey, owner=wallet.keypair.pubkey, mint=mint))
        balance = TokenAccount.unpack(existing[address][1]).amount if address in existing else 0
        missing = wallet.target(symbol) - balance
        if missing > 0:
            instructions.append(mint_to_ix(mint=mint, destination=address, authority=authority.pubkey, amount=missing))
            mints += 1
    if instructions:
        services.instructions_submit(instructions=instructions, signers=[authority])
    return mints


class Command(BaseCommand):
    help = "Create the demo wallets (public development keys) and mint their starting GXT and THB; safe to rerun."

    def handle(self, *args, **options):
        if settings.LEDGER_AUTHORITY_SEED:
            raise CommandError(
                "seed_demo mints to keys anyone can derive; it runs only on a ledger with the development mint "
                "authority (LEDGER_AUTHORITY_SEED unset)."
            )
        was_leading = ledger_node.node().sequencer is not None
        try:
            mints = demo_wallets_seed()
            zones = zones_seed()
        finally:
            if not was_leading:
                ledger_node.shutdown()
        self.stdout.write(self.style.WARNING(
            "These are public development keys: each seed is sha256 of the wallet's label, so anyone can sign for "
            "these wallets. Never send them anything of value."
        ))
        for wallet in DEMO_WALLETS:
            kp = wallet.keypair
            balances = selectors.wallet_balances(kp.pubkey)
            self.stdout.write(f"\n{wallet.label}")
            self.stdout.write(f"  address      {kp.address}")
            self.stdout.write(f"  seed (hex)   {kp.seed.hex()}")
            for symbol in ("GXT", "THB"):
                ata = b58(associated_token_address(kp.pubkey, mint_address(symbol)))
                self.stdout.write(f"  {symbol} account  {ata}  {format_units(balances[symbol], DECIMALS[symbol])} {symbol}")
        self.stdout.write(f"\nzones: {zones} created; " + ", ".join(Zone.objects.values_list("code", flat=True)))
        done = f"minted {mints} balance(s) up to target" if mints else "every balance was already at its target"
        self.stdout.write(self.style.SUCCESS(f"\ndemo wallets ready: {done}"))
