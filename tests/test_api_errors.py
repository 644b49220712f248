"""A database that refuses connections (overload, restart) gets a 503 with Retry-After, not a 500."""

from django.db import OperationalError
from rest_framework.test import APIClient

from trading import services


def test_an_unavailable_database_is_a_503_with_retry_after(db, monkeypatch):
    def refuse(zone):
        raise OperationalError('connection failed: FATAL:  sorry, too many clients already')

    monkeypatch.setattr(services, "book", refuse)
    response = APIClient().get("/api/v1/trading/book/BKK-C", headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response.json()["error"]["code"] == "database_unavailable"
