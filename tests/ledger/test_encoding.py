"""The transaction wire format and the block header: round trips, every refusal of the decoder, signer order."""

from __future__ import annotations

import hashlib
import re
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.crypto import Keypair, b58
from ledger.encoding import (
    MAX_ACCOUNTS_PER_INSTRUCTION,
    MAX_INSTRUCTIONS,
    MAX_SIGNATURES,
    MAX_TX_SIZE,
    AccountMeta,
    BlockHeader,
    Instruction,
    Message,
    Transaction,
)
from ledger.errors import MalformedTransaction, SignatureVerificationFailed

POOL = [Keypair.from_label(f"encoding test {i}") for i in range(6)]
PAYER, ALICE, BOB, CAROL = POOL[:4]
PROGRAM = hashlib.sha256(b"encoding test program").digest()
OTHER_PROGRAM = hashlib.sha256(b"encoding test other program").digest()
BLOCKHASH = hashlib.sha256(b"encoding test blockhash").digest()
PLAIN = hashlib.sha256(b"encoding test plain account").digest()

keys32 = st.binary(min_size=32, max_size=32)


@st.composite
def account_metas(draw):
    if draw(st.booleans()):
        return AccountMeta(draw(st.sampled_from(POOL)).pubkey, draw(st.booleans()), draw(st.booleans()))
    return AccountMeta(draw(keys32), False, draw(st.booleans()))


instructions = st.builds(
    Instruction, keys32, st.lists(account_metas(), max_size=6).map(tuple), st.binary(max_size=120),
)
messages = st.builds(
    Message, st.sampled_from([kp.pubkey for kp in POOL]), keys32, st.lists(instructions, min_size=1, max_size=5).map(tuple),
)


def sample_transaction() -> Transaction:
    """Two signers, three instructions: one with no accounts and no data, one naming the fee payer unflagged."""
    message = Message(PAYER.pubkey, BLOCKHASH, (
        Instruction(PROGRAM, (AccountMeta(PLAIN, False, True), AccountMeta(ALICE.pubkey, True, False)), b"\x02\x05\x00"),
        Instruction(OTHER_PROGRAM, ()),
        Instruction(PROGRAM, (AccountMeta(PAYER.pubkey, False, False),), b"\xff"),
    ))
    return Transaction.build(message, [PAYER, ALICE])


def field_spans(tx: Transaction) -> list[tuple[int, int, str]]:
    """Where each field of the wire bytes lies, named as the decoder names it."""
    spans: list[tuple[int, int, str]] = []
    position = 0

    def field(size: int, name: str) -> None:
        nonlocal position
        spans.append((position, position + size, name))
        position += size

    field(1, "signature count")
    for _ in tx.signatures:
        field(64, "signature")
    for size, name in ((4, "magic"), (1, "version"), (32, "fee payer"), (32, "recent blockhash"), (1, "instruction count")):
        field(size, name)
    for i, ix in enumerate(tx.message.instructions):
        field(32, f"instruction {i} program id")
        field(1, f"instruction {i} account count")
        for _ in ix.accounts:
            field(32, f"instruction {i} account")
            field(1, f"instruction {i} account flags")
        field(2, f"instruction {i} data length")
        field(len(ix.data), f"instruction {i} data")
    assert position == len(tx.wire)
    return spans


def message_offset(tx: Transaction) -> int:
    return 1 + 64 * len(tx.signatures)


def refused(wire, message: str) -> None:
    with pytest.raises(MalformedTransaction, match=message) as caught:
        Transaction.decode(wire)
    assert caught.value.code == "malformed_transaction"


# -- round trips ----------------------------------------------------------------------------------------------

@settings(max_examples=200)
@given(message=messages)
def test_decode_inverts_build(message):
    tx = Transaction.build(message, POOL)
    decoded = Transaction.decode(tx.wire)
    assert decoded.message == message
    assert decoded.signatures == tx.signatures
    assert decoded.message_bytes == tx.message_bytes == message.serialize()
    assert decoded.wire == tx.wire
    assert decoded.txid == b58(tx.signatures[0])
    assert len(tx.signatures) == len(message.signers())
    decoded.verify_signatures()


@settings(max_examples=200)
@given(message=messages)
def test_the_wire_is_count_then_signatures_then_message(message):
    tx = Transaction.build(message, POOL)
    assert tx.wire == bytes([len(tx.signatures)]) + b"".join(tx.signatures) + tx.message_bytes
    by_key = {kp.pubkey: kp for kp in POOL}
    for key, signature in zip(message.signers(), tx.signatures, strict=True):
        assert by_key[key].sign(tx.message_bytes) == signature


@settings(max_examples=300)
@given(wire=st.binary(max_size=MAX_TX_SIZE + 10))
def test_decode_refuses_garbage_only_with_malformed_transaction(wire):
    try:
        Transaction.decode(wire)
    except MalformedTransaction:
        pass


@settings(max_examples=300)
@given(data=st.data())
def test_decode_refuses_corrupted_transactions_only_with_malformed_transaction(data):
    wire = bytearray(sample_transaction().wire)
    for _ in range(data.draw(st.integers(1, 4))):
        wire[data.draw(st.integers(0, len(wire) - 1))] = data.draw(st.integers(0, 255))
    try:
        tx = Transaction.decode(bytes(wire))
    except MalformedTransaction:
        return
    assert tx.wire == bytes(wire)


def test_decode_accepts_a_bytearray():
    tx = sample_transaction()
    assert Transaction.decode(bytearray(tx.wire)).wire == tx.wire


def test_the_message_layout_is_the_documented_one():
    tx = sample_transaction()
    m = tx.message_bytes
    assert m[0:4] == b"GXTX" and m[4] == 1
    assert m[5:37] == PAYER.pubkey and m[37:69] == BLOCKHASH and m[69] == 3
    assert m[70:102] == PROGRAM and m[102] == 2
    assert m[103:135] == PLAIN and m[135] == 0x02
    assert m[136:168] == ALICE.pubkey and m[168] == 0x01
    assert struct.unpack("<H", m[169:171])[0] == 3 and m[171:174] == b"\x02\x05\x00"
    assert m[174:206] == OTHER_PROGRAM and m[206] == 0 and m[207:209] == b"\x00\x00"
    assert m[209:241] == PROGRAM and m[241] == 1 and m[242:274] == PAYER.pubkey and m[274] == 0x00
    assert m[275:277] == b"\x01\x00" and m[277:] == b"\xff"


def test_both_flag_bits_encode_a_writable_signer():
    message = Message(PAYER.pubkey, BLOCKHASH, (Instruction(PROGRAM, (AccountMeta(PAYER.pubkey, True, True),)),))
    assert message.serialize()[-3:] == b"\x03\x00\x00"


# -- every refusal of the decoder -----------------------------------------------------------------------------

def test_a_truncation_at_every_offset_names_the_field_it_cuts():
    tx = sample_transaction()
    spans = field_spans(tx)
    for length in range(len(tx.wire)):
        name = next(name for start, end, name in spans if start <= length < end)
        refused(tx.wire[:length], f"^transaction ends inside the {re.escape(name)}$")


@pytest.mark.parametrize("extra", [b"\x00", b"\x01\x02\x03\x04\x05"])
def test_trailing_bytes_are_refused(extra):
    refused(sample_transaction().wire + extra, f"^{len(extra)} unexpected bytes after the message$")


def test_a_wrong_magic_is_refused():
    tx = sample_transaction()
    at = message_offset(tx)
    for magic in (b"GXTY", b"gxtx", b"GXBK", b"\x00\x00\x00\x00"):
        refused(tx.wire[:at] + magic + tx.wire[at + 4:], "does not start with the magic bytes 'GXTX'")


@pytest.mark.parametrize("version", [0, 2, 255])
def test_an_unknown_version_is_refused(version):
    tx = sample_transaction()
    at = message_offset(tx) + 4
    refused(tx.wire[:at] + bytes([version]) + tx.wire[at + 1:], f"^unsupported message version {version}$")


@pytest.mark.parametrize("flags", [0x04, 0x08, 0x10, 0x80, 0xFC, 0xFF])
def test_unknown_flag_bits_are_refused(flags):
    tx = sample_transaction()
    flags_at = next(start for start, _, name in field_spans(tx) if name == "instruction 0 account flags")
    refused(tx.wire[:flags_at] + bytes([flags]) + tx.wire[flags_at + 1:],
            f"^instruction 0 has unknown account flag bits {flags:#04x}$")


@pytest.mark.parametrize("count", [0, MAX_SIGNATURES + 1, 255])
def test_a_signature_count_out_of_range_is_refused(count):
    tx = sample_transaction()
    refused(bytes([count]) + tx.wire[1:], f"^signature count must be 1..{MAX_SIGNATURES}, got {count}$")


def test_fewer_signatures_than_required_signers_is_refused():
    tx = sample_transaction()
    assert len(tx.signatures) == 2
    refused(b"\x01" + tx.signatures[0] + tx.message_bytes, "^message requires 2 signatures, transaction carries 1$")


def test_more_signatures_than_required_signers_is_refused():
    tx = sample_transaction()
    wire = b"\x03" + b"".join(tx.signatures) + tx.signatures[1] + tx.message_bytes
    refused(wire, "^message requires 2 signatures, transaction carries 3$")


def test_clearing_a_signer_flag_changes_the_required_count_and_is_refused():
    tx = sample_transaction()
    flags_at = [start for start, _, name in field_spans(tx) if name == "instruction 0 account flags"][1]
    assert tx.wire[flags_at] == 0x01
    refused(tx.wire[:flags_at] + b"\x00" + tx.wire[flags_at + 1:], "^message requires 1 signatures, transaction carries 2$")


def test_a_message_without_instructions_is_refused():
    tx = sample_transaction()
    at = message_offset(tx) + 4 + 1 + 32 + 32
    refused(tx.wire[:at] + b"\x00", "^a transaction needs at least one instruction$")


def test_an_instruction_with_too_many_accounts_is_refused():
    tx = sample_transaction()
    count_at = next(start for start, _, name in field_spans(tx) if name == "instruction 0 account count")
    head = tx.wire[:count_at] + bytes([MAX_ACCOUNTS_PER_INSTRUCTION + 1])
    wire = head + (PLAIN + b"\x00") * (MAX_ACCOUNTS_PER_INSTRUCTION + 1) + b"\x00\x00"
    refused(wire, f"^instruction 0 names {MAX_ACCOUNTS_PER_INSTRUCTION + 1} accounts; the limit is {MAX_ACCOUNTS_PER_INSTRUCTION}$")


def _padded_to(size: int) -> Transaction:
    base = Message(PAYER.pubkey, BLOCKHASH, (Instruction(PROGRAM, (), b""),))
    overhead = len(Transaction.build(base, [PAYER]).wire)
    message = Message(PAYER.pubkey, BLOCKHASH, (Instruction(PROGRAM, (), bytes(size - overhead)),))
    return Transaction.build(message, [PAYER])


def test_a_transaction_of_exactly_the_size_limit_is_accepted():
    tx = _padded_to(MAX_TX_SIZE)
    assert len(tx.wire) == MAX_TX_SIZE
    Transaction.decode(tx.wire).verify_signatures()


def test_an_oversize_transaction_is_refused_by_the_builder_and_the_decoder():
    with pytest.raises(MalformedTransaction, match=f"transaction would be {MAX_TX_SIZE + 1} bytes"):
        _padded_to(MAX_TX_SIZE + 1)
    fits = _padded_to(MAX_TX_SIZE)
    refused(fits.wire + b"\x00", f"^transaction is {MAX_TX_SIZE + 1} bytes; the limit is {MAX_TX_SIZE}$")
    refused(b"\x00" * (MAX_TX_SIZE + 1), f"^transaction is {MAX_TX_SIZE + 1} bytes")


@pytest.mark.parametrize("value", ["AQID", None, 42, memoryview(b"\x01")])
def test_input_that_is_not_bytes_is_refused(value):
    refused(value, "^transaction must be bytes$")


def _wire_with_instructions(count: int) -> bytes:
    """A correctly signed transaction carrying `count` empty instructions, encoded by hand."""
    message = b"GXTX\x01" + PAYER.pubkey + BLOCKHASH + bytes([count]) + (PROGRAM + b"\x00\x00\x00") * count
    return b"\x01" + PAYER.sign(message) + message


def test_the_instruction_limit_is_accepted():
    tx = Transaction.decode(_wire_with_instructions(MAX_INSTRUCTIONS))
    assert len(tx.message.instructions) == MAX_INSTRUCTIONS
    tx.verify_signatures()


def test_more_instructions_than_the_limit_are_refused():
    refused(_wire_with_instructions(MAX_INSTRUCTIONS + 1), "instructions")


# -- what the encoder refuses ---------------------------------------------------------------------------------

@pytest.mark.parametrize("message, error", [
    (Message(PAYER.pubkey, BLOCKHASH, ()), "a transaction needs at least one instruction"),
    (Message(PAYER.pubkey, BLOCKHASH, (Instruction(PROGRAM, ()),) * (MAX_INSTRUCTIONS + 1)), "at most 64 instructions"),
    (Message(PAYER.pubkey[:31], BLOCKHASH, (Instruction(PROGRAM, ()),)), "fee payer must be 32 bytes"),
    (Message(PAYER.pubkey, BLOCKHASH + b"\x00", (Instruction(PROGRAM, ()),)), "recent blockhash must be 32 bytes"),
    (Message(PAYER.pubkey, BLOCKHASH, (Instruction(b58(PROGRAM), ()),)), "program id must be 32 bytes"),
    (Message(PAYER.pubkey, BLOCKHASH, (Instruction(PROGRAM, (AccountMeta(b"short"),)),)), "account must be 32 bytes"),
    (Message(PAYER.pubkey, BLOCKHASH, (Instruction(PROGRAM, (AccountMeta(PLAIN),) * 65),)), "at most 64 accounts per instruction"),
    (Message(PAYER.pubkey, BLOCKHASH, (Instruction(PROGRAM, (), bytes(65536)),)), "instruction data is at most 65535 bytes"),
])
def test_serialize_refuses_what_cannot_be_encoded(message, error):
    with pytest.raises(MalformedTransaction, match=error):
        message.serialize()


def test_build_names_a_missing_signer():
    message = Message(PAYER.pubkey, BLOCKHASH, (Instruction(PROGRAM, (AccountMeta(ALICE.pubkey, True, False),)),))
    with pytest.raises(MalformedTransaction, match=f"^no key pair given for required signer {ALICE.address}$"):
        Transaction.build(message, [PAYER])


# -- signatures -----------------------------------------------------------------------------------------------

def test_verify_signatures_refuses_a_flipped_byte_anywhere_in_the_message():
    tx = sample_transaction()
    for i in range(len(tx.message_bytes)):
        for mask in (0x01, 0x80, 0xFF):
            flipped = bytearray(tx.message_bytes)
            flipped[i] ^= mask
            forged = Transaction(tx.signatures, tx.message, bytes(flipped), tx.wire)
            with pytest.raises(SignatureVerificationFailed) as caught:
                forged.verify_signatures()
            assert caught.value.details["index"] == 0


def test_verify_signatures_refuses_a_flipped_byte_anywhere_in_any_signature():
    tx = sample_transaction()
    signers = tx.message.signers()
    for index in range(len(tx.signatures)):
        for i in range(64):
            for mask in (0x01, 0x80, 0xFF):
                bad = bytearray(tx.signatures[index])
                bad[i] ^= mask
                signatures = tx.signatures[:index] + (bytes(bad),) + tx.signatures[index + 1:]
                wire = bytes([len(signatures)]) + b"".join(signatures) + tx.message_bytes
                with pytest.raises(SignatureVerificationFailed) as caught:
                    Transaction.decode(wire).verify_signatures()
                assert caught.value.details == {"signer": b58(signers[index]), "index": index}
                assert caught.value.message == f"signature {index} does not verify for signer {b58(signers[index])}"


def test_a_flipped_byte_in_the_wire_message_never_passes():
    tx = sample_transaction()
    start = message_offset(tx)
    for i in range(start, len(tx.wire)):
        wire = bytearray(tx.wire)
        wire[i] ^= 0x01
        try:
            decoded = Transaction.decode(bytes(wire))
        except MalformedTransaction:
            continue
        with pytest.raises(SignatureVerificationFailed):
            decoded.verify_signatures()


def test_swapped_signatures_are_refused():
    tx = sample_transaction()
    swapped = bytes([2]) + tx.signatures[1] + tx.signatures[0] + tx.message_bytes
    with pytest.raises(SignatureVerificationFailed, match="signature 0"):
        Transaction.decode(swapped).verify_signatures()


# -- the signer ordering rule ---------------------------------------------------------------------------------

def _ix(*metas: AccountMeta) -> Instruction:
    return Instruction(PROGRAM, tuple(metas))


def test_the_fee_payer_signs_first_even_when_no_instruction_names_it():
    message = Message(PAYER.pubkey, BLOCKHASH, (_ix(AccountMeta(ALICE.pubkey, True, True)),))
    assert message.signers() == [PAYER.pubkey, ALICE.pubkey]


def test_the_fee_payer_is_not_repeated_where_it_is_flagged_signer():
    message = Message(PAYER.pubkey, BLOCKHASH, (
        _ix(AccountMeta(ALICE.pubkey, True, False), AccountMeta(PAYER.pubkey, True, True)),
    ))
    assert message.signers() == [PAYER.pubkey, ALICE.pubkey]


def test_signers_follow_their_first_entry_flagged_signer():
    message = Message(PAYER.pubkey, BLOCKHASH, (
        _ix(AccountMeta(BOB.pubkey, False, True), AccountMeta(CAROL.pubkey, True, False)),
        _ix(AccountMeta(ALICE.pubkey, True, False), AccountMeta(BOB.pubkey, True, False), AccountMeta(CAROL.pubkey, True, True)),
    ))
    assert message.signers() == [PAYER.pubkey, CAROL.pubkey, ALICE.pubkey, BOB.pubkey]
    assert message.account_keys() == [PAYER.pubkey, BOB.pubkey, CAROL.pubkey, ALICE.pubkey]


def test_writable_accounts_do_not_sign():
    message = Message(PAYER.pubkey, BLOCKHASH, (_ix(AccountMeta(ALICE.pubkey, False, True), AccountMeta(PLAIN, False, True)),))
    assert message.signers() == [PAYER.pubkey]


def test_build_orders_signatures_by_the_rule_whatever_order_the_keys_come_in():
    message = Message(PAYER.pubkey, BLOCKHASH, (
        _ix(AccountMeta(CAROL.pubkey, True, False)), _ix(AccountMeta(ALICE.pubkey, True, False)),
    ))
    expected = Transaction.build(message, [PAYER, CAROL, ALICE])
    for keys in ([ALICE, CAROL, PAYER], [CAROL, PAYER, ALICE, BOB], POOL):
        tx = Transaction.build(message, keys)
        assert tx.wire == expected.wire
    assert [kp.sign(expected.message_bytes) for kp in (PAYER, CAROL, ALICE)] == list(expected.signatures)
    assert expected.txid == b58(PAYER.sign(expected.message_bytes))


@settings(max_examples=200)
@given(message=messages)
def test_signers_are_the_fee_payer_then_flagged_keys_each_once(message):
    signers = message.signers()
    assert signers[0] == message.fee_payer
    assert len(signers) == len(set(signers))
    flagged = [m.pubkey for ix in message.instructions for m in ix.accounts if m.is_signer]
    assert set(signers) == {message.fee_payer, *flagged}
    rest = [key for key in dict.fromkeys(flagged) if key != message.fee_payer]
    assert signers[1:] == rest


# -- the block header ---------------------------------------------------------------------------------------

headers = st.builds(
    BlockHeader, st.integers(0, 2**64 - 1), keys32, st.integers(-(2**63), 2**63 - 1), keys32, keys32,
    st.integers(0, 2**32 - 1), keys32,
)


@given(header=headers)
def test_the_header_is_153_bytes_in_the_documented_order(header):
    raw = header.serialize()
    expected = (
        b"GXBK" + b"\x01" + header.height.to_bytes(8, "little") + header.parent_hash
        + header.timestamp_ms.to_bytes(8, "little", signed=True) + header.tx_root + header.state_root
        + header.tx_count.to_bytes(4, "little") + header.producer
    )
    assert raw == expected and len(raw) == 153
    assert header.hash() == hashlib.sha256(raw).digest()
