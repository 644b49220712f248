"""Merkle roots: RFC 6962 (Certificate Transparency) hashing for transactions, a 256-bucket tree for state."""

from __future__ import annotations

import hashlib

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
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def tx_root(wires: list[bytes]) -> bytes:
    return root_of_hashes([leaf_hash(w) for w in wires])


def account_hash(address: bytes, owner: bytes, data: bytes) -> bytes:
    return hashlib.sha256(address + owner + data).digest()


class StateCommitment:
    """Keeps the state root current as accounts change.

    Accounts fall into 256 buckets by the first byte of their address. A bucket's hash is sha256 of the
    concatenated account hashes of its accounts in ascending address order (sha256 of nothing when empty); the
    state root is the RFC 6962 tree over the 256 bucket hashes. Only buckets touched since the last root are
    recomputed.
    """

    def __init__(self):
        self._buckets: list[dict[bytes, bytes]] = [{} for _ in range(STATE_BUCKETS)]
        self._bucket_hashes = [EMPTY_ROOT] * STATE_BUCKETS
        self._dirty: set[int] = set()

    def put(self, address: bytes, owner: bytes, data: bytes) -> None:
        bucket = address[0]
        if data or any(owner):
            self._buckets[bucket][address] = account_hash(address, owner, data)
        else:
            self._buckets[bucket].pop(address, None)
        self._dirty.add(bucket)

    def root(self) -> bytes:
        for b in self._dirty:
            entries = self._buckets[b]
            self._bucket_hashes[b] = hashlib.sha256(b"".join(entries[k] for k in sorted(entries))).digest()
        self._dirty.clear()
        return root_of_hashes(list(self._bucket_hashes))

    def bucket_hashes(self) -> list[bytes]:
        self.root()
        return list(self._bucket_hashes)
