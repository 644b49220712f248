"""Named process-wide locks that any process on any machine sharing the database respects.

PostgreSQL: a session-level advisory lock on a connection of its own, so it lasts exactly as long as the holder
keeps it (and is released if the process dies). SQLite (one machine): an flock on a file in the var directory.
"""

from __future__ import annotations

import fcntl
import os
import time
import zlib
from contextlib import contextmanager

from django.conf import settings
from django.db import connection

LOCK_RETRY_S = 0.02


class FileLock:
    def __init__(self, path: str):
        self.path = path
        self.fd: int | None = None

    def try_acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


class AdvisoryLock:
    def __init__(self, key: int):
        self.key = key
        self.conn = None

    def try_acquire(self) -> bool:
        import psycopg

        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        conn = psycopg.connect(**params, autocommit=True)
        if not conn.execute("SELECT pg_try_advisory_lock(%s)", [self.key]).fetchone()[0]:
            conn.close()
            return False
        self.conn = conn
        return True

    def release(self) -> None:
        if self.conn is not None:
            try:
                self.conn.execute("SELECT pg_advisory_unlock(%s)", [self.key])
            finally:
                self.conn.close()
                self.conn = None


def named_lock(name: str) -> FileLock | AdvisoryLock:
    if connection.vendor == "postgresql":
        return AdvisoryLock(zlib.crc32(f"gridtokenx:{name}".encode()))
    return FileLock(str(settings.VAR_DIR / f"{name}.lock"))


@contextmanager
def try_lock(name: str, *, wait_s: float = 0.0):
    """Yield True holding the lock `name`, or False if another process holds it: at once, or after trying for
    `wait_s` seconds."""
    lock = named_lock(name)
    deadline = time.monotonic() + wait_s
    got = lock.try_acquire()
    while not got and time.monotonic() < deadline:
        time.sleep(LOCK_RETRY_S)
        got = lock.try_acquire()
    try:
        yield got
    finally:
        if got:
            lock.release()
