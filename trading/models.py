"""The exchange's off-ledger tables: orders, trades and escrow movements, mirrored from the trading program's
accounts and transactions (the ledger is the truth; `trading.services.reconcile` recovers anything missed)."""

import uuid

from django.db import models

from registry.models import Participant, Zone
from trading.orders import Order as EngineOrder


class Order(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"
        FILLED = "filled"
        CANCELLED = "cancelled"
        EXPIRED = "expired"

    # The id is the order's time priority and its id on the ledger (the order account's seed).
    owner = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="orders")
    nonce = models.BigIntegerField(help_text="The client's; with the owner it names the order (idempotent placement).")
    side = models.CharField(max_length=4)
    kind = models.CharField(max_length=6)
    tif = models.CharField(max_length=3)
    cross_zone = models.BooleanField(default=False)
    zone = models.ForeignKey(Zone, on_delete=models.PROTECT, related_name="orders")
    quantity = models.BigIntegerField(help_text="GXT base units.")
    price = models.BigIntegerField(help_text="THB base units per kWh: a buy's landed-cost limit, a sell's ask.")
    remaining = models.BigIntegerField()
    expires_at = models.BigIntegerField(help_text="Unix milliseconds.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    reason = models.CharField(max_length=32, blank=True, help_text="Why it was cancelled, if it was.")
    escrowed = models.BigIntegerField(help_text="Base units locked at placement (THB for a buy, GXT for a sell).")
    refunded = models.BigIntegerField(default=0)
    closed = models.BooleanField(default=False, help_text="Its escrow's remainder has been refunded.")
    digest = models.BinaryField(max_length=32)
    signature = models.CharField(max_length=88, help_text="The owner's Ed25519 signature over the order (base58).")
    ledger_signature = models.CharField(max_length=88, help_text="The placement transaction.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "nonce"], name="trading_order_nonce")]

    def engine_order(self, zone: int, *, cross_zone: bool | None = None) -> EngineOrder:
        """What is left of this order as the pure engine takes it, in the engine's zone `zone` (`cross_zone`
        False for an auction, which clears one zone)."""
        return EngineOrder(id=self.pk, owner=self.owner_id, side=self.side, zone=zone, quantity=self.remaining,
                           price=self.price, kind=self.kind, tif=self.tif, expires_at=self.expires_at,
                           cross_zone=self.cross_zone if cross_zone is None else cross_zone)


class Trade(models.Model):
    buy_order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="buys")
    sell_order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="sells")
    buyer_zone = models.ForeignKey(Zone, on_delete=models.PROTECT, related_name="+")
    seller_zone = models.ForeignKey(Zone, on_delete=models.PROTECT, related_name="+")
    quantity = models.BigIntegerField(help_text="GXT base units sent by the seller.")
    effective = models.BigIntegerField(help_text="GXT base units delivered to the buyer.")
    loss = models.BigIntegerField(help_text="GXT base units lost in transmission (to the loss account).")
    price = models.BigIntegerField(help_text="THB base units per kWh sent.")
    value = models.BigIntegerField(help_text="THB base units: quantity x price, truncated.")
    fee = models.BigIntegerField()
    wheeling = models.BigIntegerField()
    loss_value = models.BigIntegerField()
    ledger_signature = models.CharField(max_length=88, unique=True)
    block_height = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]


class EscrowRecord(models.Model):
    class Kind(models.TextChoices):
        LOCK = "lock"
        RELEASE = "release"  # paid out in a trade
        REFUND = "refund"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="escrow_records")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    token = models.CharField(max_length=3)
    amount = models.BigIntegerField()
    trade = models.ForeignKey(Trade, null=True, blank=True, on_delete=models.PROTECT, related_name="escrow_records")
    ledger_signature = models.CharField(max_length=88)
    created_at = models.DateTimeField(auto_now_add=True)


class BookState(models.Model):
    """The last order book of a zone published on its websocket stream (`trading.streams`): the price levels of
    each side, best first, as `[[price, quantity], ...]`, and the sequence number of the last delta sent.

    Each publish computes its deltas against this row, under its lock, so the sequence has no gaps and goes on
    across process restarts and across the matcher's engine rebuilds; a client's snapshot is read from here."""

    zone = models.OneToOneField(Zone, on_delete=models.CASCADE, primary_key=True, related_name="book_state")
    seq = models.BigIntegerField(default=0, help_text="The sequence number of the last delta published.")
    bids = models.JSONField(default=list, help_text="[[price, quantity], ...], highest price first.")
    asks = models.JSONField(default=list, help_text="[[price, quantity], ...], lowest price first.")
    updated_at = models.DateTimeField(auto_now=True)


class AuctionRound(models.Model):
    """One cleared round of a zone traded by periodic auction (`trading.rounds`): at most one per zone and close."""

    zone = models.ForeignKey(Zone, on_delete=models.PROTECT, related_name="auction_rounds")
    closes_at = models.BigIntegerField(help_text="The round's close, Unix milliseconds (aligned to the interval).")
    price = models.BigIntegerField(null=True, help_text="The clearing price (THB base units per kWh sent); "
                                                        "null when no bid met an ask.")
    volume = models.BigIntegerField(help_text="GXT base units traded.")
    orders = models.IntegerField(help_text="Orders that took part.")
    trades = models.IntegerField()
    cleared_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["zone", "closes_at"], name="one_round_per_zone_and_close")]
        ordering = ["-closes_at"]


class MatcherState(models.Model):
    """One row: a mark written afresh (at random) by every change to the open orders made under the matcher's
    lock (a matcher run, a cancel). A matcher process keeps its engine between runs only while the mark is the
    one its own last run wrote; any other change (another process's run, a cancel, another database) makes it
    rebuild from the open orders. And the number of trade rows recorded, kept with the rows."""

    mark = models.CharField(max_length=32, default="")
    trades = models.BigIntegerField(
        default=0, help_text="Trade rows recorded: raised in the same database transaction as the rows, and compared "
                             "with the market account's count of committed settlements when reconciling.")

    @classmethod
    def current(cls) -> str:
        return cls.objects.get_or_create(pk=1)[0].mark

    @classmethod
    def count_trades(cls, recorded: int) -> None:
        """Add `recorded` trade rows to the count; call in the transaction that inserts them."""
        cls._update(trades=models.F("trades") + recorded)

    @classmethod
    def trades_recorded(cls) -> int | None:
        return cls.objects.filter(pk=1).values_list("trades", flat=True).first()

    @classmethod
    def advance(cls) -> str:
        """Record a change; returns the new mark. Call holding the matcher's lock."""
        mark = uuid.uuid4().hex
        cls._update(mark=mark)
        return mark

    @classmethod
    def _update(cls, **values) -> None:
        """Update the one row, creating it first if it is missing."""
        if not cls.objects.filter(pk=1).update(**values):
            cls.objects.get_or_create(pk=1)
            cls.objects.filter(pk=1).update(**values)  # whoever created the row, this change has the last word
