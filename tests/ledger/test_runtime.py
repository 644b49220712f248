"""The runtime and the token program on an in-memory chain: no database, no sequencer."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.chain import GenesisConfig, LedgerState
from ledger.crypto import Keypair, find_program_address, sha256
from ledger.encoding import AccountMeta, Instruction, Message, Transaction
from ledger.errors import BlockhashNotFound, DuplicateTransaction, InstructionError, MalformedTransaction, TransactionFailed
from ledger.runtime import Invocation, Program, Runtime
from ledger.token_program import (
    TOKEN_PROGRAM_ID,
    Mint,
    TokenAccount,
    TokenProgram,
    associated_token_address,
    burn_ix,
    create_account_ix,
    mint_address,
    mint_to_ix,
    set_mint_authority_ix,
    transfer_ix,
    transfer_split_ix,
)

VALIDATOR = Keypair.from_label("test validator")
AUTHORITY = Keypair.from_label("test authority")
GXT = mint_address("GXT")
THB = mint_address("THB")

ESCROW_PROGRAM_ID = sha256(b"test escrow program")


class EscrowProgram(Program):
    """A test program that moves tokens out of an escrow token account whose owner is its PDA ["vault"]."""

    program_id = ESCROW_PROGRAM_ID
    name = "escrow"

    def process(self, inv: Invocation) -> None:
        vault, destination, vault_authority, token_program = inv.accounts[:4]
        amount = int.from_bytes(inv.data[:8], "little")
        seeds = [b"vault"]
        bump = find_program_address(seeds, self.program_id)[1]
        signer_seeds = [[b"vault", bytes((bump,))]] if inv.data[8:9] != b"\x00" else []
        inv.invoke(TOKEN_PROGRAM_ID, [
            AccountMeta(vault.key, False, True),
            AccountMeta(destination.key, False, True),
            AccountMeta(vault_authority.key, True, False),
        ], bytes((2,)) + amount.to_bytes(8, "little"), signer_seeds)


class ScribbleProgram(Program):
    """A test program that tries to overwrite the first account it is given."""

    program_id = sha256(b"test scribble program")
    name = "scribble"

    def process(self, inv: Invocation) -> None:
        inv.accounts[0].data = b"\x02" + bytes(80)


def new_chain() -> LedgerState:
    state = LedgerState(Runtime([TokenProgram(), EscrowProgram(), ScribbleProgram()]))
    state.genesis(GenesisConfig(VALIDATOR, AUTHORITY, 1_767_225_600_000))
    return state


def tx(state: LedgerState, instructions, signers, blockhash=None) -> Transaction:
    return Transaction.build(Message(signers[0].pubkey, blockhash or state.tip_hash, tuple(instructions)), signers)


def commit(state: LedgerState, *txs: Transaction):
    block, rejected = state.produce(list(txs), 1_767_225_700_000, VALIDATOR)
    return block, rejected


def must_commit(state, *txs):
    block, rejected = commit(state, *txs)
    assert not rejected, [r.error for r in rejected]
    return block


def balance(state, owner: Keypair, mint=GXT) -> int:
    owner_key, data = state.load_account(associated_token_address(owner.pubkey, mint))
    return TokenAccount.unpack(data).amount if data else 0


def supply(state, mint=GXT) -> int:
    return Mint.unpack(state.load_account(mint)[1]).supply


def open_wallet(state, kp: Keypair, gxt: int = 0):
    ixs = [create_account_ix(payer=AUTHORITY.pubkey, owner=kp.pubkey, mint=GXT)]
    if gxt:
        ixs.append(mint_to_ix(mint=GXT, destination=associated_token_address(kp.pubkey, GXT), authority=AUTHORITY.pubkey, amount=gxt))
    must_commit(state, tx(state, ixs, [AUTHORITY]))


def failure(state, transaction) -> TransactionFailed:
    _, rejected = commit(state, transaction)
    assert len(rejected) == 1
    return rejected[0].error


ALICE = Keypair.from_label("alice")
BOB = Keypair.from_label("bob")
MALLORY = Keypair.from_label("mallory")


def ata(kp, mint=GXT):
    return associated_token_address(kp.pubkey, mint)


def test_genesis_is_reproducible():
    assert new_chain().tip_hash == new_chain().tip_hash
    other = LedgerState(Runtime([TokenProgram()]))
    other.genesis(GenesisConfig(VALIDATOR, Keypair.from_label("someone else"), 1_767_225_600_000))
    assert other.tip_hash != new_chain().tip_hash


def test_a_transfer_signed_by_someone_other_than_the_owner_is_refused():
    state = new_chain()
    open_wallet(state, ALICE, 100)
    open_wallet(state, MALLORY)
    theft = tx(state, [transfer_ix(source=ata(ALICE), destination=ata(MALLORY), authority=MALLORY.pubkey, amount=50)], [MALLORY])
    err = failure(state, theft)
    assert err.reason_code == "owner_mismatch" and err.instruction == 0
    assert balance(state, ALICE) == 100


def test_an_owner_flag_without_a_signature_grants_nothing():
    state = new_chain()
    open_wallet(state, ALICE, 100)
    open_wallet(state, MALLORY)
    ix = Instruction(TOKEN_PROGRAM_ID, (
        AccountMeta(ata(ALICE), False, True), AccountMeta(ata(MALLORY), False, True), AccountMeta(ALICE.pubkey, False, False),
    ), bytes((2,)) + (50).to_bytes(8, "little"))
    err = failure(state, tx(state, [ix], [MALLORY]))
    assert err.reason_code == "owner_mismatch"


def test_only_the_mint_authority_can_mint():
    state = new_chain()
    open_wallet(state, MALLORY)
    err = failure(state, tx(state, [mint_to_ix(mint=GXT, destination=ata(MALLORY), authority=MALLORY.pubkey, amount=1)], [MALLORY]))
    assert err.reason_code == "owner_mismatch"
    assert supply(state) == 0


def test_a_program_cannot_write_an_account_it_does_not_own():
    state = new_chain()
    open_wallet(state, ALICE, 100)
    ix = Instruction(ScribbleProgram.program_id, (AccountMeta(ata(ALICE), False, True),), b"")
    err = failure(state, tx(state, [ix], [ALICE]))
    assert err.reason_code == "account_owned_by_another_program"
    assert balance(state, ALICE) == 100


def test_a_program_cannot_write_an_account_not_marked_writable():
    state = new_chain()
    open_wallet(state, ALICE, 100)
    open_wallet(state, BOB)
    ix = Instruction(TOKEN_PROGRAM_ID, (
        AccountMeta(ata(ALICE), False, False), AccountMeta(ata(BOB), False, True), AccountMeta(ALICE.pubkey, True, False),
    ), bytes((2,)) + (50).to_bytes(8, "little"))
    err = failure(state, tx(state, [ix], [ALICE]))
    assert err.reason_code == "account_not_writable"
    assert balance(state, ALICE) == 100 and balance(state, BOB) == 0


def test_a_multi_instruction_transaction_whose_last_instruction_fails_leaves_no_trace():
    state = new_chain()
    open_wallet(state, ALICE, 100)
    root_before, accounts_before = state.commitment.root(), dict(state.accounts)
    doomed = tx(state, [
        create_account_ix(payer=ALICE.pubkey, owner=BOB.pubkey, mint=GXT),
        transfer_ix(source=ata(ALICE), destination=ata(BOB), authority=ALICE.pubkey, amount=60),
        transfer_ix(source=ata(ALICE), destination=ata(BOB), authority=ALICE.pubkey, amount=60),
    ], [ALICE])
    block, rejected = commit(state, doomed)
    assert rejected[0].error.instruction == 2
    assert rejected[0].error.reason_code == "insufficient_funds"
    assert block.transactions == []
    assert state.accounts == accounts_before
    assert state.commitment.root() == root_before


def test_a_replayed_transaction_is_rejected():
    state = new_chain()
    open_wallet(state, ALICE, 100)
    open_wallet(state, BOB)
    pay = tx(state, [transfer_ix(source=ata(ALICE), destination=ata(BOB), authority=ALICE.pubkey, amount=10)], [ALICE])
    must_commit(state, pay)
    _, rejected = commit(state, pay)
    assert isinstance(rejected[0].error, DuplicateTransaction)
    block, rejected = commit(state, pay, pay)
    assert isinstance(rejected[0].error, DuplicateTransaction) and isinstance(rejected[1].error, DuplicateTransaction)
    assert balance(state, BOB) == 10


def test_a_transaction_in_the_same_block_twice_applies_once():
    state = new_chain()
    open_wallet(state, ALICE, 100)
    open_wallet(state, BOB)
    pay = tx(state, [transfer_ix(source=ata(ALICE), destination=ata(BOB), authority=ALICE.pubkey, amount=10)], [ALICE])
    block, rejected = commit(state, pay, pay)
    assert len(block.transactions) == 1 and isinstance(rejected[0].error, DuplicateTransaction)
    assert balance(state, BOB) == 10


def test_an_unknown_or_expired_blockhash_is_refused():
    state = new_chain()
    open_wallet(state, ALICE, 100)
    open_wallet(state, BOB)
    stale = tx(state, [transfer_ix(source=ata(ALICE), destination=ata(BOB), authority=ALICE.pubkey, amount=1)], [ALICE], blockhash=bytes(32))
    assert isinstance(commit(state, stale)[1][0].error, BlockhashNotFound)


def test_minting_past_the_64_bit_limit_is_an_overflow_not_a_wrap():
    state = new_chain()
    open_wallet(state, ALICE, 2**64 - 1)
    err = failure(state, tx(state, [mint_to_ix(mint=GXT, destination=ata(ALICE), authority=AUTHORITY.pubkey, amount=1)], [AUTHORITY]))
    assert err.reason_code == "arithmetic_overflow"
    assert supply(state) == 2**64 - 1


def test_zero_amounts_and_burning_more_than_the_balance_are_refused():
    state = new_chain()
    open_wallet(state, ALICE, 5)
    assert failure(state, tx(state, [burn_ix(source=ata(ALICE), mint=GXT, authority=ALICE.pubkey, amount=0)], [ALICE])).reason_code == "invalid_amount"
    assert failure(state, tx(state, [burn_ix(source=ata(ALICE), mint=GXT, authority=ALICE.pubkey, amount=6)], [ALICE])).reason_code == "insufficient_funds"
    must_commit(state, tx(state, [burn_ix(source=ata(ALICE), mint=GXT, authority=ALICE.pubkey, amount=5)], [ALICE]))
    assert balance(state, ALICE) == 0 and supply(state) == 0


def test_tokens_of_different_mints_do_not_mix():
    state = new_chain()
    open_wallet(state, ALICE, 100)
    must_commit(state, tx(state, [create_account_ix(payer=AUTHORITY.pubkey, owner=BOB.pubkey, mint=THB)], [AUTHORITY]))
    err = failure(state, tx(state, [transfer_ix(source=ata(ALICE), destination=ata(BOB, THB), authority=ALICE.pubkey, amount=1)], [ALICE]))
    assert err.reason_code == "mint_mismatch"


def test_a_split_transfer_pays_every_destination_or_none():
    state = new_chain()
    open_wallet(state, ALICE, 100)
    open_wallet(state, BOB)
    open_wallet(state, MALLORY)
    must_commit(state, tx(state, [transfer_split_ix(source=ata(ALICE), authority=ALICE.pubkey,
                                                    legs=[(ata(BOB), 30), (ata(MALLORY), 0), (ata(BOB), 5)])], [ALICE]))
    assert (balance(state, ALICE), balance(state, BOB), balance(state, MALLORY)) == (65, 35, 0)
    must_commit(state, tx(state, [create_account_ix(payer=AUTHORITY.pubkey, owner=BOB.pubkey, mint=THB)], [AUTHORITY]))
    refused = {
        "insufficient_funds": [(ata(BOB), 60), (ata(MALLORY), 6)],
        "mint_mismatch": [(ata(BOB), 1), (ata(BOB, THB), 0)],
        "invalid_account_address": [(ata(BOB), 1), (ata(ALICE), 1)],
        "invalid_amount": [(ata(BOB), 0)],
        "uninitialized_account": [(ata(BOB), 1), (ata(Keypair.from_label("nobody")), 1)],
    }
    for reason, legs in refused.items():
        err = failure(state, tx(state, [transfer_split_ix(source=ata(ALICE), authority=ALICE.pubkey, legs=legs)], [ALICE]))
        assert err.reason_code == reason, (reason, err.message)
    theft = transfer_split_ix(source=ata(ALICE), authority=MALLORY.pubkey, legs=[(ata(MALLORY), 1)])
    assert failure(state, tx(state, [theft], [MALLORY])).reason_code == "owner_mismatch"
    too_many = transfer_split_ix(source=ata(ALICE), authority=ALICE.pubkey, legs=[(ata(BOB), 1)] * 9)
    assert failure(state, tx(state, [too_many], [ALICE])).reason_code == "invalid_instruction_data"
    assert (balance(state, ALICE), balance(state, BOB), balance(state, MALLORY)) == (65, 35, 0)
    assert supply(state) == 100


def test_creating_an_associated_account_is_idempotent_and_bound_to_its_derived_address():
    state = new_chain()
    open_wallet(state, ALICE, 7)
    must_commit(state, tx(state, [create_account_ix(payer=ALICE.pubkey, owner=ALICE.pubkey, mint=GXT)], [ALICE]))
    assert balance(state, ALICE) == 7
    squat = Instruction(TOKEN_PROGRAM_ID, (
        AccountMeta(MALLORY.pubkey, True, True), AccountMeta(ata(BOB), False, True),
        AccountMeta(MALLORY.pubkey, False, False), AccountMeta(GXT, False, False),
    ), bytes((1,)))
    assert failure(state, tx(state, [squat], [MALLORY])).reason_code == "invalid_account_address"


def test_the_mint_authority_can_be_handed_over():
    state = new_chain()
    open_wallet(state, ALICE)
    must_commit(state, tx(state, [set_mint_authority_ix(mint=GXT, authority=AUTHORITY.pubkey, new_authority=BOB.pubkey)], [AUTHORITY]))
    assert failure(state, tx(state, [mint_to_ix(mint=GXT, destination=ata(ALICE), authority=AUTHORITY.pubkey, amount=1)], [AUTHORITY])).reason_code == "owner_mismatch"
    must_commit(state, tx(state, [mint_to_ix(mint=GXT, destination=ata(ALICE), authority=BOB.pubkey, amount=1)], [BOB]))
    assert balance(state, ALICE) == 1


def escrow_setup(state):
    vault_owner = find_program_address([b"vault"], ESCROW_PROGRAM_ID)[0]
    must_commit(state, tx(state, [
        create_account_ix(payer=AUTHORITY.pubkey, owner=vault_owner, mint=GXT),
        mint_to_ix(mint=GXT, destination=associated_token_address(vault_owner, GXT), authority=AUTHORITY.pubkey, amount=500),
    ], [AUTHORITY]))
    open_wallet(state, BOB)
    return vault_owner, associated_token_address(vault_owner, GXT)


def escrow_release(state, vault_owner, vault, amount, sign_with_pda=True):
    ix = Instruction(ESCROW_PROGRAM_ID, (
        AccountMeta(vault, False, True), AccountMeta(ata(BOB), False, True),
        AccountMeta(vault_owner, False, False), AccountMeta(TOKEN_PROGRAM_ID, False, False),
    ), amount.to_bytes(8, "little") + (b"\x01" if sign_with_pda else b"\x00"))
    return tx(state, [ix], [BOB])


def test_a_program_moves_escrowed_tokens_by_signing_for_its_pda():
    state = new_chain()
    vault_owner, vault = escrow_setup(state)
    must_commit(state, escrow_release(state, vault_owner, vault, 200))
    assert balance(state, BOB) == 200
    assert TokenAccount.unpack(state.load_account(vault)[1]).amount == 300


def test_nobody_can_sign_for_an_escrow_pda_without_its_program():
    state = new_chain()
    vault_owner, vault = escrow_setup(state)
    err = failure(state, escrow_release(state, vault_owner, vault, 200, sign_with_pda=False))
    assert err.reason_code == "privilege_escalation"
    # The PDA has no private key, so no client can produce the signature a direct transfer needs.
    with pytest.raises(MalformedTransaction):
        tx(state, [transfer_ix(source=vault, destination=ata(BOB), authority=vault_owner, amount=1)], [BOB])


def test_an_instruction_error_names_its_reason():
    with pytest.raises(InstructionError) as info:
        raise InstructionError("insufficient_funds", "not enough")
    assert info.value.code == "insufficient_funds"


HOLDERS = [Keypair.from_label(f"holder {i}") for i in range(4)]

operation = st.one_of(
    st.tuples(st.just("mint"), st.integers(0, 3), st.integers(0, 3), st.integers(0, 2**62)),
    st.tuples(st.just("transfer"), st.integers(0, 3), st.integers(0, 3), st.integers(0, 2**62)),
    st.tuples(st.just("burn"), st.integers(0, 3), st.integers(0, 3), st.integers(0, 2**62)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(operation, min_size=1, max_size=25))
def test_random_mints_transfers_and_burns_keep_supply_equal_to_the_sum_of_balances(ops):
    state = new_chain()
    must_commit(state, tx(state, [create_account_ix(payer=AUTHORITY.pubkey, owner=h.pubkey, mint=GXT) for h in HOLDERS], [AUTHORITY]))
    expected = [0, 0, 0, 0]
    for kind, a, b, amount in ops:
        if kind == "mint":
            t = tx(state, [mint_to_ix(mint=GXT, destination=ata(HOLDERS[a]), authority=AUTHORITY.pubkey, amount=amount)], [AUTHORITY])
            ok = 0 < amount and sum(expected) + amount < 2**64
            if ok:
                expected[a] += amount
        elif kind == "transfer":
            t = tx(state, [transfer_ix(source=ata(HOLDERS[a]), destination=ata(HOLDERS[b]), authority=HOLDERS[a].pubkey, amount=amount)], [HOLDERS[a]])
            ok = 0 < amount <= expected[a]
            if ok:
                expected[a] -= amount
                expected[b] += amount
        else:
            t = tx(state, [burn_ix(source=ata(HOLDERS[a]), mint=GXT, authority=HOLDERS[a].pubkey, amount=amount)], [HOLDERS[a]])
            ok = 0 < amount <= expected[a]
            if ok:
                expected[a] -= amount
        block, rejected = commit(state, t)
        assert (len(block.transactions) == 1) == ok
        balances = [balance(state, h) for h in HOLDERS]
        assert balances == expected
        assert all(b >= 0 for b in balances)
        assert supply(state) == sum(balances)
