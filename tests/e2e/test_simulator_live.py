"""End to end: the smart-meter simulator against a live server registers its fleet over HTTP, streams signed
readings, and the GXT they mint passes `verify_ledger`; the registry mirror agrees with the ledger."""

from datetime import UTC, datetime

from django.core.management import call_command

from ledger import selectors
from meters.runner import run_simulation
from oracle import program, services
from oracle.benchmarks import servers_running
from oracle.models import Reading
from registry.defaults import zones_seed
from registry.models import Meter
from registry.services import reconcile

# 10:00 to 12:00 in Bangkok: the solar meters generate, the households consume.
START = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def test_a_simulated_fleet_streams_readings_that_mint_gxt_and_the_chain_verifies(ledger):
    zones_seed()
    with servers_running(1, log=lambda message: None) as [server]:
        url = server.url
        summary = run_simulation(url, meters=8, seed=7, start=START, intervals=8, speed=0)
        again = run_simulation(url, meters=8, seed=7, start=START, intervals=8, speed=0)  # a restarted simulator
        batched = run_simulation(url, meters=8, seed=7, start=START.replace(hour=5), intervals=4, speed=0, batch=8)
    stats = summary.stats
    assert (stats.accepted, stats.rejected, stats.failed) == (64, 0, 0), stats
    assert (again.stats.duplicates, again.stats.accepted) == (64, 0)
    assert (batched.stats.accepted, batched.stats.rejected) == (32, 0)
    assert Meter.objects.count() == 8 and Reading.objects.count() == 96

    report = services.settle()
    assert report.failed == 0 and report.readings == 96
    raw = selectors.raw_accounts([program.config_address()])[program.config_address()][1]
    cfg = program.OracleConfig.unpack(raw)
    assert cfg.minted > 0 and cfg.readings == 96
    assert selectors.mint_get("GXT")[1].supply == cfg.minted - cfg.burned
    assert set(Reading.objects.values_list("status", flat=True)) == {"settled"}
    call_command("verify_ledger")
    assert reconcile() == []
