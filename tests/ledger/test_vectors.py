"""The test vectors of docs/PROTOCOL.md, recomputed from the document itself.

Every ```json block with a "vector" key is re-derived twice: with the ledger's code, and, where one exists, with an
implementation that shares nothing with it (OpenSSL's Ed25519 through `cryptography`, Solana's Rust code through
`solders`, hashlib and struct for the byte layouts). A change to the protocol that the document does not follow,
or a document edit that the code does not follow, fails here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from solders.keypair import Keypair as SoldersKeypair
from solders.pubkey import Pubkey
from solders.signature import Signature as SoldersSignature

from ledger.chain import BLOCKHASH_WINDOW, GenesisConfig, LedgerState, replay_block
from ledger.crypto import (
    MAX_SEED_LEN,
    MAX_SEEDS,
    Keypair,
    b58,
    create_program_address,
    find_program_address,
    is_on_curve,
    parse_address,
    verify,
)
from ledger.encoding import (
    MAX_ACCOUNTS_PER_INSTRUCTION,
    MAX_INSTRUCTIONS,
    MAX_SIGNATURES,
    MAX_TX_SIZE,
    AccountMeta,
    BlockHeader,
    Instruction,
    Message,
    Transaction,
)
from ledger.errors import InvalidAddress, InvalidSeeds
from ledger.merkle import StateCommitment, account_hash, leaf_hash, node_hash, tx_root
from ledger.runtime import MAX_CPI_DEPTH, Runtime
from ledger.token_program import (
    GXT_DECIMALS,
    THB_DECIMALS,
    TOKEN_PROGRAM_ID,
    Mint,
    TokenAccount,
    TokenProgram,
    associated_token_address,
    burn_ix,
    create_account_ix,
    mint_address,
    mint_to_ix,
    set_mint_authority_ix,
    transfer_ix,
)

from oracle.program import ORACLE_PROGRAM_ID  # noqa: E402
from oracle.reading import Reading  # noqa: E402
from oracle.reading import from_json as reading_from_json  # noqa: E402
from registry.program import REGISTRY_PROGRAM_ID  # noqa: E402
from trading.order_message import OrderMessage  # noqa: E402
from trading.order_message import from_json as order_from_json  # noqa: E402

DOC = Path(__file__).resolve().parents[2] / "docs" / "PROTOCOL.md"
TEXT = DOC.read_text(encoding="utf-8")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)


def _vectors() -> dict[str, dict]:
    found: dict[str, dict] = {}
    for lang, body in FENCE.findall(TEXT):
        if lang != "json":
            continue
        data = json.loads(body)
        name = data["vector"]
        assert name not in found, f"vector {name!r} appears twice in PROTOCOL.md"
        found[name] = data
    return found


VECTORS = _vectors()
V = VECTORS.__getitem__
EXPECTED_VECTORS = {
    "keypairs", "base58", "signatures", "program-ids", "pda", "on-curve", "mints", "associated-token-accounts",
    "account-data", "token-instructions", "genesis-block", "transfer-transaction", "two-signer-transaction",
    "block-1", "transaction-merkle-root", "state-root", "meter-reading", "order",
}
PDA_MARKER = b"ProgramDerivedAddress"


# -- independent implementations, written from the document -------------------------------------------------

def ed25519_public_key(seed: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


def ed25519_sign(seed: bytes, message: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).sign(message)


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> None:
    Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)  # raises InvalidSignature


def solders_sign(seed: bytes, message: bytes) -> bytes:
    return bytes(SoldersKeypair.from_seed(seed).sign_message(message))


def address_bytes(text: str) -> bytes:
    return bytes(Pubkey.from_string(text))


def rfc6962_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, recursively: split at the largest power of two smaller than n."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + rfc6962_root(leaves[:k]) + rfc6962_root(leaves[k:])).digest()


def state_root(accounts: list[tuple[bytes, bytes, bytes]]) -> bytes:
    buckets: list[list[tuple[bytes, bytes]]] = [[] for _ in range(256)]
    for address, owner, data in accounts:
        if owner == bytes(32) and not data:
            continue
        buckets[address[0]].append((address, hashlib.sha256(address + owner + data).digest()))
    level = [hashlib.sha256(b"".join(h for _, h in sorted(bucket))).digest() for bucket in buckets]
    while len(level) > 1:
        level = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
    return level[0]


def encode_message(vec: dict) -> bytes:
    out = b"GXTX" + bytes([1]) + address_bytes(vec["fee_payer"]) + address_bytes(vec["recent_blockhash"])
    out += bytes([len(vec["instructions"])])
    for ix in vec["instructions"]:
        out += address_bytes(ix["program_id"]) + bytes([len(ix["accounts"])])
        for entry in ix["accounts"]:
            out += address_bytes(entry["address"]) + bytes([(1 if entry["signer"] else 0) | (2 if entry["writable"] else 0)])
        data = bytes.fromhex(ix["data"])
        out += struct.pack("<H", len(data)) + data
    return out


def required_signers(vec: dict) -> list[str]:
    order = [vec["fee_payer"]]
    for ix in vec["instructions"]:
        for entry in ix["accounts"]:
            if entry["signer"] and entry["address"] not in order:
                order.append(entry["address"])
    return order


def parse_header(raw: bytes) -> dict:
    assert len(raw) == 153
    assert raw[0:4] == b"GXBK" and raw[4] == 1
    return {
        "height": int.from_bytes(raw[5:13], "little"),
        "parent_hash": raw[13:45].hex(),
        "timestamp_ms": int.from_bytes(raw[45:53], "little", signed=True),
        "tx_root": raw[53:85].hex(),
        "state_root": raw[85:117].hex(),
        "tx_count": int.from_bytes(raw[117:121], "little"),
        "producer": str(Pubkey.from_bytes(raw[121:153])),
    }


def header_from_fields(fields: dict) -> BlockHeader:
    return BlockHeader(
        fields["height"], bytes.fromhex(fields["parent_hash"]), fields["timestamp_ms"], bytes.fromhex(fields["tx_root"]),
        bytes.fromhex(fields["state_root"]), fields["tx_count"], parse_address(fields["producer"]),
    )


def labelled(label: str) -> Keypair:
    return Keypair.from_label(label)


def message_from_vector(vec: dict) -> Message:
    return Message(
        parse_address(vec["fee_payer"]),
        parse_address(vec["recent_blockhash"]),
        tuple(
            Instruction(
                parse_address(ix["program_id"]),
                tuple(AccountMeta(parse_address(e["address"]), e["signer"], e["writable"]) for e in ix["accounts"]),
                bytes.fromhex(ix["data"]),
            )
            for ix in vec["instructions"]
        ),
    )


def account_triples(entries: list[dict]) -> list[tuple[bytes, bytes, bytes]]:
    return [(parse_address(e["address"]), parse_address(e["owner"]), bytes.fromhex(e["data"])) for e in entries]


def genesis_state() -> tuple[LedgerState, object]:
    vec = V("genesis-block")
    state = LedgerState(Runtime([TokenProgram()]))
    config = GenesisConfig(labelled(vec["validator_label"]), labelled(vec["authority_label"]), vec["header"]["timestamp_ms"])
    return state, state.genesis(config)


# -- the document ---------------------------------------------------------------------------------------------

def test_the_document_holds_every_vector_exactly_once():
    assert set(VECTORS) == EXPECTED_VECTORS


def test_every_address_and_hash_in_the_prose_is_one_the_vectors_derive():
    """Prose tables (mint addresses, program ids, the empty root) cannot go stale behind the vectors."""
    prose = FENCE.sub("", TEXT)
    values = set()

    def collect(node):
        if isinstance(node, dict):
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)
        elif isinstance(node, str):
            values.add(node)

    collect(VECTORS)
    for token in re.findall(r"`([1-9A-HJ-NP-Za-km-z]{32,44})`", prose):
        assert token in values, f"{token} in PROTOCOL.md's prose is in no vector"
    for token in re.findall(r"\b[0-9a-f]{64}\b", prose):
        assert token in values, f"{token} in PROTOCOL.md's prose is in no vector"


@pytest.mark.parametrize("vector, field", [("transfer-transaction", "wire"), ("genesis-block", "header_bytes"),
                                           ("order", "bytes")])
def test_the_annotated_byte_tables_spell_out_the_vectors(vector, field):
    tables = [body for lang, body in FENCE.findall(TEXT) if lang == "text" and body.startswith("offset")]
    expected = bytes.fromhex(V(vector)[field])
    for table in tables:
        rows = [re.split(r"\s{2,}", line.strip()) for line in table.splitlines()[1:]]
        raw = b"".join(bytes.fromhex(row[-1]) for row in rows)
        if raw != expected:
            continue
        position = 0
        for offset, length, _, hex_bytes in rows:
            assert int(offset) == position and int(length) == len(hex_bytes) // 2
            position += int(length)
        return
    pytest.fail(f"no annotated table spells out {vector}.{field}")


# -- keys, signatures, addresses ------------------------------------------------------------------------------

def test_keypairs_derive_the_documented_public_keys_and_addresses():
    for key in V("keypairs")["keys"]:
        seed = bytes.fromhex(key["seed"])
        if "label" in key:
            assert hashlib.sha256(key["label"].encode()).digest() == seed
            assert labelled(key["label"]).seed == seed
        kp = Keypair.from_seed(seed)
        assert kp.pubkey.hex() == key["public_key"]
        assert ed25519_public_key(seed).hex() == key["public_key"]
        assert bytes(SoldersKeypair.from_seed(seed).pubkey()).hex() == key["public_key"]
        assert kp.address == key["address"] == str(Pubkey.from_bytes(kp.pubkey))


def test_base58_vectors_encode_and_invalid_addresses_are_refused():
    vec = V("base58")
    for case in vec["valid"]:
        raw = bytes.fromhex(case["hex"])
        assert b58(raw) == case["base58"] == str(Pubkey.from_bytes(raw))
        assert parse_address(case["base58"]) == raw
    for case in vec["invalid_addresses"]:
        reason = case["reason"]
        expected = "must be a non-empty" if reason == "empty" else "is not valid base58" if "alphabet" in reason else reason
        with pytest.raises(InvalidAddress, match=expected):
            parse_address(case["text"])
        with pytest.raises(ValueError):
            Pubkey.from_string(case["text"])


def test_signatures_match_three_ed25519_implementations():
    for case in V("signatures")["cases"]:
        seed, message = bytes.fromhex(case["seed"]), bytes.fromhex(case["message"])
        kp = Keypair.from_seed(seed)
        assert kp.pubkey.hex() == case["public_key"] == ed25519_public_key(seed).hex()
        assert kp.sign(message).hex() == case["signature"]
        assert ed25519_sign(seed, message).hex() == case["signature"]
        assert solders_sign(seed, message).hex() == case["signature"]
        assert verify(kp.pubkey, message, bytes.fromhex(case["signature"]))


def test_program_ids_are_sha256_of_their_preimage():
    programs = {p["name"]: p for p in V("program-ids")["programs"]}
    assert set(programs) == {"token", "registry", "oracle"}
    for program in programs.values():
        assert program["preimage"] == f"GridTokenX program: {program['name']}"
        digest = hashlib.sha256(program["preimage"].encode("ascii")).digest()
        assert digest.hex() == program["program_id_hex"]
        assert str(Pubkey.from_bytes(digest)) == program["program_id"]
    assert b58(TOKEN_PROGRAM_ID) == programs["token"]["program_id"]
    assert b58(REGISTRY_PROGRAM_ID) == programs["registry"]["program_id"]
    assert b58(ORACLE_PROGRAM_ID) == programs["oracle"]["program_id"]


def test_the_meter_reading_vector_rebuilds_and_verifies_with_two_libraries():
    vec = V("meter-reading")
    reading, signature = reading_from_json(vec["json"])
    raw = bytes.fromhex(vec["bytes"])
    assert reading.serialize() == raw and len(raw) == 86
    assert ed25519_public_key(bytes.fromhex(vec["seed"])) == reading.meter
    assert hashlib.sha256(raw).hexdigest() == vec["id"]
    assert signature.hex() == vec["signature"] == ed25519_sign(bytes.fromhex(vec["seed"]), raw).hex()
    ed25519_verify(reading.meter, raw, signature)
    assert reading.verify(signature)
    assert Reading.deserialize(raw) == reading


def test_the_order_vector_rebuilds_from_the_documented_layout_and_verifies_with_two_libraries():
    vec = V("order")
    body = vec["json"]
    raw = bytes.fromhex(vec["bytes"])
    seed = bytes.fromhex(vec["seed"])
    owner = address_bytes(body["owner"])
    # The layout as the document's table states it, written with struct rather than the trading code.
    codes = {"buy": 1, "sell": 2, "limit": 1, "market": 2, "gtc": 1, "ioc": 2, "fok": 3}
    documented = (b"GXOR" + bytes([1]) + owner + struct.pack("<Q", body["nonce"])
                  + bytes([codes[body["side"]], codes[body["kind"]], codes[body["tif"]], int(body["cross_zone"])])
                  + body["zone"].encode("ascii").ljust(16, b"\0")
                  + struct.pack("<QQq", body["quantity"], body["price"], body["expires_at"]))
    assert documented == raw and len(raw) == 89
    assert ed25519_public_key(seed) == owner
    assert hashlib.sha256(raw).hexdigest() == vec["digest"]
    signature = bytes(SoldersSignature.from_string(body["signature"]))
    assert signature.hex() == vec["signature"] == ed25519_sign(seed, raw).hex() == solders_sign(seed, raw).hex()
    ed25519_verify(owner, raw, signature)
    message, parsed_signature = order_from_json(body)
    assert parsed_signature == signature and message.serialize() == raw
    assert message.digest().hex() == vec["digest"] and message.verify(signature)
    assert message.to_json(signature) == body
    assert message.sign(Keypair.from_seed(seed)) == signature
    # The defaults a client may leave out are the ones signed.
    short = {k: v for k, v in body.items() if k not in ("kind", "tif", "cross_zone", "expires_at")}
    assert order_from_json(short)[0] == OrderMessage(owner, body["nonce"], body["side"], "limit", "gtc", False,
                                                     body["zone"], body["quantity"], body["price"], 0)


def test_the_pda_vector_matches_solana_bump_by_bump():
    vec = V("pda")
    program_id = parse_address(vec["program_id"])
    seeds = [bytes.fromhex(s) for s in vec["seeds"]]
    for candidate in vec["candidates"]:
        bump = bytes([candidate["bump"]])
        digest = hashlib.sha256(b"".join(seeds) + bump + program_id + PDA_MARKER).digest()
        assert digest.hex() == candidate["hash"]
        assert is_on_curve(digest) is candidate["on_curve"] is Pubkey.from_bytes(digest).is_on_curve()
        if candidate["on_curve"]:
            with pytest.raises(InvalidSeeds):
                create_program_address(seeds + [bump], program_id)
    assert [c["on_curve"] for c in vec["candidates"]] == [True] * (len(vec["candidates"]) - 1) + [False]
    assert vec["candidates"][-1]["bump"] == vec["bump"]
    address = bytes.fromhex(vec["address_hex"])
    assert b58(address) == vec["address"]
    assert find_program_address(seeds, program_id) == (address, vec["bump"])
    assert create_program_address(seeds + [bytes([vec["bump"]])], program_id) == address
    solana_address, solana_bump = Pubkey.find_program_address(seeds, Pubkey.from_bytes(program_id))
    assert (bytes(solana_address), solana_bump) == (address, vec["bump"])
    assert bytes(Pubkey.create_program_address(seeds + [bytes([vec["bump"]])], Pubkey.from_bytes(program_id))) == address


def test_on_curve_edge_cases_match_solana():
    for point in V("on-curve")["points"]:
        raw = bytes.fromhex(point["bytes"])
        assert is_on_curve(raw) is point["on_curve"], point["what"]
        assert Pubkey.from_bytes(raw).is_on_curve() is point["on_curve"], point["what"]


def test_mint_addresses_are_pdas_of_mint_and_symbol():
    mints = {m["symbol"]: m for m in V("mints")["mints"]}
    assert set(mints) == {"GXT", "THB"}
    assert (mints["GXT"]["decimals"], mints["THB"]["decimals"]) == (GXT_DECIMALS, THB_DECIMALS)
    for symbol, mint in mints.items():
        seeds = [bytes.fromhex(s) for s in mint["seeds"]]
        assert seeds == [b"mint", symbol.encode("ascii")]
        assert b58(mint_address(symbol)) == mint["address"]
        assert find_program_address(seeds, TOKEN_PROGRAM_ID) == (parse_address(mint["address"]), mint["bump"])
        solana_address, solana_bump = Pubkey.find_program_address(seeds, Pubkey.from_bytes(TOKEN_PROGRAM_ID))
        assert (str(solana_address), solana_bump) == (mint["address"], mint["bump"])


def test_associated_token_addresses_match_solana_s_derivation():
    for account in V("associated-token-accounts")["accounts"]:
        owner, mint = parse_address(account["owner"]), parse_address(account["mint"])
        assert b58(associated_token_address(owner, mint)) == account["address"]
        solana_address, solana_bump = Pubkey.find_program_address([owner, mint], Pubkey.from_bytes(TOKEN_PROGRAM_ID))
        assert (str(solana_address), solana_bump) == (account["address"], account["bump"])


# -- the token program --------------------------------------------------------------------------------------

def test_account_data_has_the_documented_layout():
    vec = V("account-data")
    mint = vec["mint"]
    data = bytes.fromhex(mint["data"])
    packed = Mint(parse_address(mint["authority"]), mint["supply"], mint["decimals"], mint["symbol"]).pack()
    assert packed == data
    assert Mint.unpack(data) == Mint(parse_address(mint["authority"]), mint["supply"], mint["decimals"], mint["symbol"])
    assert len(data) == 50 and data[0] == 1
    assert data[1:33] == address_bytes(mint["authority"])
    assert int.from_bytes(data[33:41], "little") == mint["supply"]
    assert data[41] == mint["decimals"]
    assert data[42:50] == mint["symbol"].encode("ascii").ljust(8, b"\x00")

    account = vec["token_account"]
    data = bytes.fromhex(account["data"])
    expected = TokenAccount(parse_address(account["mint"]), parse_address(account["owner"]), account["amount"])
    assert expected.pack() == data and TokenAccount.unpack(data) == expected
    assert len(data) == 73 and data[0] == 2
    assert data[1:33] == address_bytes(account["mint"])
    assert data[33:65] == address_bytes(account["owner"])
    assert int.from_bytes(data[65:73], "little") == account["amount"]

    after_block_1 = {e["address"]: e["data"] for e in V("block-1")["accounts_after"]}
    assert after_block_1[b58(mint_address("GXT"))] == mint["data"]
    assert after_block_1[b58(associated_token_address(parse_address(account["owner"]), mint_address("GXT")))] == account["data"]


def test_token_instruction_builders_produce_the_documented_bytes():
    builders = {
        "create_account": lambda v: create_account_ix(
            payer=parse_address(v["payer"]), owner=parse_address(v["owner"]), mint=parse_address(v["mint"])),
        "transfer": lambda v: transfer_ix(source=parse_address(v["source"]), destination=parse_address(v["destination"]),
                                          authority=parse_address(v["authority"]), amount=v["amount"]),
        "mint_to": lambda v: mint_to_ix(mint=parse_address(v["mint"]), destination=parse_address(v["destination"]),
                                        authority=parse_address(v["authority"]), amount=v["amount"]),
        "burn": lambda v: burn_ix(source=parse_address(v["source"]), mint=parse_address(v["mint"]),
                                  authority=parse_address(v["authority"]), amount=v["amount"]),
        "set_mint_authority": lambda v: set_mint_authority_ix(
            mint=parse_address(v["mint"]), authority=parse_address(v["authority"]),
            new_authority=parse_address(v["new_authority"])),
    }
    tags = {"create_account": 1, "transfer": 2, "mint_to": 3, "burn": 4, "set_mint_authority": 5}
    seen = set()
    for vec in V("token-instructions")["instructions"]:
        name = vec["instruction"]
        seen.add(name)
        ix = builders[name](vec)
        assert ix.program_id == TOKEN_PROGRAM_ID
        assert ix.data.hex() == vec["data"]
        assert [(b58(a.pubkey), a.is_signer, a.is_writable) for a in ix.accounts] == [
            (e["address"], e["signer"], e["writable"]) for e in vec["accounts"]
        ]
        if "amount" in vec:
            independent = bytes([tags[name]]) + vec["amount"].to_bytes(8, "little")
        elif name == "set_mint_authority":
            independent = bytes([tags[name]]) + address_bytes(vec["new_authority"])
        else:
            independent = bytes([tags[name]])
        assert independent.hex() == vec["data"]
        if name == "create_account":
            owner, mint = address_bytes(vec["owner"]), address_bytes(vec["mint"])
            ata = Pubkey.find_program_address([owner, mint], Pubkey.from_bytes(TOKEN_PROGRAM_ID))[0]
            assert vec["accounts"][1]["address"] == str(ata)
    assert seen == set(builders)


# -- transactions ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["transfer-transaction", "two-signer-transaction"])
def test_transaction_vectors_rebuild_byte_for_byte(name):
    vec = V(name)
    message = message_from_vector(vec)
    message_bytes = bytes.fromhex(vec["message"])
    assert message.serialize() == message_bytes
    assert encode_message(vec) == message_bytes

    signers = [labelled(label) for label in vec["signers"]]
    assert [kp.address for kp in signers] == required_signers(vec)
    assert message.signers() == [kp.pubkey for kp in signers]

    tx = Transaction.build(message, list(reversed(signers)))
    assert [s.hex() for s in tx.signatures] == vec["signatures"]
    for kp, signature in zip(signers, vec["signatures"]):
        assert ed25519_sign(kp.seed, message_bytes).hex() == signature
        assert solders_sign(kp.seed, message_bytes).hex() == signature
        ed25519_verify(kp.pubkey, message_bytes, bytes.fromhex(signature))

    wire = bytes.fromhex(vec["wire"])
    assert tx.wire == wire
    assert wire == bytes([len(signers)]) + b"".join(bytes.fromhex(s) for s in vec["signatures"]) + message_bytes
    assert base64.b64decode(vec["wire_base64"], validate=True) == wire
    assert tx.txid == vec["txid"] == str(SoldersSignature.from_bytes(bytes.fromhex(vec["signatures"][0])))

    decoded = Transaction.decode(wire)
    assert decoded.message == message and decoded.message_bytes == message_bytes
    decoded.verify_signatures()


def test_the_transactions_name_the_genesis_block_as_recent_blockhash():
    genesis = V("genesis-block")["hash"]
    assert V("transfer-transaction")["recent_blockhash"] == genesis
    assert V("two-signer-transaction")["recent_blockhash"] == genesis


# -- blocks ---------------------------------------------------------------------------------------------------

def _check_block_vector(vec: dict, header: BlockHeader, block_hash: bytes, signature: bytes) -> None:
    fields = vec["header"]
    raw = bytes.fromhex(vec["header_bytes"])
    assert header.serialize() == raw
    assert header == header_from_fields(fields)
    assert parse_header(raw) == fields
    assert block_hash.hex() == vec["hash_hex"] == hashlib.sha256(raw).hexdigest()
    assert b58(block_hash) == vec["hash"]
    assert signature.hex() == vec["signature"]
    ed25519_verify(address_bytes(fields["producer"]), block_hash, signature)


def test_the_genesis_block_rebuilds_byte_for_byte():
    vec = V("genesis-block")
    state, block = genesis_state()
    _check_block_vector(vec, block.header, block.hash, block.signature)
    fields = vec["header"]
    assert fields["height"] == 0 and fields["parent_hash"] == "00" * 32 and fields["tx_count"] == 0
    assert bytes.fromhex(fields["tx_root"]) == hashlib.sha256(b"").digest()
    assert fields["producer"] == labelled(vec["validator_label"]).address
    accounts = account_triples(vec["accounts"])
    assert {a: (o, d) for a, o, d in accounts} == state.accounts
    assert state_root(accounts).hex() == fields["state_root"]
    for address, owner, data in accounts:
        mint = Mint.unpack(data)
        assert owner == TOKEN_PROGRAM_ID and address == mint_address(mint.symbol)
        assert mint.authority == labelled(vec["authority_label"]).pubkey and mint.supply == 0


def test_the_development_genesis_is_the_documented_one(settings):
    """The documented genesis is what the default configuration builds (labels and genesis time)."""
    from ledger import config

    vec = V("genesis-block")
    settings.LEDGER_VALIDATOR_SEED = ""
    settings.LEDGER_AUTHORITY_SEED = ""
    config.genesis_config.cache_clear()
    try:
        genesis = config.genesis_config()
    finally:
        config.genesis_config.cache_clear()
    assert genesis.validator == labelled(vec["validator_label"])
    assert genesis.authority == labelled(vec["authority_label"])
    if "LEDGER_GENESIS_TIME_MS" not in os.environ:
        assert genesis.timestamp_ms == vec["header"]["timestamp_ms"]


def test_block_1_rebuilds_and_replays_byte_for_byte():
    vec = V("block-1")
    genesis = V("genesis-block")
    state, _ = genesis_state()
    wires = [base64.b64decode(w, validate=True) for w in vec["transactions"]]
    txs = [Transaction.decode(w) for w in wires]
    for tx, txid in zip(txs, vec["txids"], strict=True):
        tx.verify_signatures()
        assert tx.txid == txid == str(SoldersSignature.from_bytes(tx.signature))
        assert b58(tx.message.recent_blockhash) == genesis["hash"]
        offset = 1 + 64 * tx.wire[0]
        for key, signature in zip(tx.message.signers(), tx.signatures):
            ed25519_verify(key, tx.wire[offset:], signature)
    assert V("transfer-transaction")["wire_base64"] in vec["transactions"]
    assert V("two-signer-transaction")["wire_base64"] in vec["transactions"]

    validator = labelled(genesis["validator_label"])
    block, rejected = state.produce(txs, vec["header"]["timestamp_ms"], validator)
    assert rejected == []
    _check_block_vector(vec, block.header, block.hash, block.signature)

    fields = vec["header"]
    assert fields["height"] == 1 and fields["parent_hash"] == genesis["hash_hex"]
    assert fields["tx_count"] == len(wires)
    assert tx_root(wires).hex() == fields["tx_root"] == rfc6962_root(wires).hex()
    accounts = account_triples(vec["accounts_after"])
    assert {a: (o, d) for a, o, d in accounts} == state.accounts
    assert state_root(accounts).hex() == fields["state_root"]

    replayed, _ = genesis_state()
    replay_block(replayed, header_from_fields(fields), bytes.fromhex(vec["hash_hex"]), bytes.fromhex(vec["signature"]),
                 txs, validator.pubkey)
    assert replayed.accounts == state.accounts


def test_the_limits_table_states_the_code_s_limits():
    rows = {
        "transaction size (wire bytes)": f"{MAX_TX_SIZE}",
        "required signers, signatures per transaction": f"1 to {MAX_SIGNATURES}",
        "instructions per transaction": f"1 to {MAX_INSTRUCTIONS}",
        "accounts per instruction": f"0 to {MAX_ACCOUNTS_PER_INSTRUCTION}",
        "seeds for a PDA": f"{MAX_SEEDS}, each at most {MAX_SEED_LEN} bytes",
        "recent blockhash window": f"{BLOCKHASH_WINDOW} blocks",
        "cross-program call depth": f"{MAX_CPI_DEPTH}",
    }
    for limit, value in rows.items():
        assert re.search(rf"^\| {re.escape(limit)} \| {re.escape(value)}\b", TEXT, re.M), limit


# -- Merkle and state roots ---------------------------------------------------------------------------------

def test_transaction_merkle_roots_match_rfc_6962():
    cases = V("transaction-merkle-root")["cases"]
    assert [len(c["leaves"]) for c in cases] == [0, 1, 2, 3]
    for case in cases:
        leaves = [bytes.fromhex(x) for x in case["leaves"]]
        hashes = [hashlib.sha256(b"\x00" + x).digest() for x in leaves]
        assert [h.hex() for h in hashes] == case.get("leaf_hashes", [])
        assert [leaf_hash(x) for x in leaves] == hashes
        if "node_0_1" in case:
            assert hashlib.sha256(b"\x01" + hashes[0] + hashes[1]).hexdigest() == case["node_0_1"]
            assert node_hash(hashes[0], hashes[1]).hex() == case["node_0_1"]
        assert tx_root(leaves).hex() == case["root"] == rfc6962_root(leaves).hex()
    three = cases[3]
    assert three["root"] == hashlib.sha256(
        b"\x01" + bytes.fromhex(three["node_0_1"]) + bytes.fromhex(three["leaf_hashes"][2])).hexdigest()


def test_the_level_by_level_tree_is_rfc_6962_for_every_size():
    for n in range(0, 130):
        leaves = [n.to_bytes(2, "little") + i.to_bytes(2, "little") for i in range(n)]
        assert tx_root(leaves) == rfc6962_root(leaves), n


def test_the_state_root_vector_rebuilds_bucket_by_bucket():
    vec = V("state-root")
    accounts = [(bytes.fromhex(a["address_hex"]), bytes.fromhex(a["owner_hex"]), bytes.fromhex(a["data"]))
                for a in vec["accounts"]]
    absent = [(bytes.fromhex(a["address_hex"]), bytes.fromhex(a["owner_hex"]), bytes.fromhex(a["data"]))
              for a in vec["absent"]]
    for entry, (address, owner, data) in zip(vec["accounts"], accounts):
        assert hashlib.sha256(address + owner + data).hexdigest() == entry["account_hash"]
        assert account_hash(address, owner, data).hex() == entry["account_hash"]
    assert vec["empty_bucket_hash"] == hashlib.sha256(b"").hexdigest()

    hashes = {a: hashlib.sha256(a + o + d).digest() for a, o, d in accounts}
    for bucket in vec["buckets"]:
        members = sorted(a for a in hashes if a[0] == bucket["bucket"])
        assert [m.hex() for m in members] == bucket["accounts_in_order"]
        assert hashlib.sha256(b"".join(hashes[m] for m in members)).hexdigest() == bucket["hash"]
    assert {b["bucket"] for b in vec["buckets"]} == {a[0] for a in hashes}

    assert state_root(accounts + absent).hex() == vec["root"]
    commitment = StateCommitment()
    for address, owner, data in accounts + absent:
        commitment.put(address, owner, data)
    assert commitment.root().hex() == vec["root"]
    bucket_hashes = commitment.bucket_hashes()
    for bucket in vec["buckets"]:
        assert bucket_hashes[bucket["bucket"]].hex() == bucket["hash"]
    listed = {b["bucket"] for b in vec["buckets"]}
    assert all(h.hex() == vec["empty_bucket_hash"] for i, h in enumerate(bucket_hashes) if i not in listed)
