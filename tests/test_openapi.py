"""The OpenAPI schema: it generates without warnings, lists the API, and says what the API really answers."""

import base64

import jsonschema
import pytest
from django.core.management import call_command
from django.test import Client

from ledger.crypto import b58

from tests.factories import ata, transfer, wallet

LEDGER_PATHS = {
    "/api/v1/blocks/",
    "/api/v1/blocks/{height}/",
    "/api/v1/transactions/",
    "/api/v1/transactions/{signature}/",
    "/api/v1/accounts/{address}/",
    "/api/v1/accounts/{address}/transactions/",
    "/api/v1/tokens/{token}/",
}


@pytest.fixture
def client():
    # Requests arrive as they would through the TLS-terminating proxy (production settings redirect plain HTTP).
    return Client(headers={"X-Forwarded-Proto": "https"})


def schema_of(client) -> dict:
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_served_and_lists_the_ledger_api(db, client):
    schema = schema_of(client)
    assert LEDGER_PATHS <= set(schema["paths"])
    assert schema["paths"]["/api/v1/transactions/"]["post"]["operationId"] == "transactions_create"
    assert client.get("/api/docs/").status_code == 200


def test_the_schema_is_valid_and_generates_without_warnings(db, tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


def _strict(node):
    """OpenAPI 3.0 to JSON Schema: `nullable` becomes a null alternative, and documented objects allow no other keys."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _strict(value) for key, value in node.items()}
    if "properties" in node:
        node.setdefault("additionalProperties", False)
    if node.pop("nullable", False):
        node = {"anyOf": [node, {"type": "null"}]}
    return node


def _check(schema, path, method, status, body):
    documented = schema["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]
    jsonschema.validate(body, {**_strict(documented), "components": _strict(schema["components"])})


def test_every_ledger_response_matches_its_documented_schema(ledger, client):
    schema = schema_of(client)
    alice, bob = wallet("alice", gxt=1_000, thb=5), wallet("bob")
    tx = transfer(alice, bob, 400)
    created = client.post("/api/v1/transactions/", {"transaction": base64.b64encode(tx.wire).decode()},
                          content_type="application/json")
    height = created.json()["block_height"]
    failed = client.post("/api/v1/transactions/", {"transaction": base64.b64encode(transfer(alice, bob, 10**6).wire).decode()},
                         content_type="application/json")
    cases = [
        ("/api/v1/transactions/", "post", created),
        ("/api/v1/transactions/", "post", failed),
        ("/api/v1/blocks/", "get", client.get("/api/v1/blocks/?limit=2")),
        ("/api/v1/blocks/{height}/", "get", client.get(f"/api/v1/blocks/{height}/")),
        ("/api/v1/blocks/{height}/", "get", client.get("/api/v1/blocks/x/")),
        ("/api/v1/transactions/{signature}/", "get", client.get(f"/api/v1/transactions/{tx.txid}/")),
        ("/api/v1/accounts/{address}/", "get", client.get(f"/api/v1/accounts/{alice.address}/")),
        ("/api/v1/accounts/{address}/", "get", client.get(f"/api/v1/accounts/{b58(ata(alice))}/")),
        ("/api/v1/accounts/{address}/", "get", client.get(f"/api/v1/accounts/{b58(bytes(32))}/")),
        ("/api/v1/accounts/{address}/transactions/", "get", client.get(f"/api/v1/accounts/{alice.address}/transactions/")),
        ("/api/v1/tokens/{token}/", "get", client.get("/api/v1/tokens/THB/")),
    ]
    assert [response.status_code for *_, response in cases] == [201, 422, 200, 200, 400, 200, 200, 200, 404, 200, 200]
    for path, method, response in cases:
        _check(schema, path, method, response.status_code, response.json())
