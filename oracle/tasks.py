"""Scheduled work: Celery beat runs `settle_readings` in production; the embedded default runs the same function
from the in-process scheduler (gridtokenx.scheduler)."""

from celery import shared_task

from oracle import services


@shared_task(name="oracle.tasks.settle_readings", ignore_result=True)
def settle_readings() -> dict:
    return services.settle().as_dict()
