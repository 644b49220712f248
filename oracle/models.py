"""The oracle's tables: accepted readings (for charts and settlement), rejected ones (for the operator), and
settlements (the ledger transactions that minted and burned for them)."""

from django.db import models

from registry.models import Meter


class Settlement(models.Model):
    """One settle transaction. Its id and signed bytes are stored before it is submitted, so after a crash it is
    resubmitted as is: the ledger applies it at most once (see oracle.services.settle)."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted"
        COMMITTED = "committed"
        EXPIRED = "expired"  # never committed and can no longer be: its readings were settled again
        FAILED = "failed"

    signature = models.CharField(max_length=88, unique=True, help_text="The ledger transaction id (base58).")
    wire = models.BinaryField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SUBMITTED, db_index=True)
    block_height = models.BigIntegerField(null=True)
    readings_count = models.IntegerField()
    meters_count = models.IntegerField()
    minted = models.BigIntegerField(default=0, help_text="GXT base units minted.")
    burned = models.BigIntegerField(default=0, help_text="GXT base units burned.")
    grid_import = models.BigIntegerField(default=0, help_text="Deficit the wallets could not cover, GXT base units.")
    error = models.JSONField(null=True, blank=True)
    # Each meter's oracle totals (minted, burned, grid import) before this transaction, keyed by the meter state
    # address: the settlement's own totals are the difference once it commits (one settler at a time).
    pre_state = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    settled_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"settlement {self.signature[:12]}… ({self.status})"


class Reading(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        SUBMITTED = "submitted"
        SETTLED = "settled"
        FAILED = "failed"

    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="readings")
    interval_start = models.BigIntegerField(help_text="Unix seconds, UTC.")
    interval_seconds = models.IntegerField()
    generated_wh = models.BigIntegerField()
    consumed_wh = models.BigIntegerField()
    sequence = models.BigIntegerField()
    voltage_mv = models.BigIntegerField(null=True)
    power_factor_ppm = models.IntegerField(null=True)
    frequency_mhz = models.BigIntegerField(null=True)
    digest = models.BinaryField(max_length=32, unique=True)
    signature = models.BinaryField(max_length=64)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    settlement = models.ForeignKey(Settlement, null=True, blank=True, on_delete=models.PROTECT, related_name="readings")

    class Meta:
        ordering = ["meter_id", "interval_start"]
        constraints = [models.UniqueConstraint(fields=["meter", "interval_start"], name="oracle_reading_interval")]
        indexes = [models.Index(fields=["status", "meter", "interval_start"], name="oracle_reading_pending")]

    @property
    def net_wh(self) -> int:
        return self.generated_wh - self.consumed_wh


class RejectedReading(models.Model):
    meter = models.ForeignKey(Meter, null=True, blank=True, on_delete=models.PROTECT, related_name="rejections")
    meter_key = models.CharField(max_length=100, blank=True, help_text="As submitted (base58), even if unknown.")
    interval_start = models.BigIntegerField(null=True)
    code = models.CharField(max_length=40, db_index=True)
    message = models.TextField()
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
