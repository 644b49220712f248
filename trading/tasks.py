"""Scheduled and event-driven work of the market: Celery runs these in production; the embedded default runs the
same functions from the in-process scheduler (gridtokenx.scheduler) and the matcher thread (trading.matcher)."""

from celery import shared_task

from trading import matcher


@shared_task(name="trading.tasks.match_orders", ignore_result=True)
def match_orders() -> dict:
    """A run asked for by `matcher.kick()` after an order was placed."""
    matcher.clear_queued()
    return matcher.run_until_free().as_dict()


@shared_task(name="trading.tasks.match_scheduled", ignore_result=True)
def match_scheduled() -> dict:
    """The periodic run: expires orders whose time is up and matches anything a lost kick left waiting."""
    return matcher.run_until_free().as_dict()
