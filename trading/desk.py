"""The order desk: how a server places the orders its API receives, many at a time.

`POST /api/v1/trading/orders` with an API token and a JSON body is taken at the door of the server's ASGI
application (`OrderDoor`), before Django's request handling: the order is parsed, handed to this process's desk
and waited for asynchronously, holding no thread. The desk's thread takes every order waiting, places them
together (`services.orders_place`: one query per step, one ledger wait, one transaction for their rows), kicks
the matcher once, and answers each request with its own outcome. A batch is whatever arrived while the previous
one was being placed, so under load batches grow and the cost per order falls; a lone order is placed at once.

Every other request, and any order the door does not take (a session login, form data, a body its parse
refuses, an unknown token, a host Django would refuse, a plain-HTTP request Django would redirect), goes to Django
and the REST framework's view unchanged, with its body replayed. The door's answers carry the same body and
security headers as the view's: the headers are those Django's own security and frame-options middleware give.

`TRADING_PLACEMENT` says where a batch runs:

- `batched` (the default): the desk's own thread, with its own database connection, kept between batches.
- `inline`: the request's own thread, one order per batch (tests, whose database transaction only that thread sees).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from collections import deque
from concurrent.futures import Future
from functools import cache

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.http.request import split_domain_port, validate_host
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware
from rest_framework.authtoken.models import Token
from rest_framework.renderers import JSONRenderer

from gridtokenx import api_errors
from ledger.errors import GridTokenXError
from trading import matcher, services
from trading.order_message import from_json
from trading.serializers import OrderSerializer

log = logging.getLogger(__name__)

MAX_BATCH = 256


class NotForTheDesk(Exception):
    """The request needs the REST framework's full handling (its token is unknown, say)."""


def place_batch(requests: list[tuple]) -> list:
    """Place orders given as (API token key, order body) or (key, body, what `from_json` gave for the body, when
    the caller has parsed it already); each outcome is (the order as the API shows it, created), a
    GridTokenXError, or NotForTheDesk. One matcher kick for the batch."""
    tokens = {token.key: token for token in Token.objects.filter(key__in={request[0] for request in requests})
              .select_related("user__participant")}
    outcomes: list = [None] * len(requests)
    placements, where = [], []
    for i, (key, body, *parsed) in enumerate(requests):
        token = tokens.get(key)
        participant = getattr(token.user, "participant", None) if token is not None and token.user.is_active else None
        if participant is None:
            outcomes[i] = NotForTheDesk()
            continue
        placement = services.Placement(participant, body)
        if parsed and parsed[0] is not None:
            placement.message, placement.signature = parsed[0]
        placements.append(placement)
        where.append(i)
    for i, outcome in zip(where, place_placements(placements), strict=True):
        outcomes[i] = outcome
    return outcomes


def place_placements(placements: list[services.Placement]) -> list:
    """Place orders whose participants are known; each outcome is (the order as the API shows it, created) or a
    GridTokenXError. One matcher kick for them all."""
    if not placements:
        return []
    services.orders_place(placements)
    if any(p.created for p in placements):
        matcher.kick()
    outcomes: list = [p.error for p in placements]
    answered = []
    for i, p in enumerate(placements):
        if p.error is not None:
            continue
        if p.created and matcher.mode() == "inline":
            p.order.refresh_from_db()
        p.order.owner = p.participant
        answered.append((i, p))
    for i, p in answered:
        outcomes[i] = (_SHOWN.to_representation(p.order), p.created)
    return outcomes


# One serializer for every answer: a model serializer builds its fields (from the model, the same every time)
# once per instance of itself, and turning an order into data changes nothing in it.
_SHOWN = OrderSerializer()


def answer(outcome) -> tuple[int, dict, list[tuple[str, str]]]:
    """(HTTP status, body, extra headers) for one placement's outcome, as the API's views answer it."""
    if isinstance(outcome, BaseException):
        response = api_errors.exception_handler(outcome, {})
        if response is None:
            log.error("placing an order failed", exc_info=outcome)
            return 500, {"error": {"code": "server_error", "message": "internal error"}}, []
        return response.status_code, response.data, list(response.items())
    data, created = outcome
    return (201 if created else 200), data, []


def batch_answer(outcomes: list) -> dict:
    """The body of a batch placement's answer: each order's own status with the order or the error, in order."""
    results = []
    for outcome in outcomes:
        status, data, _ = answer(outcome)
        results.append({"status": status, **({"order": data} if status in (200, 201) else data)})
    return {"results": results}


class Desk:
    """This process's desk: a queue of (token key, body, future) and the thread that places them."""

    def __init__(self):
        self._queue: deque[tuple[str, dict, Future]] = deque()
        self._ready = threading.Event()
        self._start = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, key: str, body: dict, parsed=None) -> Future:
        future: Future = Future()
        self._queue.append((key, body, parsed, future))
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
            outcomes = place_batch([(key, body, parsed) for key, body, parsed, _ in batch])
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


def submit(key: str, body: dict, parsed=None) -> Future:
    """Queue an order for this process's desk; the future's result is what `place_batch` gives for it."""
    return _desk.submit(key, body, parsed)


def batched() -> bool:
    return settings.TRADING_PLACEMENT == "batched"


async def place(key: str, body: dict, parsed=None):
    """Place one order through the desk (`TRADING_PLACEMENT`) and wait for it; returns what `place_batch` gives
    for it, or the exception that failed its batch."""
    try:
        if batched():
            return await asyncio.wrap_future(submit(key, body, parsed))
        return (await sync_to_async(place_batch)([(key, body, parsed)]))[0]
    except Exception as exc:  # noqa: BLE001 - answered as the API's exception handler answers it
        return exc


async def place_many(key: str, bodies: list[dict], parsed: list) -> list:
    """Place the orders of one batch request (`place` for each; the desk takes them into its batches together)."""
    if batched():
        return list(await asyncio.gather(*(place(key, body, one) for body, one in zip(bodies, parsed))))
    try:
        return await sync_to_async(place_batch)([(key, body, one) for body, one in zip(bodies, parsed)])
    except Exception as exc:  # noqa: BLE001 - as `place`
        return [exc] * len(bodies)


# -- the door -------------------------------------------------------------------------------------------------

PATH = "/api/v1/trading/orders"
BATCH_PATH = "/api/v1/trading/orders/batch"
MAX_BATCH_ORDERS = 20  # orders in one batch request
_TOKEN = re.compile(rb"Token ([0-9a-f]{40})")


class OrderDoor:
    """ASGI middleware in front of Django: takes token-authenticated JSON placements to the desk (see the module
    docstring) and passes everything else on to `app`."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in (PATH, BATCH_PATH):
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        token = _TOKEN.fullmatch(headers.get(b"authorization", b""))
        secure = _secure(scope, headers)
        if (token is None or headers.get(b"content-type", b"").split(b";")[0].strip() != b"application/json"
                or not _host_allowed(headers) or (settings.SECURE_SSL_REDIRECT and not secure)):
            return await self.app(scope, receive, send)
        body, complete = await _read(receive)
        replay = _replaying(body, complete, receive)
        if not complete:  # larger than Django takes: Django answers it
            return await self.app(scope, replay, send)
        batch = scope["path"] == BATCH_PATH
        try:
            parsed = json.loads(body)
            orders = _batch_orders(parsed) if batch else [parsed]
            # A body this refuses gets the view's answer (the serializer's, or the same error); the desk takes the
            # parse with the order rather than parse it again.
            parsed = [from_json(order) for order in orders]
        except (ValueError, TypeError, GridTokenXError):
            return await self.app(scope, replay, send)
        key = token[1].decode()
        outcomes = await place_many(key, orders, parsed) if batch else [await place(key, orders[0], parsed[0])]
        if any(isinstance(outcome, NotForTheDesk) for outcome in outcomes):
            return await self.app(scope, replay, send)
        first = outcomes[0]
        if batch and not (isinstance(first, BaseException) and all(outcome is first for outcome in outcomes)):
            status, data, extra = 200, batch_answer(outcomes), []
        else:  # one order, or a batch that failed as a whole (the database down, say): answered as the view would
            status, data, extra = answer(first)
        content = JSONRenderer().render(data)
        await send({"type": "http.response.start", "status": status, "headers": _headers(secure) + [
            (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in extra] + [
            (b"content-length", str(len(content)).encode())]})
        await send({"type": "http.response.body", "body": content})


def _batch_orders(parsed) -> list:
    """The orders of a batch request's body, if its shape is one the view accepts; ValueError if not."""
    orders = parsed.get("orders") if isinstance(parsed, dict) else None
    if not isinstance(orders, list) or not 1 <= len(orders) <= MAX_BATCH_ORDERS:
        raise ValueError("not a batch of orders")
    return orders


async def _read(receive) -> tuple[bytes, bool]:
    """The request body, if it is within DATA_UPLOAD_MAX_MEMORY_SIZE; (what was read, False) if not."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if not message.get("more_body", False):
            return b"".join(chunks), limit is None or size <= limit
        if limit is not None and size > limit:
            return b"".join(chunks), False


def _replaying(body: bytes, complete: bool, receive):
    """A `receive` that gives `body` again first (then the rest of the request, if any was left unread)."""
    given = False

    async def replay():
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": not complete}
        return await receive()

    return replay


def _secure(scope, headers: dict) -> bool:
    if scope.get("scheme") == "https":
        return True
    proxy = settings.SECURE_PROXY_SSL_HEADER
    if proxy:
        name, value = proxy
        header = name.removeprefix("HTTP_").replace("_", "-").lower().encode("latin-1")
        return headers.get(header, b"").split(b",")[0].strip() == value.encode("latin-1")
    return False


def _host_allowed(headers: dict) -> bool:
    host = headers.get(b"host", b"").decode("latin-1")
    domain, _ = split_domain_port(host)
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return bool(domain) and validate_host(domain, allowed)


@cache
def _headers(secure: bool) -> list[tuple[bytes, bytes]]:
    """The headers Django's security and frame-options middleware put on a JSON answer, and the REST framework's
    Vary and Allow, worked out by those middleware themselves (once per process and scheme)."""
    response = HttpResponse(content_type="application/json")
    request = HttpRequest()
    request.is_secure = lambda: secure
    for middleware in (SecurityMiddleware, XFrameOptionsMiddleware):
        response = middleware(lambda r: response).process_response(request, response)
    from trading.api import OrdersView

    response["Vary"] = "Accept"
    view = OrdersView()
    view.setup(request)  # which adds HEAD, as for a request
    response["Allow"] = ", ".join(view.allowed_methods)
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in response.items()]
