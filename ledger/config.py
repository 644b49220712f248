"""The ledger's configuration from settings: the genesis (keys, time, accounts) and the program registry."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from ledger.chain import GenesisConfig
from ledger.crypto import Keypair
from ledger.runtime import Runtime


def _keypair(seed_hex: str, dev_label: str) -> Keypair:
    if seed_hex:
        return Keypair.from_seed(bytes.fromhex(seed_hex))
    return Keypair.from_label(dev_label)


@cache
def genesis_config() -> GenesisConfig:
    return GenesisConfig(
        validator=_keypair(settings.LEDGER_VALIDATOR_SEED, "gridtokenx development validator"),
        authority=_keypair(settings.LEDGER_AUTHORITY_SEED, "gridtokenx development mint authority"),
        timestamp_ms=settings.LEDGER_GENESIS_TIME_MS,
    )


def platform_authority() -> Keypair:
    """The key that holds the GXT and THB mint authority at genesis."""
    return genesis_config().authority


def make_runtime() -> Runtime:
    return Runtime(import_string(path)() for path in settings.LEDGER_PROGRAMS)
