from oracle import services
from oracle.program import BASE_UNITS_PER_WH

from tests.energy import NOW, gxt, meter, participant, zone


def test_a_reading_is_accepted_and_minted_once(ledger):
    zone()
    alice = participant()
    m = meter(alice)
    report = services.readings_ingest([m.signed(40, 1200, 200)], now=NOW)
    assert [r.status for r in report.results] == ["accepted"], report.results
    settled = services.settle()
    assert settled.committed == 1, settled
    assert gxt(alice) == 1000 * BASE_UNITS_PER_WH
    assert services.settle().submitted == 0
    assert gxt(alice) == 1000 * BASE_UNITS_PER_WH
