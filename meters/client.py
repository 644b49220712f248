"""The simulator's HTTP side: pooled httpx.AsyncClients, a bound on requests in flight, and the retry policy.

Retry policy: a connection error, a timeout or a 5xx answer is retried with exponential backoff and jitter,
capped, up to `RetryPolicy.attempts` attempts in all; a 4xx is never retried (resending the same request
cannot make it valid). Retrying a reading is safe because the oracle answers a reading it already holds with
200 "duplicate".
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from meters.progress import Progress, Stats
from meters.sim import SignedReading

# The server's endpoints (docs/SIMULATOR.md, "What it sends").
USERS_PATH = "/api/v1/registry/users"
TOKEN_PATH = "/api/v1/auth/token"
ZONES_PATH = "/api/v1/registry/zones"
METERS_PATH = "/api/v1/registry/meters"
READINGS_PATH = "/api/v1/oracle/readings"
BATCH_PATH = "/api/v1/oracle/readings/batch"
MAX_BATCH = 1000
TIMEOUT_S = 30.0
CONNECTIONS_PER_CLIENT = 8


@dataclass(frozen=True)
class RetryPolicy:
    """Attempt n (from 0) that fails waits between half and all of min(max_delay, base_delay * 2**n)."""

    attempts: int = 10
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, failures: int, rng: random.Random) -> float:
        ceiling = min(self.max_delay, self.base_delay * 2**failures)
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


DEFAULT_RETRY = RetryPolicy()


class GaveUp(Exception):
    """No answer but 5xx or connection errors after every attempt."""


def error_reason(response: httpx.Response) -> tuple[str, str]:
    """(code, message) of an error answer: `{"code", "message"}`, or the same nested in `{"error": ...}`."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]
    if isinstance(body, dict) and ("code" in body or "message" in body):
        return str(body.get("code", f"http_{response.status_code}")), str(body.get("message", ""))
    return f"http_{response.status_code}", response.text[:200]


class Api:
    """The server at `base_url`. At most `concurrency` requests are in flight at once (a backoff wait holds no
    slot), over keep-alive connections shared among httpx.AsyncClients of CONNECTIONS_PER_CLIENT connections."""

    def __init__(
        self,
        base_url: str,
        *,
        concurrency: int,
        stats: Stats,
        retry: RetryPolicy = DEFAULT_RETRY,
        timeout: float = TIMEOUT_S,
    ):
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.base_url = base_url.rstrip("/")
        self.stats = stats
        self.retry = retry
        self._slots = asyncio.Semaphore(concurrency)
        self._rng = random.Random()
        # httpcore's pool scans every connection whenever a request starts or ends, so one pool of hundreds of
        # connections spends more CPU on bookkeeping than on HTTP; several small pools keep that scan short.
        size = min(concurrency, CONNECTIONS_PER_CLIENT)
        self._clients = [
            httpx.AsyncClient(
                base_url=self.base_url,
                timeout=timeout,
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
            )
            for _ in range(-(-concurrency // size))
        ]
        self._in_flight = [0] * len(self._clients)

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()

    async def __aenter__(self) -> Api:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        token: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> httpx.Response:
        """The first answer below 500 (2xx, 3xx or 4xx); raises GaveUp when every attempt failed."""
        policy = retry or self.retry
        headers = {"Authorization": f"Token {token}"} if token else None
        problem = "no attempt"
        for failures in range(policy.attempts):
            if failures:
                self.stats.retries += 1
                await asyncio.sleep(policy.delay(failures - 1, self._rng))
            async with self._slots:
                self.stats.requests += 1
                # The least busy client has a free connection: all of them busy would mean more than
                # `concurrency` requests in flight.
                shard = min(range(len(self._clients)), key=self._in_flight.__getitem__)
                self._in_flight[shard] += 1
                try:
                    response = await self._clients[shard].request(method, path, json=json, headers=headers)
                except httpx.TransportError as exc:
                    problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                    continue
                finally:
                    self._in_flight[shard] -= 1
            if response.status_code < 500:
                return response
            code, message = error_reason(response)
            problem = f"HTTP {response.status_code} {code}: {message}"
        raise GaveUp(f"{method} {self.base_url}{path}: {problem} (after {policy.attempts} attempts)")


class ReadingSender:
    """Posts signed readings, one per request or in batches, and counts how each one ended."""

    def __init__(self, api: Api, progress: Progress):
        self.api = api
        self.progress = progress
        self.stats = progress.stats

    async def send(self, readings: Sequence[SignedReading], *, batch: bool) -> None:
        if batch:
            await self.send_batch(readings)
        else:
            for reading in readings:
                await self.send_one(reading)

    async def send_one(self, reading: SignedReading) -> None:
        self.stats.sent += 1
        try:
            response = await self.api.request("POST", READINGS_PATH, json=reading.to_json())
        except GaveUp as exc:
            self._failed(1, exc)
            return
        if response.is_success:
            self._succeeded(response)
        else:
            self.progress.rejection(*error_reason(response))

    async def send_batch(self, readings: Sequence[SignedReading]) -> None:
        if not 0 < len(readings) <= MAX_BATCH:
            raise ValueError(f"a batch holds 1 to {MAX_BATCH} readings, got {len(readings)}")
        self.stats.sent += len(readings)
        body = {"readings": [reading.to_json() for reading in readings]}
        try:
            response = await self.api.request("POST", BATCH_PATH, json=body)
        except GaveUp as exc:
            self._failed(len(readings), exc)
            return
        if not response.is_success:
            code, message = error_reason(response)
            for _ in readings:
                self.progress.rejection(code, message)
            return
        for result in _batch_results(response, len(readings)):
            status = result.get("status")
            if status == "rejected":
                self.progress.rejection(str(result.get("code", "rejected")), str(result.get("message", "")))
            elif status == "duplicate":
                self.stats.duplicates += 1
            else:
                self.stats.accepted += 1

    def _succeeded(self, response: httpx.Response) -> None:
        try:
            status = response.json().get("status")
        except (ValueError, AttributeError):
            status = None
        if status == "duplicate":
            self.stats.duplicates += 1
        else:
            self.stats.accepted += 1

    def _failed(self, count: int, exc: GaveUp) -> None:
        if not self.stats.failed:
            self.progress.note(f"gave up: {exc}")
        self.stats.failed += count


def _batch_results(response: httpx.Response, count: int) -> list[dict]:
    """The batch answer's `results`, one per reading; failing those, as many of each status as its totals say."""
    try:
        body = response.json()
    except ValueError:
        body = None
    body = body if isinstance(body, dict) else {}
    results = body.get("results")
    if isinstance(results, list) and len(results) == count and all(isinstance(r, dict) for r in results):
        return results
    unexplained = {"status": "rejected", "code": "rejected", "message": "the batch answer gave no reason"}
    out = [{"status": "duplicate"}] * int(body.get("duplicates", 0)) + [unexplained] * int(body.get("rejected", 0))
    return (out + [{"status": "accepted"}] * count)[:count]
