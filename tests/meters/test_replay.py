"""CSV export and replay: a round trip gives the same readings, and the same signed JSON."""

import itertools
from datetime import timedelta

import pytest

from meters.physics import Fleet
from meters.replay import COLUMNS, CsvExport, ReplayError, read_csv
from meters.sim import Signer, fleet_intervals
from tests.meters.helpers import START

pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")

HEADER = ",".join(COLUMNS) + "\n"


def test_export_then_replay_gives_identical_readings_and_signed_json(tmp_path):
    fleet = Fleet.build(seed=4, count=25, start=START + timedelta(hours=8))
    exported = list(itertools.islice(fleet_intervals(fleet), 12))
    path = tmp_path / "readings.csv"
    with CsvExport(path, seed=4) as export:
        for interval in exported:
            export.write(interval)

    replayed = read_csv(path, seed=4, interval_seconds=900)
    assert replayed == exported
    signer = Signer(4)
    assert [r.to_json() for i in replayed for r in signer.sign_interval(i)] == [
        r.to_json() for i in exported for r in signer.sign_interval(i)
    ]
    assert path.read_text().splitlines()[1].startswith("0,SIM-4-00000,2025-03-03T01:00:00Z,900,")


def test_a_replay_takes_serials_unix_times_and_leaves_electrical_values_out(tmp_path):
    path = tmp_path / "readings.csv"
    path.write_text(
        "serial,interval_start,generated_wh,consumed_wh,voltage_mv\n"
        "SIM-3-00002,1740961800,10,20,\n"
        "SIM-3-00001,2025-03-03T07:15:00+07:00,0,250,229100\n"
        "SIM-3-00002,2025-03-03T00:15:00Z,12,30,231000\n"
    )
    first, second = read_csv(path, seed=3, interval_seconds=900)
    assert first.start == 1_740_961_800 - 900 and [r.meter_index for r in first.readings] == [1, 2]
    assert first.readings[0].voltage_mv == 229_100 and first.readings[0].power_factor_ppm is None
    assert second.readings[0].voltage_mv is None and second.readings[0].generated_wh == 10
    assert Signer(3).sign(second.readings[0]).to_json().keys() == {
        "meter", "interval_start", "interval_seconds", "generated_wh", "consumed_wh", "sequence", "signature"}


@pytest.mark.parametrize(
    "rows, message",
    [
        ("0,,2025-03-03T00:00:00Z,900,-5,10,,,\n", "line 2: generated_wh must be a non-negative integer"),
        ("0,,2025-03-03T00:00:00,900,5,10,,,\n", "line 2: interval_start .* needs a UTC offset"),
        ("0,,yesterday,900,5,10,,,\n", "line 2: interval_start must be ISO 8601"),
        ("0,,2025-03-03T00:00:00Z,3600,5,10,,,\n", "replay it with --interval 3600"),
        ("0,SIM-9-00001,2025-03-03T00:00:00Z,900,5,10,,,\n", "does not match serial"),
        (",SIM-8-00001,2025-03-03T00:00:00Z,900,5,10,,,\n", "the --seed that exported it"),
        (",,2025-03-03T00:00:00Z,900,5,10,,,\n", "give the meter as meter_index or serial"),
        ("1,,2025-03-03T00:00:00Z,900,5,10,,,\n1,,2025-03-03T00:00:00Z,900,6,10,,,\n", "line 3: a second reading"),
        ("1,,2025-03-03T00:00:00Z,900,,10,,,\n", "line 2: generated_wh is empty"),
    ],
)
def test_a_replay_names_the_line_and_column_to_fix(tmp_path, rows, message):
    path = tmp_path / "readings.csv"
    path.write_text(HEADER + rows)
    with pytest.raises(ReplayError, match=message):
        read_csv(path, seed=9, interval_seconds=900)


def test_a_replay_needs_the_meter_time_and_energy_columns(tmp_path):
    path = tmp_path / "readings.csv"
    path.write_text("meter_index,interval_start,generated_wh\n0,0,1\n")
    with pytest.raises(ReplayError, match="the header lacks consumed_wh"):
        read_csv(path, seed=1, interval_seconds=900)
