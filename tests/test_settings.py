"""Production never runs on the embedded parts or the public development keys, and a correctly configured
deployment passes Django's deployment checks."""

import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import override_settings

from gridtokenx.checks import embedded_parts_in_production

SEED = "ab" * 32
CONFIGURED = {"EMBEDDED_DATABASE": False, "EMBEDDED_REDIS": False,
              "LEDGER_VALIDATOR_SEED": SEED, "LEDGER_AUTHORITY_SEED": SEED}


def check_ids(**overrides) -> set[str]:
    with override_settings(**{**CONFIGURED, **overrides}):
        return {message.id for message in embedded_parts_in_production(None)}


def test_it_refuses_the_embedded_parts_and_development_keys_when_debug_is_off():
    assert check_ids(DEBUG=False, EMBEDDED_DATABASE=True, EMBEDDED_REDIS=True,
                     LEDGER_VALIDATOR_SEED="", LEDGER_AUTHORITY_SEED="") == {
        "gridtokenx.E001", "gridtokenx.E002", "gridtokenx.E003"}


@pytest.mark.parametrize("missing, expected", [
    ({"EMBEDDED_DATABASE": True}, "gridtokenx.E001"),
    ({"EMBEDDED_REDIS": True}, "gridtokenx.E002"),
    ({"LEDGER_VALIDATOR_SEED": ""}, "gridtokenx.E003"),
    ({"LEDGER_AUTHORITY_SEED": ""}, "gridtokenx.E003"),
])
def test_each_missing_production_setting_is_named_by_its_own_error(missing, expected):
    assert check_ids(DEBUG=False, **missing) == {expected}


def test_it_is_silent_when_production_is_configured():
    assert check_ids(DEBUG=False) == set()


def test_it_is_silent_in_development_on_the_embedded_parts():
    assert check_ids(DEBUG=True, EMBEDDED_DATABASE=True, EMBEDDED_REDIS=True,
                     LEDGER_VALIDATOR_SEED="", LEDGER_AUTHORITY_SEED="") == set()


# -- settings loaded from the environment, in a fresh process ---------------------------------------------------

def production_env(**overrides: str) -> dict[str, str]:
    """The environment of a production deployment (unreachable services: nothing here connects to them)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DJANGO_", "LEDGER_", "GRIDTOKENX_")) and k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update({
        "DJANGO_SETTINGS_MODULE": "gridtokenx.settings",
        "DATABASE_URL": "postgres://gridtokenx@127.0.0.1:1/gridtokenx",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "LEDGER_VALIDATOR_SEED": secrets.token_hex(32),
        "LEDGER_AUTHORITY_SEED": secrets.token_hex(32),
        "DJANGO_ALLOWED_HOSTS": "example.com",
    })
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], env=env, cwd=settings.BASE_DIR, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("url", ["sqlite:////tmp/gridtokenx.sqlite3", "mysql://gridtokenx@127.0.0.1/gridtokenx"])
def test_a_database_url_that_is_not_postgresql_stops_start_up(url):
    result = run(["-c", "import django; django.setup()"], production_env(DATABASE_URL=url))
    assert result.returncode != 0
    assert "ImproperlyConfigured: DATABASE_URL must point to PostgreSQL" in result.stderr


def test_a_missing_secret_key_stops_start_up_when_debug_is_off():
    result = run(["-c", "import django; django.setup()"], production_env(DJANGO_SECRET_KEY=None))
    assert result.returncode != 0
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY must be set" in result.stderr


def test_a_configured_production_passes_the_deployment_checks_without_a_warning():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env())
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_the_deployment_checks_refuse_production_on_the_embedded_parts(tmp_path):
    env = production_env(DATABASE_URL=None, REDIS_URL=None, LEDGER_VALIDATOR_SEED=None, LEDGER_AUTHORITY_SEED=None,
                         DJANGO_DEBUG="false", GRIDTOKENX_VAR_DIR=str(tmp_path))
    result = run(["manage.py", "check", "--deploy"], env)
    assert result.returncode != 0
    for error in ("gridtokenx.E001", "gridtokenx.E002", "gridtokenx.E003"):
        assert error in result.stderr
