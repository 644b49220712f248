"""How a placed order reaches the matcher (trading.matcher): the embedded default's thread, Celery with a Redis
key that keeps one run queued at a time, and the scheduled run that expires orders."""

import time

import pytest
from django.conf import settings as django_settings

from gridtokenx.celery import app as celery_app
from trading import matcher, services, tasks
from trading.models import Order, Trade
from trading.tariffs import KWH, THB

from tests.trading.test_services import NOW, signed, traders  # noqa: F401  (fixture)


@pytest.fixture
def eager_celery():
    """Tasks run in the calling thread instead of on a worker."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


def _cross(traders):  # noqa: F811
    seller, buyer = traders
    services.order_place(participant=seller, body=signed(seller, 1, "sell", 2 * KWH, 4 * THB), now=NOW)
    services.order_place(participant=buyer, body=signed(buyer, 1, "buy", 2 * KWH, 5 * THB), now=NOW)
    assert Trade.objects.count() == 0


def test_a_kick_wakes_the_matcher_thread_which_settles_the_crossing_orders(traders, settings):  # noqa: F811
    settings.TRADING_MATCHER = "thread"
    _cross(traders)
    matcher.kick()
    deadline = time.monotonic() + 30
    while not Trade.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert Trade.objects.count() == 1
    deadline = time.monotonic() + 30  # the buy's price improvement is refunded in the same run
    while Order.objects.filter(closed=False, side="buy").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert set(Order.objects.values_list("status", flat=True)) == {"filled"}


def test_inline_kick_matches_before_returning(traders, settings):  # noqa: F811
    settings.TRADING_MATCHER = "inline"
    _cross(traders)
    matcher.kick()
    assert Trade.objects.count() == 1


@pytest.mark.skipif(not django_settings.REDIS_URL, reason="Celery mode needs Redis (REDIS_URL), as in production")
def test_celery_kicks_queue_one_run_at_a_time(traders, settings, eager_celery):  # noqa: F811
    settings.TRADING_MATCHER = "celery"
    redis = matcher._redis()
    _cross(traders)
    redis.set(matcher.KICK_KEY, b"1")  # a run is already queued: this kick adds nothing
    matcher.kick()
    assert Trade.objects.count() == 0
    redis.delete(matcher.KICK_KEY)
    matcher.kick()  # queues (here: runs) the task, which clears the mark before matching
    assert Trade.objects.count() == 1 and not redis.exists(matcher.KICK_KEY)


def test_the_scheduled_run_expires_orders_and_is_on_both_schedules(traders):  # noqa: F811
    seller, _ = traders
    services.order_place(participant=seller, body=signed(seller, 7, "sell", KWH, 4 * THB,
                                                         expires_at=services.now_ms() + 1500))
    time.sleep(2.0)
    report = tasks.match_scheduled()
    assert report["expired"] == 1 and Order.objects.get().status == "expired"
    assert django_settings.CELERY_BEAT_SCHEDULE["trading-match"]["task"] == "trading.tasks.match_scheduled"
