"""The registry and oracle REST API as a meter, a household and an operator use it."""

import time

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from ledger.crypto import Keypair
from oracle.reading import Reading
from registry.defaults import zones_seed

INTERVAL = 900


@pytest.fixture
def api(ledger):
    zones_seed()
    return APIClient(headers={"X-Forwarded-Proto": "https"})


def sign_up(api, username="alice", role="prosumer"):
    response = api.post("/api/v1/registry/users", {"username": username, "password": "a long password", "role": role},
                        format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def as_user(api, token):
    client = APIClient(headers={"X-Forwarded-Proto": "https"})
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def register_meter(client, key, serial="M-1", **extra):
    body = {"serial": serial, "type": "solar", "zone": "BKK-E", "latitude": 13.76, "longitude": 100.69,
            "capacity_w": 5000, "max_import_w": 15000, "public_key": key.address} | extra
    return client.post("/api/v1/registry/meters", body, format="json")


def signed(key, slot, gen, cons):
    start = (int(time.time()) // INTERVAL - 10 + slot) * INTERVAL
    r = Reading(key.pubkey, start, INTERVAL, gen, cons, slot)
    return r.to_json(r.sign(key))


def test_a_household_signs_up_registers_a_meter_and_its_readings_mint_gxt(api):
    alice = as_user(api, sign_up(api)["token"])
    key = Keypair.from_label("api meter")
    response = register_meter(alice, key)
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "active"
    assert api.get("/api/v1/registry/zones").json()[0]["code"] == "BKK-C"

    first = api.post("/api/v1/oracle/readings", signed(key, 1, 900, 100), format="json")
    assert first.status_code == 201 and first.json()["status"] == "accepted"
    again = api.post("/api/v1/oracle/readings", signed(key, 1, 900, 100), format="json")
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    conflict = api.post("/api/v1/oracle/readings", signed(key, 1, 901, 100), format="json")
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "conflict"
    rule = api.post("/api/v1/oracle/readings", signed(key, 2, 5000, 100), format="json")
    assert rule.status_code == 422 and rule.json()["error"]["code"] == "over_capacity"

    batch = api.post("/api/v1/oracle/readings/batch",
                     {"readings": [signed(key, 3, 200, 100), signed(key, 4, 300, 100), {"meter": 1}]}, format="json")
    assert batch.status_code == 200
    assert (batch.json()["accepted"], batch.json()["rejected"]) == (2, 1)

    operator = get_user_model().objects.create_user("op", password="x", is_staff=True)
    ops = APIClient(headers={"X-Forwarded-Proto": "https"})
    ops.force_authenticate(operator)
    assert alice.post("/api/v1/oracle/settle").status_code == 403
    settled = ops.post("/api/v1/oracle/settle").json()
    assert settled["readings"] == 3 and settled["minted"] == (800 + 100 + 200) * 10**6

    me = alice.get("/api/v1/registry/me").json()
    assert me["balances"]["GXT"] == str(1100 * 10**6)
    readings = alice.get("/api/v1/oracle/meters/M-1/readings").json()
    assert [r["status"] for r in readings] == ["settled"] * 3 and readings[0]["settlement"]
    rejections = alice.get("/api/v1/oracle/meters/M-1/rejections").json()
    assert {r["code"] for r in rejections} == {"conflict", "over_capacity"}
    status = api.get("/api/v1/oracle/status").json()
    assert status["gxt_supply"] == str(1100 * 10**6) and status["pending_readings"] == 0


def test_private_data_and_operator_actions_are_guarded(api):
    alice = as_user(api, sign_up(api, "alice")["token"])
    bob = as_user(api, sign_up(api, "bob")["token"])
    register_meter(alice, Keypair.from_label("alice meter"))
    assert bob.get("/api/v1/registry/meters/M-1").status_code == 404
    assert bob.get("/api/v1/oracle/meters/M-1/readings").status_code == 404
    assert bob.get("/api/v1/registry/meters").json() == []
    assert api.get("/api/v1/registry/meters").status_code in (401, 403)
    assert bob.post("/api/v1/registry/users/alice/status", {"status": "suspended"}, format="json").status_code == 403
    taken = api.post("/api/v1/registry/users", {"username": "alice", "password": "a long password", "role": "prosumer"},
                     format="json")
    assert taken.status_code == 409
    sneaky = api.post("/api/v1/registry/users", {"username": "eve", "password": "a long password", "role": "operator"},
                      format="json")
    assert sneaky.status_code == 403


def test_bad_input_gets_a_clear_4xx(api):
    alice = as_user(api, sign_up(api)["token"])
    assert register_meter(alice, Keypair.from_label("k"), zone="MARS").status_code == 404
    outside = register_meter(alice, Keypair.from_label("k"), latitude=0.0, longitude=0.0)
    assert outside.status_code == 400 and "outside" in outside.json()["error"]["message"]
    bad_key = register_meter(alice, Keypair.from_label("k"), public_key="xyz0")
    assert bad_key.status_code == 400
    missing = api.post("/api/v1/oracle/readings", {"meter": "abc"}, format="json")
    assert missing.status_code == 400 and "missing" in missing.json()["error"]["message"]
    assert api.post("/api/v1/oracle/readings/batch", {"readings": []}, format="json").status_code == 400
    assert api.post("/api/v1/oracle/readings", "[1, 2", content_type="application/json").status_code == 400
    token = api.post("/api/v1/auth/token", {"username": "alice", "password": "wrong"}, format="json")
    assert token.status_code == 400
    good = api.post("/api/v1/auth/token", {"username": "alice", "password": "a long password"}, format="json")
    assert good.status_code == 200 and good.json()["token"]


def test_an_operator_suspends_and_reinstates_a_user_and_the_meter_is_refused_meanwhile(api):
    alice = as_user(api, sign_up(api)["token"])
    key = Keypair.from_label("m")
    register_meter(alice, key)
    ops = APIClient(headers={"X-Forwarded-Proto": "https"})
    ops.force_authenticate(get_user_model().objects.create_user("op", password="x", is_staff=True))
    assert ops.post("/api/v1/registry/users/alice/status", {"status": "suspended"}, format="json").json()["status"] == "suspended"
    refused = api.post("/api/v1/oracle/readings", signed(key, 1, 10, 10), format="json")
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "user_suspended"
    ops.post("/api/v1/registry/users/alice/status", {"status": "active"}, format="json")
    assert api.post("/api/v1/oracle/readings", signed(key, 1, 10, 10), format="json").status_code == 201
