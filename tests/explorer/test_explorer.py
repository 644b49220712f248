"""The public ledger explorer: blocks, transactions decoded, addresses with balances and history, a reading's
mint and a trade's settlement; search by height, signature or address; clear 400 and 404 pages for bad or
unknown input, never a server error."""

import pytest
from django.test import Client

from ledger import selectors
from ledger import services as ledger_services
from ledger.crypto import Keypair, b58, parse_address
from ledger.models import PendingTransaction
from ledger.token_program import associated_token_address, transfer_ix
from ledger.units import format_units
from oracle import services as oracle_services
from oracle.models import Reading

from tests.energy import NOW as READINGS_NOW, meter, participant, zone
from tests.factories import GXT, ata, signed, transfer, wallet


@pytest.fixture
def client():
    return Client(headers={"X-Forwarded-Proto": "https"})


def test_the_explorer_renders_a_new_chain(client, ledger):
    page = client.get("/explorer/")
    assert page.status_code == 200 and b'href="/explorer/block/0/"' in page.content
    assert client.get("/explorer/block/0/").status_code == 200
    assert b'href="/explorer/"' in client.get("/").content


def test_a_transfer_is_shown_decoded_with_its_signers_and_in_both_accounts_histories(client, ledger):
    alice, bob = wallet("explorer alice", gxt=5 * 10**9), wallet("explorer bob")
    tx = transfer(alice, bob, 1_500_000_000)
    submitted = ledger_services.transaction_submit(wire=tx.wire)
    signature = b58(tx.signatures[0])
    page = client.get(f"/explorer/tx/{signature}/").content.decode()
    assert "committed (success)" in page and "token: transfer" in page and "amount = <code>1500000000</code>" in page
    assert f"/explorer/address/{alice.address}/" in page  # the signer
    assert "Program token invoke [1]\nProgram token success" in page  # the logs stored with it
    assert f'/explorer/block/{submitted.block_height}/' in page
    block = client.get(f"/explorer/block/{submitted.block_height}/").content.decode()
    assert f"/explorer/tx/{signature}/" in block and "token: transfer" in block
    account = client.get(f"/explorer/address/{alice.address}/").content.decode()
    assert f"/explorer/tx/{signature}/" in account and "3.5" in account and 'id="balances"' in account
    token_account = client.get(f"/explorer/address/{b58(ata(bob))}/").content.decode()
    assert 'id="token-balance">1.5<' in token_account and f"/explorer/tx/{signature}/" in token_account
    mint = client.get(f"/explorer/address/{b58(GXT)}/").content.decode()
    assert "the GXT token mint" in mint and "Supply" in mint


def test_search_finds_a_block_a_transaction_and_an_address_and_explains_bad_input(client, ledger):
    alice = wallet("explorer search", gxt=1)
    signature = b58(selectors.signatures_for_address(alice.pubkey, limit=1)[0][0])
    assert client.get("/explorer/search/", {"q": " 0 "})["Location"] == "/explorer/block/0/"
    assert client.get("/explorer/search/", {"q": signature})["Location"] == f"/explorer/tx/{signature}/"
    assert client.get("/explorer/search/", {"q": alice.address})["Location"] == f"/explorer/address/{alice.address}/"
    for query, message in [("", b"Type a block height"), ("hello world", b"is not a block height"),
                           ("0OIl", b"is not a block height"), ("x" * 5000, b"is not a block height"),
                           ("-1", b"is not a block height"), ("\u0661\u0662", b"is not a block height")]:
        response = client.get("/explorer/search/", {"q": query})
        assert response.status_code == 400 and message in response.content, query
        assert b'name="q"' in response.content  # the search box, to try again


@pytest.mark.parametrize("url, status, message", [
    ("/explorer/block/99999/", 404, "no block at height 99999"),
    ("/explorer/block/99999999999999999999/", 400, "block height must be a whole number"),
    ("/explorer/block/9223372036854775808/", 404, "no block height"),
    ("/explorer/block/abc/", 400, "block height must be a whole number"),
    ("/explorer/?before=x", 400, "block height must be a whole number"),
    (f"/explorer/tx/{b58(bytes(64))}/", 404, "no transaction with the signature"),
    ("/explorer/tx/not-base58!/", 400, "signature"),
    (f"/explorer/tx/{'1' * 200}/", 400, "at most 88"),
    (f"/explorer/address/{b58(bytes(31) + b'x')}/", 404, "the ledger has no account"),
    ("/explorer/address/0OIl/", 400, "address"),
    (f"/explorer/address/{b58(GXT)}/?before=zzz", 400, "signature"),
    ("/explorer/reading/123456/", 404, "no meter reading 123456"),
    ("/explorer/reading/abc/", 400, "reading must be a whole number"),
    ("/explorer/trade/9223372036854775807/", 404, "no trade 9223372036854775807"),
    ("/explorer/trade/-3/", 400, "trade must be a whole number"),
])
def test_bad_and_unknown_input_gets_a_clear_page_never_a_server_error(client, ledger, url, status, message):
    response = client.get(url)
    assert response.status_code == status, response.content[:300]
    assert message in response.content.decode()


def test_a_readings_page_links_to_the_mint_it_caused_and_the_mint_back_to_its_readings(client, ledger):
    zone()
    m = meter(participant())
    oracle_services.readings_ingest([m.signed(1, 500, 100), m.signed(2, 0, 50)], now=READINGS_NOW)
    pending = Reading.objects.order_by("pk").first()
    page = client.get(f"/explorer/reading/{pending.pk}/").content.decode()
    assert "pending" in page and "not settled yet" in page
    oracle_services.settle()
    reading = Reading.objects.select_related("settlement").get(pk=pending.pk)
    signature = reading.settlement.signature
    page = client.get(f"/explorer/reading/{reading.pk}/").content.decode()
    assert f"/explorer/tx/{signature}/" in page and "settled" in page and "minted as GXT" in page
    tx = client.get(f"/explorer/tx/{signature}/").content.decode()
    assert "oracle: settle" in tx and "2 meter reading(s)" in tx and f"/explorer/reading/{reading.pk}/" in tx
    assert f"/explorer/address/{m.row.address}/" in tx
    meter_page = client.get(f"/explorer/address/{m.row.address}/").content.decode()
    assert "the ledger account of meter M-1" in meter_page and f"/explorer/tx/{signature}/" in meter_page


def test_a_trades_page_links_to_its_settlement_transaction(client, market):
    trade = market["inter"]
    page = client.get(f"/explorer/trade/{trade.pk}/").content.decode()
    assert f"/explorer/tx/{trade.ledger_signature}/" in page and "BKK-N" in page
    assert format_units(trade.wheeling, 6) in page and "seller" not in page and "buyer (" not in page
    tx = client.get(f"/explorer/tx/{trade.ledger_signature}/").content.decode()
    assert "trading: settle" in tx and f"/explorer/trade/{trade.pk}/" in tx
    # The buyer's wallet leads to its GXT token account, whose history holds the trade that delivered the energy.
    wallet_page = client.get(f"/explorer/address/{market['buyer'].wallet}/").content.decode()
    assert "a registered consumer&#x27;s wallet" in wallet_page
    assert "buyer" not in wallet_page  # the explorer shows what is on the ledger, never who is behind a wallet
    gxt_account = b58(associated_token_address(parse_address(market["buyer"].wallet), GXT))
    assert f"/explorer/address/{gxt_account}/" in wallet_page
    history = client.get(f"/explorer/address/{gxt_account}/").content.decode()
    assert f"/explorer/tx/{trade.ledger_signature}/" in history


def test_a_transaction_the_ledger_refused_is_shown_with_its_error(client, ledger):
    stranger = Keypair.from_label("explorer stranger")
    tx = signed([transfer_ix(source=ata(stranger), destination=ata(stranger), authority=stranger.pubkey, amount=1)],
                [stranger])
    PendingTransaction.objects.create(signature=tx.signatures[0], wire=tx.wire,
                                      error={"code": "account_not_found", "message": "no such token account"})
    page = client.get(f"/explorer/tx/{b58(tx.signatures[0])}/")
    assert page.status_code == 200
    assert b"refused by the ledger" in page.content and b"account_not_found" in page.content


def test_the_explorer_pages_through_a_long_chain_and_a_long_history(client, ledger):
    alice, bob = wallet("explorer long a", gxt=10**9), wallet("explorer long b")
    for _ in range(60):
        ledger_services.transaction_submit(wire=transfer(alice, bob, 1).wire)
    home = client.get("/explorer/").content.decode()
    assert "Older blocks" in home
    older = home.split('href="?before=')[1].split('"')[0]
    assert client.get(f"/explorer/?before={older}").status_code == 200
    history = client.get(f"/explorer/address/{alice.address}/").content.decode()
    assert history.count("/explorer/tx/") == 50 and "Older transactions" in history
    before = history.split('href="?before=')[1].split('"')[0]
    rest = client.get(f"/explorer/address/{alice.address}/?before={before}").content.decode()
    assert 0 < rest.count("/explorer/tx/") <= 11
