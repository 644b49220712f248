"""How many market websockets are open, for the operator's monitoring page. `trading.consumers` counts each
stream a client joins and leaves.

With Redis, every web worker adds to one counter in Redis, so the number covers the whole deployment; a worker
that dies without closing its sockets leaves its count behind until Redis is restarted or the key is deleted.
On the embedded default there is one web process, and the count is that process's own, kept in memory.
"""

from __future__ import annotations

import threading

from asgiref.sync import sync_to_async
from django.conf import settings

KEY = "gridtokenx:trading:websockets"

_lock = threading.Lock()
_local = 0
_client = None


def _redis():
    global _client
    if _client is None:
        import redis

        _client = redis.Redis.from_url(settings.REDIS_URL)
    return _client


def _change(delta: int) -> None:
    global _local
    if settings.REDIS_URL:
        _redis().incrby(KEY, delta)
        return
    with _lock:
        _local += delta


async def opened() -> None:
    await sync_to_async(_change, thread_sensitive=False)(1)


async def closed() -> None:
    await sync_to_async(_change, thread_sensitive=False)(-1)


def count() -> int:
    """Open market websockets: the deployment's (Redis) or this process's (embedded)."""
    if settings.REDIS_URL:
        return max(0, int(_redis().get(KEY) or 0))
    return _local
