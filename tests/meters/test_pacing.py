"""Pacing: when each interval's readings go out, where the clock starts, and the command-line values."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from meters.options import parse_duration, parse_mix, parse_site, parse_start
from meters.pacing import Schedule, align_down, default_clock_start
from meters.physics import BANGKOK, DEFAULT_MIX, MeterKind, Site
from tests.meters.helpers import START

T = START.timestamp()
LAUNCH = 2_000_000_000.0  # the wall clock at launch: 2033, long after the simulated days


def test_at_speed_s_interval_k_goes_out_k_intervals_over_s_after_launch():
    schedule = Schedule(clock_start=T, launch=LAUNCH, speed=900)
    assert [schedule.send_at(T + k * 900) for k in (1, 2, 96)] == [LAUNCH + 1, LAUNCH + 2, LAUNCH + 96]
    assert Schedule(clock_start=T, launch=LAUNCH, speed=1).send_at(T + 900) == LAUNCH + 900
    assert Schedule(clock_start=T, launch=LAUNCH, speed=0.5).send_at(T + 900) == LAUNCH + 1800


def test_speed_zero_sends_everything_at_once():
    schedule = Schedule(clock_start=T, launch=LAUNCH, speed=0)
    assert {schedule.send_at(T + k * 900) for k in range(1, 500)} == {LAUNCH}


def test_an_interval_goes_out_once_it_has_ended_in_simulated_time():
    # The clock starts seven minutes into an interval: that interval goes out when it ends, eight minutes later.
    schedule = Schedule(clock_start=T + 420, launch=LAUNCH, speed=1)
    assert schedule.send_at(T + 900) == LAUNCH + 480
    assert Schedule(clock_start=T + 420, launch=LAUNCH, speed=60).send_at(T + 900) == LAUNCH + 8


def test_nothing_goes_out_before_it_has_ended_on_the_wall_clock():
    now = T + 3 * 3600
    schedule = Schedule(clock_start=T, launch=now, speed=900)
    assert schedule.send_at(T + 900) == now + 1  # the past goes out at speed
    assert schedule.send_at(now + 900) == now + 900  # the future waits for real time
    assert Schedule(clock_start=T, launch=now, speed=0).send_at(now + 1800) == now + 1800
    assert Schedule(clock_start=T, launch=now, speed=900, hold_future=False).send_at(now + 900) == now + 13


def test_it_refuses_a_negative_speed():
    with pytest.raises(ValueError, match="speed"):
        Schedule(clock_start=T, launch=LAUNCH, speed=-1)


def test_times_align_down_to_the_grid_counted_from_local_midnight():
    kathmandu = Site("Kathmandu", 27.7, 85.3, "Asia/Kathmandu")  # UTC+5:45
    moment = datetime(2025, 3, 3, 10, 7, 31, tzinfo=ZoneInfo("Asia/Kathmandu"))
    assert align_down(kathmandu, moment, 3600) == datetime(2025, 3, 3, 10, 0, tzinfo=ZoneInfo("Asia/Kathmandu"))
    assert align_down(BANGKOK, START + timedelta(minutes=29, seconds=59), 900) == START + timedelta(minutes=15)
    assert align_down(BANGKOK, START, 900) == START


def test_the_clock_starts_now_in_real_time_and_at_local_midnight_when_faster():
    now = datetime(2025, 3, 3, 20, 7, tzinfo=UTC)  # 03:07 on 4 March in Bangkok
    assert default_clock_start(BANGKOK, now, 1) == now
    assert default_clock_start(BANGKOK, now, 0.5) == now
    midnight = datetime(2025, 3, 4, tzinfo=ZoneInfo("Asia/Bangkok"))
    assert default_clock_start(BANGKOK, now, 900) == midnight
    assert default_clock_start(BANGKOK, now, 0) == midnight


def test_a_duration_is_a_number_of_intervals():
    assert parse_duration("1d", 900) == 96
    assert parse_duration("6h", 900) == 24
    assert parse_duration("90m", 900) == 6
    assert parse_duration("1.5h", 900) == 6
    assert parse_duration("2w", 3600) == 336
    assert parse_duration("7", 900) == 7
    for text, message in [("10m", "not a whole number of 900 s intervals"), ("0", "at least one interval"),
                          ("soon", "a duration is like")]:
        with pytest.raises(ValueError, match=message):
            parse_duration(text, 900)


def test_a_mix_takes_either_name_for_consumption_meters():
    mix = parse_mix("solar=0.25,consumption=0.5,hybrid=0.15,battery=0.05,wind=0.05")
    assert mix == pytest.approx(DEFAULT_MIX)
    assert parse_mix("consumer=0.3, solar=0.7") == pytest.approx({MeterKind.CONSUMER: 0.3, MeterKind.SOLAR: 0.7})
    for text, message in [("solar=0.5", "add up to 1"), ("nuclear=1", "KIND=SHARE"), ("solar", "KIND=SHARE"),
                          ("solar=x", "not a number"), ("solar=-1,wind=2", "non-negative"),
                          ("solar=0.5,solar=0.5", "twice")]:
        with pytest.raises(ValueError, match=message):
            parse_mix(text)


def test_a_site_is_latitude_longitude_and_timezone():
    assert parse_site("13.76,100.69,Asia/Bangkok") is BANGKOK
    site = parse_site("18.79, 98.98, Asia/Bangkok")
    assert (site.latitude, site.longitude, site.timezone) == (18.79, 98.98, "Asia/Bangkok")
    assert parse_site("52.5,13.4").timezone == "Etc/GMT-1"  # UTC+1
    assert parse_site("40.7,-74.0").timezone == "Etc/GMT+5"  # UTC-5
    assert parse_site("51.5,-0.1").timezone == "Etc/GMT"
    for text, message in [("13.76", "LAT,LON"), ("north,east", "must be numbers"), ("95,0", "within -90..90"),
                          ("13,100,Mars/Olympus", "unknown timezone")]:
        with pytest.raises(ValueError, match=message):
            parse_site(text)


def test_a_start_without_an_offset_is_the_sites_local_time():
    assert parse_start("2025-03-03", BANGKOK) == START
    assert parse_start("2025-03-02T17:00:00Z", BANGKOK) == START
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_start("tomorrow", BANGKOK)
