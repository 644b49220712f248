"""Bulk persistence of blocks and loading of the chain. One block is one database transaction: its header, its
transactions, the accounts it changed and its address index commit together or not at all."""

from __future__ import annotations

import struct
import weakref
from collections.abc import Iterator

from django.db import connection, transaction

from ledger.chain import BLOCKHASH_WINDOW, Block, LedgerState
from ledger.encoding import BlockHeader, Transaction
from ledger.runtime import EMPTY


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
_COPY_TRAILER = b"\xff\xff"
# One binary COPY tuple each: field count, then (length, value) per field, in network byte order.
_TX_ROW = struct.Struct(">hi64siqiii")  # signature, block_height, position, then the wire's length (wire follows)
_LENGTH = struct.Struct(">i")  # a field's length (its bytes follow): the logs after the wire
_INDEX_ROW = struct.Struct(">hi32siqiii")  # address, block_height, position, then the signature's length (it follows)
_ACCOUNT_ROW = struct.Struct(">hi32si32si")  # address, owner, then the data's length (data, then the height follow)
_HEIGHT_FIELD = struct.Struct(">iq")
# A temporary table lives as long as its session: it is created once per connection, not once per block.
_STAGE_READY: weakref.WeakSet = weakref.WeakSet()
_STAGE_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS ledger_account_stage"
    " (address bytea, owner bytea, data bytea, updated_height int8) ON COMMIT DELETE ROWS"
)


def write_block(block: Block, *, pending_done: list[bytes] = (), pending_errors: list[tuple[bytes, str]] = ()) -> None:
    """Store `block` atomically, and settle the pending-table rows it consumed. Raises if the height exists."""
    h = block.header
    height = h.height
    upserts = {k: v for k, v in block.writes.items() if v != EMPTY}
    deletes = [(k,) for k, v in block.writes.items() if v == EMPTY]
    with transaction.atomic(durable=True), connection.cursor() as wrapper:
        # The raw driver cursor: bulk writes skip Django's per-query bookkeeping.
        cur = wrapper.cursor
        cur.execute(
            "INSERT INTO ledger_block (height, hash, parent_hash, timestamp_ms, tx_root, state_root, tx_count, producer, signature)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [height, block.hash, h.parent_hash, h.timestamp_ms, h.tx_root, h.state_root, h.tx_count, h.producer, block.signature],
        )
        if _is_postgres():
            created_stage = _write_rows_postgres(cur, block, upserts)
        else:
            _write_rows_sqlite(cur, block, upserts)
        if deletes:
            cur.executemany("DELETE FROM ledger_account WHERE address = %s", deletes)
        if pending_done:
            cur.executemany("DELETE FROM ledger_pending_transaction WHERE signature = %s", [(s,) for s in pending_done])
        if pending_errors:
            cur.executemany("UPDATE ledger_pending_transaction SET error = %s WHERE signature = %s",
                            [(err, sig) for sig, err in pending_errors])
    if _is_postgres() and created_stage:
        # Only now: had the block rolled back, the table's creation would have rolled back with it.
        _STAGE_READY.add(created_stage)


def _write_rows_postgres(cur, block: Block, upserts: dict[bytes, tuple[bytes, bytes]]):
    """COPY the block's rows; returns the driver connection if this call created its staging table."""
    # Binary COPY payloads built directly: one struct.pack per row instead of a driver call per row and value.
    height = block.header.height
    tx_row, index_row = _TX_ROW.pack, _INDEX_ROW.pack
    tx_parts = [_COPY_SIGNATURE]
    index_parts = [_COPY_SIGNATURE]
    logs = _block_logs(block)
    for position, (tx, keys) in enumerate(zip(block.transactions, block.touched)):
        signature = tx.signatures[0]
        wire = tx.wire
        tx_parts.append(tx_row(5, 64, signature, 8, height, 4, position, len(wire)))
        tx_parts.append(wire)
        text = logs[position].encode()
        tx_parts.append(_LENGTH.pack(len(text)))
        tx_parts.append(text)
        for key in keys:
            index_parts.append(index_row(4, 32, key, 8, height, 4, position, 64))
            index_parts.append(signature)
    tx_parts.append(_COPY_TRAILER)
    index_parts.append(_COPY_TRAILER)
    if block.transactions:
        _copy(cur, "ledger_transaction (signature, block_height, position, wire, logs)", tx_parts)
        _copy(cur, "ledger_account_transaction (address, block_height, position, signature)", index_parts)
    if upserts:
        height_field = _HEIGHT_FIELD.pack(8, height)
        account_row = _ACCOUNT_ROW.pack
        stage = [_COPY_SIGNATURE]
        for address, (owner, data) in upserts.items():
            stage.append(account_row(4, 32, address, 32, owner, len(data)))
            stage.append(data)
            stage.append(height_field)
        stage.append(_COPY_TRAILER)
        created = None
        if cur.connection not in _STAGE_READY:
            cur.execute(_STAGE_TABLE)
            created = cur.connection
        _copy(cur, "ledger_account_stage (address, owner, data, updated_height)", stage)
        cur.execute(
            "INSERT INTO ledger_account (address, owner, data, updated_height)"
            " SELECT address, owner, data, updated_height FROM ledger_account_stage"
            " ON CONFLICT (address) DO UPDATE SET owner = excluded.owner, data = excluded.data,"
            " updated_height = excluded.updated_height"
        )
        return created
    return None


def _block_logs(block: Block) -> list[str]:
    """Each transaction's log lines as stored: joined with newlines ('' for a block built without them)."""
    if len(block.logs) != len(block.transactions):
        return [""] * len(block.transactions)
    return ["\n".join(lines) for lines in block.logs]


def _write_rows_sqlite(cur, block: Block, upserts: dict[bytes, tuple[bytes, bytes]]) -> None:
    height = block.header.height
    logs = _block_logs(block)
    cur.executemany(
        "INSERT INTO ledger_transaction (signature, block_height, position, wire, logs) VALUES (%s, %s, %s, %s, %s)",
        [(tx.signatures[0], height, i, tx.wire, logs[i]) for i, tx in enumerate(block.transactions)],
    )
    cur.executemany(
        "INSERT INTO ledger_account_transaction (address, block_height, position, signature) VALUES (%s, %s, %s, %s)",
        [(key, height, i, tx.signatures[0])
         for i, (tx, keys) in enumerate(zip(block.transactions, block.touched)) for key in keys],
    )
    cur.executemany(
        "INSERT INTO ledger_account (address, owner, data, updated_height) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (address) DO UPDATE SET owner = excluded.owner, data = excluded.data,"
        " updated_height = excluded.updated_height",
        [(k, owner, data, height) for k, (owner, data) in upserts.items()],
    )


def _copy(cur, target: str, parts: list[bytes]) -> None:
    with cur.copy(f"COPY {target} FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(b"".join(parts))


def chain_height() -> int | None:
    with connection.cursor() as cur:
        cur.execute("SELECT MAX(height) FROM ledger_block")
        row = cur.fetchone()
    return row[0]


def header_from_row(row) -> tuple[BlockHeader, bytes, bytes]:
    height, block_hash, parent, ts, tx_root, state_root, count, producer, sig = row
    header = BlockHeader(height, bytes(parent), ts, bytes(tx_root), bytes(state_root), count, bytes(producer))
    return header, bytes(block_hash), bytes(sig)


_BLOCK_COLUMNS = "height, hash, parent_hash, timestamp_ms, tx_root, state_root, tx_count, producer, signature"


def load_state(state: LedgerState) -> None:
    """Load the tip: every account, and the blocks and signatures of the recent-blockhash window."""
    with connection.cursor() as cur:
        cur.execute("SELECT address, owner, data FROM ledger_account")
        for address, owner, data in cur.fetchall():
            state.set_account(bytes(address), (bytes(owner), bytes(data)))
        cur.execute(f"SELECT {_BLOCK_COLUMNS} FROM ledger_block ORDER BY height DESC LIMIT %s", [BLOCKHASH_WINDOW])
        rows = cur.fetchall()
        if not rows:
            return
        floor = rows[-1][0]
        cur.execute("SELECT signature, block_height FROM ledger_transaction WHERE block_height >= %s ORDER BY block_height", [floor])
        sigs: dict[int, list[bytes]] = {}
        for sig, height in cur.fetchall():
            sigs.setdefault(height, []).append(bytes(sig))
    for row in reversed(rows):
        header, block_hash, _ = header_from_row(row)
        state.remember_block(header, block_hash, sigs.get(header.height, ()))


def iter_blocks(batch: int = 500) -> Iterator[tuple[BlockHeader, bytes, bytes, list[tuple[int, bytes, bytes, str]]]]:
    """Every stored block from genesis up with its stored transactions: (position, signature, wire, logs)."""
    last = -1
    while True:
        with connection.cursor() as cur:
            cur.execute(f"SELECT {_BLOCK_COLUMNS} FROM ledger_block WHERE height > %s ORDER BY height LIMIT %s", [last, batch])
            rows = cur.fetchall()
            if not rows:
                return
            cur.execute(
                "SELECT block_height, position, signature, wire, logs FROM ledger_transaction"
                " WHERE block_height > %s AND block_height <= %s ORDER BY block_height, position",
                [last, rows[-1][0]],
            )
            txs: dict[int, list] = {}
            for height, position, sig, wire, logs in cur.fetchall():
                txs.setdefault(height, []).append((position, bytes(sig), bytes(wire), logs))
        for row in rows:
            header, block_hash, sig = header_from_row(row)
            yield header, block_hash, sig, txs.get(header.height, [])
        last = rows[-1][0]
