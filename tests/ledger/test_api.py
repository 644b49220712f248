"""The REST API under /api/v1/: the ledger's resources, and the one error shape for every bad request."""

import base64

import pytest
from django.test import Client

from ledger import selectors
from ledger.crypto import Keypair, b58
from ledger.errors import LedgerUnavailable
from ledger.token_program import TOKEN_PROGRAM_ID

from tests.factories import GXT, THB, ata, signed, transfer, wallet


@pytest.fixture
def client():
    # Requests arrive as they would through the TLS-terminating proxy (production settings redirect plain HTTP).
    return Client(headers={"X-Forwarded-Proto": "https"})


def submit(client, tx, **extra):
    body = {"transaction": base64.b64encode(tx.wire).decode(), **extra}
    return client.post("/api/v1/transactions/", body, content_type="application/json")


def problem(response, status):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    return body["error"]


# -- transactions ---------------------------------------------------------------------------------------------

def test_submitting_a_transfer_answers_201_with_its_signature_and_block(ledger, client):
    alice, bob = wallet("alice", gxt=1_000), wallet("bob")
    tx = transfer(alice, bob, 400)
    response = submit(client, tx)
    assert response.status_code == 201
    assert response.json() == {"signature": tx.txid, "block_height": selectors.signature_statuses([tx.signature])[tx.signature]}
    assert selectors.wallet_balances(bob.pubkey)["GXT"] == 400


def test_submitting_the_same_transaction_again_answers_the_original_result(ledger, client):
    alice, bob = wallet("alice", gxt=1_000), wallet("bob")
    tx = transfer(alice, bob, 400)
    first, again = submit(client, tx), submit(client, tx)
    assert again.status_code == 201 and again.json() == first.json()
    assert selectors.wallet_balances(bob.pubkey)["GXT"] == 400


def test_a_transaction_may_be_submitted_as_base58(ledger, client):
    alice, bob = wallet("alice", gxt=10), wallet("bob")
    tx = transfer(alice, bob, 1)
    response = client.post("/api/v1/transactions/", {"transaction": b58(tx.wire), "encoding": "base58"},
                           content_type="application/json")
    assert response.status_code == 201 and response.json()["signature"] == tx.txid


def test_a_transfer_beyond_the_balance_is_422_naming_the_instruction_and_reason(ledger, client):
    alice, bob = wallet("alice", gxt=10), wallet("bob")
    error = problem(submit(client, transfer(alice, bob, 11)), 422)
    assert error["code"] == "transaction_failed"
    assert (error["instruction"], error["reason"]) == (0, "insufficient_funds")
    assert "insufficient funds" in error["message"]


def test_a_transaction_with_a_flipped_signature_byte_is_400(ledger, client):
    alice, bob = wallet("alice", gxt=10), wallet("bob")
    wire = bytearray(transfer(alice, bob, 1).wire)
    wire[1] ^= 0x01
    response = client.post("/api/v1/transactions/", {"transaction": base64.b64encode(bytes(wire)).decode()},
                           content_type="application/json")
    assert problem(response, 400)["code"] == "signature_verification_failed"


def test_a_transaction_with_an_unknown_blockhash_is_400_blockhash_not_found(ledger, client):
    alice, bob = wallet("alice", gxt=10), wallet("bob")
    tx = signed(transfer(alice, bob, 1).message.instructions, [alice], blockhash=bytes(range(32)))
    error = problem(submit(client, tx), 400)
    assert error["code"] == "blockhash_not_found"
    assert "getLatestBlockhash" in error["message"]


@pytest.mark.parametrize("body, code, words", [
    ({}, "invalid_input", "transaction: This field is required."),
    ({"transaction": 5}, "malformed_transaction", "not valid base64"),
    ({"transaction": "not base64!"}, "malformed_transaction", "not valid base64"),
    ({"transaction": "AAAA"}, "malformed_transaction", "signature count"),
    ({"transaction": "A" * 100_000}, "malformed_transaction", "at most 4096 bytes"),
    ({"transaction": "AAAA", "encoding": "hex"}, "invalid_input", "encoding:"),
    ([1, 2], "invalid_input", "the body:"),
])
def test_a_body_that_is_not_a_transaction_is_400_saying_what_is_wrong(ledger, client, body, code, words):
    error = problem(client.post("/api/v1/transactions/", body, content_type="application/json"), 400)
    assert error["code"] == code
    assert words in error["message"]


def test_a_body_that_is_not_json_is_400(ledger, client):
    response = client.post("/api/v1/transactions/", "{", content_type="application/json")
    assert problem(response, 400)["code"] == "invalid_input"


def test_an_unavailable_ledger_is_503(ledger, client, monkeypatch):
    from ledger import api

    def unavailable(**kwargs):
        raise LedgerUnavailable("the sequencer has stopped")

    monkeypatch.setattr(api.services, "transaction_submit", unavailable)
    alice, bob = wallet("alice", gxt=10), wallet("bob")
    assert problem(submit(client, transfer(alice, bob, 1)), 503)["code"] == "ledger_unavailable"


def test_a_committed_transaction_is_shown_with_decoded_instructions(ledger, client):
    alice, bob = wallet("alice", gxt=1_000), wallet("bob")
    tx = transfer(alice, bob, 400)
    height = submit(client, tx).json()["block_height"]
    body = client.get(f"/api/v1/transactions/{tx.txid}/").json()
    assert body["slot"] == height
    assert body["transaction"]["message"]["fee_payer"] == alice.address
    [ix] = body["transaction"]["message"]["instructions"]
    assert (ix["name"], ix["args"]) == ("transfer", {"amount": "400"})
    assert body["meta"] == {"err": None, "status": {"Ok": None},
                            "log_messages": ["Program token invoke [1]", "Program token success"]}


def test_an_unknown_transaction_is_404_and_a_malformed_signature_is_400(ledger, client):
    assert problem(client.get(f"/api/v1/transactions/{b58(bytes(64))}/"), 404)["code"] == "not_found"
    assert problem(client.get("/api/v1/transactions/0OIl/"), 400)["code"] == "invalid_address"
    assert problem(client.get(f"/api/v1/transactions/{'1' * 5000}/"), 400)["code"] == "invalid_address"


# -- blocks ---------------------------------------------------------------------------------------------------

def test_blocks_are_listed_newest_first_and_page_with_before(ledger, client):
    for label in ("a", "b", "c"):
        wallet(label, gxt=1)
    tip = selectors.block_height()
    page = client.get("/api/v1/blocks/?limit=2").json()
    assert [b["block_height"] for b in page["results"]] == [tip, tip - 1]
    assert page["next"].endswith(f"/api/v1/blocks/?before={tip - 1}&limit=2")
    older = client.get(f"/api/v1/blocks/?before={tip - 1}&limit=100").json()
    assert [b["block_height"] for b in older["results"]] == list(range(tip - 2, -1, -1))
    assert older["next"] is None


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=x", "before=-1", f"before={2**64}"])
def test_a_bad_page_is_400_naming_the_parameter(ledger, client, query):
    error = problem(client.get(f"/api/v1/blocks/?{query}"), 400)
    assert error["code"] == "invalid_input"
    assert error["message"].startswith(query.split("=")[0])


def test_a_block_is_shown_with_its_transactions(ledger, client):
    alice, bob = wallet("alice", gxt=1_000), wallet("bob")
    tx = transfer(alice, bob, 400)
    height = submit(client, tx).json()["block_height"]
    body = client.get(f"/api/v1/blocks/{height}/").json()
    assert body["block_height"] == height and body["parent_slot"] == height - 1
    assert body["previous_blockhash"] == client.get(f"/api/v1/blocks/{height - 1}/").json()["blockhash"]
    assert [t["transaction"]["signatures"][0] for t in body["transactions"]] == [tx.txid]


@pytest.mark.parametrize("height", ["abc", "-1", "1.5", "²", str(2**63), "9" * 5000])
def test_a_block_height_that_is_not_a_whole_number_is_400(ledger, client, height):
    assert problem(client.get(f"/api/v1/blocks/{height}/"), 400)["code"] == "invalid_input"


def test_a_block_above_the_tip_is_404(ledger, client):
    assert problem(client.get(f"/api/v1/blocks/{selectors.block_height() + 1}/"), 404)["code"] == "not_found"


# -- accounts and tokens --------------------------------------------------------------------------------------

def test_a_wallet_owner_is_shown_with_its_balances(ledger, client):
    alice = wallet("alice", gxt=2_500_000_000, thb=1_500_000)
    body = client.get(f"/api/v1/accounts/{alice.address}/").json()
    assert body == {"address": alice.address, "account": None, "balances": {
        "GXT": {"amount": "2500000000", "decimals": 9, "ui_amount_string": "2.5"},
        "THB": {"amount": "1500000", "decimals": 6, "ui_amount_string": "1.5"},
    }}


def test_a_token_account_is_shown_decoded(ledger, client):
    alice = wallet("alice", thb=1_500_000)
    body = client.get(f"/api/v1/accounts/{b58(ata(alice, THB))}/").json()
    assert body["balances"] is None
    assert body["account"]["owner"] == b58(TOKEN_PROGRAM_ID)
    assert body["account"]["data"]["parsed"] == {"type": "account", "info": {
        "mint": b58(THB), "owner": alice.address,
        "token_amount": {"amount": "1500000", "decimals": 6, "ui_amount_string": "1.5"},
    }}


def test_an_unknown_address_is_404_and_a_malformed_one_is_400(ledger, client):
    assert problem(client.get(f"/api/v1/accounts/{Keypair.from_label('nobody').address}/"), 404)["code"] == "not_found"
    assert problem(client.get("/api/v1/accounts/0OIl/"), 400)["code"] == "invalid_address"
    assert problem(client.get(f"/api/v1/accounts/{b58(bytes(31))}/"), 400)["code"] == "invalid_address"


def test_an_accounts_transactions_are_listed_newest_first_and_page_with_before(ledger, client):
    alice, bob = wallet("alice", gxt=1_000), wallet("bob")
    sent = [submit(client, transfer(alice, bob, amount)).json()["signature"] for amount in (1, 2, 3)]
    # A transfer names the token accounts, not their owner: bob's token account has bob's history.
    first = client.get(f"/api/v1/accounts/{b58(ata(bob))}/transactions/?limit=3").json()
    assert [row["signature"] for row in first["results"]] == sent[::-1]
    assert set(first["results"][0]) == {"signature", "slot", "err", "block_time"}
    rest = client.get(first["next"]).json()
    assert len(rest["results"]) == 1  # the transaction that created bob's token accounts
    assert rest["next"] is None


def test_an_accounts_transactions_refuse_a_bad_before_or_limit(ledger, client):
    alice = wallet("alice", gxt=1)
    url = f"/api/v1/accounts/{alice.address}/transactions/"
    assert problem(client.get(f"{url}?before=0OIl"), 400)["code"] == "invalid_address"
    assert problem(client.get(f"{url}?before={b58(bytes(64))}"), 404)["code"] == "not_found"
    assert problem(client.get(f"{url}?limit=1001"), 400)["code"] == "invalid_input"


def test_a_token_is_found_by_symbol_or_mint_address(ledger, client):
    wallet("alice", gxt=1_500_000_000)
    by_symbol = client.get("/api/v1/tokens/GXT/").json()
    assert by_symbol == client.get(f"/api/v1/tokens/{b58(GXT)}/").json()
    assert by_symbol["symbol"] == "GXT" and by_symbol["decimals"] == 9
    assert by_symbol["supply"] == {"amount": "1500000000", "decimals": 9, "ui_amount_string": "1.5"}
    assert by_symbol["authority"] == b58(selectors.mint_get("GXT")[1].authority)


def test_an_unknown_token_is_404_and_a_malformed_one_is_400(ledger, client):
    alice = wallet("alice")
    assert problem(client.get(f"/api/v1/tokens/{b58(ata(alice))}/"), 404)["code"] == "not_found"
    assert problem(client.get("/api/v1/tokens/XYZ/"), 400)["code"] == "invalid_address"


def test_an_unknown_api_path_is_404_in_the_error_shape(ledger, client):
    assert problem(client.get("/api/v1/wallets/"), 404)["code"] == "not_found"
    assert problem(client.post("/api/v1/transactions", {}, content_type="application/json"), 404)["code"] == "not_found"


def test_a_wrong_method_is_405_in_the_error_shape(ledger, client):
    assert problem(client.delete("/api/v1/blocks/"), 405)["code"] == "method_not_allowed"
