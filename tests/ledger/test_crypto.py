"""Keys, base58, signatures and program-derived addresses, checked against Solana's and libsodium's own code."""

from __future__ import annotations

import nacl.bindings
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from solders.pubkey import Pubkey
from solders.signature import Signature

from ledger.crypto import (
    MAX_SEED_LEN,
    MAX_SEEDS,
    Keypair,
    b58,
    create_program_address,
    find_program_address,
    is_on_curve,
    parse_address,
    unb58,
    verify,
)
from ledger.errors import InvalidAddress, InvalidSeeds

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493  # the order of the Ed25519 base point



def _solders_pubkey_error() -> type[Exception]:
    """solders raises PubkeyError for refused seeds but does not export the class."""
    try:
        Pubkey.create_program_address([bytes(MAX_SEED_LEN + 1)], Pubkey.default())
    except Exception as exc:  # noqa: BLE001 - this is how the class is found
        return type(exc)
    raise AssertionError("solders accepted a 33-byte seed")


PubkeyError = _solders_pubkey_error()
keys32 = st.binary(min_size=32, max_size=32)
seed_lists = st.lists(st.binary(max_size=MAX_SEED_LEN), max_size=MAX_SEEDS - 1)


def solana_create(seeds: list[bytes], program_id: bytes) -> bytes | None:
    try:
        return bytes(Pubkey.create_program_address(seeds, Pubkey.from_bytes(program_id)))
    except PubkeyError:
        return None


def ours_create(seeds: list[bytes], program_id: bytes) -> bytes | None:
    try:
        return create_program_address(seeds, program_id)
    except InvalidSeeds:
        return None


# -- program-derived addresses ------------------------------------------------------------------------------

@settings(max_examples=300)
@given(seeds=seed_lists, program_id=keys32)
def test_find_program_address_agrees_with_solana(seeds, program_id):
    address, bump = find_program_address(seeds, program_id)
    solana_address, solana_bump = Pubkey.find_program_address(seeds, Pubkey.from_bytes(program_id))
    assert (address, bump) == (bytes(solana_address), solana_bump)
    assert create_program_address(seeds + [bytes([bump])], program_id) == address


@settings(max_examples=300)
@given(seeds=st.lists(st.binary(max_size=MAX_SEED_LEN + 2), max_size=MAX_SEEDS + 1), program_id=keys32)
def test_create_program_address_agrees_with_solana_including_refusals(seeds, program_id):
    assert ours_create(seeds, program_id) == solana_create(seeds, program_id)


@settings(max_examples=200)
@given(seeds=seed_lists, program_id=keys32)
def test_a_pda_is_never_on_the_curve(seeds, program_id):
    address, _ = find_program_address(seeds, program_id)
    assert not is_on_curve(address)
    assert not Pubkey.from_bytes(address).is_on_curve()


def test_find_program_address_returns_the_highest_bump_off_the_curve():
    program_id = bytes(range(32))
    for n in range(64):
        seeds = [n.to_bytes(2, "little")]
        address, bump = find_program_address(seeds, program_id)
        for higher in range(bump + 1, 256):
            with pytest.raises(InvalidSeeds, match="on the curve"):
                create_program_address(seeds + [bytes([higher])], program_id)
        assert create_program_address(seeds + [bytes([bump])], program_id) == address


def test_a_seed_of_32_bytes_is_accepted_and_one_of_33_is_refused():
    program_id = bytes(32)
    find_program_address([b"x" * MAX_SEED_LEN], program_id)
    with pytest.raises(InvalidSeeds, match="a seed is at most 32 bytes, got 33"):
        create_program_address([b"x" * (MAX_SEED_LEN + 1)], program_id)
    with pytest.raises(InvalidSeeds, match="a seed is at most 32 bytes, got 33"):
        find_program_address([b"ok", b"x" * (MAX_SEED_LEN + 1)], program_id)


def test_sixteen_seeds_are_accepted_and_seventeen_are_refused():
    program_id = bytes(32)
    fifteen = [bytes([i]) for i in range(MAX_SEEDS - 1)]
    address, bump = find_program_address(fifteen, program_id)
    assert create_program_address(fifteen + [bytes([bump])], program_id) == address
    with pytest.raises(InvalidSeeds, match="at most 16 seeds, got 17"):
        create_program_address(fifteen + [b"a", b"b"], program_id)


def test_find_program_address_refuses_sixteen_seeds_because_the_bump_is_the_seventeenth():
    # Solana's SDK panics here ("Unable to find a viable program address bump seed"); refusing is the same outcome.
    with pytest.raises(InvalidSeeds, match="at most 15 seeds besides the bump, got 16"):
        find_program_address([bytes([i]) for i in range(MAX_SEEDS)], bytes(32))


def test_invalid_seeds_carry_the_invalid_seeds_code():
    with pytest.raises(InvalidSeeds) as caught:
        create_program_address([bytes(33)], bytes(32))
    assert caught.value.code == "invalid_seeds"


# -- the curve ----------------------------------------------------------------------------------------------

@settings(max_examples=500)
@given(point=keys32)
def test_is_on_curve_agrees_with_solana(point):
    assert is_on_curve(point) is Pubkey.from_bytes(point).is_on_curve()


@pytest.mark.parametrize("y", list(range(P, 2**255)) + [0, 1, P - 1, 2, 3, 4])
@pytest.mark.parametrize("sign", [0, 1])
def test_is_on_curve_agrees_with_solana_on_unreduced_and_edge_y(y, sign):
    point = (y | (sign << 255)).to_bytes(32, "little")
    assert is_on_curve(point) is Pubkey.from_bytes(point).is_on_curve()


@settings(max_examples=500)
@given(point=keys32)
def test_every_point_libsodium_accepts_is_on_the_curve(point):
    if nacl.bindings.crypto_core_ed25519_is_valid_point(point):
        assert is_on_curve(point)


@settings(max_examples=200)
@given(scalar=st.integers(min_value=1, max_value=L - 1))
def test_every_multiple_of_the_base_point_is_on_the_curve(scalar):
    point = nacl.bindings.crypto_scalarmult_ed25519_base_noclamp(scalar.to_bytes(32, "little"))
    assert nacl.bindings.crypto_core_ed25519_is_valid_point(point)
    assert is_on_curve(point)


def test_points_libsodium_refuses_can_still_be_on_the_curve():
    identity = (1).to_bytes(32, "little")
    order_four = bytes(32)  # y = 0
    for point in (identity, order_four):
        assert not nacl.bindings.crypto_core_ed25519_is_valid_point(point)
        assert is_on_curve(point)


@settings(max_examples=200)
@given(seed=keys32)
def test_every_key_pair_public_key_is_on_the_curve(seed):
    kp = Keypair.from_seed(seed)
    assert is_on_curve(kp.pubkey)
    assert nacl.bindings.crypto_core_ed25519_is_valid_point(kp.pubkey)


def test_generated_key_pairs_are_on_the_curve():
    for _ in range(50):
        assert is_on_curve(Keypair.generate().pubkey)


# -- signatures ---------------------------------------------------------------------------------------------

@settings(max_examples=200)
@given(seed=keys32, message=st.binary(max_size=512))
def test_signatures_are_rfc_8032_and_match_another_library(seed, message):
    kp = Keypair.from_seed(seed)
    theirs = Ed25519PrivateKey.from_private_bytes(seed)
    assert kp.pubkey == theirs.public_key().public_bytes_raw()
    signature = kp.sign(message)
    assert signature == theirs.sign(message)
    assert verify(kp.pubkey, message, signature)


@settings(max_examples=100)
@given(seed=keys32, message=st.binary(min_size=1, max_size=128), data=st.data())
def test_verify_refuses_a_flipped_bit(seed, message, data):
    kp = Keypair.from_seed(seed)
    signature = kp.sign(message)
    i = data.draw(st.integers(0, len(message) * 8 - 1))
    flipped_message = bytearray(message)
    flipped_message[i // 8] ^= 1 << (i % 8)
    assert not verify(kp.pubkey, bytes(flipped_message), signature)
    j = data.draw(st.integers(0, 64 * 8 - 1))
    flipped_signature = bytearray(signature)
    flipped_signature[j // 8] ^= 1 << (j % 8)
    assert not verify(kp.pubkey, message, bytes(flipped_signature))


def test_verify_refuses_a_malleated_signature():
    kp = Keypair.from_label("malleability")
    message = b"pay bob 5 GXT"
    signature = kp.sign(message)
    s = int.from_bytes(signature[32:], "little")
    malleated = signature[:32] + (s + L).to_bytes(32, "little")
    assert verify(kp.pubkey, message, signature)
    assert not verify(kp.pubkey, message, malleated)


def test_verify_refuses_a_small_order_public_key_and_wrong_lengths():
    identity = (1).to_bytes(32, "little")
    assert not verify(identity, b"", identity + bytes(32))
    kp = Keypair.from_label("lengths")
    signature = kp.sign(b"m")
    assert not verify(kp.pubkey[:31], b"m", signature)
    assert not verify(kp.pubkey, b"m", signature[:63])


def test_from_label_is_sha256_of_the_label():
    import hashlib

    assert Keypair.from_label("alice").seed == hashlib.sha256(b"alice").digest()
    with pytest.raises(ValueError, match="32 bytes"):
        Keypair.from_seed(bytes(31))


# -- base58 -------------------------------------------------------------------------------------------------

@given(raw=st.binary(min_size=1, max_size=80))
def test_base58_round_trips(raw):
    assert unb58(b58(raw)) == raw


@given(zeros=st.integers(0, 64), raw=st.binary(min_size=64, max_size=64))
def test_signatures_are_solana_base58(zeros, raw):
    raw = bytes(zeros) + raw[zeros:]
    text = b58(raw)
    assert text == str(Signature.from_bytes(raw))
    assert unb58(text, 64, "signature") == raw == bytes(Signature.from_string(text))


def test_all_zero_bytes_are_all_ones():
    assert b58(b"") == "" and b58(bytes(3)) == "111" and unb58("111") == bytes(3)
    assert b58(bytes(32)) == str(Pubkey.default()) and parse_address(str(Pubkey.default())) == bytes(32)


@given(zeros=st.integers(0, 32), tail=keys32)
def test_leading_zero_bytes_become_leading_ones(zeros, tail):
    raw = bytes(zeros) + tail[zeros:]
    leading = len(raw) - len(raw.lstrip(b"\x00"))
    text = b58(raw)
    assert text.startswith("1" * leading) and not text.startswith("1" * (leading + 1))
    assert text == str(Pubkey.from_bytes(raw))
    assert parse_address(text) == raw


@given(raw=keys32)
def test_addresses_are_solana_base58(raw):
    text = b58(raw)
    assert text == str(Pubkey.from_bytes(raw))
    assert parse_address(text) == raw == bytes(Pubkey.from_string(text))
    assert 32 <= len(text) <= 44


@pytest.mark.parametrize("text, message", [
    ("", "address must be a non-empty base58 string"),
    ("0" * 44, "is not valid base58"),
    ("O" + "1" * 43, "is not valid base58"),
    ("I" + "1" * 43, "is not valid base58"),
    ("l" + "1" * 43, "is not valid base58"),
    ("1111111111111111111111111111111+", "is not valid base58"),
    (" " + Keypair.from_label("alice").address, "is not valid base58"),
    ("ä" * 44, "is not valid base58"),
    ("1" * 31, "decodes to 31 bytes, expected 32"),
    ("1" * 33, "decodes to 33 bytes, expected 32"),
    (b58(b"\x01" * 33), "decodes to 33 bytes, expected 32"),
])
def test_bad_addresses_are_refused_with_a_clear_message(text, message):
    with pytest.raises(InvalidAddress, match=message) as caught:
        parse_address(text)
    assert caught.value.code == "invalid_address"


@pytest.mark.parametrize("value", [None, b"11111111111111111111111111111111", 42])
def test_an_address_that_is_not_a_string_is_refused(value):
    with pytest.raises(InvalidAddress, match="must be a non-empty base58 string"):
        parse_address(value)


def test_the_error_names_what_was_expected():
    with pytest.raises(InvalidAddress, match="signature '1111' decodes to 4 bytes, expected 64"):
        unb58("1111", 64, "signature")


def test_a_very_long_bad_address_is_quoted_only_in_part():
    with pytest.raises(InvalidAddress) as caught:
        parse_address("0" * 10_000)
    assert len(caught.value.message) < 200


@pytest.mark.parametrize("suffix", [" ", "\n", "\t"])
def test_an_address_with_trailing_whitespace_is_refused(suffix):
    with pytest.raises(InvalidAddress):
        parse_address(Keypair.from_label("alice").address + suffix)
