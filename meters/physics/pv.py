"""Rooftop PV: pvlib's clear sky at the site, transposed to the array plane, then PVWatts DC and inverter.

The sky is the same for every roof on a site, so the clear-sky plane-of-array irradiance is computed once per
(site, design, local day, interval length) for all intervals of the day in one vectorised pvlib call and cached.
Per meter, only cheap numpy work remains: scale the irradiance by the meter's cloud factor, then the cell
temperature, PVWatts DC and PVWatts inverter over arrays of meters.

The chain mirrors pvlib's ModelChain with dc_model='pvwatts', ac_model='pvwatts', aoi_model='physical',
spectral_model='no_loss', temperature_model='sapm', losses_model='pvwatts', transposition_model='haydavies':
the tests check the two agree.

The energy of an interval is the mean AC power at `samples` equally spaced instants (the midpoints of equal
sub-intervals, 5 minutes apart by default) times the interval length.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np
import pandas as pd
import pvlib

from meters.physics.site import Site, day_grid

PVWATTS_DEFAULT_LOSSES_PERCENT = float(pvlib.pvsystem.pvwatts_losses())


@dataclass(frozen=True)
class PvDesign:
    """How every PV system on a site is built; the meters differ only in DC size and in the clouds over them.

    `inverter_efficiency` is PVWatts' nominal efficiency; the inverter's AC rating is dc / dc_ac_ratio.
    `temperature_model` names pvlib's SAPM parameter set (a roof-mounted glass/glass module by default).
    """

    tilt: float = 15.0
    azimuth: float = 180.0
    dc_ac_ratio: float = 1.10
    gamma_pdc: float = -0.003
    inverter_efficiency: float = 0.96
    losses_percent: float = PVWATTS_DEFAULT_LOSSES_PERCENT
    temperature_model: str = "close_mount_glass_glass"
    albedo: float = 0.25
    sample_seconds: int = 300

    @property
    def temperature_parameters(self) -> dict[str, float]:
        return pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"][self.temperature_model]

    def ac_rating_w(self, dc_w):
        return dc_w / self.dc_ac_ratio


DEFAULT_DESIGN = PvDesign()


@dataclass(frozen=True)
class ClearSkyDay:
    """Clear-sky plane-of-array irradiance (W/m2) for every interval of a local day, shape (intervals, samples).

    `poa_global` drives the cell temperature; `poa_effective` (beam after incidence-angle loss, plus diffuse)
    drives DC power.
    """

    starts: np.ndarray
    sample_times: np.ndarray
    poa_global: np.ndarray
    poa_effective: np.ndarray


def samples_per_interval(design: PvDesign, seconds: int) -> int:
    return max(1, seconds // design.sample_seconds)


def sample_instants(starts: np.ndarray, seconds: int, samples: int) -> np.ndarray:
    """Unix times (float seconds) of the sampling instants of each interval, shape (intervals, samples)."""
    offsets = (np.arange(samples) + 0.5) * (seconds / samples)
    return starts[:, None] + offsets[None, :]


def site_location(site: Site) -> pvlib.location.Location:
    return pvlib.location.Location(
        site.latitude, site.longitude, site.timezone, altitude=site.altitude_m, name=site.name
    )


def clear_sky_poa(site: Site, design: PvDesign, times: pd.DatetimeIndex) -> pd.DataFrame:
    """Clear-sky irradiance on the array plane at `times`: columns poa_global and poa_effective."""
    location = site_location(site)
    sun = location.get_solarposition(times)
    turbidity = {} if site.linke_turbidity is None else {"linke_turbidity": site.linke_turbidity}
    sky = location.get_clearsky(times, model="ineichen", solar_position=sun, **turbidity)
    poa = pvlib.irradiance.get_total_irradiance(
        design.tilt,
        design.azimuth,
        sun["apparent_zenith"],
        sun["azimuth"],
        sky["dni"],
        sky["ghi"],
        sky["dhi"],
        dni_extra=pvlib.irradiance.get_extra_radiation(times),
        albedo=design.albedo,
        model="haydavies",
    )
    aoi = pvlib.irradiance.aoi(design.tilt, design.azimuth, sun["apparent_zenith"], sun["azimuth"])
    effective = poa["poa_direct"] * pvlib.iam.physical(aoi) + poa["poa_diffuse"]
    return pd.DataFrame({"poa_global": poa["poa_global"].fillna(0.0), "poa_effective": effective.fillna(0.0)})


@lru_cache(maxsize=32)
def clear_sky_day(site: Site, design: PvDesign, day: date, seconds: int) -> ClearSkyDay:
    starts = day_grid(site, day, seconds)
    samples = samples_per_interval(design, seconds)
    instants = sample_instants(starts, seconds, samples)
    times = pd.to_datetime(instants.ravel(), unit="s", utc=True)
    poa = clear_sky_poa(site, design, times)
    shape = instants.shape
    arrays = [instants, poa["poa_global"].to_numpy().reshape(shape), poa["poa_effective"].to_numpy().reshape(shape)]
    for array in arrays:
        array.setflags(write=False)
    return ClearSkyDay(starts, *arrays)


def pv_ac_power_w(*, poa_global, poa_effective, temp_air, wind_speed, dc_w, design: PvDesign) -> np.ndarray:
    """AC power (W) of PV systems of DC rating `dc_w`; all arguments broadcast (numpy arrays or scalars)."""
    params = design.temperature_parameters
    temp_cell = pvlib.temperature.sapm_cell(
        poa_global, temp_air, wind_speed, params["a"], params["b"], params["deltaT"]
    )
    dc = pvlib.pvsystem.pvwatts_dc(poa_effective, temp_cell, dc_w, design.gamma_pdc)
    dc = dc * (1.0 - design.losses_percent / 100.0)
    inverter_dc_limit = np.asarray(dc_w, dtype=float) / design.dc_ac_ratio / design.inverter_efficiency
    return pvlib.inverter.pvwatts(dc, inverter_dc_limit, eta_inv_nom=design.inverter_efficiency)


def pv_interval_wh(
    *,
    clear: ClearSkyDay,
    position: int,
    cloud_factor,
    temp_air: float,
    wind_speed: float,
    dc_w,
    design: PvDesign,
    seconds: int,
) -> np.ndarray:
    """Energy (Wh, float) of each PV system over interval `position` of the day, under its cloud factor (0..1]."""
    factor = np.asarray(cloud_factor, dtype=float)[..., None]
    dc = np.asarray(dc_w, dtype=float)[..., None]
    power = pv_ac_power_w(
        poa_global=factor * clear.poa_global[position],
        poa_effective=factor * clear.poa_effective[position],
        temp_air=temp_air,
        wind_speed=wind_speed,
        dc_w=dc,
        design=design,
    )
    return power.mean(axis=-1) * (seconds / 3600.0)
