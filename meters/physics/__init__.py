"""The smart-meter simulator's physics: pure, deterministic functions and a vectorised fleet. No I/O."""

from meters.physics.fleet import (
    DEFAULT_MIX,
    Fleet,
    FleetInterval,
    MeterKind,
    MeterSpec,
    Reading,
    meter_spec,
)
from meters.physics.pv import PvDesign
from meters.physics.site import BANGKOK, DEFAULT_INTERVAL, Site

__all__ = [
    "BANGKOK",
    "DEFAULT_INTERVAL",
    "DEFAULT_MIX",
    "Fleet",
    "FleetInterval",
    "MeterKind",
    "MeterSpec",
    "PvDesign",
    "Reading",
    "Site",
    "meter_spec",
]
