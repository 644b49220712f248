"""PV output: the simulator's clear-day physics against pvlib's own ModelChain, day shape, weather scaling."""

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pvlib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meters.physics.pv import PvDesign, clear_sky_day, pv_ac_power_w, pv_interval_wh, sample_instants
from meters.physics.site import BANGKOK, Site

# pvlib 0.16 still calls DatetimeIndex.dayofyear, which pandas 3 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")

DAY = date(2025, 3, 3)
SECONDS = 900
DC_W = 5000.0
TEMP_AIR = 31.0
WIND_SPEED = 2.0


def simulator_day(site: Site, design: PvDesign, day: date, dc_w: float = DC_W) -> np.ndarray:
    clear = clear_sky_day(site, design, day, SECONDS)
    return np.array(
        [
            pv_interval_wh(
                clear=clear,
                position=k,
                cloud_factor=1.0,
                temp_air=TEMP_AIR,
                wind_speed=WIND_SPEED,
                dc_w=dc_w,
                design=design,
                seconds=SECONDS,
            )
            for k in range(len(clear.starts))
        ]
    )


def pvlib_day(site: Site, design: PvDesign, day: date, dc_w: float = DC_W) -> np.ndarray:
    """The same system through pvlib's ModelChain, sampled at the same instants."""
    location = pvlib.location.Location(site.latitude, site.longitude, site.timezone, altitude=site.altitude_m)
    system = pvlib.pvsystem.PVSystem(
        surface_tilt=design.tilt,
        surface_azimuth=design.azimuth,
        albedo=design.albedo,
        module_parameters={"pdc0": dc_w, "gamma_pdc": design.gamma_pdc},
        inverter_parameters={
            "pdc0": dc_w / design.dc_ac_ratio / design.inverter_efficiency,
            "eta_inv_nom": design.inverter_efficiency,
        },
        temperature_model_parameters=pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"][design.temperature_model],
    )
    chain = pvlib.modelchain.ModelChain(
        system,
        location,
        transposition_model="haydavies",
        dc_model="pvwatts",
        ac_model="pvwatts",
        aoi_model="physical",
        spectral_model="no_loss",
        temperature_model="sapm",
        losses_model="pvwatts",
    )
    begin = pd.Timestamp(day, tz=site.timezone)
    starts = np.arange(96, dtype=np.int64) * SECONDS + int(begin.timestamp())
    instants = sample_instants(starts, SECONDS, 3)
    times = pd.to_datetime(instants.ravel(), unit="s", utc=True)
    weather = location.get_clearsky(times, model="ineichen")
    weather["temp_air"] = TEMP_AIR
    weather["wind_speed"] = WIND_SPEED
    chain.run_model(weather)
    return chain.results.ac.to_numpy().reshape(instants.shape).mean(axis=1) * SECONDS / 3600.0


@pytest.mark.parametrize(
    "site, design, day",
    [
        (BANGKOK, PvDesign(), DAY),
        (BANGKOK, PvDesign(), date(2025, 7, 15)),
        (Site("Chiang Mai", 18.79, 98.98, "Asia/Bangkok", altitude_m=310), PvDesign(tilt=25, azimuth=200), DAY),
    ],
)
def test_clear_day_output_agrees_with_pvlibs_own_modelchain(site, design, day):
    ours = simulator_day(site, design, day)
    theirs = pvlib_day(site, design, day)
    assert ours.sum() == pytest.approx(theirs.sum(), rel=0.005)
    daylight = theirs > 0.05 * theirs.max()
    np.testing.assert_allclose(ours[daylight], theirs[daylight], rtol=0.005)


def test_pv_is_zero_at_night_and_peaks_near_solar_noon():
    energy = simulator_day(BANGKOK, PvDesign(), DAY)
    clear = clear_sky_day(BANGKOK, PvDesign(), DAY, SECONDS)
    local = pd.to_datetime(clear.starts, unit="s", utc=True).tz_convert(BANGKOK.timezone)
    night = (local.hour < 5) | (local.hour >= 20)
    assert np.all(energy[night] == 0.0)

    transit = pvlib.solarposition.sun_rise_set_transit_spa(
        pd.DatetimeIndex([pd.Timestamp(DAY, tz=BANGKOK.timezone)]), BANGKOK.latitude, BANGKOK.longitude
    )["transit"].iloc[0]
    peak_middle = local[int(np.argmax(energy))] + timedelta(seconds=SECONDS / 2)
    assert abs((peak_middle - transit).total_seconds()) <= 30 * 60
    assert energy.max() > 0.15 * DC_W * SECONDS / 3600.0


def test_an_interval_never_yields_more_than_the_inverter_rating():
    design = PvDesign()
    # A cold, windy, bright day: the array's DC exceeds the inverter's limit and the inverter clips.
    clear = clear_sky_day(BANGKOK, design, DAY, SECONDS)
    energy = [
        pv_interval_wh(
            clear=clear,
            position=k,
            cloud_factor=1.0,
            temp_air=-10.0,
            wind_speed=10.0,
            dc_w=DC_W * 1.5,
            design=design,
            seconds=SECONDS,
        )
        for k in range(len(clear.starts))
    ]
    assert max(energy) <= design.ac_rating_w(DC_W * 1.5) * SECONDS / 3600.0


# Irradiance times factor can underflow to a subnormal, where pvlib's inverter efficiency overflows harmlessly.
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@settings(max_examples=200, deadline=None)
@given(
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1200.0),
    st.floats(-5.0, 45.0),
    st.floats(0.0, 15.0),
    st.floats(500.0, 20_000.0),
)
def test_weather_scaling_only_lowers_output(f1, f2, irradiance, temp_air, wind_speed, dc_w):
    low, high = sorted((f1, f2))
    design = PvDesign()

    def power(factor):
        return float(
            pv_ac_power_w(
                poa_global=factor * irradiance,
                poa_effective=factor * irradiance * 0.97,
                temp_air=temp_air,
                wind_speed=wind_speed,
                dc_w=dc_w,
                design=design,
            )
        )

    assert 0.0 <= power(low) <= power(high) + 1e-9 <= power(1.0) + 2e-9


def test_a_cloudy_interval_yields_less_than_the_clear_one_for_every_meter():
    clear = clear_sky_day(BANGKOK, PvDesign(), DAY, SECONDS)
    dc = np.linspace(3000.0, 10_000.0, 50)
    noon = int(np.argmax(clear.poa_global.mean(axis=1)))
    kwargs = dict(
        clear=clear,
        position=noon,
        temp_air=TEMP_AIR,
        wind_speed=WIND_SPEED,
        dc_w=dc,
        design=PvDesign(),
        seconds=SECONDS,
    )
    sunny = pv_interval_wh(cloud_factor=np.ones(50), **kwargs)
    for level in (0.72, 0.42, 0.18, 0.10):
        assert np.all(pv_interval_wh(cloud_factor=np.full(50, level), **kwargs) < sunny)


def test_clear_sky_is_computed_once_per_site_and_day():
    clear_sky_day.cache_clear()
    first = clear_sky_day(BANGKOK, PvDesign(), DAY, SECONDS)
    assert clear_sky_day(BANGKOK, PvDesign(), DAY, SECONDS) is first
    assert clear_sky_day.cache_info().misses == 1
    with pytest.raises(ValueError):
        first.poa_global[0, 0] = 1.0


def test_the_default_site_is_bangkok():
    assert (BANGKOK.latitude, BANGKOK.longitude, BANGKOK.timezone) == (13.76, 100.69, "Asia/Bangkok")
    design = PvDesign()
    assert (design.tilt, design.azimuth, design.dc_ac_ratio, design.gamma_pdc) == (15, 180, 1.10, -0.003)
