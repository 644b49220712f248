"""Every oracle rule with a reading that passes it and one that fails it, through the real ingestion path."""

import pytest

from oracle import services
from oracle.models import Reading, RejectedReading
from registry import services as registry_services

from tests.energy import DAY_START, INTERVAL, NOW, meter, participant, zone


@pytest.fixture
def site(ledger):
    zone()
    alice = participant()
    return alice, meter(alice, capacity_w=4000, max_import_w=8000)


def ingest(*bodies, now=NOW):
    return services.readings_ingest(list(bodies), now=now).results


def outcome(result):
    return result.status if result.status != "rejected" else result.code


# (slot, generated, consumed, extra) that passes, and the change that breaks exactly one rule.
CASES = [
    ("over_capacity", dict(generated_wh=1000), dict(generated_wh=1001)),  # 4 kW x 0.25 h = 1000 Wh
    ("over_import_limit", dict(consumed_wh=2000), dict(consumed_wh=2001)),  # 8 kW x 0.25 h = 2000 Wh
    ("implausible_ratio", dict(generated_wh=1000, consumed_wh=10), dict(generated_wh=1000, consumed_wh=9)),
    ("electrical_out_of_range", dict(voltage_mv=230_000, frequency_mhz=50_000), dict(frequency_mhz=39_999)),
    ("electrical_out_of_range", dict(voltage_mv=1_000_000), dict(voltage_mv=1_000_001)),
    ("invalid_interval", dict(interval_seconds=INTERVAL), dict(interval_seconds=300)),
    ("misaligned_interval", dict(), dict(interval_start=DAY_START + 10 * INTERVAL + 60)),
]


@pytest.mark.parametrize("code, good, bad", CASES, ids=[c[0] + str(i) for i, c in enumerate(CASES)])
def test_each_rule_accepts_a_good_reading_and_rejects_a_bad_one(site, code, good, bad):
    _, m = site
    base = dict(generated_wh=500, consumed_wh=100)
    bad_fields = base | good | bad
    slot_bad = bad_fields.pop("slot", 10)
    gen, cons = bad_fields.pop("generated_wh"), bad_fields.pop("consumed_wh")
    reading = m.reading(slot_bad, gen, cons, **bad_fields)
    [result] = ingest(reading.to_json(reading.sign(m.key)))
    assert outcome(result) == code
    good_fields = base | good
    gen, cons = good_fields.pop("generated_wh"), good_fields.pop("consumed_wh")
    [result] = ingest(m.signed(11, gen, cons, **good_fields))
    assert outcome(result) == "accepted"
    assert RejectedReading.objects.filter(code=code, meter=m.row).count() == 1


def test_a_reading_signed_by_another_meters_key_is_rejected(site):
    alice, m = site
    other = meter(alice, "M-2")
    [result] = ingest(m.signed(5, 100, 50, key=other.key))
    assert outcome(result) == "bad_signature"
    [result] = ingest(m.signed(5, 100, 50))
    assert outcome(result) == "accepted"


def test_an_unknown_meter_is_rejected_and_kept_for_the_operator(ledger):
    from ledger.crypto import Keypair
    from oracle.reading import Reading as Signed

    key = Keypair.from_label("nobody's meter")
    r = Signed(key.pubkey, DAY_START, INTERVAL, 1, 1, 0)
    [result] = ingest(r.to_json(r.sign(key)))
    assert outcome(result) == "unknown_meter"
    assert RejectedReading.objects.get().meter_key == key.address


def test_the_interval_must_have_ended_give_or_take_the_skew(site):
    _, m = site
    slot = (NOW - DAY_START) // INTERVAL  # the interval starting now: ends 900 s in the future
    [result] = ingest(m.signed(slot, 10, 10))
    assert outcome(result) == "future_interval"
    [result] = ingest(m.signed(slot, 10, 10), now=NOW + INTERVAL - 60)  # ends 60 s from now: within the skew
    assert outcome(result) == "accepted"


def test_readings_must_move_forward_per_meter(site):
    _, m = site
    assert outcome(ingest(m.signed(20, 10, 10))[0]) == "accepted"
    assert outcome(ingest(m.signed(19, 10, 10))[0]) == "stale_interval"
    assert outcome(ingest(m.signed(21, 10, 10))[0]) == "accepted"


def test_a_meter_not_active_or_a_suspended_owner_is_refused(site):
    alice, m = site
    registry_services.meter_set_status(meter=m.row, status="maintenance")
    assert outcome(ingest(m.signed(1, 10, 10))[0]) == "meter_inactive"
    registry_services.meter_set_status(meter=m.row, status="active")
    registry_services.user_set_status(participant=alice, status="suspended")
    assert outcome(ingest(m.signed(1, 10, 10))[0]) == "user_suspended"
    registry_services.user_set_status(participant=alice, status="active")
    assert outcome(ingest(m.signed(1, 10, 10))[0]) == "accepted"


def test_the_same_reading_twice_is_a_duplicate_and_a_different_one_a_conflict(site):
    _, m = site
    body = m.signed(3, 300, 100)
    assert outcome(ingest(body)[0]) == "accepted"
    assert outcome(ingest(body)[0]) == "duplicate"
    assert outcome(ingest(m.signed(3, 301, 100))[0]) == "conflict"
    assert Reading.objects.count() == 1
    stored = Reading.objects.get()
    assert (stored.generated_wh, stored.consumed_wh) == (300, 100)
    assert RejectedReading.objects.get().code == "conflict"


def test_a_batch_decides_each_reading_and_a_malformed_one_breaks_nothing(site):
    _, m = site
    results = ingest(m.signed(8, 10, 5), {"meter": "not base58!"}, m.signed(7, 10, 5), m.signed(8, 10, 5))
    assert [outcome(r) for r in results] == ["accepted", "invalid_reading", "accepted", "duplicate"]
    assert Reading.objects.count() == 2
