"""Server-rendered pages of the ledger."""

from django.shortcuts import render

from ledger import selectors
from ledger.crypto import b58
from ledger.token_program import mint_address


def home(request):
    tip = selectors.tip_header()
    blocks = selectors.blocks_list(limit=10)
    supplies = {symbol: selectors.mint_get(symbol)[1] for symbol in selectors.TOKENS}
    return render(request, "ledger/home.html", {
        "tip": tip,
        "blocks": [{"height": b.height, "hash": b58(bytes(b.hash)), "tx_count": b.tx_count, "timestamp_ms": b.timestamp_ms}
                   for b in blocks],
        "tokens": [{"symbol": s, "mint": b58(mint_address(s)), "supply": m.supply, "decimals": m.decimals}
                   for s, m in supplies.items()],
    })
