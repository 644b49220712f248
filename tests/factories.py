"""Builders for ledger fixtures: funded wallets and signed transactions."""

from __future__ import annotations

from ledger import selectors, services
from ledger.config import platform_authority
from ledger.crypto import Keypair
from ledger.encoding import Instruction, Message, Transaction
from ledger.token_program import associated_token_address, create_account_ix, mint_address, mint_to_ix, transfer_ix

GXT = mint_address("GXT")
THB = mint_address("THB")


def ata(owner: Keypair, mint: bytes = GXT) -> bytes:
    return associated_token_address(owner.pubkey, mint)


def signed(instructions: list[Instruction], signers: list[Keypair], blockhash: bytes | None = None) -> Transaction:
    message = Message(signers[0].pubkey, blockhash or selectors.latest_blockhash(), tuple(instructions))
    return Transaction.build(message, signers)


def wallet(label: str, *, gxt: int = 0, thb: int = 0) -> Keypair:
    """A key pair with both token accounts created and the given balances minted by the platform authority."""
    kp = Keypair.from_label(label)
    authority = platform_authority()
    ixs = [create_account_ix(payer=authority.pubkey, owner=kp.pubkey, mint=GXT),
           create_account_ix(payer=authority.pubkey, owner=kp.pubkey, mint=THB)]
    if gxt:
        ixs.append(mint_to_ix(mint=GXT, destination=ata(kp, GXT), authority=authority.pubkey, amount=gxt))
    if thb:
        ixs.append(mint_to_ix(mint=THB, destination=ata(kp, THB), authority=authority.pubkey, amount=thb))
    services.instructions_submit(instructions=ixs, signers=[authority])
    return kp


def transfer(sender: Keypair, receiver: Keypair, amount: int, mint: bytes = GXT) -> Transaction:
    return signed([transfer_ix(source=ata(sender, mint), destination=ata(receiver, mint),
                               authority=sender.pubkey, amount=amount)], [sender])
