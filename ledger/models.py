"""The ledger's storage. The sequencer is the only writer of Block, Transaction, Account and AccountTransaction;
everything else reads. Rows are written in bulk by `ledger.store`, one database transaction per block."""

from django.db import models


class Block(models.Model):
    height = models.BigIntegerField(primary_key=True)
    hash = models.BinaryField(max_length=32, unique=True)
    parent_hash = models.BinaryField(max_length=32)
    timestamp_ms = models.BigIntegerField()
    tx_root = models.BinaryField(max_length=32)
    state_root = models.BinaryField(max_length=32)
    tx_count = models.IntegerField()
    producer = models.BinaryField(max_length=32)
    signature = models.BinaryField(max_length=64)

    class Meta:
        db_table = "ledger_block"


class Transaction(models.Model):
    signature = models.BinaryField(max_length=64, primary_key=True)
    block_height = models.BigIntegerField()
    position = models.IntegerField()
    wire = models.BinaryField()
    # What the runtime logged while executing it, one line each ("\n"-separated). Not committed by the block hash:
    # replay from genesis reproduces them, and verify_ledger compares.
    logs = models.TextField(default="", blank=True)

    class Meta:
        db_table = "ledger_transaction"
        constraints = [models.UniqueConstraint(fields=["block_height", "position"], name="ledger_tx_position")]


class Account(models.Model):
    """Current state of every account: the fast read path. The state root of the tip block commits to it."""

    address = models.BinaryField(max_length=32, primary_key=True)
    owner = models.BinaryField(max_length=32)
    data = models.BinaryField()
    updated_height = models.BigIntegerField()

    class Meta:
        db_table = "ledger_account"


class AccountTransaction(models.Model):
    """Address index: which transactions named an account (getSignaturesForAddress, account history)."""

    pk = models.CompositePrimaryKey("address", "block_height", "position")
    address = models.BinaryField(max_length=32)
    block_height = models.BigIntegerField()
    position = models.IntegerField()
    signature = models.BinaryField(max_length=64)

    class Meta:
        db_table = "ledger_account_transaction"


class PendingTransaction(models.Model):
    """Transactions handed over by processes that are not the sequencer, waiting to be ordered.

    The sequencer deletes a row when its transaction is committed and writes `error` when it is rejected.
    """

    signature = models.BinaryField(max_length=64, primary_key=True)
    wire = models.BinaryField()
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    error = models.JSONField(null=True)

    class Meta:
        db_table = "ledger_pending_transaction"
