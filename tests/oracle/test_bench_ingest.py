"""`bench ingest` at a tiny size, against live Daphne servers on the test database: it reports every figure, and
it counts only readings the servers accepted."""

import pytest

from oracle.benchmarks import BenchFailed, bench_ingest
from oracle.models import Reading
from registry import services as registry_services
from registry.models import Meter

FIGURES = {"readings_per_s", "p50_ms", "p99_ms", "database", "readings", "batch", "requests", "servers",
           "settle_readings_per_s", "machine"}


def quiet(msg: str) -> None:
    pass


def test_it_posts_batches_to_two_servers_and_settles_every_reading(ledger):
    result = bench_ingest(log=quiet, count=40, meters=20, threads=2, batch=20, servers=2)
    assert FIGURES <= result.keys()
    assert result["readings"] == result["accepted"] == result["settled"] == 40
    assert (result["requests"], result["servers"], result["batch"]) == (2, 2, 20)
    assert result["readings_per_s"] > 0 and result["settle_readings_per_s"] > 0
    assert result["p50_ms"] <= result["p99_ms"]
    assert result["database"].split()[0] in {"sqlite", "postgresql"}
    assert Reading.objects.filter(status=Reading.Status.SETTLED).count() == 40


def test_a_rerun_reuses_the_meters_posts_single_readings_and_fails_on_a_rejection(ledger):
    bench_ingest(log=quiet, count=10, meters=10, threads=2, batch=10, servers=1)
    again = bench_ingest(log=quiet, count=10, meters=10, threads=2, batch=0, servers=1)
    assert (again["accepted"], again["requests"], again["batch"]) == (10, 10, 0)
    assert Meter.objects.count() == 10
    assert Reading.objects.filter(status=Reading.Status.SETTLED).count() == 20

    registry_services.meter_set_status(meter=Meter.objects.get(serial="BENCH-000003"), status="maintenance")
    with pytest.raises(BenchFailed, match="meter_inactive"):
        bench_ingest(log=quiet, count=10, meters=10, threads=2, batch=10, servers=1)
