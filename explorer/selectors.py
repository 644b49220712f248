"""What the explorer reads: the ledger through `ledger.selectors` and `ledger.present` (the same decoding as the
JSON APIs), and the platform's tables that point at ledger transactions (readings, trades, registrations).

Every input is text from a URL or the search box: it is parsed here with length limits, and anything that does
not parse raises InvalidInput (shown as a 400 page); anything that parses but does not exist raises NotFound."""

from __future__ import annotations

import sys
from functools import cache

from ledger import present
from ledger import selectors as ledger_selectors
from ledger.config import make_runtime
from ledger.crypto import b58
from ledger.encoding import Transaction
from ledger.errors import InvalidAddress, InvalidInput, NotFound
from ledger.models import PendingTransaction
from ledger.token_program import TOKEN_PROGRAM_ID, associated_token_address, mint_address
from oracle.models import Reading, Settlement
from registry.models import Meter, Participant, Zone
from trading import program as trading_program
from trading.models import Trade

MAX_ID = 2**63 - 1  # the largest id or height a database column holds
PAGE = 50


def parse_number(text: str, what: str) -> int:
    """A block height or a row id from text: digits only, within the database's range."""
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        raise InvalidInput(f"{what} must be a whole number, not {text[:40]!r}")
    value = int(text)
    if value > MAX_ID:
        raise NotFound(f"no {what} {value}")
    return value


def search(query: str) -> tuple[str, str]:
    """Where a search goes: ("block", height), ("tx", signature) or ("address", address), all as text.

    Digits are a block height; base58 text is a transaction signature when it decodes to 64 bytes and an address
    when it decodes to 32. Raises InvalidInput saying what was expected otherwise."""
    query = query.strip()
    if not query:
        raise InvalidInput("Type a block height, a transaction signature or an address to search for.")
    if query.isascii() and query.isdigit():
        return "block", str(parse_number(query, "block height"))
    try:
        return "tx", b58(present.parse_signature(query))
    except InvalidAddress:
        pass
    try:
        return "address", b58(present.parse_address(query))
    except InvalidAddress:
        raise InvalidInput(
            f"{query[:60]!r} is not a block height (digits), a transaction signature (base58, 64 bytes) or an "
            "address (base58, 32 bytes).") from None


# -- blocks and transactions ----------------------------------------------------------------------------------

@cache
def _instruction_names() -> dict[bytes, dict[int, str]]:
    """Each program's instruction names by tag, from the `IX_*` constants of the module that defines it."""
    names = {}
    for program_id, prog in make_runtime().programs.items():
        module = sys.modules[type(prog).__module__]
        names[program_id] = {value: key[3:].lower() for key, value in vars(module).items()
                             if key.startswith("IX_") and isinstance(value, int)}
    return names


def instructions(tx) -> list[dict]:
    """A transaction's instructions as the APIs decode them; where a program has no argument decoder, its
    instruction is still named from its tag."""
    out = []
    for ix in tx.message.instructions:
        decoded = present.instruction(ix)
        if decoded["name"] is None and ix.data:
            decoded["name"] = _instruction_names().get(ix.program_id, {}).get(ix.data[0])
        out.append(decoded)
    return out


def block_page(height_text: str) -> dict:
    height = parse_number(height_text, "block height")
    row, tx_rows = ledger_selectors.block_get(height)
    txs = []
    for tx_row in tx_rows:
        tx = Transaction.decode(bytes(tx_row.wire))
        txs.append({"signature": b58(bytes(tx_row.signature)), "position": tx_row.position,
                    "signers": [b58(k) for k in tx.message.signers()],
                    "instructions": [f"{i['program'] or i['program_id'][:8]}: {i['name'] or '?'}" for i in instructions(tx)]})
    tip = ledger_selectors.block_height()
    return {"header": present.block_header(row), "transactions": txs, "has_next": height < tip}


def blocks_page(before_text: str | None) -> dict:
    before = parse_number(before_text, "block height") if before_text else None
    rows = ledger_selectors.blocks_list(before=before, limit=PAGE)
    return {"blocks": [present.block_header(r) for r in rows],
            "older": rows[-1].height if rows and rows[-1].height > 0 else None,
            "tip": ledger_selectors.block_height()}


def _links_of(signature: str) -> dict:
    """The platform's rows that this transaction settled or registered: a trade, readings, a registration."""
    settlement = Settlement.objects.filter(signature=signature).first()
    readings = list(settlement.readings.order_by("pk").values_list("pk", flat=True)[:PAGE]) if settlement else []
    return {
        "trade": Trade.objects.filter(ledger_signature=signature).values_list("pk", flat=True).first(),
        "settlement": settlement,
        "readings": readings,
        "readings_more": settlement.readings_count - len(readings) if settlement else 0,
    }


def transaction_page(signature_text: str) -> dict:
    """A committed transaction decoded, with the block that holds it. A signature the ledger has not committed
    is shown with what the platform knows of it: waiting for the sequencer, refused by it (its error), or a
    meter settlement that failed or expired; otherwise NotFound."""
    signature = present.parse_signature(signature_text)
    text = b58(signature)
    try:
        row, tx, block = ledger_selectors.transaction_get(signature)
    except NotFound:
        return _uncommitted(signature, text)
    body = present.committed_transaction(tx, block, row.logs)
    return {"signature": text, "status": "committed", "error": body["meta"]["err"], "block": block.height,
            "logs": body["meta"]["log_messages"],
            "block_time_ms": block.timestamp_ms, "position": row.position,
            "fee_payer": b58(tx.message.fee_payer), "signers": [b58(k) for k in tx.message.signers()],
            "recent_blockhash": b58(tx.message.recent_blockhash), "instructions": instructions(tx),
            "size": len(tx.wire), **_links_of(text)}


def _uncommitted(signature: bytes, text: str) -> dict:
    pending = PendingTransaction.objects.filter(signature=signature).first()
    if pending is not None:
        status = "refused by the ledger" if pending.error else "waiting for the sequencer"
        tx = Transaction.decode(bytes(pending.wire))
        return {"signature": text, "status": status, "error": pending.error, "signers": [b58(k) for k in tx.message.signers()],
                "fee_payer": b58(tx.message.fee_payer), "instructions": instructions(tx), **_links_of(text)}
    settlement = Settlement.objects.filter(signature=text).exclude(status=Settlement.Status.COMMITTED).first()
    if settlement is not None:
        return {"signature": text, "status": f"meter settlement {settlement.status}", "error": settlement.error,
                **_links_of(text)}
    raise NotFound(f"no transaction with the signature {text}")


# -- accounts -------------------------------------------------------------------------------------------------

def _label(address: str, key: bytes) -> str | None:
    """What the platform knows this address to be (never who is behind a wallet)."""
    if key in (mint_address("GXT"), mint_address("THB")):
        return f"the {'GXT' if key == mint_address('GXT') else 'THB'} token mint"
    if key == trading_program.market_address():
        return "the market (trading program)"
    if (role := Participant.objects.filter(wallet=address).values_list("role", flat=True).first()) is not None:
        return f"a registered {role}'s wallet"
    if (meter := Meter.objects.filter(address=address).select_related("zone").first()) is not None:
        return f"the ledger account of meter {meter.serial} ({meter.type}, zone {meter.zone.code})"
    if (zone := Zone.objects.filter(address=address).first()) is not None:
        return f"the ledger account of zone {zone.code} ({zone.name})"
    if (program := make_runtime().programs.get(key)) is not None:
        return f"the {program.name} program"
    return None


def address_page(address_text: str, before_text: str | None = None) -> dict:
    key = present.parse_address(address_text)
    address = b58(key)
    before = present.parse_signature(before_text) if before_text else None
    try:
        acc = ledger_selectors.account_get(key)
        account = present.account(bytes(acc.owner), bytes(acc.data), encoding="jsonParsed")
        owner_name = _label(b58(bytes(acc.owner)), bytes(acc.owner))
    except NotFound:
        account, owner_name = None, None
    wallet = None
    if present.is_wallet(key):
        wallet = [{"symbol": symbol, "token_account": b58(associated_token_address(key, mint_address(symbol))), **amount}
                  for symbol, amount in present.balances(key).items()]
    history = present.signatures_for_address(key, limit=PAGE, before=before)
    label = _label(address, key)
    if account is None and wallet is None and not history and label is None:
        raise NotFound(f"the ledger has no account, balance or transaction for {address}")
    parsed = account["data"].get("parsed") if account and isinstance(account["data"], dict) else None
    return {"address": address, "label": label, "account": account, "owner_name": owner_name,
            "token": parsed["info"] if parsed and parsed["type"] == "account" else None,
            "mint": parsed["info"] if parsed and parsed["type"] == "mint" else None,
            "is_token_program": account is not None and account["owner"] == b58(TOKEN_PROGRAM_ID),
            "wallet": wallet, "history": history,
            "older": history[-1]["signature"] if len(history) == PAGE else None}


# -- the platform's records -----------------------------------------------------------------------------------

def reading_page(id_text: str) -> dict:
    reading = Reading.objects.filter(pk=parse_number(id_text, "reading")).select_related(
        "meter__zone", "settlement").first()
    if reading is None:
        raise NotFound(f"no meter reading {id_text.strip()}")
    return {"reading": reading, "settlement": reading.settlement}


def trade_page(id_text: str) -> dict:
    trade = Trade.objects.filter(pk=parse_number(id_text, "trade")).select_related(
        "buyer_zone", "seller_zone").first()
    if trade is None:
        raise NotFound(f"no trade {id_text.strip()}")
    return {"trade": trade}
