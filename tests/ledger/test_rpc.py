"""The JSON-RPC 2.0 interface at /rpc: Solana's method names and shapes, and an error object for any bad input."""

import base64
import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import rpc, selectors
from ledger.crypto import Keypair, b58, unb58, verify
from ledger.encoding import AccountMeta, BlockHeader, Instruction, Message
from ledger.merkle import tx_root
from ledger.errors import LedgerUnavailable
from ledger.token_program import TOKEN_PROGRAM_ID, mint_address

from tests.factories import GXT, THB, ata, signed, transfer, wallet


@pytest.fixture
def client():
    # Requests arrive as they would through the TLS-terminating proxy (production settings redirect plain HTTP).
    return Client(headers={"X-Forwarded-Proto": "https"})


def post(client, body, *, raw=False):
    data = body if raw else json.dumps(body)
    return client.post("/rpc", data, content_type="application/json")


def call(client, method, *params):
    response = post(client, {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    assert response.status_code == 200
    body = response.json()
    assert body["jsonrpc"] == "2.0" and body["id"] == 1
    return body


def result(client, method, *params):
    body = call(client, method, *params)
    assert "error" not in body, body
    return body["result"]


def error(client, method, *params):
    body = call(client, method, *params)
    assert "result" not in body, body
    return body["error"]


def b64(tx):
    return base64.b64encode(tx.wire).decode()


# -- sending and reading transactions -------------------------------------------------------------------------

def test_send_transaction_commits_a_transfer_and_answers_its_signature(ledger, client):
    alice, bob = wallet("alice", gxt=1_000), wallet("bob")
    tx = transfer(alice, bob, 400)
    assert result(client, "sendTransaction", b64(tx)) == tx.txid
    assert selectors.wallet_balances(bob.pubkey)["GXT"] == 400


def test_send_transaction_accepts_base58(ledger, client):
    alice, bob = wallet("alice", gxt=1_000), wallet("bob")
    tx = transfer(alice, bob, 1)
    assert result(client, "sendTransaction", b58(tx.wire), {"encoding": "base58"}) == tx.txid


def test_sending_the_same_transaction_twice_answers_the_same_signature(ledger, client):
    alice, bob = wallet("alice", gxt=1_000), wallet("bob")
    tx = transfer(alice, bob, 400)
    assert result(client, "sendTransaction", b64(tx)) == result(client, "sendTransaction", b64(tx)) == tx.txid
    assert selectors.wallet_balances(bob.pubkey)["GXT"] == 400


def test_get_transaction_decodes_a_token_transfer(ledger, client):
    alice, bob = wallet("alice", gxt=1_000), wallet("bob")
    tx = transfer(alice, bob, 400)
    result(client, "sendTransaction", b64(tx))
    got = result(client, "getTransaction", tx.txid)
    block, _ = selectors.block_get(got["slot"])
    assert got["blockTime"] == block.timestamp_ms // 1000
    assert got["meta"] == {"err": None, "status": {"Ok": None},
                           "logMessages": ["Program token invoke [1]", "Program token success"]}
    assert got["transaction"]["signatures"] == [tx.txid]
    message = got["transaction"]["message"]
    assert message["feePayer"] == alice.address
    assert message["recentBlockhash"] == b58(tx.message.recent_blockhash)
    [ix] = message["instructions"]
    assert ix["programId"] == b58(TOKEN_PROGRAM_ID)
    assert (ix["program"], ix["name"], ix["args"]) == ("token", "transfer", {"amount": "400"})
    assert ix["accounts"] == [
        {"pubkey": b58(ata(alice)), "signer": False, "writable": True, "role": "source"},
        {"pubkey": b58(ata(bob)), "signer": False, "writable": True, "role": "destination"},
        {"pubkey": alice.address, "signer": True, "writable": False, "role": "authority"},
    ]


def test_get_transaction_answers_null_for_an_unknown_signature(ledger, client):
    assert result(client, "getTransaction", b58(bytes(64))) is None


def test_get_signature_statuses_reports_committed_ones_as_finalized_and_others_as_null(ledger, client):
    alice, bob = wallet("alice", gxt=1_000), wallet("bob")
    tx = transfer(alice, bob, 5)
    result(client, "sendTransaction", b64(tx))
    got = result(client, "getSignatureStatuses", [tx.txid, b58(bytes(64))])
    height = selectors.signature_statuses([tx.signature])[tx.signature]
    assert got["context"]["slot"] >= height
    assert got["value"] == [{"slot": height, "confirmations": None, "err": None, "confirmationStatus": "finalized"}, None]


def test_get_signatures_for_address_lists_newest_first_and_pages_with_before(ledger, client):
    alice, bob = wallet("alice", gxt=1_000), wallet("bob")
    sent = [result(client, "sendTransaction", b64(transfer(alice, bob, amount))) for amount in (1, 2, 3)]
    everything = result(client, "getSignaturesForAddress", alice.address)
    assert [row["signature"] for row in everything[:3]] == sent[::-1]
    assert set(everything[0]) == {"signature", "slot", "err", "blockTime"}
    first = result(client, "getSignaturesForAddress", alice.address, {"limit": 2})
    rest = result(client, "getSignaturesForAddress", alice.address, {"before": first[-1]["signature"]})
    assert first + rest == everything


def test_simulate_transaction_reports_logs_and_changed_accounts_without_storing_anything(ledger, client):
    alice, bob = wallet("alice", gxt=1_000), wallet("bob")
    height = selectors.block_height()
    got = result(client, "simulateTransaction", b64(transfer(alice, bob, 400)))
    assert got["value"]["err"] is None
    assert "Program token success" in got["value"]["logs"]
    changed = {row["pubkey"]: row["account"] for row in got["value"]["accounts"]}
    assert set(changed) == {b58(ata(alice)), b58(ata(bob))}
    assert changed[b58(ata(bob))]["owner"] == b58(TOKEN_PROGRAM_ID)
    assert selectors.block_height() == height
    assert selectors.wallet_balances(bob.pubkey)["GXT"] == 0


def test_simulate_transaction_reports_a_failing_instruction_in_err(ledger, client):
    alice, bob = wallet("alice", gxt=10), wallet("bob")
    got = result(client, "simulateTransaction", b64(transfer(alice, bob, 11)))
    assert got["value"]["err"]["instruction"] == 0
    assert got["value"]["err"]["reason"] == "insufficient_funds"


def test_simulate_transaction_skips_signature_checks_only_when_asked(ledger, client):
    alice, bob = wallet("alice", gxt=10), wallet("bob")
    wire = bytearray(transfer(alice, bob, 1).wire)
    wire[1] ^= 0xFF
    forged = base64.b64encode(bytes(wire)).decode()
    assert error(client, "simulateTransaction", forged)["code"] == -32003
    assert result(client, "simulateTransaction", forged, {"sigVerify": False})["value"]["err"] is None


# -- balances and accounts ------------------------------------------------------------------------------------

def test_get_balance_answers_each_platform_token_in_base_units(ledger, client):
    alice = wallet("alice", gxt=2_500_000_000, thb=1_500_000)
    got = result(client, "getBalance", alice.address)
    assert got["value"] == {"GXT": 2_500_000_000, "THB": 1_500_000}
    assert got["context"]["slot"] == selectors.block_height()


def test_get_balance_of_an_owner_without_token_accounts_is_zero(ledger, client):
    assert result(client, "getBalance", Keypair.from_label("nobody").address)["value"] == {"GXT": 0, "THB": 0}


def test_get_account_info_answers_base64_data_by_default(ledger, client):
    alice = wallet("alice", gxt=7)
    value = result(client, "getAccountInfo", b58(ata(alice)))["value"]
    raw = selectors.raw_accounts([ata(alice)])[ata(alice)][1]
    assert value == {"owner": b58(TOKEN_PROGRAM_ID), "data": [base64.b64encode(raw).decode(), "base64"],
                     "space": len(raw), "executable": False}


def test_get_account_info_parses_token_accounts_and_mints(ledger, client):
    alice = wallet("alice", gxt=2_500_000_000)
    account = result(client, "getAccountInfo", b58(ata(alice)), {"encoding": "jsonParsed"})["value"]["data"]
    assert account["program"] == "token"
    assert account["parsed"] == {"type": "account", "info": {
        "mint": b58(GXT), "owner": alice.address,
        "tokenAmount": {"amount": "2500000000", "decimals": 9, "uiAmountString": "2.5"},
    }}
    mint = result(client, "getAccountInfo", b58(THB), {"encoding": "jsonParsed"})["value"]["data"]["parsed"]
    assert mint["type"] == "mint"
    assert mint["info"]["symbol"] == "THB" and mint["info"]["decimals"] == 6


def test_get_account_info_answers_null_for_an_unknown_account(ledger, client):
    got = result(client, "getAccountInfo", Keypair.from_label("nobody").address)
    assert got["value"] is None and "slot" in got["context"]


def test_get_token_account_balance_shows_the_amount_with_the_mints_decimals(ledger, client):
    alice = wallet("alice", thb=1_234_567)
    value = result(client, "getTokenAccountBalance", b58(ata(alice, THB)))["value"]
    assert value == {"amount": "1234567", "decimals": 6, "uiAmountString": "1.234567"}


def test_get_token_supply_accepts_a_symbol_or_a_mint_address(ledger, client):
    wallet("alice", gxt=3_000_000_000)
    wallet("bob", gxt=1)
    expected = {"amount": "3000000001", "decimals": 9, "uiAmountString": "3.000000001"}
    assert result(client, "getTokenSupply", "GXT")["value"] == expected
    assert result(client, "getTokenSupply", b58(mint_address("GXT")))["value"] == expected


# -- blocks ---------------------------------------------------------------------------------------------------

def test_get_block_answers_the_header_and_its_transactions(ledger, client):
    alice, bob = wallet("alice", gxt=1_000), wallet("bob")
    tx = transfer(alice, bob, 400)
    result(client, "sendTransaction", b64(tx))
    height = result(client, "getTransaction", tx.txid)["slot"]
    block = result(client, "getBlock", height)
    parent = result(client, "getBlock", height - 1)
    assert block["blockHeight"] == height and block["parentSlot"] == height - 1
    assert block["previousBlockhash"] == parent["blockhash"]
    assert block["transactionCount"] == len(block["transactions"]) == 1
    assert block["transactions"][0]["transaction"]["signatures"] == [tx.txid]
    assert {"blockTime", "timestampMs", "txRoot", "stateRoot", "producer", "signature"} <= set(block)


def test_a_block_from_get_block_rebuilds_to_its_hash_as_the_protocol_says(ledger, client):
    alice, bob = wallet("alice", gxt=1_000), wallet("bob")
    tx = transfer(alice, bob, 400)
    result(client, "sendTransaction", b64(tx))
    block = result(client, "getBlock", result(client, "getTransaction", tx.txid)["slot"])
    header = BlockHeader(block["blockHeight"], unb58(block["previousBlockhash"]), block["timestampMs"],
                         unb58(block["txRoot"]), unb58(block["stateRoot"]), block["transactionCount"],
                         unb58(block["producer"]))
    assert b58(header.hash()) == block["blockhash"]
    assert verify(unb58(block["producer"]), header.hash(), unb58(block["signature"]))
    # Decoded fields rebuild the exact wire bytes: there is one encoding.
    rebuilt = [wire_from_fields(entry["transaction"]) for entry in block["transactions"]]
    assert b58(tx_root(rebuilt)) == block["txRoot"]
    raw = result(client, "getBlock", block["blockHeight"], {"encoding": "base64"})["transactions"]
    assert [base64.b64decode(entry["transaction"][0]) for entry in raw] == rebuilt


def wire_from_fields(body):
    message = body["message"]
    instructions = tuple(
        Instruction(unb58(ix["programId"]),
                    tuple(AccountMeta(unb58(a["pubkey"]), a["signer"], a["writable"]) for a in ix["accounts"]),
                    unb58(ix["data"]) if ix["data"] else b"")
        for ix in message["instructions"]
    )
    message_bytes = Message(unb58(message["feePayer"]), unb58(message["recentBlockhash"]), instructions).serialize()
    signatures = [unb58(sig) for sig in body["signatures"]]
    return bytes((len(signatures),)) + b"".join(signatures) + message_bytes


def test_get_transaction_in_base64_answers_the_wire_bytes(ledger, client):
    alice, bob = wallet("alice", gxt=1_000), wallet("bob")
    tx = transfer(alice, bob, 400)
    result(client, "sendTransaction", b64(tx))
    assert result(client, "getTransaction", tx.txid, {"encoding": "base64"})["transaction"] == [b64(tx), "base64"]


def test_get_block_of_genesis_names_the_zero_hash_as_parent(ledger, client):
    genesis = result(client, "getBlock", 0)
    assert genesis["previousBlockhash"] == b58(bytes(32))
    assert genesis["parentSlot"] == 0 and genesis["transactions"] == []


def test_get_block_answers_null_above_the_tip(ledger, client):
    assert result(client, "getBlock", selectors.block_height() + 1) is None


def test_get_block_height_is_the_tip(ledger, client):
    wallet("alice", gxt=1)
    assert result(client, "getBlockHeight") == selectors.block_height() > 0


def test_a_transaction_signed_with_get_latest_blockhash_is_accepted(ledger, client):
    alice, bob = wallet("alice", gxt=10), wallet("bob")
    value = result(client, "getLatestBlockhash")["value"]
    assert value["lastValidBlockHeight"] > selectors.block_height()
    tx = signed(transfer(alice, bob, 1).message.instructions, [alice], blockhash=unb58(value["blockhash"]))
    assert result(client, "sendTransaction", b64(tx)) == tx.txid


# -- errors ---------------------------------------------------------------------------------------------------

def test_a_transfer_beyond_the_balance_fails_naming_the_instruction_and_reason(ledger, client):
    alice, bob = wallet("alice", gxt=10), wallet("bob")
    err = error(client, "sendTransaction", b64(transfer(alice, bob, 11)))
    assert err["code"] == -32002
    assert err["data"]["code"] == "transaction_failed"
    assert (err["data"]["instruction"], err["data"]["reason"]) == (0, "insufficient_funds")
    assert selectors.wallet_balances(alice.pubkey)["GXT"] == 10


def test_a_transaction_with_a_flipped_signature_byte_is_refused(ledger, client):
    alice, bob = wallet("alice", gxt=10), wallet("bob")
    wire = bytearray(transfer(alice, bob, 1).wire)
    wire[1] ^= 0x01
    err = error(client, "sendTransaction", base64.b64encode(bytes(wire)).decode())
    assert err["code"] == -32003
    assert err["data"]["code"] == "signature_verification_failed"


def test_a_transaction_with_an_unknown_blockhash_is_refused(ledger, client):
    alice, bob = wallet("alice", gxt=10), wallet("bob")
    tx = signed(transfer(alice, bob, 1).message.instructions, [alice], blockhash=bytes(range(32)))
    err = error(client, "sendTransaction", b64(tx))
    assert err["code"] == -32004
    assert err["data"]["code"] == "blockhash_not_found"


@pytest.mark.parametrize("encoded, encoding", [("not base64!", "base64"), ("0OIl", "base58"), ("", "base64"),
                                               (base64.b64encode(b"\x01" + bytes(10)).decode(), "base64")])
def test_a_transaction_that_does_not_decode_is_invalid_params(ledger, client, encoded, encoding):
    err = error(client, "sendTransaction", encoded, {"encoding": encoding})
    assert err["code"] == -32602
    assert err["data"]["code"] == "malformed_transaction"


def test_an_unavailable_ledger_is_reported_as_such(ledger, client, monkeypatch):
    def unavailable(**kwargs):
        raise LedgerUnavailable("the sequencer has stopped")

    monkeypatch.setattr(rpc.services, "transaction_submit", unavailable)
    alice, bob = wallet("alice", gxt=10), wallet("bob")
    err = error(client, "sendTransaction", b64(transfer(alice, bob, 1)))
    assert (err["code"], err["data"]["code"]) == (-32005, "ledger_unavailable")


def test_an_unknown_token_account_is_invalid_params_as_in_solana(ledger, client):
    err = error(client, "getTokenAccountBalance", Keypair.from_label("nobody").address)
    assert (err["code"], err["data"]["code"]) == (-32602, "not_found")
    assert error(client, "getTokenSupply", b58(ata(Keypair.from_label("nobody"))))["code"] == -32602


@pytest.mark.parametrize("method, params", [
    ("getBalance", ["not base58 0OIl"]),
    ("getBalance", [b58(bytes(31))]),
    ("getBalance", [5]),
    ("getBalance", []),
    ("getBalance", ["x", {}, "extra"]),
    ("getAccountInfo", [b58(bytes(32)), {"encoding": "base64+zstd"}]),
    ("getAccountInfo", [b58(bytes(32)), "jsonParsed"]),
    ("getBlock", ["12"]),
    ("getBlock", [-1]),
    ("getBlock", [True]),
    ("getBlock", [2**64]),
    ("getBlock", [1.5]),
    ("getTransaction", [b58(bytes(32))]),
    ("getTransaction", [b58(bytes(64)), {"encoding": "base58"}]),
    ("getSignatureStatuses", ["not a list"]),
    ("getSignatureStatuses", [["x" * 10_000]]),
    ("getSignaturesForAddress", [b58(bytes(32)), {"limit": 1001}]),
    ("getSignaturesForAddress", [b58(bytes(32)), {"limit": "10"}]),
    ("getSignaturesForAddress", [b58(bytes(32)), {"before": b58(bytes(64))}]),
    ("getTokenSupply", [["GXT"]]),
    ("simulateTransaction", ["AA==", {"sigVerify": "yes"}]),
    ("sendTransaction", [{"transaction": "AA=="}]),
])
def test_wrong_params_are_invalid_params(ledger, client, method, params):
    err = error(client, method, *params)
    assert err["code"] == -32602, err
    assert err["data"]["code"] in {"invalid_params", "invalid_address", "malformed_transaction", "not_found"}


def test_huge_params_are_refused_without_decoding_them(ledger, client):
    assert error(client, "getAccountInfo", "1" * 1_000_000)["code"] == -32602
    assert error(client, "sendTransaction", "A" * 1_000_000)["code"] == -32602
    assert error(client, "sendTransaction", "1" * 1_000_000, {"encoding": "base58"})["code"] == -32602
    assert error(client, "getSignatureStatuses", [b58(bytes(64))] * 257)["code"] == -32602


def test_an_unknown_method_is_method_not_found(ledger, client):
    err = error(client, "getNativeCoin")
    assert (err["code"], err["data"]["code"]) == (-32601, "method_not_found")


def test_params_given_by_name_are_invalid_params(ledger, client):
    body = post(client, {"jsonrpc": "2.0", "id": 1, "method": "getBalance", "params": {"address": "x"}}).json()
    assert body["error"]["code"] == -32602


@pytest.mark.parametrize("body", ["{", "not json", '{"jsonrpc": "2.0", "id": 1,', "[" * 100_000, b"\xff\xfe\x00",
                                  '{"id": ' + "9" * 5000 + "}"])
def test_malformed_json_is_a_parse_error(ledger, client, body):
    response = post(client, body, raw=True)
    assert response.status_code == 200
    answer = response.json()
    assert answer["id"] is None
    assert answer["error"]["code"] == -32700


@pytest.mark.parametrize("body", [
    [], 5, "getBalance", {"id": 1, "method": "getBlockHeight"}, {"jsonrpc": "1.0", "id": 1, "method": "getBlockHeight"},
    {"jsonrpc": "2.0", "id": 1, "method": 7}, {"jsonrpc": "2.0", "id": [1], "method": "getBlockHeight"},
    {"jsonrpc": "2.0", "id": 1.5, "method": "getBlockHeight"}, [{}] * 101,
])
def test_a_request_that_is_not_json_rpc_is_an_invalid_request(ledger, client, body):
    answer = post(client, body).json()
    assert answer["error"]["code"] == -32600


def test_a_batch_answers_every_request_except_notifications_in_order(ledger, client):
    response = post(client, [
        {"jsonrpc": "2.0", "id": "a", "method": "getBlockHeight"},
        {"jsonrpc": "2.0", "method": "getBlockHeight"},
        {"jsonrpc": "2.0", "id": "b", "method": "nope"},
        1,
        {"jsonrpc": "2.0", "id": None, "method": "getBlockHeight"},
    ])
    answers = response.json()
    assert [a["id"] for a in answers] == ["a", "b", None, None]
    assert answers[0]["result"] == selectors.block_height()
    assert answers[1]["error"]["code"] == -32601
    assert answers[2]["error"]["code"] == -32600
    assert "result" in answers[3]


def test_notifications_get_no_response_body(ledger, client):
    assert post(client, {"jsonrpc": "2.0", "method": "getBlockHeight"}).status_code == 204
    assert post(client, [{"jsonrpc": "2.0", "method": "nope"}]).status_code == 204


def test_a_body_over_the_upload_limit_is_refused_as_too_large(ledger, client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post(client, {"jsonrpc": "2.0", "id": 1, "method": "getBlockHeight", "params": ["x" * 1000]})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == -32600


def test_get_is_not_allowed(ledger, client):
    response = client.get("/rpc")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == -32600


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=100),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(sorted(rpc.METHODS)), params=st.lists(json_values, max_size=3))
def test_any_params_get_a_json_rpc_answer_and_never_an_internal_error(ledger, client, method, params):
    body = call(client, method, *params)
    assert "result" in body or body["error"]["code"] in {-32602, -32002, -32003, -32004}, body


request_fields = st.fixed_dictionaries(
    {},
    optional={"jsonrpc": st.sampled_from(["2.0", "1.0", 2]), "id": json_values, "params": json_values,
              "method": st.sampled_from(sorted(rpc.METHODS)) | json_values},
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=request_fields | st.lists(request_fields, max_size=3) | json_values)
def test_any_json_body_gets_a_json_rpc_answer(ledger, client, body):
    response = post(client, body)
    assert response.status_code in {200, 204}
    answers = response.json() if response.status_code == 200 else []
    for answer in answers if isinstance(answers, list) else [answers]:
        assert answer["jsonrpc"] == "2.0"
        assert "result" in answer or answer["error"]["code"] != -32603, answer
