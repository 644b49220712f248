"""The HTTP client against a real local server: 5xx and connection errors are retried, a 4xx never is."""

import asyncio
import io
import random
import socket

import httpx
import pytest

from meters.client import Api, GaveUp, ReadingSender, RetryPolicy, error_reason
from meters.physics import BANGKOK
from meters.progress import Progress, Stats
from meters.sim import MeterReading, Signer, meter_keypair, meter_serial
from tests.meters.stub_platform import StubPlatform

FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05)
START = 1_740_960_000  # 2025-03-03 00:00 UTC


def reading(index: int = 0, k: int = 0) -> MeterReading:
    return MeterReading(index, START + k * 900, 900, 120, 80, 230_100, 970_000, 50_001)


def with_meters(platform: StubPlatform, *indices: int) -> StubPlatform:
    for index in indices:
        platform.meters[meter_serial(1, index)] = {"public_key": meter_keypair(1, index).address}
    return platform


def send(url: str, readings: list[MeterReading], *, batch: bool = False, retry: RetryPolicy = FAST):
    """Post `readings` one by one (or as one batch); returns the counters and what was printed."""
    stats, out = Stats(), io.StringIO()
    signer = Signer(1)

    async def go():
        async with Api(url, concurrency=4, stats=stats, retry=retry) as api:
            sender = ReadingSender(api, Progress(stats, out=out, live=False, meters=1, tz=BANGKOK.tz))
            await sender.send([signer.sign(r) for r in readings], batch=batch)

    asyncio.run(go())
    return stats, out.getvalue()


def test_a_5xx_is_retried_until_the_reading_is_accepted():
    with with_meters(StubPlatform(), 0) as platform:
        platform.fail("/oracle/readings", 503, times=2)
        stats, _ = send(platform.url, [reading()])
    assert platform.hits["POST /api/v1/oracle/readings"] == 3
    assert (stats.sent, stats.accepted, stats.retries, stats.failed) == (1, 1, 2, 0)
    assert len(platform.readings) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 429])
def test_a_4xx_is_never_retried_and_its_reason_is_shown(status):
    with with_meters(StubPlatform(), 0) as platform:
        platform.fail("/oracle/readings", status, code="future_interval", message="the interval must have ended")
        stats, printed = send(platform.url, [reading()])
    assert platform.hits["POST /api/v1/oracle/readings"] == 1
    assert (stats.rejected, stats.accepted, stats.retries) == (1, 0, 0)
    assert stats.rejections == {"future_interval": 1}
    assert "rejected: future_interval: the interval must have ended" in printed
    assert platform.readings == {}


def test_only_the_first_rejections_are_printed_then_counted():
    with StubPlatform() as platform:  # no meter registered: every reading is refused
        stats, printed = send(platform.url, [reading(0, k) for k in range(8)])
    assert stats.rejected == 8 and stats.rejections == {"unknown_meter": 8}
    assert printed.count("rejected: unknown_meter") == 5
    assert "further rejections are only counted" in printed


def test_a_reading_sent_again_counts_as_a_duplicate():
    with with_meters(StubPlatform(), 0) as platform:
        first, _ = send(platform.url, [reading()])
        again, _ = send(platform.url, [reading()])
    assert (first.accepted, first.duplicates) == (1, 0)
    assert (again.accepted, again.duplicates, again.rejected) == (0, 1, 0)


def test_connection_errors_are_retried_and_then_given_up():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port now.
    stats, printed = send(f"http://127.0.0.1:{port}", [reading()], retry=FAST)
    assert (stats.sent, stats.failed, stats.retries, stats.requests) == (1, 1, 3, 4)
    assert "gave up" in printed and "ConnectError" in printed and "after 4 attempts" in printed


def test_the_backoff_doubles_with_jitter_up_to_its_cap():
    policy = RetryPolicy(attempts=10, base_delay=0.5, max_delay=30.0)
    rng = random.Random(1)
    for failures, ceiling in [(0, 0.5), (1, 1.0), (3, 4.0), (6, 30.0), (9, 30.0)]:
        delays = [policy.delay(failures, rng) for _ in range(200)]
        assert ceiling / 2 <= min(delays) and max(delays) <= ceiling
        assert max(delays) - min(delays) > ceiling / 4


def test_a_batch_counts_each_reading_by_its_own_result():
    with with_meters(StubPlatform(), 0, 1) as platform:
        send(platform.url, [reading(1, 0)])
        stats, printed = send(platform.url, [reading(0, 0), reading(1, 0), reading(2, 0)], batch=True)
    assert platform.batch_sizes == [3]
    assert (stats.sent, stats.accepted, stats.duplicates, stats.rejected) == (3, 1, 1, 1)
    assert "rejected: unknown_meter" in printed


def test_a_batch_is_retried_on_a_5xx_and_refused_whole_on_a_4xx():
    with with_meters(StubPlatform(), 0, 1) as platform:
        platform.fail("/oracle/readings/batch", 502)
        retried, _ = send(platform.url, [reading(0), reading(1)], batch=True)
        platform.fail("/oracle/readings/batch", 400, code="invalid_input", message="too many readings")
        refused, _ = send(platform.url, [reading(0, 1), reading(1, 1)], batch=True)
    assert (retried.accepted, retried.retries) == (2, 1)
    assert (refused.rejected, refused.retries, refused.rejections) == (2, 0, {"invalid_input": 2})


def test_gave_up_names_the_request_and_the_last_answer():
    with StubPlatform() as platform:
        platform.fail("/registry/zones", 500, times=2, code="server_error", message="boom")

        async def go():
            async with Api(platform.url, concurrency=1, stats=Stats(), retry=RetryPolicy(2, 0.01, 0.01)) as api:
                await api.request("GET", "/api/v1/registry/zones")

        expected = r"GET http://127.0.0.1:\d+/api/v1/registry/zones: HTTP 500 server_error: boom \(after 2 attempts\)"
        with pytest.raises(GaveUp, match=expected):
            asyncio.run(go())


@pytest.mark.parametrize(
    "body, expected",
    [
        ({"code": "stale_interval", "message": "too old"}, ("stale_interval", "too old")),
        ({"error": {"code": "invalid_input", "message": "bad", "fields": None}}, ("invalid_input", "bad")),
        ("plain text", ("http_418", '"plain text"')),
    ],
)
def test_an_error_answer_gives_its_code_and_message(body, expected):
    assert error_reason(httpx.Response(418, json=body)) == expected
