"""Minting and burning: exactly once per meter interval, across crashes; deficits beyond the wallet are grid import."""

import pytest
from django.core.management import call_command

from ledger import selectors
from ledger.config import platform_authority
from ledger.crypto import parse_address, unb58
from ledger import services as ledger_services
from ledger.errors import TransactionFailed
from ledger.token_program import mint_address
from oracle import program, services
from oracle.models import Reading, Settlement
from registry import program as registry_program

from tests.energy import NOW, gxt, meter, participant, zone

WH = program.BASE_UNITS_PER_WH


@pytest.fixture
def site(ledger):
    zone()
    alice = participant()
    return alice, meter(alice)


def oracle_config():
    raw = selectors.raw_accounts([program.config_address()])[program.config_address()]
    return program.OracleConfig.unpack(raw[1])


def gxt_supply():
    return selectors.mint_get("GXT")[1].supply


def test_net_generation_is_minted_and_net_consumption_burned_with_a_grid_import_shortfall(site):
    alice, m = site
    services.readings_ingest([m.signed(1, 800, 300), m.signed(2, 0, 200), m.signed(3, 100, 900)], now=NOW)
    report = services.settle()
    # +500 Wh, then -200 Wh (covered), then -800 Wh of which only 300 Wh are left: 500 Wh are grid import.
    assert (report.minted, report.burned, report.grid_import) == (500 * WH, 500 * WH, 500 * WH)
    assert gxt(alice) == 0
    cfg = oracle_config()
    assert (cfg.minted, cfg.burned, cfg.grid_import, cfg.readings) == (500 * WH, 500 * WH, 500 * WH, 3)
    assert gxt_supply() == cfg.minted - cfg.burned
    settlement = Settlement.objects.get()
    assert settlement.status == "committed" and settlement.readings_count == 3
    assert set(Reading.objects.values_list("status", flat=True)) == {"settled"}
    # Every reading's digest is in the settlement transaction that minted and burned for it.
    tx = selectors.transaction_get(unb58(settlement.signature))[1]
    entries = program.parse_settle(tx.message.instructions[0].data)
    assert {e.digest for _, group in entries for e in group} == {bytes(r.digest) for r in Reading.objects.all()}


def test_burn_never_takes_a_balance_below_zero(site):
    alice, m = site
    services.readings_ingest([m.signed(1, 0, 1000)], now=NOW)
    report = services.settle()
    assert (report.minted, report.burned, report.grid_import) == (0, 0, 1000 * WH)
    assert gxt(alice) == 0


def crash_after_claiming(monkeypatch):
    """Run settle, but die right after the settlements are stored and before any is submitted."""
    def die(settlements, report):
        raise SystemExit("crash")

    monkeypatch.setattr(services, "_submit_all", die)
    with pytest.raises(SystemExit):
        services.settle()
    monkeypatch.undo()


def test_a_crash_before_submission_is_recovered_and_mints_once(site, monkeypatch):
    alice, m = site
    services.readings_ingest([m.signed(1, 700, 200)], now=NOW)
    crash_after_claiming(monkeypatch)
    assert Settlement.objects.get().status == "submitted"
    assert gxt(alice) == 0
    report = services.settle()
    assert (report.recovered, report.committed, report.submitted) == (1, 1, 0)
    assert gxt(alice) == 500 * WH
    services.settle()
    assert gxt(alice) == 500 * WH and gxt_supply() == 500 * WH


def test_a_crash_after_the_ledger_committed_does_not_mint_again(site, monkeypatch):
    alice, m = site
    services.readings_ingest([m.signed(1, 700, 200)], now=NOW)
    crash_after_claiming(monkeypatch)
    # The transaction reached the ledger (say the process died after the commit, before marking the rows).
    settlement = Settlement.objects.get()
    ledger_services.transaction_submit(wire=bytes(settlement.wire))
    assert gxt(alice) == 500 * WH
    report = services.settle()
    assert (report.recovered, report.committed, report.minted) == (1, 1, 500 * WH)
    assert gxt(alice) == 500 * WH and gxt_supply() == 500 * WH
    assert Reading.objects.get().status == "settled"


def test_the_ledger_refuses_to_settle_an_interval_twice(site):
    alice, m = site
    services.readings_ingest([m.signed(1, 700, 200)], now=NOW)
    services.settle()
    reading = Reading.objects.get()
    # A second, different transaction for the same interval (as a buggy or malicious settler would send).
    authority = platform_authority()
    group = program.SettleGroup(registry_program.meter_address(m.key.pubkey), parse_address(alice.wallet), (program.SettleEntry(reading.interval_start, 900, 700, 200, bytes(reading.digest)),))
    with pytest.raises(TransactionFailed) as failed:
        ledger_services.instructions_submit(instructions=[program.settle_ix(
            authority=authority.pubkey, gxt_mint=mint_address("GXT"), groups=[group])], signers=[authority])
    assert failed.value.reason_code == "already_settled"
    assert gxt(alice) == 500 * WH


def test_many_meters_settle_in_several_transactions_and_the_ledger_verifies(site):
    alice, _ = site
    meters = [meter(alice, f"M-{i}") for i in range(2, 62)]
    bodies = [m.signed(slot, 400, 100) for m in meters for slot in (1, 2)]
    assert services.readings_ingest(bodies, now=NOW).count("accepted") == 120
    report = services.settle()
    assert report.committed >= 2 and report.readings == 120 and report.failed == 0
    assert gxt(alice) == 120 * 300 * WH == gxt_supply()
    call_command("verify_ledger")


def test_one_reading_from_each_of_many_meters_fits_the_accounts_limit(site):
    alice, _ = site
    meters = [meter(alice, f"S-{i}") for i in range(45)]
    services.readings_ingest([m.signed(1, 300, 100) for m in meters], now=NOW)
    report = services.settle()
    assert (report.committed, report.readings, report.failed) == (3, 45, 0)
    assert gxt(alice) == 45 * 200 * WH
