import os

import pytest
from django.conf import settings

from ledger import node as ledger_node


def pytest_sessionstart(session):
    """With CI=true, a configured service that is unreachable fails the run instead of skipping anything."""
    if os.environ.get("CI", "").lower() != "true":
        return
    if settings.REDIS_URL:
        import redis

        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=5).ping()
    if settings.DATABASE_URL:
        import psycopg

        psycopg.connect(settings.DATABASE_URL, connect_timeout=5).close()


@pytest.fixture
def ledger(transactional_db):
    """A fresh chain in a fresh database, with this process as the sequencer; stopped after the test."""
    ledger_node.shutdown()
    seq = ledger_node.node().try_lead()
    assert seq is not None, "another process holds the sequencer lock"
    yield ledger_node.node()
    ledger_node.shutdown()


@pytest.fixture(autouse=True)
def _matcher_inline(settings):
    """Tests see a placed order matched before the API answers, placed in the request's own thread (which alone
    sees the test's database transaction); the other modes have their own tests (tests/trading/test_matcher.py),
    and live servers started by tests run the embedded default: the order desk's thread and the matcher thread."""
    settings.TRADING_MATCHER = "inline"
    settings.TRADING_PLACEMENT = "inline"
