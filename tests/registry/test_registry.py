"""Users, zones and meters: on the ledger first, mirrored in the database, and the two reconcile."""

import pytest

from ledger import selectors
from ledger.crypto import Keypair, parse_address
from ledger.errors import Conflict, InvalidInput, NotFound, Rejected
from registry import program, services
from registry.models import Meter, Participant

from tests.energy import meter, participant, zone


@pytest.fixture
def alice(ledger):
    zone()
    return participant()


def record(address: bytes):
    return selectors.raw_accounts([address])[address]


def test_a_registered_user_has_an_identity_and_token_accounts_on_the_ledger(alice):
    wallet = parse_address(alice.wallet)
    owner, data = record(program.user_address(wallet))
    assert owner == program.REGISTRY_PROGRAM_ID
    user = program.UserRecord.unpack(data)
    assert (user.role, user.status) == (program.Role.PROSUMER, program.UserStatus.ACTIVE)
    assert selectors.wallet_balances(wallet) == {"GXT": 0, "THB": 0}
    assert services.reconcile() == []


def test_a_meter_is_recorded_with_its_key_zone_and_capacity(alice):
    m = meter(alice, capacity_w=6500)
    rec = program.MeterRecord.unpack(record(program.meter_address(m.key.pubkey))[1])
    assert (rec.serial, rec.zone, rec.capacity_w, rec.owner, rec.status) == (
        "M-1", "BKK-1", 6500, parse_address(alice.wallet), program.MeterStatus.ACTIVE)


def test_duplicates_and_bad_input_are_refused_before_anything_is_written(alice):
    with pytest.raises(Conflict):
        participant("alice")
    m = meter(alice)
    with pytest.raises(Conflict):
        meter(alice, "M-1")
    with pytest.raises(Conflict):
        services.meter_register(owner=alice, serial="M-9", type="solar", zone_code="BKK-1", latitude=13.76,
                                longitude=100.69, capacity_w=1, max_import_w=1, public_key=m.key.address)
    with pytest.raises(NotFound):
        meter(alice, "M-3", zone_code="NOPE")
    with pytest.raises(InvalidInput):
        services.meter_register(owner=alice, serial="M-4", type="solar", zone_code="BKK-1", latitude=1.0,
                                longitude=1.0, capacity_w=1, max_import_w=1, public_key=Keypair.generate().address)
    with pytest.raises(Rejected) as refused:
        meter(alice, "M-5", type="consumption", capacity_w=100)
    assert refused.value.code == "invalid_capacity"
    assert Meter.objects.count() == 1
    assert services.reconcile() == []


def test_suspension_and_reinstatement_are_on_the_ledger(alice):
    services.user_set_status(participant=alice, status="suspended")
    rec = program.UserRecord.unpack(record(program.user_address(parse_address(alice.wallet)))[1])
    assert rec.status == program.UserStatus.SUSPENDED
    with pytest.raises(Rejected):
        meter(alice, "M-7")
    services.user_set_status(participant=alice, status="active")
    meter(alice, "M-7")


def test_deactivation_is_final(alice):
    m = meter(alice)
    services.meter_set_status(meter=m.row, status="deactivated")
    with pytest.raises(Rejected):
        services.meter_set_status(meter=m.row, status="active")


def test_reconcile_finds_a_mirror_that_drifted_from_the_ledger_and_fixes_its_status(alice):
    m = meter(alice)
    Participant.objects.filter(pk=alice.pk).update(status="suspended")
    Meter.objects.filter(pk=m.row.pk).update(capacity_w=1)
    problems = services.reconcile()
    assert {(p.kind, p.problem.split()[0]) for p in problems} == {("user", "status"), ("meter", "owner,")}
    services.reconcile(fix=True)
    assert Participant.objects.get(pk=alice.pk).status == "active"
    Meter.objects.filter(pk=m.row.pk).update(capacity_w=5000)
    assert services.reconcile() == []
    Meter.objects.filter(pk=m.row.pk).delete()
    assert [(p.kind, p.problem) for p in services.reconcile()] == [("meter", "on the ledger but not in the database")]


def test_only_the_mint_authority_initializes_the_registry(ledger):
    from ledger import services as ledger_services
    from ledger.errors import TransactionFailed
    from ledger.token_program import mint_address

    intruder = Keypair.from_label("intruder")
    with pytest.raises(TransactionFailed) as failed:
        ledger_services.instructions_submit(
            instructions=[program.initialize_ix(authority=intruder.pubkey, gxt_mint=mint_address("GXT"))],
            signers=[intruder])
    assert failed.value.reason_code == "unauthorized"
