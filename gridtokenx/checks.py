"""System checks: production must run on real services and real keys, never on the embedded defaults."""

from django.conf import settings
from django.core.checks import Error, register


@register()
def embedded_parts_in_production(app_configs, **kwargs):
    if settings.DEBUG:
        return []
    errors = []
    if settings.EMBEDDED_DATABASE:
        errors.append(Error("DEBUG is off but no DATABASE_URL is set: production cannot run on embedded SQLite.",
                            hint="Set DATABASE_URL=postgres://...", id="gridtokenx.E001"))
    if settings.EMBEDDED_REDIS:
        errors.append(Error("DEBUG is off but no REDIS_URL is set: production cannot run on the in-memory channel "
                            "layer and in-process scheduling.", hint="Set REDIS_URL=redis://...", id="gridtokenx.E002"))
    if not settings.LEDGER_VALIDATOR_SEED or not settings.LEDGER_AUTHORITY_SEED:
        errors.append(Error("DEBUG is off but the ledger would use the public development keys.",
                            hint="Set LEDGER_VALIDATOR_SEED and LEDGER_AUTHORITY_SEED (32 bytes, hex).",
                            id="gridtokenx.E003"))
    return errors
