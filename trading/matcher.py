"""When the matcher runs: event-driven after every order placed, and on a schedule (for expiry, and as a safety
net). `kick()` asks for a run; how depends on `TRADING_MATCHER`:

- `thread` (the embedded default): a daemon thread of this process runs the matcher whenever kicked. Kicks that
  arrive during a run are folded into one more run after it, so a burst of orders costs a few runs, not one each.
- `celery` (production, with Redis): a kick enqueues the Celery task `trading.tasks.match_orders` unless one is
  already queued (a Redis key set with NX marks it); the task clears the key before it runs, so an order placed
  during a run queues the next one. Workers on any machine may run it; the matcher's named lock lets one at a
  time in, and a task that finds it held retries shortly.
- `inline`: the placing request runs the matcher itself before it answers (deterministic: tests, scripts).

Whatever the mode, `run_matcher` may run anywhere at any time: it takes the named lock, reconciles with the ledger
and starts from the open orders in the database, so a lost kick only delays matching until the next scheduled run
(`TRADING_MATCH_EVERY_S`).
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections

log = logging.getLogger(__name__)

KICK_KEY = "gridtokenx:trading:match-queued"
KICK_TTL_S = 30  # a queued task that never ran (worker lost) stops blocking kicks after this
BUSY_RETRY_S = 0.05

_wake = threading.Event()
_started = threading.Lock()
_thread: threading.Thread | None = None
_client = None  # the Redis client of the kicks (celery mode)


def mode() -> str:
    return settings.TRADING_MATCHER


def kick() -> None:
    """Ask for a matcher run soon (after an order is placed). Never raises: the schedule catches up."""
    try:
        current = mode()
        if current == "inline":
            from trading.services import run_matcher

            run_matcher()
        elif current == "thread":
            _ensure_thread()
            _wake.set()
        else:
            from trading.tasks import match_orders

            if _redis().set(KICK_KEY, b"1", nx=True, ex=KICK_TTL_S):
                match_orders.delay()
    except Exception:
        log.exception("could not start a matcher run; the scheduled run will match the order")


def run_until_free(*, patience_s: float = 30.0):
    """Run the matcher, waiting while another process's run holds its lock; the run's report."""
    from trading.services import run_matcher

    deadline = time.monotonic() + patience_s
    while True:
        report = run_matcher()
        if not report.busy or time.monotonic() > deadline:
            return report
        time.sleep(BUSY_RETRY_S)


def _loop() -> None:
    while True:
        _wake.wait()
        _wake.clear()  # kicks from now on ask for the run after this one
        try:
            report = run_until_free()
            if report.errors:
                log.warning("matcher run: %s", "; ".join(report.errors[:5]))
        except Exception:
            log.exception("matcher run failed")
            time.sleep(1)
        finally:
            close_old_connections()


def _ensure_thread() -> None:
    global _thread
    if _thread is not None:
        return
    with _started:
        if _thread is None:
            _thread = threading.Thread(target=_loop, name="trading-matcher", daemon=True)
            _thread.start()


def _redis():
    import redis

    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL)
    return _client


def clear_queued() -> None:
    """Called by the Celery task as it starts: kicks from now on queue the next run."""
    _redis().delete(KICK_KEY)
