"""The embedded default's scheduler: runs the periodic tasks of CELERY_BEAT_SCHEDULE in a daemon thread of the
web server's process, so a single `run.sh` is a live platform without Celery. Production runs Celery beat and
workers instead; the tasks are the same functions, and each guards itself against concurrent runs."""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)
_started = threading.Lock()
_thread: threading.Thread | None = None
FIRST_RUN_DELAY_S = 2.0


def run_due(schedule: dict[str, dict], due: dict[str, float], now: float) -> dict[str, object]:
    """Run every task whose time has come, set its next time in `due`; return the results by entry name."""
    results = {}
    for name, entry in schedule.items():
        if now < due.setdefault(name, now + FIRST_RUN_DELAY_S):
            continue
        due[name] = now + float(entry["schedule"])
        try:
            results[name] = import_string(entry["task"])()
        except Exception as exc:  # a failing task must not stop the others or the schedule
            log.exception("scheduled task %s failed", name)
            results[name] = exc
        finally:
            close_old_connections()
    return results


def _loop(schedule: dict[str, dict]) -> None:
    due: dict[str, float] = {}
    while True:
        run_due(schedule, due, time.monotonic())
        time.sleep(max(0.1, min(due.values(), default=time.monotonic() + 1) - time.monotonic()))


def start() -> bool:
    """Start the scheduler thread once per process (embedded default only). Returns whether it runs."""
    global _thread
    if not settings.EMBEDDED_SCHEDULER:
        return False
    with _started:
        if _thread is None:
            _thread = threading.Thread(target=_loop, args=(settings.CELERY_BEAT_SCHEDULE,), daemon=True,
                                       name="gridtokenx-scheduler")
            _thread.start()
            log.info("in-process scheduler started: %s", ", ".join(settings.CELERY_BEAT_SCHEDULE))
    return True
