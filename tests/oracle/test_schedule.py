"""Settlement runs on a schedule: the Celery task in production, the in-process scheduler on the embedded default."""

from django.conf import settings

from gridtokenx import scheduler
from oracle import services
from oracle.tasks import settle_readings

from tests.energy import NOW, gxt, meter, participant, zone


def test_the_celery_task_and_the_in_process_scheduler_settle_through_the_same_service(ledger):
    zone()
    alice = participant()
    m = meter(alice)
    services.readings_ingest([m.signed(1, 300, 100)], now=NOW)
    assert settings.CELERY_BEAT_SCHEDULE["oracle-settle"]["task"] == settle_readings.name
    report = settle_readings.apply().get()
    assert report["committed"] == 1 and gxt(alice) == 200 * 10**6

    services.readings_ingest([m.signed(2, 400, 100)], now=NOW)
    due: dict[str, float] = {}
    assert scheduler.run_due(settings.CELERY_BEAT_SCHEDULE, due, 0.0) == {}  # first run waits a moment
    results = scheduler.run_due(settings.CELERY_BEAT_SCHEDULE, due, 10.0)
    assert results["oracle-settle"]["committed"] == 1 and gxt(alice) == 500 * 10**6
    assert due["oracle-settle"] == 10.0 + settings.ORACLE_SETTLE_EVERY_S
    assert scheduler.run_due(settings.CELERY_BEAT_SCHEDULE, due, 11.0) == {}


def test_the_scheduler_thread_runs_only_on_the_embedded_default(settings):
    settings.EMBEDDED_SCHEDULER = False
    assert scheduler.start() is False
