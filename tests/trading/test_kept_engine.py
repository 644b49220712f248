"""The matcher keeps its engine between runs: it takes in only the orders placed since, in id order, and rebuilds
(after reconciling with the ledger) whenever anything else changed the open orders."""

import pytest

from trading import services
from trading.models import MatcherState, Order, Trade
from trading.tariffs import KWH, THB

from tests.trading.test_services import NOW, signed, traders  # noqa: F401  (fixture)


@pytest.fixture
def rebuilds(monkeypatch):
    """Counts the runs that reconciled and rebuilt their engine."""
    calls = []
    real = services.reconcile
    monkeypatch.setattr(services, "reconcile", lambda report: (calls.append(1), real(report)))
    monkeypatch.setattr(services, "_kept", None)
    return calls


def place(p, nonce, side, quantity, price, **extra):
    return services.order_place(participant=p, body=signed(p, nonce, side, quantity, price, **extra), now=NOW)[0]


def test_a_kept_engine_takes_in_only_new_orders_and_trades_them_against_the_resting_book(traders, rebuilds):  # noqa: F811
    seller, buyer = traders
    place(seller, 1, "sell", 2 * KWH, 4 * THB)
    assert services.run_matcher(now=NOW).trades == 0
    place(buyer, 1, "buy", KWH, 5 * THB)
    report = services.run_matcher(now=NOW)
    assert report.trades == 1 and not report.errors
    place(buyer, 2, "buy", KWH, 5 * THB)
    assert services.run_matcher(now=NOW).trades == 1
    assert len(rebuilds) == 1  # only the first run built its engine
    assert Order.objects.get(owner=seller).status == "filled"
    assert services.run_matcher(now=NOW).trades == 0  # nothing left to trade, nothing traded twice
    assert Trade.objects.count() == 2


def test_a_cancel_makes_the_next_run_rebuild_without_the_cancelled_order(traders, rebuilds):  # noqa: F811
    seller, buyer = traders
    sell = place(seller, 1, "sell", KWH, 4 * THB)
    services.run_matcher(now=NOW)
    services.order_cancel(order=sell, by=seller)
    place(buyer, 1, "buy", KWH, 5 * THB)
    assert services.run_matcher(now=NOW).trades == 0
    assert len(rebuilds) == 2
    assert Order.objects.get(pk=sell.pk).status == "cancelled"


def test_another_process_run_makes_the_next_run_rebuild(traders, rebuilds):  # noqa: F811
    seller, buyer = traders
    place(seller, 1, "sell", KWH, 4 * THB)
    services.run_matcher(now=NOW)
    MatcherState.advance()  # as another process's run leaves it
    place(buyer, 1, "buy", KWH, 5 * THB)
    assert services.run_matcher(now=NOW).trades == 1
    assert len(rebuilds) == 2


def test_an_order_still_being_placed_holds_back_the_later_ones_in_id_order(traders, rebuilds):  # noqa: F811
    seller, buyer = traders
    first = place(seller, 1, "sell", KWH, 4 * THB)
    services.run_matcher(now=NOW)
    # An earlier id whose ledger lock has not been recorded yet (another server's batch, still waiting).
    pending = place(seller, 2, "sell", KWH, 4 * THB)
    signature = pending.ledger_signature
    Order.objects.filter(pk=pending.pk).update(ledger_signature="")
    later = place(buyer, 1, "buy", 2 * KWH, 5 * THB)
    assert later.pk > pending.pk
    assert services.run_matcher(now=NOW).trades == 0  # the buy waits for the sell placed before it
    Order.objects.filter(pk=pending.pk).update(ledger_signature=signature)
    assert services.run_matcher(now=NOW).trades == 2
    assert len(rebuilds) == 1
    assert {o.pk: o.status for o in Order.objects.all()} == {first.pk: "filled", pending.pk: "filled",
                                                              later.pk: "filled"}


def test_a_run_with_a_refused_settlement_keeps_nothing(traders, rebuilds, monkeypatch):  # noqa: F811
    seller, buyer = traders
    place(seller, 1, "sell", KWH, 4 * THB)
    services.run_matcher(now=NOW)
    place(buyer, 1, "buy", KWH, 5 * THB)
    real = services.ledger_services.transactions_submit_stream

    def refuse_settlements(items, *, chunk, **kwargs):
        from ledger.errors import LedgerUnavailable

        for start in range(0, len(items), chunk):
            yield [LedgerUnavailable("down") for _ in items[start:start + chunk]]

    monkeypatch.setattr(services.ledger_services, "transactions_submit_stream", refuse_settlements)
    mark = MatcherState.current()
    report = services.run_matcher(now=NOW)
    assert report.trades == 0 and report.errors and services._kept is None
    assert MatcherState.current() != mark  # another process's kept engine rebuilds as well
    monkeypatch.setattr(services.ledger_services, "transactions_submit_stream", real)
    assert services.run_matcher(now=NOW).trades == 1  # rebuilt from the tables, the trade happens once
    assert len(rebuilds) == 2
    assert Trade.objects.count() == 1


def _stored_book(code):
    from trading.models import BookState

    state = BookState.objects.get(zone__code=code)
    return state.seq, state.bids, state.asks


def test_a_kept_run_stores_only_the_books_it_changed_and_every_stored_book_stays_the_open_orders(traders, rebuilds):  # noqa: F811
    seller, buyer = traders
    place(seller, 1, "sell", KWH, 4 * THB, zone="BKK-N")
    place(seller, 2, "sell", KWH, 4 * THB)
    services.run_matcher(now=NOW)
    north = _stored_book("BKK-N")
    place(buyer, 1, "buy", KWH // 2, 5 * THB)  # trades in BKK-C only
    assert services.run_matcher(now=NOW).trades == 1
    assert len(rebuilds) == 1
    assert _stored_book("BKK-N") == north  # untouched by the run: no delta, no sequence number spent
    for code in ("BKK-C", "BKK-N"):
        _, bids, asks = _stored_book(code)
        assert bids == [] and asks == [[4 * THB, services.book(code)["asks"][0][1]]]
    assert _stored_book("BKK-C")[2] == [[4 * THB, KWH - KWH // 2]]


def test_a_run_whose_books_were_not_stored_keeps_nothing_and_the_next_stores_every_book(traders, rebuilds, monkeypatch):  # noqa: F811
    seller, buyer = traders
    place(seller, 1, "sell", KWH, 4 * THB, zone="BKK-N")
    real = services.streams._store_books

    def broken(books):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services.streams, "_store_books", broken)
    assert not services.run_matcher(now=NOW).errors
    assert services._kept is None
    monkeypatch.setattr(services.streams, "_store_books", real)
    place(buyer, 1, "buy", KWH // 2, 3 * THB)  # BKK-C only: a kept run would store only that book
    services.run_matcher(now=NOW)
    assert len(rebuilds) == 2
    assert _stored_book("BKK-N")[2] == [[4 * THB, KWH]]
    assert _stored_book("BKK-C")[1] == [[3 * THB, KWH // 2]]
