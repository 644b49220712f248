"""The operator portal's registry and oracle pages render, and their actions go through the ledger."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from oracle import services
from registry.models import Participant

from tests.energy import NOW, meter, participant, zone


@pytest.fixture
def operator_client(ledger):
    get_user_model().objects.create_superuser("root", password="pw")
    client = Client(headers={"X-Forwarded-Proto": "https"})
    client.login(username="root", password="pw")
    return client


def test_the_pages_render_and_suspension_is_an_action_on_the_ledger(operator_client):
    zone()
    alice = participant()
    m = meter(alice)
    services.readings_ingest([m.signed(1, 500, 100), m.signed(2, 10**9, 0)], now=NOW)
    services.settle()
    for url in ("registry/participant", "registry/meter", "registry/zone", "oracle/reading", "oracle/rejectedreading",
                "oracle/settlement"):
        response = operator_client.get(f"/admin/{url}/")
        assert response.status_code == 200, url
    assert b"over_capacity" in operator_client.get("/admin/oracle/rejectedreading/").content
    response = operator_client.post("/admin/registry/participant/", {"action": "suspend", "_selected_action": [alice.pk]})
    assert response.status_code == 302
    assert Participant.objects.get(pk=alice.pk).status == "suspended"
    from registry.services import reconcile

    assert reconcile() == []
