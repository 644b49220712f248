"""The ledger explorer: public, server-rendered pages of blocks, transactions, addresses, meter readings and
trades, and a search box. Bad input is a 400 page saying what was expected, an unknown id a 404 page."""

from __future__ import annotations

from functools import wraps

from django.shortcuts import redirect, render
from django.urls import reverse

from explorer import selectors
from ledger.errors import GridTokenXError


def _page(template: str):
    """Render `template` with what the view returns; an application error becomes the explorer's error page
    with the error's status (400 for input that does not parse, 404 for what does not exist)."""

    def wrap(view):
        @wraps(view)
        def run(request, *args, **kwargs):
            try:
                context = view(request, *args, **kwargs)
            except GridTokenXError as exc:
                return error_page(request, exc.message, exc.status)
            return render(request, template, context)

        return run

    return wrap


def error_page(request, message: str, status: int):
    title = {400: "Not understood", 404: "Not found"}.get(status, "Unavailable")
    return render(request, "explorer/error.html", {"title": title, "message": message,
                                                   "query": request.GET.get("q", "")}, status=status)


@_page("explorer/home.html")
def home(request):
    return selectors.blocks_page(request.GET.get("before"))


def search(request):
    query = request.GET.get("q", "")
    try:
        kind, key = selectors.search(query)
    except GridTokenXError as exc:
        return error_page(request, exc.message, exc.status)
    return redirect(reverse(f"explorer-{kind}", args=[key]))


@_page("explorer/block.html")
def block(request, height: str):
    return selectors.block_page(height)


@_page("explorer/transaction.html")
def transaction(request, signature: str):
    return {"tx": selectors.transaction_page(signature)}


@_page("explorer/address.html")
def address(request, address: str):
    return selectors.address_page(address, request.GET.get("before"))


@_page("explorer/reading.html")
def reading(request, reading_id: str):
    return selectors.reading_page(reading_id)


@_page("explorer/trade.html")
def trade(request, trade_id: str):
    return selectors.trade_page(trade_id)
