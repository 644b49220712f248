"""The registry's off-ledger mirror: fast reads for the API, the dashboard and the admin.

The ledger's registry accounts are the truth. Every row here is written after its ledger transaction commits and
names that transaction; `python manage.py reconcile_registry` compares (and can rebuild) the mirror.
"""

from django.conf import settings
from django.db import models


class Zone(models.Model):
    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=48)
    center_lat = models.FloatField()
    center_lon = models.FloatField()
    south = models.FloatField()
    west = models.FloatField()
    north = models.FloatField()
    east = models.FloatField()
    address = models.CharField(max_length=44, unique=True, help_text="The zone's ledger account (base58).")
    ledger_signature = models.CharField(max_length=88)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} ({self.name})"


class Participant(models.Model):
    """A user's place on the exchange: role, status and ledger wallet."""

    class Role(models.TextChoices):
        PROSUMER = "prosumer"
        CONSUMER = "consumer"
        OPERATOR = "operator"

    class Status(models.TextChoices):
        ACTIVE = "active"
        SUSPENDED = "suspended"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="participant")
    role = models.CharField(max_length=16, choices=Role.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    wallet = models.CharField(max_length=44, unique=True, help_text="The wallet's address (base58 public key).")
    # The wallet's Ed25519 seed, encrypted with a key derived from SECRET_KEY (registry.wallets).
    wallet_secret = models.BinaryField(editable=False)
    ledger_signature = models.CharField(max_length=88, help_text="The registration transaction.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user.get_username()} ({self.role})"


class Meter(models.Model):
    class Type(models.TextChoices):
        SOLAR = "solar"
        WIND = "wind"
        BATTERY = "battery"
        CONSUMPTION = "consumption"
        HYBRID = "hybrid"

    class Status(models.TextChoices):
        ACTIVE = "active"
        MAINTENANCE = "maintenance"
        DEACTIVATED = "deactivated"

    serial = models.CharField(max_length=32, unique=True)
    owner = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="meters")
    zone = models.ForeignKey(Zone, on_delete=models.PROTECT, related_name="meters")
    type = models.CharField(max_length=16, choices=Type.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    latitude = models.FloatField()
    longitude = models.FloatField()
    capacity_w = models.BigIntegerField(help_text="Rated generation (W): inverter, turbine or battery power.")
    max_import_w = models.BigIntegerField(help_text="Largest power the meter can draw from the grid (W).")
    public_key = models.CharField(max_length=44, unique=True, help_text="The meter's own Ed25519 key (base58).")
    public_key_bytes = models.BinaryField(max_length=32, unique=True, editable=False)
    address = models.CharField(max_length=44, unique=True, help_text="The meter's ledger account (base58).")
    ledger_signature = models.CharField(max_length=88)
    # The end (Unix seconds) of the last accepted reading's interval: later readings must start at or after it.
    last_end = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["serial"]

    def __str__(self) -> str:
        return self.serial
