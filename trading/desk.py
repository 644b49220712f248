"""The order desk: how a server places the orders its API receives, many at a time.

`POST /api/v1/trading/orders` with an API token does not hold one of the server's threads while its order is
verified, locked on the ledger and recorded. The request hands the order to this process's desk and waits
asynchronously; the desk's thread takes every order waiting, places them together (`services.orders_place`: one
query per step, one ledger wait, one transaction for their rows), kicks the matcher once, and answers each request
with its own outcome. A batch is whatever arrived while the previous one was being placed, so under load batches
grow and the cost per order falls; a lone order is placed at once.

`TRADING_PLACEMENT` says where a batch runs:

- `batched` (the default): the desk's own thread, with its own database connection, kept between batches.
- `inline`: the request's own thread, one order per batch (tests, whose database transaction only that thread sees).

Requests that do not take this path (a session login, form data, a body the fast parse refuses, an unknown token)
go through the REST framework view unchanged, so every answer except a placement's is the same either way.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from concurrent.futures import Future

from django.conf import settings
from django.db import connection
from rest_framework.authtoken.models import Token

from ledger.errors import GridTokenXError
from trading import matcher, services
from trading.serializers import OrderSerializer

log = logging.getLogger(__name__)

MAX_BATCH = 256


class NotForTheDesk(Exception):
    """The request needs the REST framework's full handling (its token is unknown, say)."""


def place_batch(requests: list[tuple[str, dict]]) -> list:
    """Place orders given as (API token key, order body); each outcome is (the order as the API shows it, created),
    a GridTokenXError, or NotForTheDesk. One matcher kick for the batch."""
    tokens = {token.key: token for token in Token.objects.filter(key__in={key for key, _ in requests})
              .select_related("user__participant")}
    outcomes: list = [None] * len(requests)
    placements, where = [], []
    for i, (key, body) in enumerate(requests):
        token = tokens.get(key)
        participant = getattr(token.user, "participant", None) if token is not None and token.user.is_active else None
        if participant is None:
            outcomes[i] = NotForTheDesk()
            continue
        placements.append(services.Placement(participant, body))
        where.append(i)
    if placements:
        services.orders_place(placements)
        if any(p.created for p in placements):
            matcher.kick()
    answered = []
    for i, p in zip(where, placements, strict=True):
        if p.error is not None:
            outcomes[i] = p.error
            continue
        if p.created and matcher.mode() == "inline":
            p.order.refresh_from_db()
        p.order.owner = p.participant
        answered.append((i, p))
    # One serializer for the batch: a model serializer builds its fields once per instance of itself.
    shown = OrderSerializer([p.order for _, p in answered], many=True).data
    for (i, p), data in zip(answered, shown, strict=True):
        outcomes[i] = (data, p.created)
    return outcomes


class Desk:
    """This process's desk: a queue of (token key, body, future) and the thread that places them."""

    def __init__(self):
        self._queue: deque[tuple[str, dict, Future]] = deque()
        self._ready = threading.Event()
        self._start = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, key: str, body: dict) -> Future:
        future: Future = Future()
        self._queue.append((key, body, future))
        self._ready.set()
        if self._thread is None:
            with self._start:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, name="trading-desk", daemon=True)
                    self._thread.start()
        return future

    def _loop(self) -> None:
        try:
            while self._thread is not None:
                self._ready.wait()
                self._ready.clear()
                while self._queue:
                    batch = [self._queue.popleft() for _ in range(min(len(self._queue), MAX_BATCH))]
                    self._serve(batch)
        finally:
            connection.close()

    def close(self) -> None:
        """Stop the thread once it has answered every order queued, and close its database connection."""
        with self._start:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._ready.set()
            thread.join(timeout=60)

    def _serve(self, batch: list[tuple[str, dict, Future]]) -> None:
        try:
            outcomes = place_batch([(key, body) for key, body, _ in batch])
        except Exception as exc:  # noqa: BLE001 - every waiting request must hear of it
            if not isinstance(exc, GridTokenXError):
                log.exception("placing a batch of %d orders failed", len(batch))
                connection.close()  # a broken connection is opened afresh for the next batch
            for *_, future in batch:
                future.set_exception(exc)
            return
        for (*_, future), outcome in zip(batch, outcomes, strict=True):
            future.set_result(outcome)


_desk = Desk()


def submit(key: str, body: dict) -> Future:
    """Queue an order for this process's desk; the future's result is what `place_batch` gives for it."""
    return _desk.submit(key, body)


def batched() -> bool:
    return settings.TRADING_PLACEMENT == "batched"
