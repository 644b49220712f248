"""Merkle roots: RFC 6962 (Certificate Transparency) hashing for transactions, a 256-bucket tree for state."""

from __future__ import annotations

import hashlib
from bisect import bisect_left

_sha256 = hashlib.sha256
EMPTY_ROOT = hashlib.sha256(b"").digest()
STATE_BUCKETS = 256


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_of_hashes(level: list[bytes]) -> bytes:
    """The RFC 6962 tree over already-hashed leaves: pair neighbours, carry an unpaired last node up unchanged."""
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        nxt = [_sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def tx_root(wires: list[bytes]) -> bytes:
    return root_of_hashes([_sha256(b"\x00" + w).digest() for w in wires])


def account_hash(address: bytes, owner: bytes, data: bytes) -> bytes:
    return hashlib.sha256(address + owner + data).digest()


class StateCommitment:
    """Keeps the state root current as accounts change.

    Accounts fall into 256 buckets by the first byte of their address. A bucket's hash is sha256 of the
    concatenated account hashes of its accounts in ascending address order (sha256 of nothing when empty); the
    state root is the RFC 6962 tree over the 256 bucket hashes.

    Each bucket keeps its addresses sorted and their account hashes already concatenated in that order, so a put
    costs one account hash and a binary search, and a root rehashes only the buckets touched since the last one:
    the work per block follows the accounts it changed, not the number of accounts.
    """

    def __init__(self):
        self._keys: list[list[bytes]] = [[] for _ in range(STATE_BUCKETS)]
        self._hashes: list[bytearray] = [bytearray() for _ in range(STATE_BUCKETS)]
        self._bucket_hashes = [EMPTY_ROOT] * STATE_BUCKETS
        self._dirty: set[int] = set()

    def put(self, address: bytes, owner: bytes, data: bytes) -> None:
        bucket = address[0]
        keys = self._keys[bucket]
        i = bisect_left(keys, address)
        present = i < len(keys) and keys[i] == address
        at = 32 * i
        if data or owner.count(0) != len(owner):
            digest = _sha256(address + owner + data).digest()
            if present:
                self._hashes[bucket][at : at + 32] = digest
            else:
                keys.insert(i, address)
                self._hashes[bucket][at:at] = digest
        elif present:
            del keys[i]
            del self._hashes[bucket][at : at + 32]
        self._dirty.add(bucket)

    def root(self) -> bytes:
        if self._dirty:
            for b in self._dirty:
                self._bucket_hashes[b] = _sha256(self._hashes[b]).digest()
            self._dirty.clear()
        return root_of_hashes(list(self._bucket_hashes))

    def bucket_hashes(self) -> list[bytes]:
        self.root()
        return list(self._bucket_hashes)
