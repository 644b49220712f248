"""Custodial wallets: the platform creates each user's Ed25519 key and keeps its seed encrypted at rest.

The seed is encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) under a key derived from
SECRET_KEY with HKDF-SHA256, so a database dump alone does not reveal any wallet key. Rotating SECRET_KEY needs a
re-encryption of every wallet; keep it as secret and stable as the ledger seeds.
"""

from __future__ import annotations

import base64
from functools import cache

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from ledger.crypto import Keypair


@cache
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"gridtokenx wallets", info=b"fernet v1").derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def seal(keypair: Keypair) -> bytes:
    return _fernet(settings.SECRET_KEY).encrypt(keypair.seed)


def unseal(secret: bytes) -> Keypair:
    return Keypair.from_seed(_fernet(settings.SECRET_KEY).decrypt(bytes(secret)))
