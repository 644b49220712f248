"""Keys, addresses, signatures and program-derived addresses.

An address is the base58 (Bitcoin alphabet) form of a 32-byte Ed25519 public key. Program-derived addresses
follow Solana's rule exactly, so any Solana SDK derives the same PDA for the same seeds and program id.
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass
from functools import lru_cache

import gmpy2
import nacl.bindings
import nacl.exceptions
import nacl.signing

from ledger.errors import InvalidAddress, InvalidSeeds

PUBKEY_LEN = 32
SIGNATURE_LEN = 64
MAX_SEEDS = 16
MAX_SEED_LEN = 32
PDA_MARKER = b"ProgramDerivedAddress"
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"  # Bitcoin's alphabet
_B58_ALPHABET = set(_B58)
# Base58 is a radix conversion with leading zero bytes kept as '1's. GMP converts the number; its digits for base
# 58 are 0-9, A-Z, a-v, mapped here to Bitcoin's alphabet and back.
_GMP58 = string.digits + string.ascii_uppercase + string.ascii_lowercase[:22]
_TO_B58 = str.maketrans(_GMP58, _B58)
_FROM_B58 = str.maketrans(_B58, _GMP58)

# Curve constants for the Edwards form of Curve25519 (RFC 8032 section 5.1).
_P = 2**255 - 19
_D = (-121665 * pow(121666, _P - 2, _P)) % _P


def b58(raw: bytes) -> str:
    body = raw.lstrip(b"\0")
    zeros = "1" * (len(raw) - len(body))
    return zeros + gmpy2.mpz(int.from_bytes(body, "big")).digits(58).translate(_TO_B58) if body else zeros


def unb58(text: str, length: int | None = None, what: str = "address") -> bytes:
    if not isinstance(text, str) or not text:
        raise InvalidAddress(f"{what} must be a non-empty base58 string")
    if not set(text) <= _B58_ALPHABET:
        raise InvalidAddress(f"{what} {text[:100]!r} is not valid base58: it contains characters outside the alphabet")
    body = text.lstrip("1")
    number = int(gmpy2.mpz(body.translate(_FROM_B58), 58)) if body else 0
    raw = b"\0" * (len(text) - len(body)) + (number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b"")
    if length is not None and len(raw) != length:
        raise InvalidAddress(f"{what} {text[:100]!r} decodes to {len(raw)} bytes, expected {length}")
    return raw


def parse_address(text: str) -> bytes:
    return unb58(text, PUBKEY_LEN, "address")


def sha256(*parts: bytes) -> bytes:
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
    return h.digest()


@dataclass(frozen=True)
class Keypair:
    """An Ed25519 key pair. `seed` is the 32-byte private seed (RFC 8032)."""

    seed: bytes
    pubkey: bytes

    @classmethod
    def from_seed(cls, seed: bytes) -> Keypair:
        if len(seed) != 32:
            raise ValueError("an Ed25519 seed is 32 bytes")
        return cls(seed=seed, pubkey=bytes(nacl.signing.SigningKey(seed).verify_key))

    @classmethod
    def generate(cls) -> Keypair:
        key = nacl.signing.SigningKey.generate()
        return cls(seed=bytes(key), pubkey=bytes(key.verify_key))

    @classmethod
    def from_label(cls, label: str) -> Keypair:
        """A deterministic key pair for demo accounts and tests: seed = sha256(label). Never for real funds."""
        return cls.from_seed(sha256(label.encode()))

    @property
    def address(self) -> str:
        return b58(self.pubkey)

    def sign(self, message: bytes) -> bytes:
        # The libsodium secret key is seed || public key.
        return nacl.bindings.crypto_sign(message, self.seed + self.pubkey)[:SIGNATURE_LEN]


def verify(pubkey: bytes, message: bytes, signature: bytes) -> bool:
    """Strict RFC 8032 verification by libsodium (rejects non-canonical and small-order keys)."""
    try:
        nacl.bindings.crypto_sign_open(signature + message, pubkey)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError, TypeError):
        return False
    return True


def is_on_curve(point: bytes) -> bool:
    """True when the 32 bytes decompress to a point of Curve25519's Edwards form.

    Mirrors curve25519-dalek's `CompressedEdwardsY::decompress().is_some()`, which Solana uses: y is read modulo p
    with the sign bit cleared, and the point exists when (y^2 - 1) / (d*y^2 + 1) is a square modulo p.
    """
    y = int.from_bytes(point, "little") & ((1 << 255) - 1)
    y %= _P
    yy = y * y % _P
    u = (yy - 1) % _P
    v = (_D * yy + 1) % _P
    # u/v is a square exactly when u*v is (they differ by the square v^2); v is never 0, since -1/d is not a
    # square. GMP's Jacobi symbol answers in about a microsecond, where Euler's criterion (a modular power in
    # Python) takes a hundred or more.
    return gmpy2.jacobi(u * v % _P, _P) != -1


def _check_seeds(seeds: list[bytes] | tuple[bytes, ...]) -> None:
    if len(seeds) > MAX_SEEDS:
        raise InvalidSeeds(f"at most {MAX_SEEDS} seeds, got {len(seeds)}")
    for seed in seeds:
        if len(seed) > MAX_SEED_LEN:
            raise InvalidSeeds(f"a seed is at most {MAX_SEED_LEN} bytes, got {len(seed)}")


def create_program_address(seeds: list[bytes] | tuple[bytes, ...], program_id: bytes) -> bytes:
    """sha256(seed_1 || ... || seed_n || program_id || "ProgramDerivedAddress"), refused if it lies on the curve.

    A pure function of its arguments, so results are remembered (programs sign with the same seeds often)."""
    return _create_program_address(tuple(bytes(seed) for seed in seeds), bytes(program_id))


@lru_cache(maxsize=1 << 17)
def _create_program_address(seeds: tuple[bytes, ...], program_id: bytes) -> bytes:
    _check_seeds(seeds)
    candidate = sha256(*seeds, program_id, PDA_MARKER)
    if _on_curve_cached(candidate):
        raise InvalidSeeds("seeds give an address on the curve; try another bump")
    return candidate


def find_program_address(seeds: list[bytes] | tuple[bytes, ...], program_id: bytes) -> tuple[bytes, int]:
    """The first off-curve address for seeds + [bump], bump counting down from 255 to 1 (as Solana's SDK does).

    A pure function of its arguments, so results are remembered (the curve check is pure-Python arithmetic)."""
    return _find_program_address(tuple(bytes(seed) for seed in seeds), bytes(program_id))


@lru_cache(maxsize=1 << 17)
def _on_curve_cached(point: bytes) -> bool:
    return is_on_curve(point)


@lru_cache(maxsize=1 << 17)
def _find_program_address(seeds: tuple[bytes, ...], program_id: bytes) -> tuple[bytes, int]:
    if len(seeds) > MAX_SEEDS - 1:
        raise InvalidSeeds(f"at most {MAX_SEEDS - 1} seeds besides the bump, got {len(seeds)}")
    _check_seeds(seeds)
    for bump in range(255, 0, -1):
        candidate = sha256(*seeds, bytes((bump,)), program_id, PDA_MARKER)
        if not is_on_curve(candidate):
            return candidate, bump
    raise InvalidSeeds("no off-curve address for these seeds")
